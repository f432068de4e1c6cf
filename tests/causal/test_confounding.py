"""Confounding-function sensitivity on the g-computation draws (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.causal.confounding import (
    bias_prior_contrasts,
    confounding_draws,
    confounding_grid,
    tipping_points,
)
from dtors_bayes.estimands.engine import draws_of_estimands
from dtors_bayes.estimands.weights import WeightSpec
from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import stack_draws
from dtors_bayes.testing import hand_posterior_fit

PAIR = "prescribing - residential"


def engine_draws(fit):
    params, _, _ = stack_draws(fit.tree)
    return draws_of_estimands(fit.model, fit.design, params, WeightSpec(None, "none", "sample"),
                              contrast_pairs=[("prescribing", "residential")])


@pytest.mark.parametrize("family", ["bernoulli", "gaussian", "binomial"])
def test_zero_strength_is_the_engine_contrast(family):
    fit = hand_posterior_fit(family)
    cd = confounding_draws(fit, {"residential": -1.0}, np.array([0.0]))
    ref = engine_draws(fit)
    np.testing.assert_allclose(cd.contrast[PAIR][0], ref[("modality_contrast", 2, "", PAIR)],
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cd.change["residential"][0],
                               ref[("adjusted_change", 2, "residential", "")], rtol=1e-12)


def test_shift_is_strength_times_score_difference_without_clipping():
    fit = hand_posterior_fit("gaussian")  # unbounded: no clipping
    g = np.array([-0.3, 0.0, 0.2])
    cd = confounding_draws(fit, {"residential": -1.0, "prescribing": 0.5}, g)
    base = cd.contrast[PAIR][1]
    for k, gamma in enumerate(g):
        # c(a,a') = gamma (s_a - s_a'): contrast A - B moves by -gamma (s_A - s_B)
        np.testing.assert_allclose(cd.contrast[PAIR][k], base - gamma * (0.5 - (-1.0)),
                                   atol=1e-12)
    # level of a moves by -gamma (s_a - sbar), sbar the share-weighted score (shares 1/2)
    sbar = 0.5 * 0.5 + 0.5 * (-1.0)
    np.testing.assert_allclose(cd.level["residential"][2] - cd.level["residential"][1],
                               -0.2 * (-1.0 - sbar), atol=1e-12)


def test_person_level_shares():
    fit = hand_posterior_fit("gaussian")
    n = fit.design.n_person
    pi = np.column_stack([np.linspace(0.1, 0.9, n), 1 - np.linspace(0.1, 0.9, n)])
    cd = confounding_draws(fit, {"residential": 1.0}, np.array([0.0, 0.1]), shares=pi)
    sbar = pi[:, 1].mean()
    np.testing.assert_allclose(cd.level["residential"][1] - cd.level["residential"][0],
                               -0.1 * (1.0 - sbar), atol=1e-12)
    np.testing.assert_allclose(cd.level["prescribing"][1] - cd.level["prescribing"][0],
                               -0.1 * (0.0 - sbar), atol=1e-12)
    with pytest.raises(FitError, match="shares"):
        confounding_draws(fit, {"residential": 1.0}, np.array([0.1]), shares=pi[:, :1])


def test_risks_stay_in_range():
    fit = hand_posterior_fit("bernoulli")
    cd = confounding_draws(fit, {"residential": -1.0}, np.array([-5.0, 5.0]))
    for lev in cd.level.values():
        assert lev.min() >= 0.0 and lev.max() <= 1.0
    # at strength 5 every residential person-level risk is pushed to 1 (s_a - sbar = -0.5)
    np.testing.assert_allclose(cd.level["residential"][1], 1.0)


def test_grid_and_tipping_point_linear_case():
    fit = hand_posterior_fit("gaussian")
    grid = confounding_grid(fit, {"residential": -1.0}, np.linspace(-2, 2, 81))
    assert set(grid["contrast"]) == {PAIR}
    at0 = grid.loc[np.isclose(grid["strength"], 0.0)].iloc[0]
    ref = engine_draws(fit)[("modality_contrast", 2, "", PAIR)]
    assert at0["mean"] == pytest.approx(ref.mean())
    assert at0["p_negative"] == pytest.approx((ref < 0).mean())
    tips = tipping_points(grid).iloc[0]
    # mean(gamma) = m0 - gamma (0 - (-1)) = m0 - gamma: crosses 0 at gamma = m0
    assert tips["tip_mean"] == pytest.approx(ref.mean(), abs=1e-9)
    assert tips["estimate_at_0"] == pytest.approx(ref.mean())


def test_tipping_interval_and_no_crossing():
    fit = hand_posterior_fit("gaussian")
    grid = confounding_grid(fit, {"residential": -1.0}, np.linspace(0, 0.01, 3))
    tips = tipping_points(grid).iloc[0]
    at0 = grid.iloc[0]
    if at0["ci_lb"] <= 0 <= at0["ci_ub"]:
        assert tips["tip_interval"] == 0.0
    assert np.isnan(tips["tip_mean"]) or abs(tips["tip_mean"]) <= 0.01


def test_bias_prior_degenerate_equals_grid_point():
    fit = hand_posterior_fit("bernoulli")
    pr = bias_prior_contrasts(fit, {"residential": -1.0}, (0.05, 0.0), seed=3)
    grid = confounding_grid(fit, {"residential": -1.0}, np.array([0.05]))
    assert pr["mean"].iloc[0] == pytest.approx(grid["mean"].iloc[0])
    wide = bias_prior_contrasts(fit, {"residential": -1.0}, (0.05, 0.2), seed=3)
    assert wide["sd"].iloc[0] > pr["sd"].iloc[0]
    assert "N(0.05, 0.2)" in wide["assumption"].iloc[0]


def test_bad_arguments():
    fit = hand_posterior_fit()
    with pytest.raises(FitError, match="not in the fit"):
        confounding_draws(fit, {"day_care": 1.0}, np.array([0.1]))
    with pytest.raises(FitError, match="follow-up"):
        confounding_draws(fit, {"residential": 1.0}, np.array([0.1]), wave=0)
    with pytest.raises(FitError, match="columns"):
        confounding_draws(fit, {"residential": 1.0}, np.zeros((1, 3)))


def test_pairwise_equals_scores_form():
    fit = hand_posterior_fit("bernoulli")
    g = np.array([0.0, 0.1])
    by_scores = confounding_draws(fit, {"residential": -1.0, "prescribing": 0.5}, g)
    pw = {("prescribing", "residential"): 1.5, ("residential", "prescribing"): -1.5}
    by_pairs = confounding_draws(fit, None, g, pairwise=pw)
    np.testing.assert_allclose(by_pairs.contrast[PAIR], by_scores.contrast[PAIR], atol=1e-14)
    with pytest.raises(FitError, match="exactly one"):
        confounding_draws(fit, {"residential": 1.0}, g, pairwise=pw)


def test_marginal_person_effects():
    fit = hand_posterior_fit("gaussian")
    own = confounding_draws(fit, {"residential": -1.0}, np.array([0.0, 0.1]))
    mar = confounding_draws(fit, {"residential": -1.0}, np.array([0.0, 0.1]), person="marginal")
    params, _, _ = stack_draws(fit.tree)
    u = (params["sigma_person"][:, None] * params["z_person"]).mean(axis=1)
    # identity link: integrating the person effect over N(0, sigma) removes its mean only
    np.testing.assert_allclose(mar.level["residential"], own.level["residential"] - u[None],
                               atol=1e-10)
    np.testing.assert_allclose(mar.contrast[PAIR], own.contrast[PAIR], atol=1e-10)
    with pytest.raises(FitError, match="person="):
        confounding_draws(fit, {"residential": -1.0}, np.array([0.0]), person="mine")
    with pytest.raises(FitError, match="one-part"):
        confounding_draws(hand_posterior_fit("hurdle_lognormal"), {"residential": -1.0},
                          np.array([0.0]), person="marginal")
