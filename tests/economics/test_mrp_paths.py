"""QALY and cost paths for a poststratified (MRP) population (hand-built posteriors)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.economics.evaluation import NONE, economic_draws
from dtors_bayes.economics.paths import TREATED, outcome_paths
from dtors_bayes.exceptions import CohortError, FitError, SpecError
from dtors_bayes.testing import HAND_MODALITIES, hand_posterior_fit
from dtors_bayes.weighting.mrp import mrp_estimates


@pytest.fixture(scope="module")
def setting():
    fu, fc = hand_posterior_fit("eq5d"), hand_posterior_fit("bernoulli", seed=2)
    cells = pd.DataFrame({"modality": list(HAND_MODALITIES), "count": [300.0, 100.0]})
    cohort = SimpleNamespace(persons=pd.DataFrame({"person_id": fu.design.person_ids}),
                             population=cells)
    return fu, fc, cohort


def test_mrp_paths_are_the_mrp_estimands(setting):
    fu, _, cohort = setting
    p = outcome_paths(fu, weighting="mrp", cohort=cohort)
    est = mrp_estimates(fu, cohort=cohort)
    assert p.options == [TREATED, *HAND_MODALITIES]
    assert p.labels["weighting"] == "mrp" and p.labels["population"] == "target"
    for w in range(3):
        lvl = est[(est.estimand == "level") & (est.wave == w)]["mean"].iloc[0]
        assert p.values[:, 0, w].mean() == pytest.approx(lvl, abs=1e-12)
        for j, m in enumerate(HAND_MODALITIES):
            a = est[(est.estimand == "adjusted_level") & (est.wave == w)
                    & (est.modality == m)]["mean"].iloc[0]
            assert p.values[:, j + 1, w].mean() == pytest.approx(a, abs=1e-12)
    np.testing.assert_allclose(p.shares, np.broadcast_to([0.75, 0.25], p.shares.shape))
    # the poststratified mix differs from the persons' (half and half) and moves the level
    g = outcome_paths(fu)
    np.testing.assert_allclose(g.shares, 0.5)
    assert not np.allclose(p.values[:, 0], g.values[:, 0])


def test_mrp_population_given_as_weights(setting):
    fu, _, cohort = setting
    other = pd.DataFrame({"modality": list(HAND_MODALITIES), "count": [0.0, 50.0]})
    p = outcome_paths(fu, weighting="mrp", weights=other, cohort=cohort)
    np.testing.assert_allclose(p.shares[0], [0.0, 1.0])
    # only residential cells: treated is everyone given residential
    np.testing.assert_allclose(p.option(TREATED), p.option("residential"), rtol=1e-12)


def test_mrp_economics_and_clear_errors(setting):
    fu, fc, cohort = setting
    pu = outcome_paths(fu, weighting="mrp", cohort=cohort)
    pc = outcome_paths(fc, weighting="mrp", cohort=cohort)
    ed = economic_draws(pu, pc, treatment_cost={"prescribing": 3000.0, "residential": 9000.0},
                        crime_unit_cost=2000.0)
    treat = ed.components["treatment"][:, ed.options.index(TREATED)]
    np.testing.assert_allclose(treat, 0.75 * 3000 + 0.25 * 9000)
    assert "mrp" in ed.assumptions["weighting"]
    assert set(ed.options) == {NONE, TREATED, *HAND_MODALITIES}
    with pytest.raises(SpecError, match="different populations"):
        economic_draws(pu, outcome_paths(fc), crime_unit_cost=2000.0)
    with pytest.raises(SpecError, match="delta= is not available with weighting='mrp'"):
        outcome_paths(fu, weighting="mrp", cohort=cohort, delta=0.3)
    with pytest.raises(SpecError, match="weights= must be a population DataFrame"):
        outcome_paths(fu, weighting="mrp", cohort=cohort, weights=np.ones(8))
    with pytest.raises(FitError, match="cohort="):
        outcome_paths(fu, weighting="mrp")
    with pytest.raises(CohortError, match="'count'"):
        outcome_paths(fu, weighting="mrp", cohort=SimpleNamespace(
            persons=cohort.persons, population=cohort.population.drop(columns="count")))
    stranger = SimpleNamespace(persons=pd.DataFrame({"person_id": [1, 2]}),
                               population=cohort.population)
    with pytest.raises(FitError, match="not all in this cohort"):
        outcome_paths(fu, weighting="mrp", cohort=stranger)
