"""Recovery of the change model on simulated MAR cohorts: bias and 90% coverage.

For each of five outcomes (acquisitive_crime, heroin, employed, mental_health, drug_spend)
a scenario simulates DTORS-sized cohorts whose attrition is MAR *for that outcome*
(``attrition="mar"``, ``mnar_outcome=<outcome>``, ``heroin_drives_response=False``: response
depends on covariates, site/area and the outcome's last observed value only), and the method
fits ``ChangeModel(<outcome>, <family>, covariates=[...], time="months")`` (the simulator's
own trajectory form: piecewise-linear in months with a knot at 4). Estimands: the level at
each wave and the adjusted modality contrasts (each modality vs prescribing, change to each
follow-up), scored against the truth for the *recruited sample* (the population an
unweighted g-computation estimates; weighting is studied in ``weighting_coverage.py``).

Runs on Dask through :func:`dtors_bayes.studies.coverage.coverage_study`; every replicate is cached
under ``benchmarks/cache/recovery`` so an interrupted run resumes.

Run: ``.venv/bin/python benchmarks/change_model_recovery.py --replicates 20 [--draws 400]``.
Writes ``benchmarks/results/change_model_recovery.{md,csv}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dtors_bayes.studies.coverage import coverage_study
from dtors_bayes.studies.design import Method, Scenario
from dtors_bayes.studies.execute import dask_client

OUTCOMES = {
    "acquisitive_crime": "bernoulli",
    "heroin": "bernoulli",
    "employed": "bernoulli",
    "mental_health": "gaussian",
    "drug_spend": "hurdle_lognormal",
}
COVS = ["age", "sex", "primary_drug", "referral_route"]
HERE = Path(__file__).parent


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--outcomes", nargs="*", default=list(OUTCOMES))
    args = ap.parse_args(argv)
    sampler = {"draws": args.draws, "tune": args.draws, "chains": args.chains}
    summaries, tables = [], []
    with dask_client(args.scheduler, args.workers) as client:
        for outcome in args.outcomes:
            scen = Scenario(f"mar_{outcome}", {"attrition": "mar", "mnar_outcome": outcome,
                                                "heroin_drives_response": False})
            meth = Method(f"change_{outcome}",
                          model_kwargs={"outcome": outcome, "family": OUTCOMES[outcome],
                                        "covariates": COVS, "time": "months"},
                          estimate_kwargs={"contrasts": "reference"}, sampler_kwargs=sampler)
            res = coverage_study(
                [scen], [meth], args.replicates,
                estimands=[{"outcome": outcome, "estimand": "level"},
                           {"outcome": outcome, "estimand": "modality_contrast"}],
                population="sample", cache_dir=HERE / "cache" / "recovery_v2", scheduler=client,
                seed=2026, name="change_model_recovery")
            summaries.append(res.summary())
            tables.append(res.table)
    summary = pd.concat(summaries, ignore_index=True)
    table = pd.concat(tables, ignore_index=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    table.to_csv(out / "change_model_recovery_replicates.csv", index=False)
    summary.to_csv(out / "change_model_recovery.csv", index=False)
    lines = ["# Change model recovery on MAR cohorts", "",
             f"{args.replicates} replicate cohorts per outcome (1796 persons, DTORS design), "
             f"{args.chains} chains x {args.draws} draws (+{args.draws} tuning), nutpie. "
             "Truth = the recruited sample's average of mu. Coverage MCSE = "
             "sqrt(p(1-p)/n).", ""]
    cols = [c for c in summary.columns if c not in ("scenario",)]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for r in summary[cols].itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                       for v in r) + " |")
    text = "\n".join(lines)
    print(text)
    (out / "change_model_recovery.md").write_text(text + "\n")
    return summary


if __name__ == "__main__":
    main()
