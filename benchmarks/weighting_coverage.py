"""Coverage of the weighting methods under biased recruitment (MAR and MNAR attrition), on Dask.

Built on :func:`dtors_bayes.studies.coverage.coverage_study` (one cached task per scenario x
outcome x
replicate; killed runs resume; seeds independent of the worker count). Replicates are added
in rounds of ``--step`` so a time-boxed run leaves equal counts per cell.

Scenarios: ``simulate_cohort(recruitment_bias=1.0, attrition="mar" | "mnar")`` with
``--persons`` persons (sites, areas, response counts scaled from DTORS) from a 20000-person
target population. Defaults: 500 persons, 4 chains x 1500 draws (target_accept 0.9), sized
for converged fits. For each outcome
(``acquisitive_crime``, ``employed``) one MAR change model is fitted (bernoulli, covariates
age, sex, primary_drug, referral_route, site and area effects) and the *target-population*
level at each wave and change from intake are estimated by:

- ``model_unweighted``: g-computation over the sample (``weighting="none"``);
- ``model_fixed``: g-computation with fixed calibration weights;
- ``model_propagated``: g-computation with one calibration weight draw per posterior draw;
- ``mrp``: poststratification to the population cells;
- ``cc_unweighted`` / ``cc_fixed`` / ``cc_propagated``: the complete-case (design-based)
  estimator, unweighted, with DTORS-style fixed weights (linearisation interval), and with
  propagated weight draws.

Truth: the simulator's target-population values. Intervals 90% (and 50%).

Usage::

    python benchmarks/weighting_coverage.py --replicates 50 --workers 2 --minutes 40
    python benchmarks/weighting_coverage.py --cached-only
    python benchmarks/weighting_coverage.py --decomposition   # results/weighting_variance.md
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
from study_cli import run_rounds, sampler_kwargs, study_parser

from dtors_bayes._format import markdown_table
from dtors_bayes.studies.design import Method, Scenario

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = RESULTS / "weighting_coverage"
CACHE = HERE / "cache" / "weighting_coverage"
OUTCOMES = ("acquisitive_crime", "employed")
SCENARIOS = ("mar", "mnar")
COVARIATES = ["age", "sex", "primary_drug", "referral_route"]
ESTIMANDS = [{"estimand": "level"}, {"estimand": "change"}]
METHODS = ["model_unweighted", "model_fixed", "model_propagated", "mrp", "cc_unweighted",
           "cc_fixed", "cc_propagated"]


def weighting_fn(cohort, seed, sim, model_kwargs, sampler_kwargs) -> pd.DataFrame:
    """One MAR fit of one outcome; every weighting method's rows (label in ``estimator``)."""
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.weighting.complete_case import complete_case_estimates
    from dtors_bayes.weighting.draws import propagated_weights_for_fit
    from dtors_bayes.weighting.mrp import mrp_estimates
    from dtors_bayes.weighting.response import fixed_weights

    outcome = model_kwargs["outcome"]
    model = ChangeModel(outcome=outcome, family="bernoulli", covariates=COVARIATES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(cohort, **sampler_kwargs, random_seed=int(seed), progressbar=False,
                        cores=1)
    diag = fit.diagnostics().set_index("check")["value"]
    fw = fixed_weights(cohort)
    cal = fw.set_index("person_id")["calibration"]
    prop = propagated_weights_for_fit(fit, seed=int(seed))
    n_draws = int(sampler_kwargs["draws"]) * int(sampler_kwargs["chains"])

    def tables(ci):
        return {
            "model_unweighted": fit.estimate("none", ci_prob=ci),
            "model_fixed": fit.estimate("fixed", weights=cal, ci_prob=ci),
            "model_propagated": fit.estimate("propagated", weights=prop, ci_prob=ci),
            "mrp": mrp_estimates(fit, modalities=False, ci_prob=ci),
            "cc_unweighted": complete_case_estimates(cohort, outcome, weights="none",
                                                     ci_prob=ci),
            "cc_fixed": complete_case_estimates(cohort, outcome, weights="fixed", fixed=fw,
                                                ci_prob=ci),
            "cc_propagated": complete_case_estimates(cohort, outcome, weights="propagated",
                                                     n_draws=n_draws, seed=int(seed),
                                                     ci_prob=ci),
        }

    t90, t50 = tables(0.9), tables(0.5)
    parts = []
    for name in METHODS:
        a, b = t90[name].copy(), t50[name]
        for col in ("modality", "contrast"):
            a[col] = a[col].fillna("").astype(str)
        a["ci50_lb"], a["ci50_ub"] = b["ci_lb"].to_numpy(), b["ci_ub"].to_numpy()
        a["estimator"] = name
        keep = a["estimand"].isin(["level", "change"]) & (a["modality"] == "") \
            & (a["contrast"] == "")
        parts.append(a[keep])
    out = pd.concat(parts, ignore_index=True)
    out["r_hat_max"] = float(diag.get("r_hat", float("nan")))
    out["divergences"] = float(diag.get("divergences", float("nan")))
    out["ess_bulk_min"] = float(diag.get("ess_bulk", float("nan")))
    return out


def build(args) -> tuple[list[Scenario], list[Method]]:
    scen = [Scenario(s, {"n_persons": args.persons, "attrition": s, "recruitment_bias": 1.0,
                         "outcomes": list(OUTCOMES), "population_size": 20000,
                         "n_population_areas": 60}) for s in SCENARIOS]
    samp = sampler_kwargs(args)
    methods = [Method(o, model_kwargs={"outcome": o}, method_fn=weighting_fn,
                      sampler_kwargs=samp) for o in OUTCOMES]
    return scen, methods


def relabel(res):
    """Each weighting method becomes its own ``method`` (they share one fit per task)."""
    t = res.table
    t["method"] = pd.Categorical(t["estimator"].astype(str), METHODS)
    res.table = t.sort_values(["scenario", "method", "outcome", "replicate"], kind="stable") \
        .assign(method=lambda d: d["method"].astype(str)).reset_index(drop=True)
    return res


def decomposition(args) -> str:
    """Variance decomposition (model, weights, imputation, MNAR) of one MAR fit."""
    import matplotlib

    matplotlib.use("Agg")
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.simulation.generate import simulate_cohort
    from dtors_bayes.weighting.diagnostics import weight_summary
    from dtors_bayes.weighting.response import fixed_weights
    from dtors_bayes.weighting.variance import plot_variance_decomposition, variance_decomposition

    sim = simulate_cohort(seed=args.seed, n_persons=args.persons, attrition="mar",
                          recruitment_bias=1.0, outcomes=list(OUTCOMES))
    lines = ["# Variance decomposition: model parameters, weights, imputation, MNAR", "",
             f"One simulated cohort (seed {args.seed}, {args.persons} persons, MAR), draws "
             f"{args.draws} x {args.chains} chains; 100 posterior draws x 8 draws of each other "
             "source (two-level design, law of total variance, sources additive); MNAR: "
             "pattern-mixture delta ~ N(0, 0.5) on the logit scale.", ""]
    fw = fixed_weights(sim.cohort)
    ws = weight_summary(fw["calibration"].to_numpy())
    lines += ["Calibration weights: " + ", ".join(f"{k} {v:.3g}" for k, v in ws.items()), ""]
    for outcome in OUTCOMES:
        model = ChangeModel(outcome=outcome, family="bernoulli", covariates=COVARIATES)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(sim.cohort, draws=args.draws, tune=args.tune, chains=args.chains,
                            random_seed=args.seed, progressbar=False)
        vd = variance_decomposition(fit, n_param_draws=100, n_weight_draws=8, seed=args.seed,
                                    mnar_prior=(0.0, 0.5))
        vd = vd[vd["modality"] == ""]
        ax = plot_variance_decomposition(vd)
        ax.figure.savefig(RESULTS / f"weighting_variance_{outcome}.png", dpi=100,
                          bbox_inches="tight")
        cols = ["estimand", "wave", "var_total", "var_model", "var_weights", "var_imputation",
                "var_mnar", "share_model", "share_weights", "share_imputation", "share_mnar"]
        lines += [f"## {outcome}", "", markdown_table(vd[cols].reset_index(drop=True), ".4g"), "",
                  f"![{outcome}](weighting_variance_{outcome}.png)", ""]
    text = "\n".join(lines)
    (RESULTS / "weighting_variance.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    ap = study_parser(__doc__.splitlines()[0], persons=500, out=OUT, cache=CACHE)
    ap.add_argument("--decomposition", action="store_true",
                    help="write results/weighting_variance.md (+ figures) and stop")
    args = ap.parse_args(argv)
    if args.decomposition:
        print(decomposition(args))
        return
    scen, methods = build(args)
    res = run_rounds(scen, methods, args, name="weighting", estimands=ESTIMANDS,
                     population="target", progress=False)
    res = relabel(res)
    res.write(args.out)
    s = res.summary()
    pd.set_option("display.width", 200)
    pooled = s.groupby(["scenario", "method"], sort=False).agg(
        n_cells=("n_reps", "size"), n_reps=("n_reps", "min"), coverage90=("coverage90", "mean"),
        mean_abs_bias=("bias", lambda b: b.abs().mean()), width90=("width90", "mean"))
    print(pooled.to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
