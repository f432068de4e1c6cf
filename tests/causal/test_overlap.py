"""Overlap diagnostics, extrapolation flags and the propensity model (fast tier: no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.causal.overlap import flag_extrapolation, overlap
from dtors_bayes.exceptions import FitError, ModelError
from dtors_bayes.models.propensity import PropensityModel, softmax_last
from dtors_bayes.testing import tiny_cohort

LABELS = ["prescribing", "psychosocial", "residential"]


def violated(n=3000, seed=0):
    """Propensities with a positivity violation: crack users (x=1) almost never residential."""
    rng = np.random.default_rng(seed)
    crack = rng.random(n) < 0.3
    age = rng.normal(size=n)
    lam = np.column_stack([np.zeros(n), 0.3 * age, np.where(crack, -9.0, 0.2) + 0.5 * age])
    pi = softmax_last(lam)
    a = (rng.random(n)[:, None] > pi.cumsum(axis=1)).sum(axis=1).clip(0, 2)
    X = np.column_stack([crack - crack.mean(), age])
    return pi, a, X


def test_overlap_flags_simulated_positivity_violation():
    pi, a, X = violated()
    res = overlap(pi, a, LABELS, X=X, covariate_names=["crack", "age"], threshold=0.05)
    below = res.below.set_index("modality")["share_below"]
    assert below["residential"] == pytest.approx(0.3, abs=0.03)  # the crack users
    assert below["prescribing"] == 0.0
    assert res.share_below_any >= below["residential"]
    # the distribution table has the residential propensity's lower tail near 0
    d = res.distribution.set_index(["modality", "group"])
    assert d.loc[("residential", "all"), "min"] < 1e-3
    assert d.loc[("residential", "residential"), "n"] == int((a == 2).sum())
    table = pd.DataFrame({
        "estimand": ["level", "adjusted_level", "adjusted_level", "modality_contrast",
                     "modality_contrast"],
        "modality": ["", "prescribing", "residential", "", ""],
        "contrast": ["", "", "", "psychosocial - prescribing", "residential - prescribing"],
        "mean": [0.1] * 5})
    flagged = flag_extrapolation(table, res, max_share=0.05)
    assert flagged["extrapolation"].tolist() == [False, False, True, False, True]
    assert np.isnan(flagged["overlap_share_outside"].iloc[0])


def test_balance_improves_after_weighting_with_true_propensities():
    pi, a, X = violated(seed=1)
    # without the violation (crack shifts residential by 1, not 9) IPW balances the covariates
    lam = np.column_stack([np.zeros(a.size), 0.3 * X[:, 1], -1.0 * (X[:, 0] > 0) + 0.5 * X[:, 1]])
    pi2 = softmax_last(lam)
    rng = np.random.default_rng(2)
    a2 = (rng.random(a.size)[:, None] > pi2.cumsum(axis=1)).sum(axis=1).clip(0, 2)
    res = overlap(pi2, a2, LABELS, X=X, covariate_names=["crack", "age"])
    b = res.balance
    assert (b["smd_unweighted"].abs().max()) > 0.15
    assert (b["smd_weighted"].abs().max()) < 0.1
    assert res.share_below_any < 0.01


def test_overlap_accepts_draws_and_checks_shapes():
    pi, a, X = violated(200)
    draws = np.stack([pi, pi])
    res = overlap(draws, a, LABELS)
    np.testing.assert_allclose(res.propensities, pi)
    assert res.balance.empty
    with pytest.raises(FitError):
        overlap(pi[:, :2], a, LABELS)
    with pytest.raises(FitError):
        overlap(pi)


def test_propensity_model_logp_is_the_softmax_likelihood():
    cohort = tiny_cohort(60, seed=3)
    pm_model = PropensityModel(covariates=["age", "sex"], levels=("site",))
    design = pm_model.design(cohort)
    assert design.modality_labels == LABELS
    model = pm_model.build(design)
    rng = np.random.default_rng(0)
    point = {"ps_intercept": rng.normal(size=2), "ps_beta": rng.normal(size=(2, 2)),
             "ps_sigma_site_log__": np.log(0.4),
             "ps_z_site": rng.normal(size=(len(design.site_labels), 2))}
    logp = model.compile_logp(vars=[model["modality"]], sum=True, mode="FAST_COMPILE")(point)
    lam = (point["ps_intercept"][None] + design.X @ point["ps_beta"]
           + 0.4 * point["ps_z_site"][design.site])
    full = np.column_stack([np.zeros(design.n_person), lam])
    p = softmax_last(full)
    expected = np.log(p[np.arange(design.n_person), design.modality]).sum()
    assert logp == pytest.approx(expected, rel=1e-8)


def test_propensity_model_checks():
    with pytest.raises(ModelError):
        PropensityModel(levels=("ward",))
    with pytest.raises(ModelError, match="not person-level"):
        PropensityModel(covariates=["nope"]).design(tiny_cohort(30))
