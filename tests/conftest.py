"""Shared fixtures: a tiny valid cohort written by hand (no simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

OUTCOMES = {"days_heroin": "binomial", "crime": "bernoulli", "wellbeing": "gaussian"}


def tiny_frames() -> dict[str, pd.DataFrame]:
    """Eight persons, four sites in two areas, three waves, three outcomes.

    Person P008 has no row at wave 2 (added as not interviewed); P007 is not interviewed at
    wave 1 and P006 not at wave 2; P002 has an item-missing ``wellbeing`` at wave 1.
    """
    ids = [f"P{i:03d}" for i in range(1, 9)]
    persons = pd.DataFrame({
        "person_id": ids,
        "site_id": ["S1", "S1", "S2", "S2", "S3", "S3", "S4", "S4"],
        "area_id": ["A1", "A1", "A1", "A1", "A2", "A2", "A2", "A2"],
        "age": [22.0, 30.0, 41.0, 27.0, 50.0, 19.0, 33.0, 38.0],
        "sex": ["male", "female", "male", "male", "female", "male", "female", "male"],
        "primary_drug": ["heroin", "crack", "heroin", "alcohol", "heroin", "crack", "heroin",
                         "heroin"],
        "referral_route": ["criminal_justice", "other", "other", "criminal_justice", "other",
                           "other", "criminal_justice", "other"],
        "modality": ["prescribing", "psychosocial"] * 4,
        "motivation": [3.0, 4.0, 2.0, 5.0, 3.0, 1.0, 4.0, 2.0],
    })
    rows = []
    rng = np.random.default_rng(1)
    for i, pid in enumerate(ids):
        for wave, month in ((0, 0.0), (1, 4.0 + (i % 3) * 0.3), (2, 12.0 + (i % 2) * 0.5)):
            if pid == "P008" and wave == 2:
                continue
            interviewed = not ((pid == "P007" and wave == 1) or (pid == "P006" and wave == 2))
            rows.append({
                "person_id": pid,
                "wave": wave,
                "interviewed": interviewed,
                "months": month if interviewed else np.nan,
                "in_treatment": (wave == 0 or i % 2 == 0) if interviewed else None,
                "days_heroin": float(rng.integers(0, 29)) if interviewed else np.nan,
                "crime": float(rng.integers(0, 2)) if interviewed else np.nan,
                "wellbeing": (np.nan if (pid == "P002" and wave == 1) or not interviewed
                              else float(np.round(rng.normal(), 3))),
            })
    interviews = pd.DataFrame(rows)
    population = pd.DataFrame({
        "sex": ["male", "male", "female", "female"],
        "modality": ["prescribing", "psychosocial", "prescribing", "psychosocial"],
        "count": [400, 300, 200, 100],
    })
    return {"persons": persons, "interviews": interviews, "population": population}


def long_frame(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The same cohort as one flat long table."""
    return frames["interviews"].merge(frames["persons"], on="person_id", how="left")


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Fresh copies of the tiny cohort's tables (persons, interviews, population)."""
    return tiny_frames()


@pytest.fixture
def tiny_cohort(frames):
    """The tiny cohort built with :meth:`Cohort.from_frames`."""
    from dtors_bayes.data.cohort import Cohort

    return Cohort.from_frames(frames["persons"], frames["interviews"], frames["population"],
                              outcomes=OUTCOMES)
