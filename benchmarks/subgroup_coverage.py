"""Coverage of subgroup estimands (effect modification) on Dask (the done-when asks >= 100).

Built on :func:`dtors_bayes.studies.coverage.coverage_study_in_rounds`, like
``benchmarks/attrition_coverage.py``: every (scenario, method, replicate) is one cached task.

Scenarios (``simulate_cohort``; ``--persons`` persons, MCAR response so that only the
subgroup machinery is scored, a 6000-person population, only the sample truth is scored):
``modifier_effects={"referral_route": {"criminal_justice": e}}`` at ``e = 0`` (no effect
modification) and ``e = 1`` (criminal-justice clients' follow-up predictor is worse by one
modality-profile unit).

Methods:

- ``modifier``: ``ChangeModel(modifiers=["referral_route"])``, ``fit.estimate(by=
  "referral_route")``;
- ``no_modifier``: the same without ``modifiers=`` (the subgroup rows then come from the
  covariates only: the assumption column says so), as a yardstick.

Estimands (truth: ``truth.subgroups``, the recruited sample's mean of the true mu):
acquisitive_crime change intake -> FU2 in each referral-route subgroup, and the subgroup
difference of that change (``criminal_justice - other``). The subgroup rows are scored under
the key ``estimand|subgroup`` (``change|referral_route=other``): the method adds the
subgroup truth to its replicate's ``truth.estimands`` under the same keys, since the study
joins on ``estimand, wave, modality, contrast``.

Model: ``time="wave"``, covariates age, sex, primary_drug (not referral_route: a modifier
is not also a covariate), no site/area level (speed). Sampler: nutpie, ``--chains`` x
``--draws``, one core per task.

Usage::

    python benchmarks/subgroup_coverage.py --replicates 100 --workers 2 --minutes 120
    python benchmarks/subgroup_coverage.py --replicates 2 --step 2 --draws 300 --tune 300 \\
        --chains 2 --workers 1 --persons 300      # smoke test
    python benchmarks/subgroup_coverage.py --cached-only
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
from study_cli import run_rounds, sampler_kwargs, study_parser

from dtors_bayes.studies.design import Method, Scenario

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "subgroup_coverage"
CACHE = HERE / "cache" / "subgroup_coverage"
OUTCOME = "acquisitive_crime"
COVARIATES = ["age", "sex", "primary_drug"]
BY = "referral_route"
SCENARIOS = {"no_modification": 0.0, "criminal_justice_worse": 1.0}
KEYS = [f"change|{BY}=criminal_justice", f"change|{BY}=other", f"subgroup_difference|{BY}"]
ESTIMANDS = [{"estimand": k, "wave": 2} for k in KEYS]


def _rekey(t: pd.DataFrame) -> pd.DataFrame:
    """Subgroup rows keyed ``estimand|subgroup``; change rows only (modality ``""``)."""
    t = t.copy()
    for col in ("modality", "contrast", "subgroup"):
        t[col] = t[col].fillna("").astype(str)
    t = t[(t["subgroup"] != "") & (t["modality"] == "")
          & t["estimand"].isin(["change", "subgroup_difference"])]
    t["estimand"] = t["estimand"] + "|" + t["subgroup"]
    return t.drop(columns="subgroup").reset_index(drop=True)


def subgroup_fn(cohort, seed, sim, model_kwargs, sampler_kwargs) -> pd.DataFrame:
    """Fit (with or without the modifier) and return the subgroup rows with intervals."""
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.studies.design import estimates_with_intervals

    model = ChangeModel(OUTCOME, "bernoulli", time="wave", covariates=COVARIATES, levels=(),
                        modifiers=[BY] if model_kwargs["modifier"] else [])
    kw = {**sampler_kwargs, "random_seed": int(seed), "progressbar": False, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(cohort, **kw)
    est = _rekey(estimates_with_intervals(fit, by=BY))
    # the study joins on (estimand, wave, modality, contrast): give it the subgroup truth
    truth = _rekey(sim.truth.subgroups)
    sim.truth.estimands = pd.concat([sim.truth.estimands, truth], ignore_index=True)
    return est


def build(args) -> tuple[list[Scenario], list[Method]]:
    scen = [Scenario(name, {"n_persons": args.persons, "attrition": "mcar",
                            "outcomes": [OUTCOME], "population_size": 6000,
                            "n_population_areas": 40,
                            "modifier_effects": {BY: {"criminal_justice": e}}})
            for name, e in SCENARIOS.items()]
    samp = sampler_kwargs(args)
    methods = [Method("modifier", model_kwargs={"modifier": True}, method_fn=subgroup_fn,
                      sampler_kwargs=samp),
               Method("no_modifier", model_kwargs={"modifier": False}, method_fn=subgroup_fn,
                      sampler_kwargs=samp)]
    return scen, methods


def main(argv: list[str] | None = None) -> None:
    ap = study_parser(__doc__.splitlines()[0], persons=400, out=OUT, cache=CACHE)
    args = ap.parse_args(argv)
    scen, methods = build(args)
    res = run_rounds(scen, methods, args, name="subgroups", estimands=ESTIMANDS,
                     progress=False)
    res.write(args.out)
    s = res.summary()
    pd.set_option("display.width", 200)
    cols = ["scenario", "method", "estimand", "n_reps", "truth", "bias", "coverage90",
            "coverage90_mcse", "width90", "share_converged"]
    print(s[[c for c in cols if c in s.columns]].to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
