"""Pairing the utility and crime fits' draws: index (independent) or rank-coupled."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from dtors_bayes.economics.evaluation import (
    NONE,
    PAIRING_COLUMNS,
    economic_draws,
    pairing_sensitivity,
)
from dtors_bayes.economics.pairing import (
    couple_draws,
    pairing_correlation,
    pairing_keys,
)
from dtors_bayes.economics.paths import TREATED, outcome_paths
from dtors_bayes.exceptions import SpecError
from dtors_bayes.testing import hand_posterior_fit


@pytest.fixture(scope="module")
def paths():
    return (outcome_paths(hand_posterior_fit("eq5d")),
            outcome_paths(hand_posterior_fit("bernoulli", seed=2)))


COSTS = {"treatment_cost": 4000.0, "crime_unit_cost": 3000.0}


@pytest.mark.parametrize("rho", [-1.0, -0.5, 0.0, 0.5, 1.0])
def test_couple_draws_hits_the_copula_rank_correlation(rho):
    rng = np.random.default_rng(1)
    a, b = rng.gamma(2.0, size=4000), rng.normal(size=4000)
    perm = couple_draws(a, b, rho, seed=3)
    assert np.array_equal(np.sort(perm), np.arange(4000))        # a permutation
    got = spearmanr(a, b[perm]).statistic
    # Spearman's rho of a Gaussian copula: (6 / pi) asin(rho / 2); sd ~ 1/sqrt(n) = 0.016
    assert got == pytest.approx(6 / np.pi * np.arcsin(rho / 2), abs=0.05)
    if abs(rho) == 1:
        assert got == pytest.approx(rho, abs=1e-12)
    with pytest.raises(SpecError, match=r"\[-1, 1\]"):
        couple_draws(a, b, 1.5)
    with pytest.raises(SpecError, match="equal length"):
        couple_draws(a, b[:10], 0.5)


def test_coupling_moves_only_joint_quantities(paths):
    pu, pc = paths
    base = economic_draws(pu, pc, **COSTS)
    assert "index" in base.assumptions["pairing"] and "independent" in base.assumptions["pairing"]
    sds = {}
    for rho in (-1.0, 1.0):
        ed = economic_draws(pu, pc, pairing=rho, **COSTS)
        assert "rank-coupled" in ed.assumptions["pairing"]
        np.testing.assert_array_equal(ed.effects, base.effects)          # utility untouched
        np.testing.assert_allclose(np.sort(ed.components["crime"], axis=0),
                                   np.sort(base.components["crime"], axis=0))  # same marginal
        dq, dc = ed.incremental(TREATED, NONE, "societal")
        nb = 30000 * dq - dc
        sds[rho] = nb.std()
        b_dq, b_dc = base.incremental(TREATED, NONE, "societal")
        assert nb.mean() == pytest.approx((30000 * b_dq - b_dc).mean(), rel=1e-10)
        ku, _ = pairing_keys(pu, pc)
        # societal INB of the cohort's mix = lambda * QALY gain + k * offending months avoided
        # - treatment cost: the two coupling keys exactly (fixed costs, carried on)
        np.testing.assert_allclose(nb, 30000 * ku + 3000 * _coupled_kc(pu, pc, rho) - 4000.0,
                                   rtol=1e-9)
    index_sd = (30000 * base.incremental(TREATED, NONE, "societal")[0]
                - base.incremental(TREATED, NONE, "societal")[1]).std()
    assert sds[-1.0] <= index_sd <= sds[1.0]   # comonotone maximises, antitone minimises


def _coupled_kc(pu, pc, rho):
    from dtors_bayes.economics.pairing import coupled

    out, _, _ = coupled(pu, pc, rho, 0)
    return pairing_keys(pu, out)[1]


def test_pairing_errors(paths):
    pu, pc = paths
    with pytest.raises(SpecError, match="pairing='bogus'"):
        economic_draws(pu, pc, pairing="bogus")
    with pytest.raises(SpecError, match=r"\[-1, 1\]"):
        economic_draws(pu, pc, pairing=2.0)
    with pytest.raises(SpecError, match="needs crime paths"):
        economic_draws(pu, None, pairing=0.5)
    with pytest.raises(SpecError, match="rank_correlations"):
        pairing_sensitivity(pu, pc, pairing=0.3)


def test_pairing_sensitivity_table(paths):
    pu, pc = paths
    t = pairing_sensitivity(pu, pc, rank_correlations=(-1.0, 0.0, 1.0), wtp=30000.0, **COSTS)
    assert list(t.columns) == PAIRING_COLUMNS
    assert list(t["pairing"]) == ["index", "rank", "rank", "rank"]
    assert t["width_ratio"].iloc[0] == pytest.approx(1.0)
    np.testing.assert_allclose(t["mean"], t["mean"].iloc[0], rtol=1e-10)  # fixed unit cost
    assert t.loc[t.rank_correlation == 1.0, "achieved"].iloc[0] == pytest.approx(1.0)
    assert t.loc[t.rank_correlation == -1.0, "achieved"].iloc[0] == pytest.approx(-1.0)
    w = t.set_index("rank_correlation")["width"]
    assert w[-1.0] < w[1.0]
    health = pairing_sensitivity(pu, pc, rank_correlations=(1.0,), perspective="health", **COSTS)
    assert health["width"].nunique() == 1          # the health perspective has no crime


def test_pairing_correlation_from_the_fits_data():
    # the same hand data in both fits: the utility gain is the offending increase, r = -1
    fu, fc = hand_posterior_fit("eq5d", n=20), hand_posterior_fit("bernoulli", seed=2, n=20)
    r = pairing_correlation(fu, fc)
    assert r["n_persons"] == 15            # persons 2, 3, 5, 7, 8 miss a wave
    assert r["r"] == pytest.approx(-1.0)
    assert r["ci_lb"] <= r["r"] <= r["ci_ub"]
    with pytest.raises(SpecError, match="at least 4"):
        pairing_correlation(hand_posterior_fit("eq5d"), hand_posterior_fit("bernoulli"))
