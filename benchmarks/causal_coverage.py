"""Coverage of the adjusted modality contrasts under an unmeasured confounder, and of the
confounding-function sensitivity analysis at the true strength, on Dask.

Built on :func:`dtors_bayes.studies.coverage.coverage_study_in_rounds` like
``benchmarks/attrition_coverage.py``: every (scenario, method, replicate) is one cached
task; replicates are added in rounds so a time-boxed run has equal counts per cell.

Scenarios (``simulate_cohort``, ``--persons`` persons, 6000-person population, MCAR response
so that only confounding is at stake; the recruited sample's truth is scored):
``no_confounder`` (``confounder_strength=0``) and ``confounder_1`` (strength 1: U moves
modality choice with loadings residential -1, inpatient detox -0.5, psychosocial +0.5 and
every follow-up logit of acquisitive crime by 0.8 U).

Methods (one MAR fit per task; the rows are relabelled from ``estimator``):

- ``naive``: g-computation, "no unmeasured confounding given covariates";
- ``sensitivity_true``: :func:`dtors_bayes.causal.confounding.confounding_draws` with the
  simulator's true pairwise ``c(a, a')`` (``truth.confounding``, sample, wave 2) at strength 1;
- ``sensitivity_scores``: the interpretable parameterisation ``c = gamma (s_a - s_a')`` with
  the true scores ``s_a = E[U | A = a]`` and the least-squares true ``gamma``;
- ``sensitivity_prior``: the posterior averaged over ``gamma ~ N(gamma_true, gamma_true/2)``;
- ``naive_marginal`` / ``sensitivity_true_marginal``: the same g-computation and true-c
  sensitivity with the person effects integrated over their fitted normal
  (``person="marginal"``), so that ``mu_a(X)`` conditions on the covariates only, as the
  simulator's ``c(a, a')`` does. The engine's own rule (each person's own posterior effect)
  absorbs part of the person-level confounder, so ``sensitivity_true`` over-corrects.

Estimands: the adjusted contrasts of change intake -> FU2 of acquisitive crime, residential,
psychosocial and inpatient detox each against prescribing. Truth: the causal contrast (U
included in every potential outcome). Done-when claim: ``sensitivity_true`` covers at
0.90 +- 0.04 with >= 100 replicates; ``naive`` shows its bias under ``confounder_1``.

Usage::

    python benchmarks/causal_coverage.py --replicates 100 --workers 2 --minutes 120
    python benchmarks/causal_coverage.py --replicates 2 --draws 200 --tune 200 --chains 2 \\
        --workers 1 --out /tmp/cc --cache /tmp/cc_cache          # smoke test
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from study_cli import run_rounds, sampler_kwargs, study_parser

from dtors_bayes.studies.design import Method, Scenario

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "causal_coverage"
CACHE = HERE / "cache" / "causal_coverage"
OUTCOME = "acquisitive_crime"
COVARIATES = ["age", "sex", "primary_drug", "referral_route"]
PAIRS = [("residential", "prescribing"), ("psychosocial", "prescribing"),
         ("inpatient_detox", "prescribing")]
SCENARIOS = {"no_confounder": 0.0, "confounder_1": 1.0}
ESTIMANDS = [{"estimand": "modality_contrast", "wave": 2}]


def _rows(draws: dict[str, np.ndarray], estimator: str, diag: pd.DataFrame) -> pd.DataFrame:
    out = []
    for con, d in draws.items():
        q = np.quantile(d, [0.05, 0.95, 0.25, 0.75])
        out.append({"outcome": OUTCOME, "estimand": "modality_contrast", "wave": 2,
                    "modality": "", "contrast": con, "mean": float(d.mean()),
                    "ci_lb": q[0], "ci_ub": q[1], "ci50_lb": q[2], "ci50_ub": q[3],
                    "estimator": estimator})
    t = pd.DataFrame(out)
    for col in ("r_hat_max", "divergences", "ess_bulk_min"):
        t[col] = diag[col].iloc[0]
    return t


def causal_fn(cohort, seed, sim, sampler_kwargs, model_kwargs=None) -> pd.DataFrame:
    """One MAR fit; the naive contrasts and the sensitivity analyses from it."""
    from dtors_bayes.causal.confounding import confounding_draws
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.studies.design import estimates_with_intervals

    model = ChangeModel(OUTCOME, "bernoulli", time="wave", covariates=COVARIATES, levels=(),
                        **(model_kwargs or {}))
    kw = {**sampler_kwargs, "random_seed": int(seed), "progressbar": False, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(cohort, **kw)
    est = estimates_with_intervals(fit, contrasts=PAIRS)
    est = est[(est["estimand"] == "modality_contrast") & (est["wave"] == 2)].copy()
    est["estimator"] = "naive"
    c = sim.truth.confounding
    labels = fit.design.modality_labels
    if c.empty:
        pairwise, scores, gamma = {}, dict.fromkeys(labels, 0.0), 0.0
    else:
        c = c[(c.outcome == OUTCOME) & (c.wave == 2) & (c.population == "sample")]
        pairwise = {(r.modality, r.other): r.c for r in c.itertuples()}
        scores = c.drop_duplicates("modality").set_index("modality")["score_modality"].to_dict()
        gamma = float(c["gamma"].iloc[0])
    parts = [est]
    true = confounding_draws(fit, None, np.array([1.0]), pairwise=pairwise, contrasts=PAIRS)
    parts.append(_rows({k: v[0] for k, v in true.contrast.items()}, "sensitivity_true", est))
    sc = confounding_draws(fit, scores, np.array([gamma]), contrasts=PAIRS)
    parts.append(_rows({k: v[0] for k, v in sc.contrast.items()}, "sensitivity_scores", est))
    n_s = true.contrast[next(iter(true.contrast))].shape[1]
    rng = np.random.default_rng(int(seed) + 1)
    g = rng.normal(gamma, abs(gamma) / 2, size=(1, n_s))
    pr = confounding_draws(fit, scores, g, contrasts=PAIRS)
    parts.append(_rows({k: v[0] for k, v in pr.contrast.items()}, "sensitivity_prior", est))
    # person effects integrated over their fitted normal: mu_a(X) given the covariates only,
    # the quantity the simulator's c(a, a') conditions on
    mar = confounding_draws(fit, None, np.array([0.0, 1.0]), pairwise=pairwise,
                            contrasts=PAIRS, person="marginal")
    parts.append(_rows({k: v[0] for k, v in mar.contrast.items()}, "naive_marginal", est))
    parts.append(_rows({k: v[1] for k, v in mar.contrast.items()},
                       "sensitivity_true_marginal", est))
    return pd.concat(parts, ignore_index=True)


def build(args) -> tuple[list[Scenario], list[Method]]:
    # a 6000-person population for the default cohorts; DTORS-sized ones need DTORS's areas
    big = args.persons > 600
    scen = [Scenario(name, {"n_persons": args.persons, "attrition": "mcar",
                            "outcomes": [OUTCOME],
                            "population_size": 20 * args.persons if big else 6000,
                            "n_population_areas": 149 if big else 40,
                            "confounder_strength": s})
            for name, s in SCENARIOS.items()]
    model_kwargs = {}
    if args.modality_prior_sd is not None:  # weaker pooling of the modality trajectories
        sd = float(args.modality_prior_sd)
        model_kwargs["priors"] = {"sigma_modality": sd, "sigma_modality_time": sd}
    return scen, [Method("causal", model_kwargs=model_kwargs, method_fn=causal_fn,
                         sampler_kwargs=sampler_kwargs(args))]


def relabel(res):
    """Each estimator computed inside the ``causal`` task becomes its own method."""
    t = res.table
    if "estimator" not in t:
        raise SystemExit("no replicate finished (see the warnings above)")
    t["method"] = t["estimator"].astype(str)
    res.table = t.sort_values(["scenario", "method", "replicate"], kind="stable") \
        .reset_index(drop=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = study_parser(__doc__.splitlines()[0], persons=400, out=OUT, cache=CACHE)
    ap.add_argument("--modality-prior-sd", type=float, default=None,
                    help="HalfNormal scale of sigma_modality(_time) (default the model's 0.5)")
    ap.add_argument("--scenarios", default=None,
                    help=f"comma-separated scenarios (default all: {', '.join(SCENARIOS)})")
    args = ap.parse_args(argv)
    scen, methods = build(args)
    if args.scenarios:
        wanted = [s.strip() for s in args.scenarios.split(",")]
        unknown = sorted(set(wanted) - set(SCENARIOS))
        if unknown:
            raise SystemExit(f"--scenarios: unknown {unknown}; allowed: {list(SCENARIOS)}")
        scen = [s for s in scen if s.name in wanted]
    res = run_rounds(scen, methods, args, name="causal", estimands=ESTIMANDS, progress=False)
    res = relabel(res)
    res.write(args.out)
    s = res.summary()
    pd.set_option("display.width", 200)
    cols = ["scenario", "method", "estimand", "contrast", "n_reps", "bias", "bias_mcse",
            "coverage90", "coverage90_mcse", "width90", "share_converged"]
    cols = [c for c in cols if c in s.columns]
    print(s[cols].to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
