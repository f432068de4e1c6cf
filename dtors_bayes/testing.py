"""Helpers for tests (ours and downstream): tiny cohorts and tiny sampler settings.

These are *not* the DTORS simulator (:mod:`dtors_bayes.simulation.generate`); they make small
cohorts
with one outcome of every family quickly, for structural tests and smoke fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Sampler settings for smoke fits: enough to run the whole path, not to trust the numbers.
TINY_SAMPLER = {"draws": 60, "tune": 100, "chains": 2, "progressbar": False}

#: Families of the outcomes that :func:`tiny_frames` writes.
TINY_OUTCOMES = {
    "crime": "bernoulli",
    "days_use": "binomial",
    "offences": "negative_binomial",
    "mental_health": "gaussian",
    "spend": "hurdle_lognormal",
    "eq5d": "eq5d",
}

#: The outcome of the tiny cohort whose values suit each family.
FAMILY_OUTCOME = {
    "bernoulli": "crime", "binomial": "days_use", "beta_binomial": "days_use",
    "negative_binomial": "offences", "gaussian": "mental_health", "student_t": "mental_health",
    "hurdle_lognormal": "spend", "hurdle_gamma": "spend", "eq5d": "eq5d",
}


def tiny_frames(n: int = 120, *, seed: int = 0, n_sites: int = 12, n_areas: int = 4,
                response: float = 0.7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons and interviews frames of a small 3-wave cohort with every family.

    Each person has a latent severity; outcomes improve over waves; follow-ups are
    interviewed with probability ``response`` (MCAR).
    """
    rng = np.random.default_rng(seed)
    mods = np.array(["prescribing", "psychosocial", "residential"])
    site = rng.integers(0, n_sites, n)
    persons = pd.DataFrame({
        "person_id": np.arange(1, n + 1),
        "site_id": [f"S{s:02d}" for s in site],
        "area_id": [f"A{s % n_areas}" for s in site],
        "age": rng.integers(18, 60, n),
        "sex": rng.choice(["male", "female"], n),
        "primary_drug": rng.choice(["heroin", "crack", "other"], n),
        "referral_route": rng.choice(["criminal_justice", "other"], n),
        "modality": rng.choice(mods, n),
    })
    sev = rng.normal(0, 1, n)
    rows = []
    for i in range(n):
        for w, m in ((0, 0.0), (1, 4.0), (2, 12.0)):
            seen = w == 0 or rng.random() < response
            eta = -0.3 - 0.4 * (w > 0) + 0.8 * sev[i]
            p = 1 / (1 + np.exp(-eta))
            spend_pos = rng.random() < p
            eq_full = rng.random() < 0.3
            row = {"person_id": i + 1, "wave": w, "interviewed": seen,
                   "months": (m + (rng.uniform(-1, 1) if w else 0.0)) if seen else np.nan,
                   "crime": float(rng.random() < p),
                   "days_use": float(rng.binomial(28, p)),
                   "offences": float(rng.poisson(np.exp(eta + 1))),
                   "mental_health": rng.normal(42 + 2 * w - 5 * sev[i], 8),
                   "spend": float(rng.lognormal(4 + 0.3 * sev[i], 0.8)) if spend_pos else 0.0,
                   "eq5d": 1.0 if eq_full else float(1 - rng.lognormal(-1.5 + 0.3 * sev[i], 0.5))}
            if not seen:
                for k in TINY_OUTCOMES:
                    row[k] = np.nan
            rows.append(row)
    return persons, pd.DataFrame(rows)


def tiny_cohort(n: int = 120, *, seed: int = 0, **kwargs):
    """A :class:`~dtors_bayes.data.cohort.Cohort` from :func:`tiny_frames`."""
    from dtors_bayes.data.cohort import Cohort

    persons, interviews = tiny_frames(n, seed=seed, **kwargs)
    return Cohort.from_frames(persons, interviews, outcomes=dict(TINY_OUTCOMES))
