"""Complete-case variance: the estimated-weights linearisation and the few-cluster correction.

Issue #11 (complete-case propagated intervals 0.85-0.94 of the linearisation): the
fixed-weight linearisation treats estimated response propensities and raking factors as
known and over-states the variance; the Bayesian bootstrap over ``J`` first-stage units has
``(J - 1)/(J + 1)`` of the unbiased with-replacement variance
(``benchmarks/results/cc_propagated_width.md``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from dtors_bayes.weighting.complete_case import complete_case_estimates, estimated_weights_se
from dtors_bayes.weighting.draws import bayesian_bootstrap, weight_draw_arrays
from dtors_bayes.weighting.response import fit_logistic, fixed_weights


def _two_stage_ipw(rng, J=40, m=10):
    """One two-stage sample: J clusters of m persons, cluster effects in x and y, response
    depending on x; the inverse-propensity (Hajek) mean of y with an estimated logistic
    propensity. E[y] = 0."""
    n = J * m
    cl = np.repeat(np.arange(J), m)
    b = rng.normal(0.0, 0.5, J)[cl]
    x = rng.normal(0.0, 1.0, n) + 0.5 * b
    y = b + x + rng.normal(0.0, 0.5, n)
    r = (rng.random(n) < expit(0.3 + 1.2 * x)).astype(float)
    X = np.column_stack([np.ones(n), x])
    p = expit(X @ fit_logistic(X, r)[0])
    a = np.where(r > 0, 1.0 / p, 0.0)
    u0, v0 = r * y, r
    R, se_est = estimated_weights_se(u0, v0, a, np.ones(n), np.ones((n, 1)), cl, p=p, r=r,
                                     X=X)
    z = np.bincount(cl, weights=a * (u0 - R * v0) / (a @ v0))
    se_fixed = np.sqrt(J / (J - 1) * np.sum((z - z.mean()) ** 2))
    return R, se_est, se_fixed


def test_estimated_weights_linearisation_matches_two_stage_sampling_variance():
    """The known variance of the estimator is its variance over 3000 simulated two-stage
    samples (Monte Carlo sd of that variance sqrt(2 / 3000) = 2.6%). The estimated-
    propensity linearisation reproduces it (measured 0.94; the usual few-cluster downward
    bias of a sandwich with 40 clusters); the fixed-weight formula, which takes the fitted
    propensities as known, over-states it by about 20% (measured 1.21): the Robins-Rotnitzky-
    Zhao gain of estimating the propensity."""
    rng = np.random.default_rng(11)
    out = np.array([_two_stage_ipw(rng) for _ in range(3000)])
    emp = out[:, 0].var(ddof=1)
    assert abs(out[:, 0].mean()) < 4 * np.sqrt(emp / len(out))
    ratio_est = np.mean(out[:, 1] ** 2) / emp
    ratio_fixed = np.mean(out[:, 2] ** 2) / emp
    assert 0.86 < ratio_est < 1.04
    assert ratio_fixed > 1.12


def test_estimated_weights_se_reduces_to_fixed_formula_without_estimation():
    """With one raking category (a constant calibration factor) and no response model the
    estimated-weights linearisation is the plain ratio linearisation: the GREG residual on a
    constant only removes the mean of ``phi``, which the ratio's residual already has."""
    rng = np.random.default_rng(2)
    n = 60
    y = rng.normal(size=n)
    dom = rng.random(n) < 0.7
    c = np.full(n, 3.0)
    u0, v0 = np.where(dom, y, 0.0), dom.astype(float)
    cl = np.repeat(np.arange(12), 5)
    ratio, se = estimated_weights_se(u0, v0, c, c, np.ones((n, 1)), cl)
    z = np.bincount(cl, weights=c * (u0 - ratio * v0) / (c @ v0))
    assert ratio == pytest.approx(y[dom].mean())
    assert se == pytest.approx(np.sqrt(12 / 11 * np.sum((z - z.mean()) ** 2)), rel=1e-10)
    empty = estimated_weights_se(u0, np.zeros(n), np.zeros(n), c, np.ones((n, 1)), cl)
    assert np.isnan(empty).all()  # a domain without respondents, like the fixed formula
    with pytest.raises(ValueError, match="pass p, r and X together"):
        estimated_weights_se(u0, v0, c, c, np.ones((n, 1)), p=np.full(n, 0.5))


@pytest.mark.parametrize("A", [5, 26])
def test_unbiased_correction_matches_with_replacement_variance(A):
    """Ultimate cluster, equal clusters of m persons: ``sum_i g_i y_i / n = sum_k D_k ybar_k``.
    Plain Dirichlet(1_A): ``Var = s_b^2 (A-1) / (A (A+1))``, i.e. (A-1)/(A+1) of the unbiased
    with-replacement variance ``s_b^2 / A`` (the linearisation's, with its m/(m-1)):
    0.667 at 5 clusters, 0.926 at 26. ``correction="unbiased"`` (Dirichlet((A-2)/A)) gives
    ``s_b^2 / A`` exactly. Tolerance: 4 Monte Carlo sd of a variance from S = 40000 draws
    (sqrt(2 / S) each; the Gamma(alpha < 1) multipliers have heavier tails, so 5)."""
    rng = np.random.default_rng(A)
    m, S = 4, 40_000
    cl = np.repeat(np.arange(A), m)
    y = rng.normal(size=A)[cl] + rng.normal(size=A * m)
    ybar = y.reshape(A, m).mean(axis=1)
    unbiased = ybar.var(ddof=1) / A
    tol = 5 * np.sqrt(2 / S)
    plain = bayesian_bootstrap(A * m, S, np.random.default_rng(1), [cl], persons=False)
    corr = bayesian_bootstrap(A * m, S, np.random.default_rng(1), [cl], persons=False,
                              correction="unbiased")
    np.testing.assert_allclose(corr.sum(axis=1), A * m)
    assert (corr > 0).all()
    assert np.ptp(corr.reshape(S, A, m), axis=2).max() < 1e-9
    assert (plain @ y / (A * m)).var() == pytest.approx(unbiased * (A - 1) / (A + 1), rel=tol)
    assert (corr @ y / (A * m)).var() == pytest.approx(unbiased, rel=tol)
    # persons as units: the same identity with J = n
    n = A * m
    gp = bayesian_bootstrap(n, S, np.random.default_rng(2), correction="unbiased")
    assert (gp @ y / n).var() == pytest.approx(y.var(ddof=1) / n, rel=tol)


def test_correction_errors_are_clear():
    rng = np.random.default_rng(0)
    cl = np.repeat(np.arange(4), 3)
    with pytest.raises(ValueError, match="allowed: None, 'unbiased'"):
        bayesian_bootstrap(12, 2, rng, [cl], persons=False, correction="yes")
    with pytest.raises(ValueError, match="one-stage Bayesian bootstrap"):
        bayesian_bootstrap(12, 2, rng, [cl], persons=True, correction="unbiased")
    with pytest.raises(ValueError, match="at least 3 units"):
        bayesian_bootstrap(12, 2, rng, [np.repeat([0, 1], 6)], persons=False,
                           correction="unbiased")
    # the default draws are unchanged by the option (same stream as before)
    np.testing.assert_array_equal(
        bayesian_bootstrap(12, 3, np.random.default_rng(4), [cl], persons=False),
        bayesian_bootstrap(12, 3, np.random.default_rng(4), [cl], persons=False,
                           correction=None))


def test_corrected_weight_draws_scale_pure_rescaling_variance():
    """One raking category (raking is a pure rescaling): the calibration draws' weighted
    mean is ``D'y``; with the correction its variance is ``s^2 / n`` (not
    ``s^2 (n-1) / (n (n+1))``)."""
    rng = np.random.default_rng(20261201)
    n, S = 60, 4000
    y = rng.normal(size=n)
    persons = pd.DataFrame({"person_id": np.arange(n), "everyone": "all"})
    pop = pd.DataFrame({"everyone": ["all"], "count": [1000.0]})
    cal, _ = weight_draw_arrays(persons, pop, S, seed=3, trim=None, variables=["everyone"],
                                bootstrap="persons", correction="unbiased")
    est = cal @ y / cal.sum(axis=1)
    assert est.var(ddof=1) == pytest.approx(y.var(ddof=1) / n, rel=5 * np.sqrt(2 / S))


def test_complete_case_estimated_linearisation(sim):
    """Same estimates; the estimated-weights SE is below the fixed-weight one at the
    follow-ups (the response model's estimation) and recorded in ``attrs``."""
    c = sim.cohort
    fw = fixed_weights(c)
    key = ["estimand", "wave", "modality"]
    fixed = complete_case_estimates(c, "acquisitive_crime", fixed=fw, cluster=None)
    est = complete_case_estimates(c, "acquisitive_crime", fixed=fw, cluster=None,
                                  linearisation="estimated")
    assert est.attrs["linearisation"] == "estimated"
    both = fixed.merge(est, on=key, suffixes=("_f", "_e"))
    np.testing.assert_allclose(both["mean_f"], both["mean_e"], rtol=1e-12)
    assert np.isfinite(both["sd_e"]).all()
    assert ((both["sd_e"] > 0) == (both["sd_f"] > 0)).all()  # 0 only where every y is equal
    lev = both[(both["estimand"] == "level") & (both["modality"] == "")
               & (both["wave"] > 0)]
    assert (lev["sd_e"] < lev["sd_f"]).all()
    with pytest.raises(ValueError, match="allowed: 'fixed', 'estimated'"):
        complete_case_estimates(c, "acquisitive_crime", linearisation="greg")
    with pytest.raises(ValueError, match="is for weights='fixed'"):
        complete_case_estimates(c, "acquisitive_crime", weights="none",
                                linearisation="estimated")
    with pytest.raises(ValueError, match="allowed: None, 'unbiased'"):
        complete_case_estimates(c, "acquisitive_crime", weights="propagated", n_draws=5,
                                correction="always")
