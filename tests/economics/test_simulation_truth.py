"""The simulator's economic truth (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.exceptions import SpecError
from dtors_bayes.simulation.economics import (
    NONE,
    PATH_COLUMNS,
    TREATED,
    economic_truth,
    outcome_model,
)
from dtors_bayes.simulation.generate import simulate_cohort


@pytest.fixture(scope="module")
def sim():
    return simulate_cohort(3, n_persons=200, n_sites=40, n_areas=10, population_size=3000,
                           n_population_areas=20, outcomes=["eq5d", "acquisitive_crime"],
                           attrition="mar")


def test_replay_reproduces_the_cohort(sim):
    model, rows = outcome_model(sim)
    comp = sim.truth.complete
    for w, m in ((0, 0.0), (2, None)):
        sel = comp[comp["wave"] == w]
        months = sel["months"].to_numpy() if m is None else m
        np.testing.assert_allclose(model.mu("eq5d", rows, months), sel["mu_eq5d"], rtol=1e-12)


def test_truth_arithmetic(sim):
    tr = economic_truth(sim, treatment_cost=4531.0, crime_unit_cost=2000.0, wtp=[30000.0])
    t = tr[tr.population == "target"].set_index(["estimand", "modality", "contrast"])["value"]
    q_none, q_tr = t[("qaly", NONE, "")], t[("qaly", TREATED, "")]
    con = f"{TREATED} - {NONE}"
    assert t[("inc_qaly", "", con)] == pytest.approx(q_tr - q_none)
    assert t[("inc_cost_health", "", con)] == pytest.approx(4531.0)
    assert t[("inb_health_30000", "", con)] == pytest.approx(30000 * (q_tr - q_none) - 4531)
    # calibrated to the report: about 0.05 QALY over the year
    assert 0.02 < t[("inc_qaly", "", con)] < 0.09
    # the simulated population's intake utility (calibration target 0.66) carried on
    assert q_none == pytest.approx(0.66, abs=1e-6)
    tr2 = economic_truth(sim, treatment_cost=4531.0, crime_unit_cost=2000.0, theta=0.5,
                         stolen_value=0.5, crime_costs="transfer", wtp=[30000.0])
    t2 = tr2[tr2.population == "target"].set_index(["estimand", "modality", "contrast"])["value"]
    assert t2[("inc_qaly", "", con)] == pytest.approx(0.5 * t[("inc_qaly", "", con)])
    saved = t[("inc_cost_health", "", con)] - t[("inc_cost_societal", "", con)]
    saved2 = t2[("inc_cost_health", "", con)] - t2[("inc_cost_societal", "", con)]
    assert saved2 == pytest.approx(0.25 * saved)   # half the change, half the unit cost
    assert set(tr["population"]) == {"target", "sample"}


def test_replay_with_an_unmeasured_confounder():
    import inspect

    if "confounder_strength" not in inspect.signature(simulate_cohort).parameters:
        pytest.skip("this simulator has no unmeasured confounder")
    sim = simulate_cohort(4, n_persons=150, n_sites=30, n_areas=10, population_size=3000,
                          n_population_areas=20, outcomes=["eq5d"], attrition="mcar",
                          confounder_strength=1.0)
    model, rows = outcome_model(sim)
    comp = sim.truth.complete
    sel = comp[comp["wave"] == 2]
    np.testing.assert_allclose(model.mu("eq5d", rows, sel["months"].to_numpy()), sel["mu_eq5d"],
                               rtol=1e-12)


def _both(sim, **kw):
    stored = economic_truth(sim, treatment_cost=4531.0, crime_unit_cost=2000.0,
                            source="stored", **kw)
    replayed = economic_truth(sim, treatment_cost=4531.0, crime_unit_cost=2000.0,
                              source="replay", **kw)
    return stored, replayed


def test_stored_truth_equals_the_replayed_truth(sim):
    """The truth recorded by simulate_cohort (truth.paths) and the replay of its draws agree;
    this fails if either the recorded paths or the simulator's draw order drift."""
    stored, replayed = _both(sim, theta=0.3, stolen_value=0.4, crime_costs="transfer")
    assert len(stored) == len(replayed) > 0
    pd.testing.assert_frame_equal(stored, replayed, rtol=1e-12, atol=1e-12)
    auto = economic_truth(sim, treatment_cost=4531.0, crime_unit_cost=2000.0, theta=0.3,
                          stolen_value=0.4, crime_costs="transfer")
    pd.testing.assert_frame_equal(auto, stored)


def test_stored_paths_are_the_cohort_mu(sim):
    """The sample's treated path at intake is the mean of the cohort's own mu (no replay)."""
    p = sim.truth.paths
    assert list(p.columns) == PATH_COLUMNS
    assert set(p.outcome) == {"eq5d", "acquisitive_crime"}
    comp = sim.truth.complete
    for k in ("eq5d", "acquisitive_crime"):
        v = p[(p.outcome == k) & (p.population == "sample") & (p.option == TREATED)
              & (p.wave == 0)]["value"].iloc[0]
        assert v == pytest.approx(comp.loc[comp.wave == 0, f"mu_{k}"].mean(), rel=1e-12)
    shares = p[(p.outcome == "eq5d") & (p.population == "sample") & (p.wave == 0)
               & (p.option != TREATED)]["share"]
    assert shares.sum() == pytest.approx(1.0)


def test_stored_truth_needs_no_replay(sim, monkeypatch):
    import dtors_bayes.simulation.economics as E

    def boom(*a, **k):
        raise AssertionError("replayed")

    monkeypatch.setattr(E, "outcome_model", boom)
    tr = economic_truth(sim, treatment_cost=4531.0)
    assert (tr.estimand == "qaly").any()
    with pytest.raises(AssertionError, match="replayed"):
        economic_truth(sim, treatment_cost=4531.0, source="replay")


def test_truth_read_from_json_falls_back_to_replay(sim):
    import copy

    from dtors_bayes.simulation.truth import Truth

    s2 = copy.copy(sim)
    s2.truth = Truth.from_json(sim.truth.to_json())
    s2.truth.complete = sim.truth.complete
    assert s2.truth.paths.empty
    with pytest.raises(KeyError, match="source='replay'"):
        economic_truth(s2, treatment_cost=1.0, source="stored")
    pd.testing.assert_frame_equal(economic_truth(s2, treatment_cost=1.0),
                                  economic_truth(sim, treatment_cost=1.0), rtol=1e-12)
    with pytest.raises(SpecError, match="source"):
        economic_truth(sim, treatment_cost=1.0, source="cache")


@pytest.mark.parametrize("extra", [{"confounder_strength": 1.0},
                                   {"modifier_effects": {"referral_route":
                                                         {"criminal_justice": 0.5}}}])
def test_stored_equals_replayed_with_confounder_or_modifiers(extra):
    import inspect

    if any(k not in inspect.signature(simulate_cohort).parameters for k in extra):
        pytest.skip("this simulator lacks " + ", ".join(extra))
    sim = simulate_cohort(5, n_persons=150, n_sites=30, n_areas=10, population_size=3000,
                          n_population_areas=20, outcomes=["eq5d", "acquisitive_crime"],
                          attrition="mcar", **extra)
    stored, replayed = _both(sim)
    pd.testing.assert_frame_equal(stored, replayed, rtol=1e-12, atol=1e-12)
