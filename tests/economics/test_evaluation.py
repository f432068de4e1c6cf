"""QALYs, costs and the counterfactual from fits (hand-built posteriors: no sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.economics import inputs as I
from dtors_bayes.economics.evaluation import (
    NONE,
    area_under,
    economic_draws,
    improvement_curve,
)
from dtors_bayes.economics.paths import TREATED, Paths, outcome_paths
from dtors_bayes.economics.plots import ce_plane, ceac_plot, evpi_plot, improvement_plot
from dtors_bayes.exceptions import SpecError
from dtors_bayes.testing import HAND_CHAINS, HAND_DRAWS, hand_posterior_fit

S = HAND_CHAINS * HAND_DRAWS


@pytest.fixture(scope="module")
def fits():
    return hand_posterior_fit("eq5d"), hand_posterior_fit("bernoulli", seed=2)


def test_area_under_by_hand():
    # (4 (0.6 + 0.7) / 2 + 8 (0.7 + 0.7) / 2) / 12 = (2.6 + 5.6) / 12
    v = np.array([0.6, 0.7, 0.7])
    m = np.array([0.0, 4.0, 12.0])
    assert area_under(v, m, 12.0) == pytest.approx(8.2 / 12)
    # 6 months: the curve cut at 6 by interpolation (0.7 at 6): (2.6 + 2 * 0.7) / 12
    assert area_under(v, m, 6.0) == pytest.approx(4.0 / 12)
    # 24 months: held at 0.7 after 12
    assert area_under(v, m, 24.0) == pytest.approx((8.2 + 12 * 0.7) / 12)
    with pytest.raises(SpecError):
        area_under(v, np.array([1.0, 4.0, 12.0]), 12.0)


def test_paths_are_the_estimand_engine(fits):
    fu, _ = fits
    p = outcome_paths(fu)
    est = fu.estimate()
    assert p.options == [TREATED, "prescribing", "residential"]
    np.testing.assert_array_equal(p.months, [0.0, 4.0, 12.0])
    for w in range(3):
        lvl = est[(est.estimand == "level") & (est.wave == w)]["mean"].iloc[0]
        assert p.values[:, 0, w].mean() == pytest.approx(lvl, abs=1e-12)
        for j, m in enumerate(["prescribing", "residential"]):
            a = est[(est.estimand == "adjusted_level") & (est.wave == w)
                    & (est.modality == m)]["mean"].iloc[0]
            assert p.values[:, j + 1, w].mean() == pytest.approx(a, abs=1e-12)
    np.testing.assert_allclose(p.shares, 0.5)


def test_weights_and_delta_inside_the_draws(fits):
    fu, _ = fits
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 2.0, 8)
    pf = outcome_paths(fu, weighting="fixed", weights=w)
    est = fu.estimate(weighting="fixed", weights=w)
    lvl = est[(est.estimand == "level") & (est.wave == 2)]["mean"].iloc[0]
    assert pf.values[:, 0, 2].mean() == pytest.approx(lvl, abs=1e-12)
    wd = rng.uniform(0.5, 2.0, (S, 8))
    pp = outcome_paths(fu, weighting="propagated", weights=wd)
    est = fu.estimate(weighting="propagated", weights=wd)
    lvl = est[(est.estimand == "level") & (est.wave == 1)]["mean"].iloc[0]
    assert pp.values[:, 0, 1].mean() == pytest.approx(lvl, abs=1e-12)
    np.testing.assert_allclose(pp.shares[:, 0], (wd * (np.arange(8) % 2 == 0)).sum(1)
                               / wd.sum(1))
    # a fixed delta: the pattern-mixture sensitivity rows at that delta
    pd_ = outcome_paths(fu, delta=0.7)
    sens = fu.sensitivity([0.7]).table
    lvl = sens[(sens.estimand == "level") & (sens.wave == 2)]["mean"].iloc[0]
    assert pd_.values[:, 0, 2].mean() == pytest.approx(lvl, rel=1e-5)
    assert pd_.labels["attrition"] == "delta=0.7"
    # a delta prior: one delta per draw, recorded for EVPPI
    pr = outcome_paths(fu, delta=(0.5, 0.3), seed=3)
    assert pr.delta.shape == (S,) and np.ptp(pr.delta) > 0
    assert pr.labels["attrition"] == "delta~N(0.5,0.3)"
    ed = economic_draws(pr, treatment_cost=100.0)
    assert "delta_y" in ed.inputs.columns


def _paths(values, shares=None):
    """Paths of an outcome with given (S, O, T) values: options treated, a, b."""
    s = values.shape[0]
    return Paths("u", [TREATED, "a", "b"], np.array([0.0, 4.0, 12.0]), values,
                 np.full((s, 2), 0.5) if shares is None else shares, ["a", "b"], 1, s)


def test_dtors_arithmetic_and_the_counterfactual():
    """Utility 0.70 at intake, +0.05 from month 4 on: 0.05 x (4/2 + 8) / 12 = 0.04167 QALY.
    Scaled so the gain is the report's 0.05: ICER = 4531 / 0.05 = 90,620 under carried_on,
    and 90,620 / (1 - theta) with a share theta of the change happening anyway."""
    gain = 0.05 / ((2 + 8) / 12)
    v = np.tile([0.70, 0.70 + gain, 0.70 + gain], (4, 3, 1))
    v[:, 1, :] += 0.02  # option a starts higher: removed by the baseline adjustment
    p = _paths(v)
    ed = economic_draws(p, treatment_cost=4531.0)
    de, dc = ed.incremental(TREATED, NONE)
    np.testing.assert_allclose(de, 0.05)
    np.testing.assert_allclose(dc, 4531.0)
    assert ed.effects[0, ed.options.index(NONE)] == pytest.approx(0.70)
    np.testing.assert_allclose(ed.effects[:, ed.options.index("a")],
                               ed.effects[:, ed.options.index(TREATED)])
    t = ed.cea([30000.0])
    row = t[t.option == TREATED].iloc[0]
    assert row["icer"] == pytest.approx(90620.0)
    assert row["eib"] == pytest.approx(-3031.0)
    assert "carried forward" in row["assumption"]
    curve = improvement_curve(p, thetas=[0.0, 0.5], treatment_cost=4531.0)
    h = curve[curve.perspective == "health"].set_index("theta")
    assert h.loc[0.0, "icer"] == pytest.approx(90620.0)
    assert h.loc[0.5, "icer"] == pytest.approx(2 * 90620.0)
    si = economic_draws(p, treatment_cost=4531.0, counterfactual="spontaneous_improvement",
                        improvement=I.beta(0.3, 0.1), seed=1)
    de2, _ = si.incremental()
    np.testing.assert_allclose(de2, 0.05 * (1 - si.inputs["improvement"].to_numpy()))
    assert "improvement" in si.inputs.columns


def test_crime_costs_loss_and_transfer():
    """Offending 0.4 at intake, 0.2 from month 4: 12 x area = 12 x (4 x 0.3 + 8 x 0.2) / 12
    = 2.8 offending months treated; carried on: 12 x 0.4 = 4.8."""
    u = _paths(np.tile([0.7, 0.75, 0.75], (4, 3, 1)))
    cr = _paths(np.tile([0.4, 0.2, 0.2], (4, 3, 1)))
    loss = economic_draws(u, cr, treatment_cost=1000.0, crime_unit_cost=500.0,
                          stolen_value=0.4, crime_costs="loss")
    tr = economic_draws(u, cr, treatment_cost=1000.0, crime_unit_cost=500.0,
                        stolen_value=0.4, crime_costs="transfer")
    i, r = loss.options.index(TREATED), loss.options.index(NONE)
    assert loss.components["crime"][0, i] == pytest.approx(2.8 * 500)
    assert loss.components["crime"][0, r] == pytest.approx(4.8 * 500)
    assert tr.components["crime"][0, i] == pytest.approx(2.8 * 500 * 0.6)
    # societal incremental cost = treatment - crime saved; BCR = saved / treatment
    _, dc = loss.incremental(TREATED, NONE, "societal")
    assert dc[0] == pytest.approx(1000 - 2.0 * 500)
    assert loss.bcr()[0] == pytest.approx(1.0)
    assert tr.bcr()[0] == pytest.approx(0.6)
    assert "stolen goods counted as lost" in loss.assumption_text()
    assert "removed" in tr.assumption_text()
    care = economic_draws(u, cr, treatment_cost=1000.0, care_costs={NONE: 300.0, TREATED: 100.0})
    assert care.bcr()[0] == pytest.approx(0.2)
    s = loss.summary()
    assert {"qaly", "incremental_qaly", "icer", "bcr", "p_bcr_above_1"} <= set(s["quantity"])


def test_confounding_bias_shifts_follow_up_utility():
    u = _paths(np.tile([0.7, 0.75, 0.75], (200, 3, 1)))
    ed = economic_draws(u, treatment_cost=1.0, confounding={"a": I.normal(0.01, 0.005)})
    shift = ed.effects[:, ed.options.index("b")] - ed.effects[:, ed.options.index("a")]
    # bias c at months 4 and 12, 0 at intake: area (4 c / 2 + 8 c) / 12 = 10 c / 12
    np.testing.assert_allclose(shift, ed.inputs["confounding_a"] * 10 / 12)
    assert "confounding bias" in ed.assumption_text()


def test_costs_by_modality_and_uncertain_inputs():
    u = _paths(np.tile([0.7, 0.75, 0.75], (500, 3, 1)),
               shares=np.tile([0.25, 0.75], (500, 1)))
    ed = economic_draws(u, treatment_cost={"a": 1000.0, "b": I.gamma(3000.0, 300.0)}, seed=2)
    tc = ed.components["treatment"]
    np.testing.assert_allclose(tc[:, ed.options.index("a")], 1000.0)
    b = tc[:, ed.options.index("b")]
    assert b.mean() == pytest.approx(3000, rel=0.03) and b.std() == pytest.approx(300, rel=0.15)
    np.testing.assert_allclose(tc[:, ed.options.index(TREATED)], 0.25 * 1000 + 0.75 * b)
    assert tc[:, ed.options.index(NONE)].max() == 0
    assert "treatment_cost_b" in ed.inputs.columns
    ev = ed.evppi([20000.0], inputs=["treatment_cost_b"])
    assert ev["evppi"].iloc[0] >= -1.0


def test_errors():
    u = _paths(np.tile([0.7, 0.75, 0.75], (4, 3, 1)))
    with pytest.raises(SpecError, match="counterfactual"):
        economic_draws(u, counterfactual="never")
    with pytest.raises(SpecError, match="improvement"):
        economic_draws(u, counterfactual="spontaneous_improvement")
    with pytest.raises(SpecError, match="crime_costs"):
        economic_draws(u, crime_costs="theft")
    with pytest.raises(SpecError, match="draws"):
        economic_draws(u, _paths(np.tile([0.4, 0.2, 0.2], (5, 3, 1))))
    with pytest.raises(SpecError, match="modalities"):
        economic_draws(u, treatment_cost={"a": 1.0})
    with pytest.raises(SpecError, match="mean"):
        I.gamma(-1.0, 1.0)


def test_fits_to_figures(fits):
    fu, fc = fits
    ed = economic_draws(outcome_paths(fu), outcome_paths(fc),
                        treatment_cost=I.gamma(4531.0, 500.0),
                        crime_unit_cost=I.gamma(2000.0, 400.0), stolen_value=I.beta(0.4, 0.1),
                        crime_costs="transfer", counterfactual="spontaneous_improvement",
                        improvement=I.beta(0.2, 0.1))
    wtp = np.linspace(0, 100000, 11)
    t = ed.cea(wtp, perspective="societal")
    assert t["mcse_nb"].notna().all() and (t["perspective"] == "societal").all()
    est = ed.estimates([30000.0])
    assert {"qaly", "inc_qaly", "inb_health_30000"} <= set(est["estimand"])
    assert (est["ci_lb"] <= est["mean"]).all() and (est["ci50_lb"] >= est["ci_lb"]).all()
    fr = ed.frontier()
    assert set(fr["status"]) <= {"ND", "ED", "D"}
    for fig in (ce_plane(ed.effects, ed.costs(), reference=NONE, wtp=30000, options=ed.options),
                ceac_plot(t), evpi_plot(t),
                improvement_plot(improvement_curve(outcome_paths(fu), thetas=[0, 0.3],
                                                   treatment_cost=4531.0))):
        assert fig.axes
