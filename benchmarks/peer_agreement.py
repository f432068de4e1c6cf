"""Peer agreement: our change model vs statsmodels MixedLM (gaussian) and bambi (bernoulli).

Same data (the bundled cohort), same specification:

- gaussian ``mental_health``: wave x modality cell means + age, sex, primary drug, referral
  route + a person random intercept (MixedLM fits REML; it has no site/area here, so ours is
  fitted with ``levels=()`` too);
- bernoulli ``acquisitive_crime``: the same fixed effects + person, site and area random
  intercepts (bambi, default priors and sampler).

Our covariates are centred (and age scaled); each posterior draw is mapped back to the
peers' raw-covariate parameterisation, ``g_k = b_k / s_k`` and
``c_{z,t} = beta_time_{z,t} - sum_k b_k xbar_k / s_k``, then differences are reported in
units of our posterior sd. Agreement within ~0.3 sd is what two correct fits of the same
model with different (weak) priors and estimators should show.

Run: ``.venv/bin/python benchmarks/peer_agreement.py [--draws 1000]`` (needs the ``peers``
extra: ``pip install -e '.[peers]'``). Writes ``benchmarks/results/peer_agreement.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import dtors_bayes as db
from dtors_bayes.estimands import stack_draws

COVS = ["age", "sex", "primary_drug", "referral_route"]
OUT = Path(__file__).parent / "results" / "peer_agreement.md"


def long_frame(cohort, outcome):
    iv = cohort.interviews[["person_id", "wave", outcome]].dropna()
    df = iv.merge(cohort.persons, on="person_id")
    df["wave"] = df["wave"].astype(str)
    return df


def raw_parameterisation(fit, cohort):
    """Our draws mapped to raw covariates: dict name -> (S,) draws, named like formulae."""
    from formulae import design_matrices

    params, _, _ = stack_draws(fit.tree)
    persons = cohort.persons.reset_index(drop=True)
    common = design_matrices(" + ".join(COVS), persons[COVS]).common
    names = [lab for t in common.terms.values() for lab in t.labels]
    X = np.asarray(common.design_matrix)[:, [i for i, n in enumerate(names) if n != "Intercept"]]
    names = [n for n in names if n != "Intercept"]
    xbar = X.mean(0)
    s = np.array([X[:, j].std() if np.unique(X[:, j]).size > 2 else 1.0 for j in range(X.shape[1])])
    b = params["beta_covariate"]  # (S, K) per centred/scaled column
    g = b / s
    shift = (b * xbar / s).sum(1)
    out = {n: g[:, k] for k, n in enumerate(names)}
    bt = params["beta_time"]  # (S, M, T)
    for m, mod in enumerate(fit.design.modality_labels):
        for t, w in enumerate(fit.design.waves):
            out[f"cell[{mod},{w}]"] = bt[:, m, t] - shift
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


def statsmodels_gaussian(cohort):
    import statsmodels.formula.api as smf

    df = long_frame(cohort, "mental_health")
    f = "mental_health ~ 0 + C(modality):C(wave) + " + " + ".join(COVS)
    res = smf.mixedlm(f, df, groups=df["person_id"]).fit(reml=True)
    peer = {}
    for k, v in res.fe_params.items():
        if k.startswith("C(modality)"):
            mod = k.split("[")[1].split("]")[0]
            wave = k.split("[")[2].split("]")[0]
            peer[f"cell[{mod},{wave}]"] = v
        else:
            peer[k.replace("[T.", "[")] = v
    return peer


def bambi_bernoulli(cohort, draws, seed):
    import bambi as bmb

    df = long_frame(cohort, "acquisitive_crime")
    f = ("acquisitive_crime ~ 0 + modality:wave + " + " + ".join(COVS)
         + " + (1|person_id) + (1|site_id) + (1|area_id)")
    model = bmb.Model(f, df, family="bernoulli")
    t0 = time.perf_counter()
    idata = model.fit(draws=draws, tune=draws, chains=4, random_seed=seed, progressbar=False)
    secs = time.perf_counter() - t0
    post = idata["posterior"].to_dataset() if hasattr(idata, "children") else idata.posterior
    peer = {}
    for name in post.data_vars:
        v = post[name]
        if name == "modality:wave":
            for mod in v.coords[v.dims[2]].values:
                for w in v.coords[v.dims[3]].values if v.ndim > 3 else []:
                    peer[f"cell[{mod},{w}]"] = float(v.sel({v.dims[2]: mod, v.dims[3]: w}).mean())
            if v.ndim == 3:  # one flattened dim "modality:wave_dim" with labels "mod, wave"
                for lab in v.coords[v.dims[2]].values:
                    mod, w = [x.strip() for x in str(lab).split(",")]
                    peer[f"cell[{mod},{w}]"] = float(v.sel({v.dims[2]: lab}).mean())
        elif name in ("age",):
            peer[name] = float(v.mean())
        elif name in ("sex", "primary_drug", "referral_route"):
            for lab in v.coords[v.dims[2]].values:
                peer[f"{name}[{lab}]"] = float(v.sel({v.dims[2]: lab}).mean())
    return peer, secs


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
    tab_g = compare(raw_parameterisation(gfit, cohort), statsmodels_gaussian(cohort),
                    "gaussian vs statsmodels MixedLM (REML)")
    bm = db.ChangeModel("acquisitive_crime", "bernoulli", covariates=COVS)
    bfit = bm.fit(cohort, draws=args.draws, tune=args.draws, chains=4, random_seed=args.seed,
                  progressbar=False)
    peer_b, secs = bambi_bernoulli(cohort, args.draws, args.seed)
    tab_b = compare(raw_parameterisation(bfit, cohort), peer_b, "bernoulli vs bambi")
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
