"""DTORS-shaped cohort simulator with known truth.

:func:`simulate_cohort` draws an NDTMS-like target population, recruits a DTORS-like cohort
from it, draws every outcome from the same generative structure the change model fits
(:mod:`dtors_bayes.simulation.truth`), and masks it by a response process that is MCAR, MAR or MNAR.
The population structure and recruitment live in :mod:`dtors_bayes.simulation.population`, the
outcome
parameters, their calibration and the true estimands in :mod:`dtors_bayes.simulation.truth`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from dtors_bayes import constants
from dtors_bayes.models.families import FAMILIES
from dtors_bayes.simulation.population import population_table, recruit, simulate_population
from dtors_bayes.simulation.truth import (
    COVARIATES,
    OUTCOME_FAMILIES,
    SCHEDULE,
    TRIALS,
    OutcomeModel,
    Truth,
    design_matrix,
    estimands,
)

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort

__all__ = [
    "OUTCOME_FAMILIES",
    "SCHEDULE",
    "TRIALS",
    "SimulatedCohort",
    "Truth",
    "simulate_cohort",
]

ATTRITION_KINDS = ("mcar", "mar", "mnar")
ITEM_NONRESPONSE = 0.02
# Response model (logit scale) beyond the stage intercepts; see simulate_cohort's docstring.
RESPONSE = {
    "kappa": -1.0,
    "rho_prev": {"outcome": -0.6, "heroin": -0.3},
    "beta": {"age": 0.25, "sex[male]": -0.15, "primary_drug[crack]": -0.2,
             "referral_route[criminal_justice]": -0.25},
    "modality": {"prescribing": 0.0, "psychosocial": -0.1, "residential": 0.3,
                 "day_care": 0.0, "inpatient_detox": -0.2},
    "sigma_site": 0.3,
    "sigma_area": 0.2,
}
# Reporting precision of the simulated values (so CSV files round-trip exactly).
DECIMALS = {"drug_spend": 2, "mental_health": 2, "physical_health": 2, "eq5d": 3}


@dataclass
class SimulatedCohort:
    """A simulated cohort: the data-contract frames, the known truth and the settings."""

    persons: pd.DataFrame
    interviews: pd.DataFrame
    population: pd.DataFrame
    truth: Truth
    settings: dict
    _cohort: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def outcomes(self) -> dict[str, str]:
        """Outcome column -> family name, for the outcomes in this cohort."""
        return {k: OUTCOME_FAMILIES[k] for k in self.settings["outcomes"]}

    @property
    def effective_kappa(self) -> float:
        """The response model's kappa as simulated: ``strength * kappa`` under MNAR, else 0."""
        if self.settings["attrition"] != "mnar":
            return 0.0
        resp = self.truth.params["response"]
        return float(resp["kappa_at_strength_1"]) * float(self.settings["strength"])

    @property
    def cohort(self) -> Cohort:
        """The :class:`~dtors_bayes.data.cohort.Cohort` of these frames (built once, on first
        use)."""
        if self._cohort is None:
            from dtors_bayes.data.cohort import Cohort

            self._cohort = Cohort.from_frames(
                self.persons,
                self.interviews,
                self.population,
                outcomes=self.outcomes,
                schedule=dict(SCHEDULE),
                trials={k: v for k, v in TRIALS.items() if k in self.outcomes},
            )
        return self._cohort


def _check_args(n_persons, n_areas, n_sites, n_population_areas, population_size, attrition,
                mnar_outcome, response_counts, outcomes) -> list[str]:
    problems = []
    if attrition not in ATTRITION_KINDS:
        problems.append(f"attrition={attrition!r}; allowed: {', '.join(ATTRITION_KINDS)}")
    if mnar_outcome not in OUTCOME_FAMILIES:
        problems.append(f"mnar_outcome={mnar_outcome!r} is not a simulated outcome")
    unknown = [o for o in outcomes if o not in OUTCOME_FAMILIES]
    if unknown:
        problems.append(f"unknown outcomes {unknown}; allowed: {', '.join(OUTCOME_FAMILIES)}")
    if not 0 < n_areas <= n_population_areas:
        problems.append("need 0 < n_areas <= n_population_areas")
    if not n_areas <= n_sites <= n_persons:
        problems.append("need n_areas <= n_sites <= n_persons")
    if population_size < 2 * n_persons:
        problems.append("population_size must be at least twice n_persons")
    fu1, fu2, late = response_counts
    if not (0 < fu1 < n_persons and 0 < fu2 < fu1 and 0 < late < n_persons - fu1):
        problems.append(
            f"response_counts={response_counts}: need 0 < FU1 < n_persons, 0 < FU2 < FU1 and "
            "0 < late < n_persons - FU1"
        )
    return problems


def _solve_intercept(lin: np.ndarray, expected: float) -> float:
    return float(brentq(lambda c: float(expit(c + lin).sum() - expected), -40.0, 40.0,
                        xtol=1e-12))


def simulate_cohort(
    seed: int = constants.DEFAULT_SEED,
    *,
    n_persons: int = 1796,
    n_areas: int = 94,
    n_sites: int = 342,
    n_population_areas: int = 149,
    population_size: int = 53_851,
    attrition: str = "mnar",
    strength: float = 1.0,
    mnar_outcome: str = "acquisitive_crime",
    recruitment_bias: float = 1.0,
    response_counts: tuple[int, int, int] | None = None,
    outcomes: list[str] | tuple[str, ...] | None = None,
    heroin_drives_response: bool = True,
    confounder_strength: float = 0.0,
    modifier_effects: dict[str, dict[str, float]] | None = None,
) -> SimulatedCohort:
    r"""Simulate a DTORS-shaped cohort with known truth.

    Generative structure (the change model's own parameterisation). For outcome ``k``,
    person ``i`` in site ``s``, area ``a``, with modality ``z``, interviewed at months ``m``:

    .. math::

        \eta_{ik}(m) = f_{k,z}(m) + x_i'\beta_k + u_{ik} + v_{k,s} + w_{k,a}, \qquad
        f_{k,z}(m) = a_{k,z} + b_{k,z} m + c_{k,z} \max(m - 4, 0),

        u_{ik} = \sigma^{person}_k (\lambda_k s_i + \sqrt{1 - \lambda_k^2} e_{ik}),\quad
        s_i, e_{ik} \sim N(0, 1),\quad v_{k,s} \sim N(0, \sigma^{site 2}_k),\quad
        w_{k,a} \sim N(0, \sigma^{area 2}_k),

        y_{ik}(m) \sim \text{family}_k(\eta, \eta^{pos}, \text{aux}_k)

    with ``x_i = [(age - 35)/10, male, primary drug dummies (reference heroin), criminal-
    justice referral]``; the shared severity ``s_i`` correlates outcomes within a person.
    Hurdle families (``drug_spend``, ``eq5d``) have a second predictor ``eta_pos`` of the
    same form. Outcomes are drawn with :meth:`dtors_bayes.models.families.Family.simulate`.
    ``f`` is solved (``brentq``) so the target population's mean of ``mu`` hits the DTORS
    figures at months 0, 4 and 12 (crime 40% -> 21% -> 16%, ...; see
    :data:`dtors_bayes.simulation.truth.OUTCOME_SPECS`). ``sharing`` is modelled among injectors
    and is
    missing where ``injecting == 0``.

    Interviews: intake (months 0); first follow-up on time at ``m ~ U(3, 5)``; second at
    ``m ~ U(11, 13)``, attempted only for on-time first-follow-up responders (monotone); a
    late single follow-up at ``m ~ U(6, 12)`` for some first-follow-up non-responders,
    recorded as a wave-1 interview with its true months. Response at each stage ``t``:

    .. math::

        \text{logit} P(r_{it}) = c_t + [g'x_i + g_{z} + \nu_s + \omega_a
            + \text{strength}\,\rho' y^{prev}_{i}]_{mar, mnar}
            + [\text{strength}\,\kappa\, y_{it}]_{mnar}

    ``y_prev`` is the last observed value of ``mnar_outcome`` and of ``heroin``, ``y_it``
    the current (possibly unobserved) value of ``mnar_outcome`` (standardised when not
    binary), ``kappa = -1`` (people offending are harder to find). ``c_t`` is solved so the
    *expected* counts equal ``response_counts``. About 2% of interviewed outcome values are
    missing at random on top (item non-response).

    Parameters
    ----------
    seed : int
        Seed of the single ``numpy.random.Generator``; draws happen in a fixed order, and
        the same complete data are drawn whatever ``attrition`` and ``strength`` are.
    n_persons, n_areas, n_sites : int
        Cohort size, areas sampled, and sites with recruits (exact).
    n_population_areas, population_size : int
        Size of the target population (DAT areas, persons).
    attrition : {"mcar", "mar", "mnar"}
        Response process (``mcar``: the stage intercepts only).
    strength : float
        Multiplies the outcome-dependent response terms (``rho`` and ``kappa``).
    mnar_outcome : str
        The outcome the response depends on.
    recruitment_bias : float
        Scales the recruitment tilt (0: the sample is a simple random sample of the sampled
        areas); the population margins are tilted back so the sample keeps the DTORS profile.
    response_counts : (int, int, int), optional
        Expected on-time first follow-ups, second follow-ups and late single follow-ups.
        Defaults to DTORS's (886, 504, 245) scaled by ``n_persons / 1796``.
    outcomes : sequence of str, optional
        Outcome columns to keep (default: all of :data:`OUTCOME_FAMILIES`).
    heroin_drives_response : bool
        Whether the last observed heroin use also drives response (default True). Set
        False for a clean single-outcome MAR test bed: response then depends only on
        ``mnar_outcome``'s history (and its current value under MNAR), so a model of that
        outcome alone is MAR-valid under ``attrition="mar"``.
    confounder_strength : float
        Strength of an unmeasured confounder ``U ~ N(0, 1)`` ("frailty"; not in the
        cohort's columns). It adds ``strength * l_z * U`` to the modality logit (loadings
        :data:`dtors_bayes.simulation.population.CONFOUNDER_MODALITY`: healthier selection
        into residential and inpatient detox) and ``strength * 0.8 * harm * scale * U`` to
        every follow-up linear predictor (:data:`dtors_bayes.simulation.truth.
        CONFOUNDER_OUTCOME`), so adjusted contrasts given the covariates are biased. U is
        drawn from its own stream (``default_rng([seed, 14])``), so the main stream's draws
        are the same at any strength (the persons recruited still change where U moved a
        modality choice, since recruitment favours prescribing); at 0 (default) the output
        is unchanged. The true estimands
        are the causal ones (U included in every potential outcome); the true confounding
        functions ``c(a, a')`` given the covariates are in ``truth.confounding``
        (:func:`dtors_bayes.simulation.confounder.confounding_truth`), and
        ``truth.estimands`` adds the contrasts that adjustment for the covariates alone
        targets (``estimand = "modality_contrast_given_x"``,
        :func:`dtors_bayes.simulation.confounder.given_x_contrasts`).
    modifier_effects : dict, optional
        Effect modification by person columns, ``{column: {level: effect}}``, e.g.
        ``{"referral_route": {"criminal_justice": 0.5}}``: ``effect * harm * scale`` is added
        to every outcome's main linear predictor at follow-up months
        (:mod:`dtors_bayes.simulation.modifiers`; positive = worse follow-up). The true
        subgroup estimands are in ``truth.subgroups``. ``None`` (default): none, and the
        output is unchanged.

    Returns
    -------
    SimulatedCohort
        ``persons``, ``interviews``, ``population`` (cell counts), ``truth``, ``settings``
        and, lazily, ``cohort``. ``truth.paths`` records the true mean paths of every kept
        outcome per option (:func:`dtors_bayes.simulation.economics.potential_paths`), from
        which the economic truth is computed without replaying the draws.
    """
    outcomes = list(OUTCOME_FAMILIES) if outcomes is None else list(outcomes)
    if response_counts is None:
        f = n_persons / 1796
        response_counts = (max(2, round(886 * f)), max(1, round(504 * f)),
                           max(1, round(245 * f)))
    problems = _check_args(n_persons, n_areas, n_sites, n_population_areas, population_size,
                           attrition, mnar_outcome, tuple(response_counts), outcomes)
    if modifier_effects is not None and not modifier_effects:
        modifier_effects = None
    if problems:
        from dtors_bayes.exceptions import SpecError

        raise SpecError("simulate_cohort: " + "; ".join(problems))
    settings = {
        "seed": int(seed), "n_persons": n_persons, "n_areas": n_areas, "n_sites": n_sites,
        "n_population_areas": n_population_areas, "population_size": population_size,
        "attrition": attrition, "strength": float(strength), "mnar_outcome": mnar_outcome,
        "recruitment_bias": float(recruitment_bias),
        "heroin_drives_response": bool(heroin_drives_response),
        "response_counts": [int(c) for c in response_counts], "outcomes": outcomes,
        "item_nonresponse": ITEM_NONRESPONSE,
    }
    if confounder_strength:
        settings["confounder_strength"] = float(confounder_strength)
    if modifier_effects is not None:
        settings["modifier_effects"] = {str(c): {str(lv): float(e) for lv, e in v.items()}
                                        for c, v in dict(modifier_effects).items()}
    rng = np.random.default_rng(seed)
    u_conf = (np.random.default_rng([int(seed), 14]).normal(size=population_size)
              if confounder_strength else None)

    # 1. Population, recruitment, outcome parameters (calibrated on the population).
    pop, structure = simulate_population(
        rng, population_size=population_size, n_population_areas=n_population_areas,
        n_areas=n_areas, n_sites=n_sites, recruitment_bias=recruitment_bias,
        confounder=u_conf, confounder_strength=confounder_strength,
    )
    conf_attrs = dict(pop.attrs)
    pop.attrs.clear()
    rows = recruit(rng, pop, n_persons, recruitment_bias)
    model = OutcomeModel(rng, pop, confounder=conf_attrs.get("confounder"),
                         confounder_strength=confounder_strength)
    if modifier_effects is not None:
        from dtors_bayes.exceptions import SpecError
        from dtors_bayes.simulation.modifiers import check_modifier_effects, modifier_shift

        bad = check_modifier_effects(modifier_effects, pop)
        if bad:
            raise SpecError("simulate_cohort: " + "; ".join(bad))
        model.modifier_shift = modifier_shift(modifier_effects, pop)
    n = rows.size

    # 2. Interview months (attempted) and complete outcomes at intake, FU1, FU2 and late.
    m1 = np.round(rng.uniform(3.0, 5.0, n), 2)
    m2 = np.round(rng.uniform(11.0, 13.0, n), 2)
    ml = np.round(rng.uniform(6.0, 12.0, n), 2)
    times = {"0": np.zeros(n), "1": m1, "2": m2, "late": ml}
    y: dict[str, dict[str, np.ndarray]] = {}
    mu: dict[str, dict[str, np.ndarray]] = {}
    for k in OUTCOME_FAMILIES:
        y[k], mu[k] = {}, {}
        for label, m in times.items():
            y[k][label] = _report(k, model.simulate(rng, k, rows, m))
            mu[k][label] = model.mu(k, rows, m)
    for label in times:
        y["sharing"][label] = np.where(y["injecting"][label] == 1, y["sharing"][label], np.nan)
    treat = {label: rng.random(n) < model.p_treatment(rows, 2 if label == "2" else 1)
             for label in ("1", "2", "late")}
    item_missing = rng.random((3, n, len(OUTCOME_FAMILIES))) < ITEM_NONRESPONSE

    # 3. Response.
    site_eff = rng.normal(0.0, RESPONSE["sigma_site"], size=pop["site_index"].max() + 1)
    area_eff = rng.normal(0.0, RESPONSE["sigma_area"], size=pop["area_index"].max() + 1)
    uniforms = rng.random((3, n))
    observed0 = {k: np.where(item_missing[0, :, j], np.nan, y[k]["0"])
                 for j, k in enumerate(OUTCOME_FAMILIES)}
    scale = {}
    for k in {mnar_outcome, "heroin"}:
        v = y[k]["0"]
        binary = OUTCOME_FAMILIES[k] == "bernoulli"
        scale[k] = (0.0, 1.0) if binary else (float(np.nanmean(v)), float(np.nanstd(v)))

    def std(k, v):
        return np.nan_to_num((v - scale[k][0]) / scale[k][1], nan=0.0)

    people = pop.iloc[rows]
    base = np.zeros(n)
    if attrition != "mcar":
        beta = np.array([RESPONSE["beta"].get(c, 0.0) for c in COVARIATES])
        zmod = np.array([RESPONSE["modality"][z] for z in people["modality"]])
        base = (design_matrix(people) @ beta + zmod
                + site_eff[people["site_index"].to_numpy()]
                + area_eff[people["area_index"].to_numpy()])
    rho = {"heroin": RESPONSE["rho_prev"]["heroin"]} if heroin_drives_response else {}
    rho[mnar_outcome] = RESPONSE["rho_prev"]["outcome"]

    def lin(prev: dict[str, np.ndarray], current: np.ndarray) -> np.ndarray:
        out = base.copy()
        if attrition != "mcar":
            out += strength * sum(r * std(k, prev[k]) for k, r in rho.items())
        if attrition == "mnar":
            out += strength * RESPONSE["kappa"] * std(mnar_outcome, current)
        return out

    fu1, fu2, late = response_counts
    lin1 = lin(observed0, y[mnar_outcome]["1"])
    c1 = _solve_intercept(lin1, fu1)
    r1 = uniforms[0] < expit(c1 + lin1)
    observed1 = {k: np.where(item_missing[1, :, j], np.nan, y[k]["1"])
                 for j, k in enumerate(OUTCOME_FAMILIES)}
    lin2 = lin(observed1, y[mnar_outcome]["2"])
    c2 = _solve_intercept(lin2[r1], fu2)
    r2 = r1 & (uniforms[1] < expit(c2 + lin2))
    lin_late = lin(observed0, y[mnar_outcome]["late"])
    c_late = _solve_intercept(lin_late[~r1], late)
    r_late = ~r1 & (uniforms[2] < expit(c_late + lin_late))

    # 4. Frames.
    person_ids = np.arange(1, n + 1)
    persons = pd.DataFrame({"person_id": person_ids})
    for col in constants.PERSON_ROLES[1:]:
        persons[col] = people[col].to_numpy()
    pick1 = {k: np.where(r_late, y[k]["late"], y[k]["1"]) for k in OUTCOME_FAMILIES}
    mu1 = {k: np.where(r_late, mu[k]["late"], mu[k]["1"]) for k in OUTCOME_FAMILIES}
    months = [np.zeros(n), np.where(r_late, ml, m1), m2]
    by_wave_y = [{k: y[k]["0"] for k in y}, pick1, {k: y[k]["2"] for k in y}]
    by_wave_mu = [{k: mu[k]["0"] for k in mu}, mu1, {k: mu[k]["2"] for k in mu}]
    treat_w = [np.full(n, np.nan), np.where(r_late, treat["late"], treat["1"]), treat["2"]]
    interviewed = [np.ones(n, bool), r1 | r_late, r2]
    complete_parts, interview_parts = [], []
    for t in (0, 1, 2):
        ids = {"person_id": person_ids, "wave": np.full(n, t)}
        comp = pd.DataFrame({**ids, "months": months[t]})
        comp["in_treatment"] = pd.array(
            np.where(np.isnan(treat_w[t].astype(float)), pd.NA, treat_w[t].astype(float) == 1),
            dtype="boolean")
        for k in outcomes:
            comp[k] = by_wave_y[t][k]
        for k in outcomes:
            comp[f"mu_{k}"] = by_wave_mu[t][k]
        complete_parts.append(comp)
        obs = pd.DataFrame({**ids, "interviewed": interviewed[t]})
        obs["months"] = np.where(interviewed[t], months[t], np.nan)
        it = comp["in_treatment"].copy()
        it[~interviewed[t]] = pd.NA
        obs["in_treatment"] = it
        for j, k in enumerate(OUTCOME_FAMILIES):
            if k in outcomes:
                keep = interviewed[t] & ~item_missing[t, :, j]
                obs[k] = np.where(keep, by_wave_y[t][k], np.nan)
        interview_parts.append(obs)
    order = ["person_id", "wave"]
    complete = pd.concat(complete_parts).sort_values(order, kind="stable").reset_index(drop=True)
    interviews = (pd.concat(interview_parts).sort_values(order, kind="stable")
                  .reset_index(drop=True))

    # 5. Truth.
    keep_sites = np.unique(people["site_index"].to_numpy())
    keep_areas = np.unique(people["area_index"].to_numpy())
    site_ids = pop.drop_duplicates("site_index").set_index("site_index")["site_id"].sort_index()
    area_ids = pop.drop_duplicates("area_index").set_index("area_index")["area_id"].sort_index()
    params = {
        "outcomes": {
            k: v for k, v in model.params_json(
                site_ids.to_numpy(), area_ids.to_numpy(), keep_sites, keep_areas).items()
            if k in outcomes
        },
        "covariates": {"names": list(COVARIATES),
                       "coding": "age = (age - 35) / 10; dummies with references female, "
                                 "heroin, other referral"},
        "time": {"schedule": {str(t): m for t, m in SCHEDULE.items()}, "knot": 4.0,
                 "f": "a + b * months + c * max(months - 4, 0) (slopes per month)"},
        "in_treatment": {
            "intercept_by_wave": {str(t): c for t, c in model.treat_intercept.items()},
            **_in_treatment_spec(),
        },
        "response": {
            "attrition": attrition, "strength": float(strength), "mnar_outcome": mnar_outcome,
            "kappa": RESPONSE["kappa"] if attrition == "mnar" else 0.0,
            "kappa_at_strength_1": RESPONSE["kappa"],
            "rho_prev": rho if attrition != "mcar" else {},
            "beta": RESPONSE["beta"] if attrition != "mcar" else {},
            "modality": RESPONSE["modality"] if attrition != "mcar" else {},
            "sigma_site": RESPONSE["sigma_site"], "sigma_area": RESPONSE["sigma_area"],
            "intercepts": {"fu1": c1, "fu2": c2, "late": c_late},
            "outcome_scale": {k: {"center": c, "scale": s} for k, (c, s) in scale.items()},
            "expected_counts": {"fu1": fu1, "fu2": fu2, "late": late},
            "realised_counts": {"fu1": int(r1.sum()), "fu2": int(r2.sum()),
                                "late": int(r_late.sum())},
            "item_nonresponse": ITEM_NONRESPONSE,
        },
        "population": structure,
    }
    est = estimands(model, rows)
    est = est[est["outcome"].isin(outcomes)].reset_index(drop=True)
    pop_persons = pop.drop(columns=["site_index", "area_index"]).copy()
    pop_persons["person_id"] = pd.array(np.full(len(pop), pd.NA), dtype="Int64")
    pop_persons.loc[rows, "person_id"] = person_ids
    pop_persons["severity"] = model.severity
    confounding = pd.DataFrame()
    if confounder_strength:
        from dtors_bayes.simulation.confounder import confounding_truth, given_x_contrasts
        from dtors_bayes.simulation.truth import CONFOUNDER_OUTCOME

        pop_persons["confounder"] = conf_attrs["confounder"]
        confounding = confounding_truth(model, conf_attrs["modality_logit_base"],
                                        conf_attrs["confounder_loadings"],
                                        float(confounder_strength), rows, outcomes)
        est = pd.concat([est, given_x_contrasts(est, confounding)], ignore_index=True)
        params["unmeasured_confounder"] = {
            "strength": float(confounder_strength),
            "modality_loadings": conf_attrs["confounder_loadings"],
            "outcome_effect": CONFOUNDER_OUTCOME,
            "enters": "strength * loading * U in the modality logit; strength * 0.8 * harm "
                      "* modality_scale * U in every follow-up linear predictor",
        }
    subgroups = pd.DataFrame()
    if modifier_effects is not None:
        from dtors_bayes.simulation.modifiers import subgroup_truth

        params["modifier_effects"] = {
            "effects": settings["modifier_effects"],
            "enters": "effect * harm * modality_scale in every outcome's main linear "
                      "predictor at follow-up months (after calibration)"}
        subgroups = subgroup_truth(model, pop, rows, list(modifier_effects), outcomes)
    from dtors_bayes.simulation.economics import potential_paths

    truth = Truth(params=params, complete=complete, estimands=est,
                  population_persons=pop_persons, confounding=confounding,
                  subgroups=subgroups, paths=potential_paths(model, rows, outcomes))
    return SimulatedCohort(persons=persons, interviews=interviews,
                           population=population_table(pop), truth=truth, settings=settings)


def _in_treatment_spec() -> dict:
    from dtors_bayes.simulation.truth import IN_TREATMENT

    return {"target": {str(t): v for t, v in IN_TREATMENT["target"].items()},
            "beta": IN_TREATMENT["beta"], "sigma_person": IN_TREATMENT["sigma_person"],
            "lambda": IN_TREATMENT["lambda"], "target_source": IN_TREATMENT["target_source"]}


def _report(k: str, values: np.ndarray) -> np.ndarray:
    """Round simulated values to their reporting precision, keeping the family's support."""
    if k not in DECIMALS:
        return values
    out = np.round(values, DECIMALS[k])
    step = 10.0 ** -DECIMALS[k]
    if OUTCOME_FAMILIES[k] == "eq5d":  # a disutility stays a disutility after rounding
        return np.where(values < 1, np.minimum(out, 1 - step), 1.0)
    if FAMILIES[OUTCOME_FAMILIES[k]].kind == "nonnegative":
        return np.where(values > 0, np.maximum(out, step), 0.0)
    return out
