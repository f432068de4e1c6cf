"""Coverage of the weighting methods under biased recruitment (MAR and MNAR attrition).

For each replicate (one simulated DTORS-shaped cohort, ``recruitment_bias=1``, seed ``base +
r``; MAR and MNAR share the complete data), outcome (``acquisitive_crime``, ``employed``)
and attrition scenario, one MAR change model is fitted and the *target-population* level at
each wave and change from intake are estimated by:

- ``model_unweighted``: g-computation over the sample (``weighting="none"``);
- ``model_fixed``: g-computation with fixed calibration weights;
- ``model_propagated``: g-computation with one calibration weight draw per posterior draw;
- ``mrp``: poststratification to the population cells;
- ``cc_unweighted`` / ``cc_fixed`` / ``cc_propagated``: the complete-case (design-based)
  estimator, unweighted, with DTORS-style fixed weights (linearisation interval), and with
  propagated weight draws.

Each interval (90%) is compared with ``truth.value(..., population="target")``.
Rows are appended to ``results/weighting_coverage.csv`` as replicates finish, so a run can be
stopped at any time; ``--summarise`` rewrites ``results/weighting_coverage.md`` from the CSV.

Usage::

    python benchmarks/weighting_coverage.py --minutes 30 --draws 300 --tune 300 --chains 2
    python benchmarks/weighting_coverage.py --summarise
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
CSV = RESULTS / "weighting_coverage.csv"
MD = RESULTS / "weighting_coverage.md"
OUTCOMES = ("acquisitive_crime", "employed")
SCENARIOS = ("mar", "mnar")
COVARIATES = ["age", "sex", "primary_drug", "referral_route"]


def _rows(table: pd.DataFrame, method: str) -> pd.DataFrame:
    t = table[(table["modality"] == "") & table["estimand"].isin(["level", "change"])]
    return t[["estimand", "wave", "mean", "ci_lb", "ci_ub"]].assign(method=method)


def one_replicate(rep: int, args) -> pd.DataFrame:
    from dtors_bayes.change_model import ChangeModel
    from dtors_bayes.mrp import mrp_estimates
    from dtors_bayes.simulate import simulate_cohort
    from dtors_bayes.weighting import (
        complete_case_estimates,
        fixed_weights,
        propagated_weights_for_fit,
    )

    seed = args.seed + rep
    out = []
    for scen in SCENARIOS:
        sim = simulate_cohort(seed=seed, n_persons=args.n_persons, attrition=scen,
                              recruitment_bias=1.0, outcomes=list(OUTCOMES))
        cohort = sim.cohort
        fw = fixed_weights(cohort)
        for outcome in OUTCOMES:
            t0 = time.perf_counter()
            model = ChangeModel(outcome=outcome, family="bernoulli", covariates=COVARIATES)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = model.fit(cohort, draws=args.draws, tune=args.tune, chains=args.chains,
                                random_seed=seed, progressbar=False)
            cal = fw.set_index("person_id")["calibration"]
            parts = [
                _rows(fit.estimate("none"), "model_unweighted"),
                _rows(fit.estimate("fixed", weights=cal), "model_fixed"),
                _rows(fit.estimate("propagated",
                                   weights=propagated_weights_for_fit(fit, seed=seed)),
                      "model_propagated"),
                _rows(mrp_estimates(fit, modalities=False), "mrp"),
                _rows(complete_case_estimates(cohort, outcome, weights="none"),
                      "cc_unweighted"),
                _rows(complete_case_estimates(cohort, outcome, weights="fixed", fixed=fw),
                      "cc_fixed"),
                _rows(complete_case_estimates(cohort, outcome, weights="propagated",
                                              n_draws=args.draws, seed=seed),
                      "cc_propagated"),
            ]
            res = pd.concat(parts, ignore_index=True)
            res["truth"] = [sim.truth.value(outcome, e, int(w), population="target")
                            for e, w in zip(res["estimand"], res["wave"], strict=True)]
            res["covered"] = (res["ci_lb"] <= res["truth"]) & (res["truth"] <= res["ci_ub"])
            res["replicate"], res["scenario"], res["outcome"] = rep, scen, outcome
            res["seconds"] = time.perf_counter() - t0
            out.append(res)
    return pd.concat(out, ignore_index=True)


def markdown(df: pd.DataFrame) -> str:
    """A pipe table (no tabulate dependency); floats to 3 decimals."""
    def fmt(v):
        if not isinstance(v, float):
            return str(v)
        return f"{v:.2e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def summarise(settings_line: str = "") -> str:
    df = pd.read_csv(CSV)
    n_rep = df["replicate"].nunique()
    g = df.assign(err=df["mean"] - df["truth"], width=df["ci_ub"] - df["ci_lb"])
    tab = g.groupby(["scenario", "outcome", "estimand", "wave", "method"]).agg(
        coverage=("covered", "mean"), bias=("err", "mean"),
        rmse=("err", lambda e: float(np.sqrt(np.mean(e**2)))), width=("width", "mean"),
        n=("covered", "size")).reset_index()
    overall = g.groupby(["scenario", "method"]).agg(
        coverage=("covered", "mean"), mean_abs_bias=("err", lambda e: float(np.abs(e).mean())),
        width=("width", "mean"), n_intervals=("covered", "size")).reset_index()
    lines = [
        "# Weighting coverage study",
        "",
        f"Replicates: **{n_rep}** (per scenario and outcome; the target was >= 50, the machine "
        "allowed this many in the time box, so coverage is accurate to about "
        f"+/- {100 * np.sqrt(0.09 / max(n_rep, 1)):.0f} points per cell).",
        "Simulated with `simulate_cohort(recruitment_bias=1.0, attrition=mar|mnar)`, truth = "
        "target population; 90% intervals; one MAR change model per outcome (bernoulli, "
        "covariates age + sex + primary_drug + referral_route, site and area effects).",
        settings_line,
        "",
        "## Overall (all outcomes, levels and changes pooled)",
        "",
        markdown(overall),
        "",
        "## By scenario, outcome, estimand",
        "",
        markdown(tab),
        "",
    ]
    text = "\n".join(lines)
    MD.write_text(text)
    return text


def decomposition(args) -> str:
    """Variance decomposition (model vs weights) of one MAR fit; table and figure."""
    import matplotlib

    matplotlib.use("Agg")
    from dtors_bayes.change_model import ChangeModel
    from dtors_bayes.simulate import simulate_cohort
    from dtors_bayes.weighting import (
        fixed_weights,
        plot_variance_decomposition,
        variance_decomposition,
        weight_summary,
    )

    sim = simulate_cohort(seed=args.seed, n_persons=args.n_persons, attrition="mar",
                          recruitment_bias=1.0, outcomes=list(OUTCOMES))
    lines = ["# Variance decomposition: model parameters vs calibration weights", "",
             f"One simulated cohort (seed {args.seed}, MAR), draws {args.draws} x chains "
             f"{args.chains}; 100 posterior draws x 8 weight draws (two-level design, "
             "law of total variance).", ""]
    fw = fixed_weights(sim.cohort)
    ws = weight_summary(fw["calibration"].to_numpy())
    lines += ["Calibration weights: " + ", ".join(f"{k} {v:.3g}" for k, v in ws.items()), ""]
    for outcome in OUTCOMES:
        model = ChangeModel(outcome=outcome, family="bernoulli", covariates=COVARIATES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(sim.cohort, draws=args.draws, tune=args.tune, chains=args.chains,
                            random_seed=args.seed, progressbar=False)
        vd = variance_decomposition(fit, n_param_draws=100, n_weight_draws=8, seed=args.seed)
        vd = vd[vd["modality"] == ""]
        ax = plot_variance_decomposition(vd)
        ax.figure.savefig(RESULTS / f"weighting_variance_{outcome}.png", dpi=100,
                          bbox_inches="tight")
        cols = ["estimand", "wave", "var_total", "var_model", "var_weights", "share_model",
                "share_weights"]
        lines += [f"## {outcome}", "", markdown(vd[cols].reset_index(drop=True)), "",
                  f"![{outcome}](weighting_variance_{outcome}.png)", ""]
    text = "\n".join(lines)
    (RESULTS / "weighting_variance.md").write_text(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=30.0, help="stop starting replicates after")
    ap.add_argument("--n-persons", type=int, default=1796)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--summarise", action="store_true")
    ap.add_argument("--decomposition", action="store_true",
                    help="write results/weighting_variance.md (+ figures) and stop")
    args = ap.parse_args()
    settings = (f"Settings: n_persons {args.n_persons}, draws {args.draws}, tune {args.tune}, "
                f"chains {args.chains}, seeds {args.seed}+r.")
    if args.decomposition:
        print(decomposition(args))
        return
    if args.summarise:
        print(summarise(settings))
        return
    RESULTS.mkdir(exist_ok=True)
    done = set(pd.read_csv(CSV)["replicate"]) if CSV.exists() else set()
    t_start = time.perf_counter()
    for rep in range(args.replicates):
        if rep in done:
            continue
        if time.perf_counter() - t_start > 60 * args.minutes:
            break
        t0 = time.perf_counter()
        res = one_replicate(rep, args)
        res.to_csv(CSV, mode="a", header=not CSV.exists(), index=False)
        print(f"replicate {rep} done in {time.perf_counter() - t0:.0f} s", flush=True)
        summarise(settings)
    print(summarise(settings))


if __name__ == "__main__":
    main()
