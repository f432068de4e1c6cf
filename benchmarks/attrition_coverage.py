"""Coverage of attrition methods under MCAR, MAR and MNAR response, on Dask (>= 50 replicates).

Built on :func:`dtors_bayes.studies.coverage.coverage_study`: every (scenario, method, replicate) is
one cached task, so a killed run resumes, and replicates are seeded independently of the
worker count. Replicates are added in rounds of ``--step`` over every cell, so a time-boxed
run leaves equal replicate counts per cell.

Scenarios (``simulate_cohort``; ``--persons`` persons, sites/areas/response counts scaled
from DTORS, a 6000-person population (only the sample truth is scored);
``heroin_drives_response=False`` so that response depends on the analysed outcome's history
only and "MAR" is MAR given what the models see): MCAR, MAR, MNAR at
strength 0.5 and 1.0 (``kappa_eff = strength * kappa_at_strength_1 = -0.5, -1.0`` on the
logit scale: offending lowers the odds of being found).

Methods:

- ``complete_case``: observed means per wave; level FU2, change FU2 - intake and the
  unadjusted difference of changes between modalities, normal-approximation intervals;
- ``mar``: ``ChangeModel`` (MAR likelihood), g-computation;
- ``pattern_mixture_true``: ``sensitivity(mar_fit, [delta])`` at ``delta = -kappa_eff`` (under a
  logistic selection model the odds of y = 1 among non-responders are ``exp(-kappa)`` times
  the responders' at equal response predictors); same fit as ``mar``;
- ``selection_true``: ``Selection(kappa ~ N(kappa_eff, 0.5))`` (MCAR/MAR: ``N(0, 0.5)``);
- ``selection_wrong``: ``Selection(kappa ~ N(+max(|kappa_eff|, 1), 0.5))`` (wrong sign).
- with ``--person-effect quadrature`` the two selection methods integrate the person intercept
  out (``ChangeModel(person_effect="quadrature")``) and are named ``selection_true_quadrature``
  and ``selection_wrong_quadrature`` (own cache keys).

Estimands (truth: the recruited sample's mean of the true mu): acquisitive_crime level at
FU2, change intake -> FU2, and the adjusted contrast of change residential - prescribing.

Model: ``time="wave"`` (late single follow-ups placed between the wave levels by months, with
their own response stage; ``benchmarks/kappa_recovery.py`` checks ``time="months"``),
covariates age, sex, primary_drug, referral_route, no site/area level (speed; persons carry
the clustering). Sampler: nutpie (numba), ``--chains`` x ``--draws`` (``--tune`` tuning,
``--target-accept``), one core per task. Defaults: 300 persons, 4 x 1500 draws, target_accept
0.9, sized for converged fits (structural R-hat <= 1.01): a MAR fit takes about 11 s and a
selection fit about 40 s of one core.

Usage::

    python benchmarks/attrition_coverage.py --replicates 50 --workers 2 --minutes 60
    python benchmarks/attrition_coverage.py --cached-only     # rebuild outputs, no fits
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from study_cli import run_rounds, sampler_kwargs, study_parser

from dtors_bayes.studies.design import Method, Scenario

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "attrition_coverage"
CACHE = HERE / "cache" / "attrition_coverage"
OUTCOME = "acquisitive_crime"
COVARIATES = ["age", "sex", "primary_drug", "referral_route"]
CONTRAST = ("residential", "prescribing")
Z90, Z50 = 1.6448536269514722, 0.6744897501960817
SCENARIOS = {"mcar": ("mcar", 1.0), "mar": ("mar", 1.0), "mnar_0.5": ("mnar", 0.5),
             "mnar_1.0": ("mnar", 1.0)}
ESTIMANDS = [{"estimand": "level", "wave": 2}, {"estimand": "change", "wave": 2},
             {"estimand": "modality_contrast", "wave": 2}]


def _keep(table: pd.DataFrame) -> pd.DataFrame:
    t = table.copy()
    for col in ("modality", "contrast"):
        t[col] = t[col].fillna("").astype(str)
    con = " - ".join(CONTRAST)
    keep = (t["wave"] == 2) & (
        ((t["estimand"].isin(["level", "change"])) & (t["contrast"] == "")
         & (t["modality"] == ""))
        | ((t["estimand"] == "modality_contrast") & (t["contrast"] == con)))
    return t[keep].reset_index(drop=True)


def complete_case_fn(cohort, seed, sim) -> pd.DataFrame:
    """Observed-data means (no model), normal-approximation intervals."""
    y = cohort.matrix(OUTCOME)
    mods = cohort.persons["modality"].to_numpy()

    def mean_var(v):
        v = v[~np.isnan(v)]
        return v.mean(), v.var(ddof=1) / v.size

    rows = []

    def add(est, m, var, contrast=""):
        s = np.sqrt(var)
        rows.append({"outcome": OUTCOME, "estimand": est, "wave": 2, "modality": "",
                     "contrast": contrast, "mean": m, "ci_lb": m - Z90 * s,
                     "ci_ub": m + Z90 * s, "ci50_lb": m - Z50 * s, "ci50_ub": m + Z50 * s})

    m0, v0 = mean_var(y[:, 0])
    m2, v2 = mean_var(y[:, 2])
    add("level", m2, v2)
    add("change", m2 - m0, v0 + v2)
    parts = []
    for mod in CONTRAST:
        a0, b0 = mean_var(y[mods == mod, 0])
        a2, b2 = mean_var(y[mods == mod, 2])
        parts.append((a2 - a0, b0 + b2))
    add("modality_contrast", parts[0][0] - parts[1][0], parts[0][1] + parts[1][1],
        " - ".join(CONTRAST))
    out = pd.DataFrame(rows)
    out["estimator"] = "complete_case"
    return out


def _fit(cohort, seed, attrition, sampler_kwargs, person_effect="sampled"):
    from dtors_bayes.models.change_model import ChangeModel

    model = ChangeModel(OUTCOME, "bernoulli", time="wave", covariates=COVARIATES, levels=(),
                        attrition=attrition, person_effect=person_effect)
    kw = {**sampler_kwargs, "random_seed": int(seed), "progressbar": False, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(cohort, **kw)


def mar_fn(cohort, seed, sim, sampler_kwargs) -> pd.DataFrame:
    """MAR g-computation and, from the same fit, pattern-mixture at the true delta."""
    from dtors_bayes.attrition.pattern_mixture import sensitivity
    from dtors_bayes.studies.design import estimates_with_intervals

    fit = _fit(cohort, seed, "mar", sampler_kwargs)
    est = _keep(estimates_with_intervals(fit, contrasts=[CONTRAST]))
    est["estimator"] = "mar"
    delta = -sim.effective_kappa
    pm90 = sensitivity(fit, [delta], contrasts=[CONTRAST]).table
    pm50 = sensitivity(fit, [delta], contrasts=[CONTRAST], ci_prob=0.5).table
    pm = _keep(pm90)
    pm["ci50_lb"] = _keep(pm50)["ci_lb"].to_numpy()
    pm["ci50_ub"] = _keep(pm50)["ci_ub"].to_numpy()
    for col in ("r_hat_max", "divergences", "ess_bulk_min"):
        pm[col] = est[col].iloc[0]
    pm["estimator"] = "pattern_mixture_true"
    return pd.concat([est, pm], ignore_index=True)


def selection_fn(cohort, seed, sim, model_kwargs, sampler_kwargs) -> pd.DataFrame:
    """Selection model with the prior centred on the truth ("true") or wrong-signed."""
    from dtors_bayes.models.selection import Selection
    from dtors_bayes.studies.design import estimates_with_intervals

    k = sim.effective_kappa
    centre = k if model_kwargs["prior"] == "true" else max(abs(k), 1.0)
    fit = _fit(cohort, seed, Selection(kappa=(centre, 0.5)), sampler_kwargs,
               model_kwargs.get("person_effect", "sampled"))
    est = _keep(estimates_with_intervals(fit, contrasts=[CONTRAST]))
    est["estimator"] = f"kappa_mean={float(fit.posterior['kappa'].mean()):.4f}"
    return est


def build(args) -> tuple[list[Scenario], list[Method]]:
    scen = [Scenario(name, {"n_persons": args.persons, "attrition": kind, "strength": s,
                            "outcomes": [OUTCOME], "heroin_drives_response": False,
                            "population_size": 6000, "n_population_areas": 40})
            for name, (kind, s) in SCENARIOS.items()]
    samp = sampler_kwargs(args)
    # the selection fits' person effect: sampled (the cached runs) or integrated out by
    # Gauss-Hermite quadrature (models/quadrature.py), which mixes kappa better; the method
    # names and the cache keys say which
    person = {"person_effect": args.person_effect} if args.person_effect != "sampled" else {}
    suffix = "" if not person else f"_{args.person_effect}"
    methods = [
        Method("complete_case", method_fn=complete_case_fn),
        Method("mar", method_fn=mar_fn, sampler_kwargs=samp),
        Method(f"selection_true{suffix}", model_kwargs={"prior": "true", **person},
               method_fn=selection_fn, sampler_kwargs=samp),
        Method(f"selection_wrong{suffix}", model_kwargs={"prior": "wrong", **person},
               method_fn=selection_fn, sampler_kwargs=samp),
    ]
    return scen, methods


def relabel(res):
    """Pattern-mixture rows (computed inside the ``mar`` task) become their own method."""
    t = res.table
    pm = t["estimator"].astype(str) == "pattern_mixture_true"
    t.loc[pm, "method"] = "pattern_mixture_true"
    kap = t["estimator"].astype(str).str.startswith("kappa_mean=")
    t["kappa_posterior_mean"] = np.where(
        kap, pd.to_numeric(t["estimator"].astype(str).str.removeprefix("kappa_mean="),
                           errors="coerce"), np.nan)
    t.loc[kap, "estimator"] = "g-computation"
    order = ["complete_case", "mar", "pattern_mixture_true", "selection_true",
             "selection_wrong"]
    order += sorted(set(t["method"].astype(str)) - set(order))  # e.g. *_quadrature
    t["method"] = pd.Categorical(t["method"], order)
    res.table = t.sort_values(["scenario", "method", "replicate"], kind="stable") \
        .assign(method=lambda d: d["method"].astype(str)).reset_index(drop=True)
    return res


def main(argv: list[str] | None = None) -> None:
    ap = study_parser(__doc__.splitlines()[0], persons=300, out=OUT, cache=CACHE)
    args = ap.parse_args(argv)
    scen, methods = build(args)
    res = run_rounds(scen, methods, args, name="attrition", estimands=ESTIMANDS,
                     progress=False)
    res = relabel(res)
    res.write(args.out)
    s = res.summary()
    kap = res.table.groupby(["scenario", "method"])["kappa_posterior_mean"].mean().dropna()
    pd.set_option("display.width", 200)
    cols = ["scenario", "method", "estimand", "n_reps", "bias", "bias_mcse", "coverage90",
            "coverage90_mcse", "width90", "share_converged"]
    print(s[cols].to_string(index=False, float_format="%.3f"))
    print("\nconverged fits only:\n" + res.summary(converged_only=True)[cols].to_string(
        index=False, float_format="%.3f"))
    print("\nmean posterior kappa per cell:\n" + kap.to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
