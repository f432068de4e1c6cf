"""The joint bias budget (confounding strength x pattern-mixture delta), no sampling."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.causal.budget import bias_budget, budget_surface
from dtors_bayes.causal.confounding import confounding_grid
from dtors_bayes.testing import hand_posterior_fit

PAIR = "prescribing - residential"


def test_delta_zero_is_the_confounding_grid():
    fit = hand_posterior_fit("bernoulli")
    g = np.array([0.0, 0.05, 0.1])
    b = bias_budget(fit, {"residential": -1.0}, g, [0.0, 1.0])
    grid = confounding_grid(fit, {"residential": -1.0}, g)
    at0 = b[b["delta"] == 0.0]
    np.testing.assert_allclose(at0["mean"].to_numpy(), grid["mean"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(at0["p_negative"].to_numpy(), grid["p_negative"].to_numpy())
    surf = budget_surface(b, PAIR)
    assert surf.shape == (2, 3) and surf.values.min() >= 0 and surf.values.max() <= 1


@pytest.mark.parametrize("delta", [-1.0, 0.8])
def test_strength_zero_is_the_pattern_mixture_contrast(delta):
    fit = hand_posterior_fit("bernoulli")
    b = bias_budget(fit, {"residential": -1.0}, [0.0], [delta],
                    contrasts=[("prescribing", "residential")])
    pm = fit.sensitivity([delta], contrasts=[("prescribing", "residential")]).table
    row = pm[(pm["estimand"] == "modality_contrast") & (pm["wave"] == 2)]
    # the sensitivity kernel sums in float32 in places: agreement to ~1e-8
    assert b["mean"].iloc[0] == pytest.approx(row["mean"].iloc[0], rel=1e-7)
