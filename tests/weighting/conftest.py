"""Fixtures of the weighting tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def sim():
    """A 300-person MAR cohort (30 sites, 10 areas) with its population, shared by the
    weighting tests (simulated once per test module, as before)."""
    from dtors_bayes.simulation.generate import simulate_cohort

    return simulate_cohort(seed=3, n_persons=300, n_sites=30, n_areas=10,
                           n_population_areas=20, population_size=5000,
                           response_counts=(150, 80, 30), attrition="mar",
                           outcomes=["acquisitive_crime"])
