"""Peer agreement: our change model vs statsmodels MixedLM (gaussian) and bambi (bernoulli).

Same data (the bundled cohort), same specification:

- gaussian ``mental_health``: wave x modality cell means + age, sex, primary drug, referral
  route + a person random intercept (MixedLM fits REML; it has no site/area here, so ours is
  fitted with ``levels=()`` too);
- bernoulli ``acquisitive_crime``: the same fixed effects + person, site and area random
  intercepts (bambi, default priors and sampler).

The peers are given our exact design columns (one indicator per modality x wave cell and our
centred/scaled covariates), so every parameter has the same meaning in all fits;
differences are reported in units of our posterior sd. Agreement within ~0.3 sd is what
two correct fits of the same model with different (weak) priors and estimators should show.

Run: ``.venv/bin/python benchmarks/peer_agreement.py [--draws 1000]`` (needs the ``peers``
extra: ``pip install -e '.[peers]'``). Writes ``benchmarks/results/peer_agreement.md``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import dtors_bayes as db
from dtors_bayes.models.sampling import stack_draws

COVS = ["age", "sex", "primary_drug", "referral_route"]
OUT = Path(__file__).parent / "results" / "peer_agreement.md"


def design_frame(fit, outcome):
    """The observed cells with our exact columns: one indicator per modality x wave cell and
    the centred/scaled covariates, so the peers fit the same parameterisation as ours."""
    d = fit.design
    p_idx, t_idx = d.observed_cells()
    df = pd.DataFrame({outcome: d.y[p_idx, t_idx], "person_id": d.person_ids[p_idx].astype(str)})
    if d.site is not None:
        df["site_id"] = np.asarray(d.site_labels)[d.site[p_idx]]
        df["area_id"] = np.asarray(d.area_labels)[d.area[p_idx]]
    cells = []
    for m, mod in enumerate(d.modality_labels):
        for t, w in enumerate(d.waves):
            name = f"c_{m}_{t}"
            df[name] = ((d.modality[p_idx] == m) & (t_idx == t)).astype(float)
            cells.append((name, f"cell[{mod},{w}]", m, t))
    covs = []
    for k, cname in enumerate(d.covariate_names):
        df[f"x{k}"] = d.X[p_idx, k]
        covs.append((f"x{k}", cname, k))
    return df, cells, covs


def our_draws(fit, cells, covs):
    params, _, _ = stack_draws(fit.tree)
    out = {label: params["beta_time"][:, m, t] for _, label, m, t in cells}
    out.update({label: params["beta_covariate"][:, k] for _, label, k in covs})
    return out


def compare(ours, peer, label):
    rows = []
    for name, draws in ours.items():
        if name not in peer:
            continue
        mean, sd = draws.mean(), draws.std(ddof=1)
        rows.append({"model": label, "parameter": name, "ours_mean": mean, "ours_sd": sd,
                     "peer": peer[name], "diff_in_sd": (peer[name] - mean) / sd})
    return pd.DataFrame(rows)


def statsmodels_gaussian(fit):
    import statsmodels.formula.api as smf

    df, cells, covs = design_frame(fit, "mental_health")
    f = "mental_health ~ 0 + " + " + ".join([c for c, *_ in cells] + [c for c, *_ in covs])
    res = smf.mixedlm(f, df, groups=df["person_id"]).fit(reml=True)
    names = {c: lab for c, lab, *_ in cells} | {c: lab for c, lab, _ in covs}
    return {names[k]: float(v) for k, v in res.fe_params.items()}


def bambi_bernoulli(fit, draws, seed):
    import bambi as bmb

    df, cells, covs = design_frame(fit, "acquisitive_crime")
    f = ("acquisitive_crime ~ 0 + " + " + ".join([c for c, *_ in cells] + [c for c, *_ in covs])
         + " + (1|person_id) + (1|site_id) + (1|area_id)")
    model = bmb.Model(f, df, family="bernoulli")
    idata = model.fit(draws=draws, tune=draws, chains=4, random_seed=seed, progressbar=False,
                      target_accept=0.95)
    post = idata["posterior"].to_dataset()
    names = {c: lab for c, lab, *_ in cells} | {c: lab for c, lab, _ in covs}
    div = int(idata["sample_stats"].to_dataset()["diverging"].sum())
    return {lab: float(post[c].mean()) for c, lab in names.items()}, div


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    cohort = db.load_example()
    lines = ["# Peer agreement", "",
             f"Bundled cohort; ours: 4 chains x {args.draws} draws (nutpie). "
             "diff_in_sd = (peer - our posterior mean) / our posterior sd.", ""]

    gm = db.ChangeModel("mental_health", "gaussian", covariates=COVS, levels=())
    gfit = gm.fit(cohort, draws=args.draws, tune=args.draws, chains=4, random_seed=args.seed,
                  progressbar=False)
    tab_g = compare(our_draws(gfit, *design_frame(gfit, "mental_health")[1:]),
                    statsmodels_gaussian(gfit), "gaussian vs statsmodels MixedLM (REML)")
    bm = db.ChangeModel("acquisitive_crime", "bernoulli", covariates=COVS)
    bfit = bm.fit(cohort, draws=args.draws, tune=args.draws, chains=4, random_seed=args.seed,
                  progressbar=False)
    peer_b, div = bambi_bernoulli(bfit, args.draws, args.seed)
    tab_b = compare(our_draws(bfit, *design_frame(bfit, "acquisitive_crime")[1:]), peer_b,
                    f"bernoulli vs bambi (target_accept 0.95, {div} divergences)")
    for tab in (tab_g, tab_b):
        if tab.empty:
            lines.append("(no matching parameters found)")
            continue
        lines.append(f"## {tab.model.iloc[0]}")
        lines.append("")
        lines.append(f"max |diff| = {tab.diff_in_sd.abs().max():.2f} sd, "
                     f"mean |diff| = {tab.diff_in_sd.abs().mean():.2f} sd over "
                     f"{len(tab)} parameters")
        lines.append("")
        lines.append("| parameter | ours mean | ours sd | peer | diff (sd) |")
        lines.append("|---|---|---|---|---|")
        for r in tab.itertuples():
            lines.append(f"| {r.parameter} | {r.ours_mean:.3f} | {r.ours_sd:.3f} | "
                         f"{r.peer:.3f} | {r.diff_in_sd:+.2f} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")


if __name__ == "__main__":
    main()
