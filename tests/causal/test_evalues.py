"""E-values against the VanderWeele-Ding formula on the package's own marginal risks."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.causal.evalues import evalue, evalue_ci, evalues, marginal_risk_draws
from dtors_bayes.estimands.engine import draws_of_estimands
from dtors_bayes.estimands.weights import WeightSpec
from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import stack_draws
from dtors_bayes.testing import hand_posterior_fit


def test_evalue_formula():
    assert evalue(1.0) == pytest.approx(1.0)
    assert evalue(2.0) == pytest.approx(2 + np.sqrt(2))
    assert evalue(0.5) == pytest.approx(2 + np.sqrt(2))  # RR < 1 is inverted
    assert evalue(3.9) == pytest.approx(3.9 + np.sqrt(3.9 * 2.9))
    np.testing.assert_allclose(evalue(np.array([1.5, 1 / 1.5])), 1.5 + np.sqrt(0.75))
    with pytest.raises(FitError):
        evalue(0.0)


def test_evalue_ci_limit_nearer_the_null():
    assert evalue_ci(0.8, 1.3) == 1.0
    assert evalue_ci(1.2, 2.0) == pytest.approx(evalue(1.2))
    assert evalue_ci(0.4, 0.7) == pytest.approx(evalue(0.7))


@pytest.mark.parametrize("family", ["bernoulli", "binomial", "negative_binomial"])
def test_evalues_match_formula_on_engine_risks(family):
    fit = hand_posterior_fit(family)
    params, _, _ = stack_draws(fit.tree)
    draws = draws_of_estimands(fit.model, fit.design, params, WeightSpec(None, "none", "sample"),
                               contrast_pairs=[])
    ra = draws[("adjusted_level", 2, "prescribing", "")]
    rb = draws[("adjusted_level", 2, "residential", "")]
    risks = marginal_risk_draws(fit)
    np.testing.assert_array_equal(risks["prescribing"], ra)
    table = evalues(fit)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["contrast"] == "prescribing - residential" and row["wave"] == 2
    rr = ra / rb
    point = np.exp(np.median(np.log(rr)))
    lb, ub = np.quantile(rr, [0.05, 0.95])
    assert row["rr"] == pytest.approx(point)
    assert (row["rr_lb"], row["rr_ub"]) == pytest.approx((lb, ub))
    rstar = point if point >= 1 else 1 / point
    assert row["evalue"] == pytest.approx(rstar + np.sqrt(rstar * (rstar - 1)), rel=1e-12)
    near = lb if point >= 1 else ub
    expected_ci = 1.0 if lb <= 1 <= ub else (max(near, 1 / near)
                                             + np.sqrt(max(near, 1 / near)
                                                       * (max(near, 1 / near) - 1)))
    assert row["evalue_ci"] == pytest.approx(expected_ci)
    # the adjusted levels are the engine's: their means are fit.estimate's rows
    est = fit.estimate()
    sel = (est.estimand == "adjusted_level") & (est.wave == 2) & (est.modality == "residential")
    assert est.loc[sel, "mean"].iloc[0] == pytest.approx(rb.mean())


def test_evalues_wave_and_reverse_pair():
    fit = hand_posterior_fit()
    t1 = evalues(fit, wave=1, contrasts=[("residential", "prescribing")])
    t2 = evalues(fit, wave=1, contrasts=[("prescribing", "residential")])
    assert t1["rr"].iloc[0] == pytest.approx(1 / t2["rr"].iloc[0])
    assert t1["evalue"].iloc[0] == pytest.approx(t2["evalue"].iloc[0])
    with pytest.raises(FitError):
        evalues(fit, wave=7)


def test_evalues_refuse_identity_link():
    with pytest.raises(FitError, match="non-negative"):
        evalues(hand_posterior_fit("gaussian"))
