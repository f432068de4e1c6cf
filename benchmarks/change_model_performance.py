"""ESS per second: our change model vs bambi vs a naive centred PyMC model, side by side.

The same bernoulli model of ``acquisitive_crime`` on the bundled cohort (1796 persons, 342
sites, 94 areas): wave x modality cell means, age, sex, primary drug, referral route, and
person, site and area random intercepts. Three implementations, run one after the other in
one process so they share the machine's state:

- ``dtors_bayes``: non-centred, nutpie (PyMC 6's Rust NUTS), nutpie's default diagonal
  mass-matrix adaptation (``--low-rank`` adds a row with its low-rank adaptation);
- ``bambi``: the same formula with ``(1|person_id) + (1|site_id) + (1|area_id)``, bambi's
  default priors and sampler (PyMC's own NUTS);
- ``naive``: a hand-written *centred* PyMC model, PyMC's own NUTS.

For each: wall time (compile + sample), the minimum bulk ESS over the hyperparameters
(sigma_person, sigma_site, sigma_area) and the estimands (population level at each wave,
computed draw by draw), and min-ESS per second; then ratios against ours.

Run: ``.venv/bin/python benchmarks/change_model_performance.py [--draws 1000 --chains 4]``
(needs the ``peers`` extra). Writes ``benchmarks/results/change_model_performance.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

import dtors_bayes as db

COVS = ["age", "sex", "primary_drug", "referral_route"]
OUT = Path(__file__).parent / "results" / "change_model_performance.md"


def min_ess(arrays: dict[str, np.ndarray]) -> tuple[float, str]:
    """Minimum bulk ESS over (chain, draw) arrays."""
    vals = {k: float(az.ess(xr.DataArray(v, dims=("chain", "draw")))) for k, v in arrays.items()}
    k = min(vals, key=vals.get)
    return vals[k], k


def run_ours(cohort, draws, chains, seed, nuts=None):
    model = db.ChangeModel("acquisitive_crime", "bernoulli", covariates=COVS, time="wave")
    t0 = time.perf_counter()
    fit = model.fit(cohort, draws=draws, tune=draws, chains=chains, random_seed=seed,
                    progressbar=False, nuts=nuts)
    wall = time.perf_counter() - t0
    post = fit.posterior
    hyper = {k: post[k].values for k in ("sigma_person", "sigma_site", "sigma_area")}
    est = fit.estimate()
    lv = est[est.estimand == "level"]
    ess_h, which_h = min_ess(hyper)
    label = "dtors_bayes (non-centred, nutpie" + (f", {nuts})" if nuts else ")")
    return {"implementation": label, "wall_s": wall,
            "min_ess_hyper": ess_h, "worst_hyper": which_h,
            "min_ess_estimand": float(lv.ess_bulk.min()),
            "divergences": int(fit.tree["sample_stats"]["diverging"].sum())}


def long_frame(cohort):
    iv = cohort.interviews[["person_id", "wave", "acquisitive_crime"]].dropna()
    df = iv.merge(cohort.persons, on="person_id")
    df["wave"] = df["wave"].astype(str)
    return df


def run_bambi(cohort, draws, chains, seed):
    import bambi as bmb

    df = long_frame(cohort)
    f = ("acquisitive_crime ~ 0 + modality:wave + " + " + ".join(COVS)
         + " + (1|person_id) + (1|site_id) + (1|area_id)")
    t0 = time.perf_counter()
    model = bmb.Model(f, df, family="bernoulli")
    idata = model.fit(draws=draws, tune=draws, chains=chains, random_seed=seed,
                      progressbar=False)
    wall = time.perf_counter() - t0
    post = idata["posterior"].to_dataset()
    hyper = {k: post[f"1|{g}_sigma"].values for k, g in
             (("sigma_person", "person_id"), ("sigma_site", "site_id"), ("sigma_area", "area_id"))}
    # estimands: population level at each wave, averaging mu over every intake person
    cells = cohort.persons.merge(pd.DataFrame({"wave": [str(w) for w in cohort.waves]}),
                                 how="cross")
    # persons with no observed value are new to bambi: their effects are drawn from the fit
    pred = model.predict(idata, kind="response_params", data=cells, inplace=False,
                         sample_new_groups=True)
    mu = pred["posterior"].to_dataset()["p"].values  # (chain, draw, cell)
    est = {f"level_{w}": mu[:, :, (cells.wave == str(w)).to_numpy()].mean(-1)
           for w in cohort.waves}
    ess_h, which_h = min_ess(hyper)
    ess_e, _ = min_ess(est)
    div = int(idata["sample_stats"].to_dataset()["diverging"].sum())
    return {"implementation": "bambi (default priors and sampler)", "wall_s": wall,
            "min_ess_hyper": ess_h, "worst_hyper": which_h, "min_ess_estimand": ess_e,
            "divergences": div}


def run_naive(cohort, draws, chains, seed):
    import pymc as pm

    model = db.ChangeModel("acquisitive_crime", "bernoulli", covariates=COVS, time="wave")
    d = model.design(cohort)
    p_idx, t_idx = d.observed_cells()
    y = d.y[p_idx, t_idx]
    n, nt = d.y.shape
    all_p, all_t = np.repeat(np.arange(n), nt), np.tile(np.arange(nt), n)
    t0 = time.perf_counter()
    with pm.Model():
        cell = pm.Normal("cell", 0, 1.5, shape=(len(d.modality_labels), nt))
        beta = pm.Normal("beta", 0, 1, shape=d.X.shape[1])
        sp = pm.HalfNormal("sigma_person", 1.0)
        ss = pm.HalfNormal("sigma_site", 0.5)
        sa = pm.HalfNormal("sigma_area", 0.5)
        u = pm.Normal("u", 0, sp, shape=n)  # centred: the naive formulation
        v = pm.Normal("v", 0, ss, shape=len(d.site_labels))
        w = pm.Normal("w", 0, sa, shape=len(d.area_labels))
        person = d.X @ beta + u + v[d.site] + w[d.area]
        eta_all = cell[d.modality[all_p], all_t] + person[all_p]
        eta = cell[d.modality[p_idx], t_idx] + person[p_idx]
        pm.Bernoulli("y", logit_p=eta, observed=y.astype("int8"))
        p_all = pm.math.sigmoid(eta_all).reshape((n, nt))
        pm.Deterministic("level", p_all.mean(axis=0))
        idata = pm.sample(draws, tune=draws, chains=chains, random_seed=seed,
                          nuts_sampler="pymc", progressbar=False, compute_convergence_checks=False)
    wall = time.perf_counter() - t0
    post = idata["posterior"].to_dataset()
    hyper = {k: post[k].values for k in ("sigma_person", "sigma_site", "sigma_area")}
    lv = post["level"].values
    est = {f"level_{j}": lv[:, :, j] for j in range(nt)}
    ess_h, which_h = min_ess(hyper)
    ess_e, _ = min_ess(est)
    div = int(idata["sample_stats"].to_dataset()["diverging"].sum())
    return {"implementation": "naive centred PyMC (PyMC NUTS)", "wall_s": wall,
            "min_ess_hyper": ess_h, "worst_hyper": which_h, "min_ess_estimand": ess_e,
            "divergences": div}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", nargs="*", default=[], choices=["bambi", "naive"])
    ap.add_argument("--low-rank", action="store_true",
                    help="also run nutpie's low-rank mass-matrix adaptation")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    cohort = db.load_example()
    rows = [run_ours(cohort, args.draws, args.chains, args.seed)]
    if args.low_rank:
        rows.append(run_ours(cohort, args.draws, args.chains, args.seed,
                             nuts={"adaptation": "low_rank"}))
    if "bambi" not in args.skip:
        rows.append(run_bambi(cohort, args.draws, args.chains, args.seed))
    if "naive" not in args.skip:
        rows.append(run_naive(cohort, args.draws, args.chains, args.seed))
    tab = pd.DataFrame(rows)
    tab["min_ess"] = tab[["min_ess_hyper", "min_ess_estimand"]].min(axis=1)
    tab["ess_per_s"] = tab["min_ess"] / tab["wall_s"]
    tab["ours_ess_per_s_ratio"] = tab["ess_per_s"].iloc[0] / tab["ess_per_s"]
    lines = ["# Change model performance (side by side, one run)", "",
             f"Bundled cohort, bernoulli acquisitive_crime, {args.chains} chains x "
             f"{args.draws} draws (+ as many tuning), seed {args.seed}. Wall time includes "
             "compilation. min_ess = min bulk ESS over sigma_person/site/area and the level "
             "at each wave. `ours_ess_per_s_ratio` = our ESS/s divided by that row's.", "",
             "| implementation | wall s | min ESS hyper (worst) | min ESS estimands | "
             "divergences | ESS/s | ours / this |", "|---|---|---|---|---|---|---|"]
    for r in tab.itertuples():
        lines.append(f"| {r.implementation} | {r.wall_s:.1f} | {r.min_ess_hyper:.0f} "
                     f"({r.worst_hyper}) | {r.min_ess_estimand:.0f} | {r.divergences} | "
                     f"{r.ess_per_s:.2f} | {r.ours_ess_per_s_ratio:.2f} |")
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")


if __name__ == "__main__":
    main()
