"""Small-sample bias of the MAR change model's FU2 crime level under MCAR (diagnostic).

The attrition coverage study (300 persons, MCAR) showed the MAR model's FU2 level above the
sample truth while complete cases were not. This refits its first ``--reps`` MCAR replicates
(same seeds and cohort settings; covariates age, sex, primary_drug, referral_route; no
site/area level) with ``modality_by_time=True`` (modality x wave levels partially pooled
around wave levels ``mu_time``, the default) and, with ``--variants by_time pooled``, also
``False`` (3 wave levels plus a constant modality effect), and prints the mean error of each
against the sample truth with its Monte Carlo standard error.

Per fit it also records the convergence checks of :func:`dtors_bayes.models.diagnostics.diagnose`
(max R-hat over the structural parameters, i.e. everything but the ``z_*`` offsets; ESS;
divergences) and, per modality, the FU2 level (g-computation over the modality's persons)
minus that modality's observed FU2 proportion (responders; unbiased under MCAR, so a
positive mean is the shrinkage of small cells). ``--minutes`` stops starting new replicates
once the budget is spent, so a time-boxed run keeps whole replicates; ``--out`` appends one
row per fit to a CSV (rerun-safe: replicates already in the file are skipped).

Usage::

    python benchmarks/small_sample_bias.py --reps 8
    taskset -c 0 python benchmarks/small_sample_bias.py --reps 40 --minutes 25 \\
        --draws 500 --tune 500 --out benchmarks/results/small_sample_bias_replicates.csv
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from attrition_coverage import COVARIATES, OUTCOME, build

from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.studies.seeds import replicate_seeds

VARIANTS = {"by_time": True, "pooled": False}


def _truth(sim) -> float:
    """Sample truth of the FU2 level (the recruited persons' mean of the true mu)."""
    e = sim.truth.estimands
    sel = (e.population == "sample") & (e.wave == 2) & (e.estimand == "level") \
        & (e.outcome == OUTCOME) & e.modality.isna()
    return float(e.loc[sel, "value"].iloc[0])


def _observed_fu2(cohort) -> dict[str, float]:
    """Each modality's observed FU2 proportion (responders only; unbiased under MCAR)."""
    y = cohort.matrix(OUTCOME)[:, 2]
    mods = cohort.persons["modality"].astype(str).to_numpy()
    return {m: float(np.nanmean(y[mods == m])) for m in dict.fromkeys(mods)
            if np.isfinite(y[mods == m]).any()}


def fit_one(cohort, seed: int, by_time: bool, args) -> dict:
    """One fit: FU2 level error inputs and convergence checks."""
    m = ChangeModel(OUTCOME, "bernoulli", time="wave", covariates=COVARIATES, levels=(),
                    modality_by_time=by_time)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = m.fit(cohort, draws=args.draws, tune=args.tune, chains=2, random_seed=seed,
                  progressbar=False, backend=args.backend, cores=1,
                  target_accept=args.target_accept)
    t = f.estimate()
    lev = t[(t.estimand == "level") & (t.wave == 2) & (t.modality.fillna("") == "")]
    own = t[(t.estimand == "modality_level") & (t.wave == 2)]
    diag = f.diagnostics().set_index("check")
    return {"estimate": float(lev["mean"].iloc[0]),
            "modality_estimates": dict(zip(own.modality.astype(str), own["mean"],
                                           strict=True)),
            "r_hat_max": float(diag.loc["r_hat", "value"]),
            "r_hat_worst": str(diag.loc["r_hat", "variable"]),
            "ess_bulk_min": float(diag.loc["ess_bulk", "value"]),
            "divergences": int(diag.loc["divergences", "value"])}


def summarise(df: pd.DataFrame) -> str:
    """Mean error, MCSE and convergence shares per variant (plain text)."""
    lines = []
    for variant, g in df.groupby("variant", sort=False):
        err = g["error"].to_numpy()
        n = err.size
        mcse = err.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        ok = (g["r_hat_max"] <= 1.01) & (g["divergences"] == 0)
        lines.append(f"{variant}: FU2 level mean error {err.mean():+.4f} (MCSE {mcse:.4f}, "
                     f"{n} replicates); R-hat <= 1.01 and no divergences in {ok.sum()}/{n} "
                     f"fits (R-hat <= 1.01: {(g['r_hat_max'] <= 1.01).sum()}, no divergences: "
                     f"{(g['divergences'] == 0).sum()}); median min bulk ESS "
                     f"{g['ess_bulk_min'].median():.0f}")
        mod_cols = [c for c in g if c.startswith("minus_observed_")]
        if mod_cols:
            parts = [f"{c.removeprefix('minus_observed_')} {g[c].mean():+.3f}"
                     for c in mod_cols]
            lines.append("  per-modality FU2 level minus observed FU2 proportion: "
                         + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--persons", type=int, default=300)
    ap.add_argument("--backend", default="jax", choices=["jax", "numba"])
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--target-accept", type=float, default=None)
    ap.add_argument("--variants", nargs="+", default=["by_time"], choices=list(VARIANTS))
    ap.add_argument("--minutes", type=float, default=None,
                    help="start no new replicate after this many minutes")
    ap.add_argument("--out", type=Path, default=None, help="CSV, one row per fit (appended)")
    args = ap.parse_args(argv)
    scen, _ = build(argparse.Namespace(persons=args.persons, draws=args.draws,
                                       tune=args.tune, backend=args.backend))
    sc = next(s for s in scen if s.name == "mcar")
    done = pd.read_csv(args.out) if args.out is not None and args.out.exists() else None
    rows = [] if done is None else done.to_dict("records")
    t0 = time.perf_counter()
    for r in range(args.reps):
        if args.minutes is not None and time.perf_counter() - t0 > 60 * args.minutes:
            print(f"time budget spent after {r} replicates", flush=True)
            break
        sim_seed, fit_seed = replicate_seeds(0, "mcar", r)
        sim = sc.simulate(sim_seed)
        truth = _truth(sim)
        observed = _observed_fu2(sim.cohort)
        for variant in args.variants:
            if done is not None and ((done.replicate == r) & (done.variant == variant)
                                     & (done.persons == args.persons)
                                     & (done.draws == args.draws)).any():
                continue
            t1 = time.perf_counter()
            res = fit_one(sim.cohort, fit_seed, VARIANTS[variant], args)
            row = {"replicate": r, "variant": variant, "persons": args.persons,
                   "draws": args.draws, "tune": args.tune, "truth": truth,
                   "estimate": res["estimate"], "error": res["estimate"] - truth,
                   "r_hat_max": res["r_hat_max"], "r_hat_worst": res["r_hat_worst"],
                   "ess_bulk_min": res["ess_bulk_min"], "divergences": res["divergences"],
                   "wall_seconds": time.perf_counter() - t1}
            for mod, est in res["modality_estimates"].items():
                if mod in observed:
                    row[f"minus_observed_{mod}"] = float(est) - observed[mod]
            rows.append(row)
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(rows).to_csv(args.out, index=False)
            print(f"replicate {r} {variant}: truth {truth:.3f}, error {row['error']:+.3f}, "
                  f"R-hat {row['r_hat_max']:.3f} ({row['r_hat_worst']}), "
                  f"divergences {row['divergences']}, {row['wall_seconds']:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    if len(df):
        print(summarise(df[df.persons == args.persons]))


if __name__ == "__main__":
    main()
