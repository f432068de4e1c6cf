"""``db.overlap_check``: the propensity fit and its overlap diagnostics in one call (samples,
small: integration tier)."""

from __future__ import annotations

import pytest

import dtors_bayes as db
from dtors_bayes.testing import tiny_cohort

pytestmark = pytest.mark.integration


def test_overlap_check_fits_and_reports():
    cohort = tiny_cohort(150, seed=2)
    res = db.overlap_check(cohort, ["age", "primary_drug"], levels=("site",), threshold=0.1,
                           draws=100, tune=150, chains=1, progressbar=False, random_seed=1)
    assert res.threshold == 0.1 and set(res.below["modality"]) >= {"any"}
    assert res.propensities.shape == (res.propensity_fit.design.n_person, len(res.labels))
    assert 0 <= res.share_below_any <= 1
