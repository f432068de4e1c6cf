"""The simulated NDTMS-like target population and the DTORS-like recruitment from it.

Used by :func:`dtors_bayes.simulation.generate.simulate_cohort`; every draw comes from the one
``numpy.random.Generator`` passed in, in a fixed order, so a seed fixes everything.

Structure
---------
``n_population_areas`` areas (DAT areas), each with one or more treatment sites; the
population's persons belong to one site each (so to one area). The cohort's ``n_areas``
areas are a random subset; the sites are allocated so those areas hold ``n_sites`` sites in
all, and recruitment takes at least one person from every one of them, so the cohort has
exactly ``n_sites`` sites with recruits.

Covariates are drawn independently (age group, sex, primary drug, referral route). The
population margins are the published DTORS *sample* figures tilted back by the recruitment
tilt, ``pop_j ∝ sample_j * exp(-recruitment_bias * tilt_j)``, so the recruited sample keeps
the published profile (73% male, 47% aged 25-34, 57% heroin, 12% crack) while the target
population differs from it. Treatment modality is drawn from a multinomial logit on the
observed covariates plus a site tilt; its intercepts are solved so the population's modality
mix hits its target. By default nothing unobserved (in particular not the severity that drives
outcomes) enters modality choice: adjusted modality contrasts are identified given the
covariates. With ``confounder_strength != 0`` an unmeasured confounder U enters both modality
choice (loadings :data:`CONFOUNDER_MODALITY`) and the follow-up outcomes
(:mod:`dtors_bayes.simulation.truth`), and they are not.

Recruitment draws persons in the sampled areas without replacement with weights
``exp(recruitment_bias * tilt(x))`` (Efraimidis-Spirakis keys): heroin users, prescribing
clients and older clients are over-recruited, criminal-justice referrals under-recruited.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import softmax

from dtors_bayes import constants

REFERRAL_ROUTES = ("criminal_justice", "other")
MODALITIES = constants.DTORS_MODALITIES

# Published or assumed *sample* (intake) profile; the population is tilted back from it.
SAMPLE_PROFILE: dict[str, dict[str, float]] = {
    # 47% aged 25-34 [OAJ]; the other age groups are assumptions.
    "age_group": {"18-24": 0.13, "25-34": 0.47, "35-44": 0.30, "45+": 0.10},
    "sex": {"male": 0.73, "female": 0.27},  # [OAJ]
    # heroin 57%, crack 12% [OAJ]; the rest split by assumption.
    "primary_drug": {
        "heroin": 0.57, "crack": 0.12, "cocaine": 0.08, "cannabis": 0.12,
        "amphetamine": 0.04, "other": 0.07,
    },
    # Not published (NOT FOUND); assumed 25% criminal justice.
    "referral_route": {"criminal_justice": 0.25, "other": 0.75},
    # Assumed modality mix at entry (DTORS FU1 treatment-received figures inspired it).
    "modality": {
        "prescribing": 0.50, "psychosocial": 0.25, "residential": 0.08,
        "day_care": 0.10, "inpatient_detox": 0.07,
    },
}

# Log recruitment tilt by category (multiplied by ``recruitment_bias``); 0 where absent.
RECRUITMENT_TILT: dict[str, dict[str, float]] = {
    "age_group": {"18-24": -0.4},
    "primary_drug": {"heroin": 0.3},
    "referral_route": {"criminal_justice": -0.4},
    "modality": {"prescribing": 0.3},
}

# Multinomial logit of modality (reference: prescribing) on observed covariates.
MODALITY_LOGIT: dict[str, dict[str, float]] = {
    "psychosocial": {"age10": -0.1, "heroin": -1.5, "criminal_justice": 0.3},
    "residential": {"age10": 0.3, "heroin": -0.3, "criminal_justice": 0.2},
    "day_care": {"age10": 0.0, "heroin": -0.5, "criminal_justice": 0.3},
    "inpatient_detox": {"age10": 0.3, "heroin": 0.0, "criminal_justice": 0.0},
}
MODALITY_SITE_SD = 0.5
# Loadings of the unmeasured confounder U ("frailty": higher U, worse follow-up outcomes) in
# the modality logit, multiplied by ``confounder_strength``: the less frail choose
# residential and inpatient detox (healthier selection), the frailer psychosocial.
CONFOUNDER_MODALITY: dict[str, float] = {
    "prescribing": 0.0, "psychosocial": 0.5, "residential": -1.0, "day_care": 0.0,
    "inpatient_detox": -0.5,
}
AGE_RANGES = {"18-24": (18, 24), "25-34": (25, 34), "35-44": (35, 44), "45+": (45, 70)}


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(3, len(str(n)))
    return np.array([f"{prefix}{j + 1:0{width}d}" for j in range(n)])


def population_margins(recruitment_bias: float) -> dict[str, dict[str, float]]:
    """Target-population margins implied by the sample profile and the recruitment tilt."""
    out = {}
    for var, shares in SAMPLE_PROFILE.items():
        tilt = RECRUITMENT_TILT.get(var, {})
        raw = {k: v * np.exp(-recruitment_bias * tilt.get(k, 0.0)) for k, v in shares.items()}
        total = sum(raw.values())
        out[var] = {k: float(v / total) for k, v in raw.items()}
    return out


def _draw_cat(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array([shares[k] for k in keys])
    return np.array(keys)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _modality_utilities(age10: np.ndarray, heroin: np.ndarray, cj: np.ndarray) -> np.ndarray:
    util = np.zeros((age10.size, len(MODALITIES)))
    for j, z in enumerate(MODALITIES[1:], start=1):
        c = MODALITY_LOGIT[z]
        util[:, j] = c["age10"] * age10 + c["heroin"] * heroin + c["criminal_justice"] * cj
    return util


def simulate_population(
    rng: np.random.Generator,
    *,
    population_size: int,
    n_population_areas: int,
    n_areas: int,
    n_sites: int,
    recruitment_bias: float,
    confounder: np.ndarray | None = None,
    confounder_strength: float = 0.0,
) -> tuple[pd.DataFrame, dict]:
    """Draw the population persons (with site and area) and the sampled areas.

    ``confounder`` (one value of the unmeasured U per population person, in draw order) and
    a non-zero ``confounder_strength`` add ``strength * l_z * U_i`` to the modality logit
    (loadings ``l_z`` = :data:`CONFOUNDER_MODALITY`); the intercepts are solved with it. The
    frame then carries ``attrs["modality_logit_base"]`` (the logit without U, intercepts
    included, rows in frame order) and ``attrs["confounder"]`` (U in frame order), from
    which :func:`dtors_bayes.simulation.confounder.confounding_truth` integrates U out. At
    strength 0 nothing changes: not one draw of ``rng``.

    Returns the population frame (columns ``pop_index, site_id, area_id, age, age_group,
    sex, primary_drug, referral_route, modality, sampled_area``) and a JSON-able dict of the
    structural parameters (margins, modality logit and its solved intercepts, site counts).
    """
    # Areas: the sampled subset first, then sites per area (the sampled areas hold n_sites).
    sampled = np.zeros(n_population_areas, dtype=bool)
    sampled[rng.choice(n_population_areas, size=n_areas, replace=False)] = True
    total_sites = max(round(n_sites * n_population_areas / n_areas), n_population_areas)
    sites_per_area = np.ones(n_population_areas, dtype=int)
    other_areas = n_population_areas - n_areas
    sites_per_area[sampled] += rng.multinomial(n_sites - n_areas, np.full(n_areas, 1 / n_areas))
    if other_areas:
        extra = max(total_sites - n_sites - other_areas, 0)
        sites_per_area[~sampled] += rng.multinomial(extra, np.full(other_areas, 1 / other_areas))
    area_ids = _ids("A", n_population_areas)
    site_area = np.repeat(np.arange(n_population_areas), sites_per_area)
    n_all_sites = site_area.size
    site_ids = _ids("S", n_all_sites)
    # Persons per site: at least one each, the rest by Gamma(2) site sizes.
    size_w = rng.gamma(2.0, 1.0, size=n_all_sites)
    per_site = 1 + rng.multinomial(population_size - n_all_sites, size_w / size_w.sum())
    site_of = np.repeat(np.arange(n_all_sites), per_site)

    margins = population_margins(recruitment_bias)
    n = population_size
    age_group = _draw_cat(rng, margins["age_group"], n)
    lo = np.array([AGE_RANGES[g][0] for g in age_group])
    hi = np.array([AGE_RANGES[g][1] for g in age_group])
    # Ages uniform within groups, except 45+ which thins out (exponential from 45).
    u = rng.random(n)
    age = np.where(
        age_group == "45+",
        np.minimum(45 + np.floor(-6.0 * np.log1p(-u)), hi),
        lo + np.floor(u * (hi - lo + 1)),
    ).astype(int)
    sex = _draw_cat(rng, margins["sex"], n)
    drug = _draw_cat(rng, margins["primary_drug"], n)
    route = _draw_cat(rng, margins["referral_route"], n)

    # Modality: multinomial logit on observed covariates + a site tilt; intercepts solved.
    site_tilt = rng.normal(0.0, MODALITY_SITE_SD, size=(n_all_sites, len(MODALITIES)))
    site_tilt[:, 0] = 0.0
    util = _modality_utilities((age - 35) / 10, drug == "heroin", route == "criminal_justice")
    util += site_tilt[site_of]
    with_u = confounder is not None and confounder_strength != 0
    base_util = util.copy() if with_u else None
    if with_u:
        load = np.array([CONFOUNDER_MODALITY[z] for z in MODALITIES])
        util += confounder_strength * np.asarray(confounder)[:, None] * load[None, :]
    target = np.array([margins["modality"][z] for z in MODALITIES])
    alpha = np.log(target / target[0])
    for _ in range(200):
        share = softmax(util + alpha, axis=1).mean(axis=0)
        step = np.log(target / share)
        alpha += step - step[0]
        if np.max(np.abs(step)) < 1e-12:
            break
    prob = softmax(util + alpha, axis=1)
    cum = np.cumsum(prob, axis=1)
    pick = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, len(MODALITIES) - 1)
    modality = np.array(MODALITIES)[pick]

    # Shuffle the rows so that population order carries no site information.
    order = rng.permutation(n)
    frame = pd.DataFrame(
        {
            "site_id": site_ids[site_of],
            "area_id": area_ids[site_area[site_of]],
            "age": age,
            "age_group": age_group,
            "sex": sex,
            "primary_drug": drug,
            "referral_route": route,
            "modality": modality,
            "sampled_area": sampled[site_area[site_of]],
            "site_index": site_of,
            "area_index": site_area[site_of],
        }
    ).iloc[order].reset_index(drop=True)
    frame.insert(0, "pop_index", np.arange(n))
    if with_u:
        frame.attrs["modality_logit_base"] = (base_util + alpha)[order]
        frame.attrs["confounder"] = np.asarray(confounder, dtype=float)[order]
        frame.attrs["confounder_loadings"] = dict(CONFOUNDER_MODALITY)
    structure = {
        "population_size": int(n),
        "n_population_areas": int(n_population_areas),
        "n_population_sites": int(n_all_sites),
        "n_sampled_areas": int(n_areas),
        "n_sites_in_sampled_areas": int(sites_per_area[sampled].sum()),
        "sample_profile": SAMPLE_PROFILE,
        "population_margins": margins,
        "modality_logit": {
            "reference": MODALITIES[0],
            "coefficients": MODALITY_LOGIT,
            "intercepts": dict(zip(MODALITIES, map(float, alpha), strict=True)),
            "site_tilt_sd": MODALITY_SITE_SD,
            "covariates": "age10 = (age - 35) / 10; heroin = primary drug heroin; "
            "criminal_justice = referral route criminal justice",
        },
        "recruitment_tilt": RECRUITMENT_TILT,
    }
    return frame, structure


def recruit(
    rng: np.random.Generator, population: pd.DataFrame, n_persons: int, recruitment_bias: float
) -> np.ndarray:
    """Indices (into ``population``) of the recruited persons, sorted.

    Weighted sampling without replacement in the sampled areas (Efraimidis-Spirakis keys
    ``E / w`` with ``E ~ Exp(1)``, smallest first), forcing one recruit per site.
    """
    logw = np.zeros(len(population))
    for var, tilt in RECRUITMENT_TILT.items():
        values = population[var].to_numpy()
        for cat, t in tilt.items():
            logw += np.where(values == cat, t, 0.0)
    keys = rng.exponential(size=len(population)) / np.exp(recruitment_bias * logw)
    eligible = population["sampled_area"].to_numpy()
    keys = np.where(eligible, keys, np.inf)
    idx = np.flatnonzero(eligible)
    if n_persons > idx.size:
        raise ValueError(f"n_persons={n_persons} exceeds the {idx.size} persons in sampled areas")
    site = population["site_index"].to_numpy()[idx]
    by_key = idx[np.argsort(keys[idx], kind="stable")]
    first = pd.Series(by_key).groupby(site[np.argsort(keys[idx], kind="stable")]).first()
    chosen = np.zeros(len(population), dtype=bool)
    chosen[first.to_numpy()] = True
    if chosen.sum() > n_persons:
        raise ValueError(
            f"n_persons={n_persons} is smaller than the {int(chosen.sum())} sites to recruit from"
        )
    rest = by_key[~chosen[by_key]][: n_persons - int(chosen.sum())]
    chosen[rest] = True
    return np.flatnonzero(chosen)


def population_table(population: pd.DataFrame) -> pd.DataFrame:
    """Counts of the cells age_group x sex x primary_drug x referral_route x modality (> 0)."""
    cols = list(constants.POPULATION_VARIABLES)
    population = population.assign(age_group=pd.cut(
        population["age"], constants.AGE_BREAKS, right=False, labels=constants.AGE_LABELS
    ).astype(str))
    table = population.groupby(cols, observed=True).size().rename("count").reset_index()
    return table.sort_values(cols, kind="stable").reset_index(drop=True)
