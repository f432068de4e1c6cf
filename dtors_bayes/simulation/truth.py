"""Known truth of the simulator: outcome parameters, their calibration, and the estimands.

For outcome k, person i (site s, area a, modality z) at months m, each linear predictor
(``eta``, and ``eta_pos`` for hurdle families) is

    eta_ik(m) = a_{k,z} + b_{k,z} m + c_{k,z} max(m - 4, 0) + x_i' beta_k + u_ik + v_{k,s} + w_{k,a}

with ``u_ik = sigma_person_k (lambda_k s_i + sqrt(1 - lambda_k^2) e_ik)``. The trajectory is
written as a common part (solved so that the target population's mean of the calibration
quantity hits its target at months 0, 4 and 12) plus modality deviations ``d1_z`` (at 4
months) and ``d2_z`` (at 12 months), zero at intake:

    a_{k,z} = a_k,   b_{k,z} = b_k + d1_z / 4,   c_{k,z} = c_k + (d2_z - 3 d1_z) / 8.

The calibration quantity is the population mean of ``mu`` (the family's response-scale
expectation), except for the first part of hurdle families where it is the probability of a
non-zero value (drug spend) or of a utility below 1 (EQ-5D). Every number is in
:data:`OUTCOME_SPECS` and is copied to ``Truth.params``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from dtors_bayes import constants
from dtors_bayes.models.families import FAMILIES

SCHEDULE: dict[int, float] = {0: 0.0, 1: 4.0, 2: 12.0}
KNOT = 4.0
TRIALS = {"days_heroin": 28}

OUTCOME_FAMILIES: dict[str, str] = {
    "acquisitive_crime": "bernoulli",
    "heroin": "bernoulli",
    "crack": "bernoulli",
    "injecting": "bernoulli",
    "sharing": "bernoulli",
    "overdose": "bernoulli",
    "employed": "bernoulli",
    "stable_housing": "bernoulli",
    "days_heroin": "beta_binomial",
    "drug_spend": "hurdle_lognormal",
    "mental_health": "gaussian",
    "physical_health": "gaussian",
    "eq5d": "eq5d",
}

COVARIATES = (
    "age",  # (age - 35) / 10
    "sex[male]",
    "primary_drug[crack]",
    "primary_drug[cocaine]",
    "primary_drug[cannabis]",
    "primary_drug[amphetamine]",
    "primary_drug[other]",
    "referral_route[criminal_justice]",
)
_SHORT = dict(
    zip(("age", "male", "crack", "cocaine", "cannabis", "amph", "other", "cj"), COVARIATES,
        strict=True)
)

# Modality deviations (d1 at 4 months, d2 at 12 months) on a "harm" scale: positive = worse.
# Multiplied by the outcome's harm sign and the part's modality scale.
MODALITY_PROFILE: dict[str, tuple[float, float]] = {
    "prescribing": (0.0, 0.0),
    "psychosocial": (0.15, 0.10),
    "residential": (-0.35, -0.25),
    "day_care": (-0.10, -0.05),
    "inpatient_detox": (-0.20, 0.10),
}


def _part(target, beta, sd, load, mod_scale=1.0, source="assumption"):
    return {
        "target": list(target),
        "beta": {_SHORT[k]: v for k, v in beta.items()},
        "sigma_person": sd[0],
        "sigma_site": sd[1],
        "sigma_area": sd[2],
        "lambda": load,
        "modality_scale": mod_scale,
        "target_source": source,
    }


_LOGIT_SD = (0.3, 0.2)
# Calibration targets at months 0, 4, 12 and the other parameters, per outcome and part.
OUTCOME_SPECS: dict[str, dict] = {
    "acquisitive_crime": {"harm": 1, "aux": {}, "eta": _part(
        (0.40, 0.21, 0.16),
        {"age": -0.35, "male": 0.3, "crack": 0.5, "cocaine": -0.2, "cannabis": -0.8,
         "amph": -0.4, "other": -0.6, "cj": 0.9},
        (1.2, *_LOGIT_SD), 0.6, source="published: 40% -> 21% -> 16% (seed)")},
    "heroin": {"harm": 1, "aux": {}, "eta": _part(
        (0.62, 0.31, 0.29),
        {"age": 0.1, "male": 0.1, "crack": -1.5, "cocaine": -2.5, "cannabis": -3.0,
         "amph": -2.5, "other": -2.0, "cj": 0.2},
        (1.5, *_LOGIT_SD), 0.6, source="assumed level; 'roughly halved' by FU1, kept (seed)")},
    "crack": {"harm": 1, "aux": {}, "eta": _part(
        (0.36, 0.19, 0.18),
        {"age": -0.1, "male": 0.1, "crack": 2.0, "cocaine": 0.3, "cannabis": -1.0,
         "amph": -0.8, "other": -0.5, "cj": 0.5},
        (1.3, *_LOGIT_SD), 0.5, source="assumed level; roughly halved (seed)")},
    "injecting": {"harm": 1, "aux": {}, "eta": _part(
        (0.40, 0.22, 0.21),
        {"age": 0.2, "male": 0.1, "crack": -0.3, "cocaine": -1.5, "cannabis": -3.0,
         "amph": -0.5, "other": -1.5, "cj": 0.1},
        (1.8, *_LOGIT_SD), 0.5, source="assumed level; roughly halved (seed)")},
    "sharing": {"harm": 1, "aux": {}, "eta": _part(
        (0.30, 0.12, 0.08),
        {"age": -0.2, "crack": 0.2, "amph": 0.2, "cj": 0.2},
        (1.0, *_LOGIT_SD), 0.4,
        source="assumed; P(sharing given injecting); 77% of sharers stopped (seed)")},
    "overdose": {"harm": 1, "aux": {}, "eta": _part(
        (0.09, 0.06, 0.04),
        {"age": 0.1, "male": 0.1, "crack": -0.2, "cocaine": -0.8, "cannabis": -1.5,
         "amph": -0.8, "other": -0.5},
        (0.8, *_LOGIT_SD), 0.4, source="published 9% -> 4% (seed); FU1 6% assumed")},
    "employed": {"harm": -1, "aux": {}, "eta": _part(
        (0.09, 0.12, 0.16),
        {"age": -0.1, "male": 0.3, "crack": -0.3, "cocaine": 0.6, "cannabis": 0.6,
         "amph": 0.3, "other": 0.3, "cj": -0.3},
        (1.2, *_LOGIT_SD), -0.4, source="published 9% -> 16% (seed); FU1 12% assumed")},
    "stable_housing": {"harm": -1, "aux": {}, "eta": _part(
        (0.60, 0.70, 0.77),
        {"age": 0.2, "male": -0.3, "crack": -0.4, "cocaine": 0.4, "cannabis": 0.4,
         "amph": 0.2, "other": 0.2, "cj": -0.4},
        (1.2, *_LOGIT_SD), -0.5, source="published 60% -> 77% (seed); FU1 70% assumed")},
    "days_heroin": {"harm": 1, "aux": {"phi": 3.0}, "eta": _part(
        (11.0, 5.0, 4.5),
        {"age": 0.1, "crack": -1.5, "cocaine": -2.5, "cannabis": -3.0, "amph": -2.5,
         "other": -2.0, "cj": 0.2},
        (1.2, *_LOGIT_SD), 0.6, source="assumed mean days of 28, consistent with heroin")},
    "drug_spend": {"harm": 1, "aux": {"sigma_pos": 0.8},
                   "eta": _part(
        (0.85, 0.55, 0.50),
        {"age": -0.1, "crack": 0.3, "cannabis": -0.5, "cj": 0.3},
        (1.5, *_LOGIT_SD), 0.6, source="assumed P(spend > 0)"),
                   "eta_pos": _part(
        (250.0, 100.0, 85.0),
        {"age": -0.1, "male": 0.1, "crack": 0.4, "cocaine": 0.1, "cannabis": -0.9,
         "amph": -0.5, "other": -0.4, "cj": 0.2},
        (0.6, 0.15, 0.10), 0.4, mod_scale=0.3,
        source="assumed mean GBP/week; ~GBP 1,213/month of drugs at intake [OAJ]")},
    "mental_health": {"harm": -1, "aux": {"sigma": 7.0}, "eta": _part(
        (40.0, 43.0, 44.0),
        {"age": -0.5, "male": 1.5, "crack": -1.0, "cannabis": 0.5},
        (6.0, 1.5, 1.0), -0.5, mod_scale=3.0,
        source="assumed norm-based score (norm 50, sd 10): below norms, improving (seed)")},
    "physical_health": {"harm": -1, "aux": {"sigma": 6.0}, "eta": _part(
        (48.0, 49.0, 49.0),
        {"age": -2.0, "male": 0.8, "crack": -0.5, "cannabis": 1.0},
        (5.0, 1.5, 1.0), -0.3, mod_scale=3.0,
        source="assumed norm-based score: near UK norms at all waves (seed)")},
    "eq5d": {"harm": 1, "aux": {"sigma_pos": 0.5},
             "eta": _part(
        (0.80, 0.70, 0.68),
        {"age": 0.25, "male": -0.2, "crack": 0.2},
        (1.0, *_LOGIT_SD), 0.5, source="assumed P(utility < 1)"),
             "eta_pos": _part(
        (0.66, 0.72, 0.73),
        {"age": 0.15, "male": -0.1, "crack": 0.1},
        (0.4, 0.10, 0.05), 0.4, mod_scale=0.3,
        source="assumed mean utility; ~0.05 QALY over the year (seed)")},
}
# Harm sign of the second part: a larger eta_pos means more spend / more disutility.
IN_TREATMENT = {
    "target": {1: 0.70, 2: 0.77},
    "beta": {_SHORT["age"]: 0.2, _SHORT["cj"]: 0.1},
    "sigma_person": 1.0,
    "lambda": -0.3,
    "target_source": "published: 70% / 77% in structured treatment at FU1 / FU2 (seed)",
}


# Effect of the unmeasured confounder U on every follow-up linear predictor (not at intake:
# U is "frailty" in responding to treatment), times the outcome's harm sign, its part's
# modality scale and ``confounder_strength``.
CONFOUNDER_OUTCOME = 0.8


def design_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Baseline covariates ``x_i`` in the order of :data:`COVARIATES`."""
    drug = frame["primary_drug"].to_numpy()
    return np.column_stack(
        [
            (frame["age"].to_numpy(dtype=float) - 35.0) / 10.0,
            frame["sex"].to_numpy() == "male",
            *(drug == d for d in ("crack", "cocaine", "cannabis", "amphetamine", "other")),
            frame["referral_route"].to_numpy() == "criminal_justice",
        ]
    ).astype(float)


def hinge(m):
    return np.maximum(np.asarray(m, dtype=float) - KNOT, 0.0)


class OutcomeModel:
    """Linear predictors and expectations for every population person (rows index it)."""

    def __init__(self, rng: np.random.Generator, population: pd.DataFrame,
                 confounder: np.ndarray | None = None, confounder_strength: float = 0.0):
        self.n = len(population)
        self.confounder = None if confounder is None or confounder_strength == 0 else \
            np.asarray(confounder, dtype=float)
        self.confounder_strength = float(confounder_strength)
        self.modifier_shift: np.ndarray | None = None  # simulation.modifiers (set after)
        self.x = design_matrix(population)
        self.z = pd.Categorical(
            population["modality"], categories=constants.DTORS_MODALITIES
        ).codes.astype(int)
        self.site = population["site_index"].to_numpy()
        self.area = population["area_index"].to_numpy()
        n_sites, n_areas = self.site.max() + 1, self.area.max() + 1
        self.severity = rng.normal(size=self.n)
        self.lin: dict[tuple[str, str], np.ndarray] = {}
        self.site_effects: dict[tuple[str, str], np.ndarray] = {}
        self.area_effects: dict[tuple[str, str], np.ndarray] = {}
        self.params: dict[str, dict] = {}
        for k, fam in OUTCOME_FAMILIES.items():
            spec = OUTCOME_SPECS[k]
            self.params[k] = {"family": fam, "aux": dict(spec["aux"]), "harm": spec["harm"]}
            for part in FAMILIES[fam].parts:
                p = spec[part]
                beta = np.array([p["beta"].get(c, 0.0) for c in COVARIATES])
                lam = p["lambda"]
                e = rng.normal(size=self.n)
                v = rng.normal(0.0, p["sigma_site"], size=n_sites)
                w = rng.normal(0.0, p["sigma_area"], size=n_areas)
                u = p["sigma_person"] * (lam * self.severity + np.sqrt(1 - lam**2) * e)
                self.lin[k, part] = self.x @ beta + u + v[self.site] + w[self.area]
                self.site_effects[k, part], self.area_effects[k, part] = v, w
                self.params[k][part] = {
                    **{key: p[key] for key in p if key != "beta"},
                    "beta": {c: float(b) for c, b in zip(COVARIATES, beta, strict=True)},
                }
        # in_treatment: wave-specific intercepts, covariates and a person effect.
        it = IN_TREATMENT
        lam = it["lambda"]
        e = rng.normal(size=self.n)
        beta = np.array([it["beta"].get(c, 0.0) for c in COVARIATES])
        self.lin_treat = self.x @ beta + it["sigma_person"] * (
            lam * self.severity + np.sqrt(1 - lam**2) * e
        )
        self._calibrate()

    def u_effect(self, k: str, part: str) -> float:
        """Coefficient of U on outcome k's part at follow-up (0 without a confounder)."""
        if self.confounder is None:
            return 0.0
        return (self.confounder_strength * CONFOUNDER_OUTCOME * self.params[k]["harm"]
                * OUTCOME_SPECS[k][part]["modality_scale"])

    # ---- predictors --------------------------------------------------------------------
    def _dev(self, k: str, part: str) -> tuple[np.ndarray, np.ndarray]:
        scale = self.params[k]["harm"] * OUTCOME_SPECS[k][part]["modality_scale"]
        d = np.array([MODALITY_PROFILE[z] for z in constants.DTORS_MODALITIES]) * scale
        return d[:, 0], d[:, 1]

    def etas(self, k: str, rows, months, z=None, u=None) -> dict[str, np.ndarray]:
        """Linear predictors of outcome ``k`` for ``rows`` at ``months`` (modality ``z``).

        With a confounder, ``u`` overrides the persons' own U (for integrating it out)."""
        rows = np.arange(self.n) if rows is None else rows
        zz = self.z[rows] if z is None else np.broadcast_to(z, np.shape(rows))
        m = np.broadcast_to(np.asarray(months, dtype=float), np.shape(rows))
        out = {}
        for part in FAMILIES[self.params[k]["family"]].parts:
            p = self.params[k][part]
            a, b, c = (np.array([p[key][zname] for zname in constants.DTORS_MODALITIES])
                       for key in ("a", "b", "c"))
            out[part] = a[zz] + b[zz] * m + c[zz] * hinge(m) + self.lin[k, part][rows]
            if self.confounder is not None:
                uu = self.confounder[rows] if u is None else u
                out[part] = out[part] + self.u_effect(k, part) * uu * (m > 0)
            if self.modifier_shift is not None and part == "eta":
                scale = self.params[k]["harm"] * OUTCOME_SPECS[k][part]["modality_scale"]
                out[part] = out[part] + scale * self.modifier_shift[rows] * (m > 0)
        return out

    def mu(self, k: str, rows=None, months=0.0, z=None) -> np.ndarray:
        fam = FAMILIES[self.params[k]["family"]]
        return fam.mean(self.etas(k, rows, months, z), self.params[k]["aux"],
                        TRIALS.get(k, 28))

    def simulate(self, rng: np.random.Generator, k: str, rows, months) -> np.ndarray:
        fam = FAMILIES[self.params[k]["family"]]
        return fam.simulate(rng, self.etas(k, rows, months), self.params[k]["aux"],
                            TRIALS.get(k, 28))

    # ---- calibration -------------------------------------------------------------------
    def _calibrate(self) -> None:
        months = (SCHEDULE[0], SCHEDULE[1], SCHEDULE[2])
        for k, fam_name in OUTCOME_FAMILIES.items():
            fam = FAMILIES[fam_name]
            aux = self.params[k]["aux"]
            solved_eta: dict[float, np.ndarray] = {}
            for part in fam.parts:
                spec = OUTCOME_SPECS[k][part]
                d1, d2 = self._dev(k, part)
                dev = {months[0]: 0.0 * d1, months[1]: d1, months[2]: d2}
                lin = self.lin[k, part]
                big_a = []
                for m, target in zip(months, spec["target"], strict=True):
                    base = dev[m][self.z] + lin
                    if self.confounder is not None and m > 0:
                        base = base + self.u_effect(k, part) * self.confounder
                    gap = _gap(fam, aux, TRIALS.get(k, 28), part, base, target,
                               solved_eta.get(m))
                    lo, hi = (-500.0, 500.0) if fam.link == "identity" else (-30.0, 30.0)
                    A = brentq(gap, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500)
                    big_a.append(A)
                    if part == "eta":
                        solved_eta[m] = A + base
                a = big_a[0]
                b = (big_a[1] - a) / months[1]
                c = (big_a[2] - a - b * months[2]) / hinge(months[2])
                p = self.params[k][part]
                p["a"] = {z: float(a) for z in constants.DTORS_MODALITIES}
                p["b"] = {z: float(b + d1[j] / KNOT)
                          for j, z in enumerate(constants.DTORS_MODALITIES)}
                p["c"] = {z: float(c + (d2[j] - (months[2] / KNOT) * d1[j]) / hinge(months[2]))
                          for j, z in enumerate(constants.DTORS_MODALITIES)}
                p["modality_deviation"] = {
                    z: {"months_4": float(d1[j]), "months_12": float(d2[j])}
                    for j, z in enumerate(constants.DTORS_MODALITIES)
                }
        self.treat_intercept = {}
        for t, target in IN_TREATMENT["target"].items():
            self.treat_intercept[t] = float(brentq(
                lambda c, target=target: float(expit(c + self.lin_treat).mean() - target),
                -30, 30, xtol=1e-12))

    def p_treatment(self, rows, wave: int) -> np.ndarray:
        return expit(self.treat_intercept[wave] + self.lin_treat[rows])

    def params_json(self, site_ids: np.ndarray, area_ids: np.ndarray, keep_sites, keep_areas):
        """Every outcome parameter, with the realised effects of the cohort's sites/areas."""
        out = json.loads(json.dumps(self.params))
        for (k, part), v in self.site_effects.items():
            out[k][part]["site_effects"] = {
                str(site_ids[j]): float(v[j]) for j in keep_sites
            }
            w = self.area_effects[k, part]
            out[k][part]["area_effects"] = {str(area_ids[j]): float(w[j]) for j in keep_areas}
        return out


def _gap(fam, aux, trials, part, base, target, eta_solved):
    """Population mean of the calibration quantity minus its target, as a function of A."""
    if part == "eta" and len(fam.parts) == 2:  # hurdle: P(non-zero)
        return lambda A: float(expit(A + base).mean() - target)
    if part == "eta":
        return lambda A: float(fam.mean({"eta": A + base}, aux, trials).mean() - target)
    return lambda A: float(
        fam.mean({"eta": eta_solved, "eta_pos": A + base}, aux, trials).mean() - target)


def estimands(model: OutcomeModel, sample_rows: np.ndarray) -> pd.DataFrame:
    """True estimands on ``mu`` for the target population and the recruited sample."""
    records = []
    mods = constants.DTORS_MODALITIES
    waves = sorted(SCHEDULE)
    for k in OUTCOME_FAMILIES:
        own = {t: model.mu(k, None, SCHEDULE[t]) for t in waves}
        cf = {(j, t): model.mu(k, None, SCHEDULE[t], z=j)
              for j in range(len(mods)) for t in waves}
        for pop, rows in (("target", np.arange(model.n)), ("sample", sample_rows)):
            def rec(est, t, value, modality=None, contrast=None, pop=pop, k=k):
                records.append((k, est, t, modality, contrast, pop, float(value)))

            level = {t: own[t][rows].mean() for t in waves}
            for t in waves:
                rec("level", t, level[t])
            for t in waves[1:]:
                rec("change", t, level[t] - level[0])
                rec("ratio", t, level[t] / level[0] if level[0] != 0 else np.nan)
                zr = model.z[rows]
                for j, zname in enumerate(mods):
                    sel = rows[zr == j]
                    if sel.size:
                        rec("modality_change", t, (own[t][sel] - own[0][sel]).mean(), zname)
                cf_change = [(cf[j, t][rows] - cf[j, 0][rows]).mean() for j in range(len(mods))]
                for (ia, za), (ib, zb) in combinations(enumerate(mods), 2):
                    rec("modality_contrast", t, cf_change[ia] - cf_change[ib],
                        contrast=f"{za} - {zb}")
    return pd.DataFrame.from_records(
        records,
        columns=["outcome", "estimand", "wave", "modality", "contrast", "population", "value"],
    )


def _round_floats(obj, digits: int = 12):
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {str(k): _round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round_floats(v, digits) for v in obj]
    if isinstance(obj, np.generic):
        return _round_floats(obj.item(), digits)
    return obj


@dataclass
class Truth:
    """The simulator's known truth.

    Attributes
    ----------
    params : dict
        JSON-able nested dict of every parameter: per outcome (family, aux, and per
        predictor part ``a``, ``b``, ``c`` by modality, ``beta``, ``sigma_person``,
        ``lambda``, ``sigma_site``, ``sigma_area``, the realised site and area effects of the
        cohort's sites and areas, targets), ``in_treatment``, ``response`` (incl. ``kappa``),
        ``population`` (structure, margins, modality logit) and ``covariates``.
    complete : pandas.DataFrame
        Long (person_id, wave): ``months`` (actual or attempted), every outcome before any
        masking, ``in_treatment`` and ``mu_<outcome>`` (the expectation at those months).
    estimands : pandas.DataFrame
        Tidy: ``outcome, estimand, wave, modality, contrast, population, value``; computed
        on ``mu`` at the schedule months, for the ``target`` population and the ``sample``.
    population_persons : pandas.DataFrame
        The simulated NDTMS-like population (one row per person; not written to JSON).
    confounding : pandas.DataFrame
        With an unmeasured confounder (``confounder_strength != 0``): the true confounding
        functions given the covariates
        (:func:`dtors_bayes.simulation.confounder.confounding_truth`); empty otherwise (not
        written to JSON).
    subgroups : pandas.DataFrame
        With ``modifier_effects``: the true subgroup estimands
        (:func:`dtors_bayes.simulation.modifiers.subgroup_truth`); empty otherwise (not
        written to JSON).
    paths : pandas.DataFrame
        The true population mean paths the economic truth is built from
        (:func:`dtors_bayes.simulation.economics.potential_paths`): ``outcome, population,
        option, wave, months, value, share``, with ``option`` ``"treated"`` (own modality) or
        a modality given to everyone, at the schedule months; recorded when the cohort is
        simulated, so :func:`dtors_bayes.simulation.economics.economic_truth` needs no
        replay of the random draws (not written to JSON).
    """

    params: dict
    complete: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    estimands: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    population_persons: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    confounding: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    paths: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def confounding_bias(self, outcome: str, wave: int, modality: str,
                         population: str = "sample") -> float:
        """``sum_a' pibar_a' cbar(a, a')``: how far the no-unmeasured-confounding adjusted
        level of ``modality`` sits above its causal value (0 without a confounder)."""
        c = self.confounding
        if c.empty:
            return 0.0
        sel = c[(c.outcome == outcome) & (c.wave == wave) & (c.modality == modality)
                & (c.population == population)]
        return float((sel["share_other"] * sel["c"]).sum())

    def to_json(self) -> str:
        """JSON text of ``params`` and ``estimands`` (sorted keys, rounded floats)."""
        est = self.estimands.astype(object).where(self.estimands.notna(), None)
        payload = {"params": self.params, "estimands": est.to_dict(orient="records")}
        return json.dumps(_round_floats(payload), sort_keys=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Truth:
        """Rebuild a ``Truth`` (params and estimands only) from :meth:`to_json` text."""
        payload = json.loads(text)
        cols = ["outcome", "estimand", "wave", "modality", "contrast", "population", "value"]
        est = pd.DataFrame.from_records(payload["estimands"], columns=cols)
        est["wave"] = est["wave"].astype(int)
        est["value"] = est["value"].astype(float)
        return cls(params=payload["params"], estimands=est)

    def value(self, outcome: str, estimand: str = "level", wave: int = 0,
              population: str = "target", modality: str | None = None,
              contrast: str | None = None) -> float:
        """One true value, e.g. ``truth.value("acquisitive_crime", "change", 2)``."""
        e = self.estimands
        sel = (e.outcome == outcome) & (e.estimand == estimand) & (e.wave == wave) & (
            e.population == population)
        if modality is not None:
            sel &= e.modality == modality
        if contrast is not None:
            sel &= e.contrast == contrast
        hits = e.loc[sel, "value"]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} estimands match {outcome, estimand, wave, population}")
        return float(hits.iloc[0])
