"""The decision layer: exact on hand-computed cases, and BCEA's / dampack's definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.economics.decision import (
    CEA_COLUMNS,
    FRONTIER_COLUMNS,
    as_draws,
    cea,
    evpi_curve,
    frontier,
    frontier_probabilities,
    mcse_mean,
)
from dtors_bayes.exceptions import SpecError

# Two options, four draws, worked by hand:
#   A (reference): e = 1.0, c = 100 in every draw.
#   B: e = 1.2, 1.1, 1.3, 0.9;  c = 300, 150, 500, 50.
#   De = 0.2, 0.1, 0.3, -0.1 (mean 0.125); Dc = 200, 50, 400, -50 (mean 150); ICER = 1200.
#   Quadrants: NE, NE, NE, SW.
#   k = 1500: IB = 100, 100, 50, -100 (mean 37.5); NB_A = 1400; NB_B = 1500, 1500, 1450, 1300
#             (mean 1437.5); B best in 3 of 4; EVPI = mean(1500, 1500, 1450, 1400) - 1437.5 = 25.
#   k = 0:    IB = -200, -50, -400, 50 (mean -150); NB_A = -100, NB_B = -300, -150, -500, -50;
#             B best in 1 of 4; EVPI = mean(-100, -100, -100, -50) - (-100) = 12.5.
E2 = np.array([[1.0, 1.2], [1.0, 1.1], [1.0, 1.3], [1.0, 0.9]])
C2 = np.array([[100.0, 300.0], [100.0, 150.0], [100.0, 500.0], [100.0, 50.0]])


def test_two_options_by_hand():
    t = cea(E2, C2, wtp=[0, 1500], reference="A", options=["A", "B"])
    assert list(t.columns) == CEA_COLUMNS
    b = t[t.option == "B"].set_index("wtp")
    a = t[t.option == "A"].set_index("wtp")
    assert b.loc[1500, "eib"] == pytest.approx(37.5)
    assert b.loc[1500, "expected_nb"] == pytest.approx(1437.5)
    assert a.loc[1500, "expected_nb"] == pytest.approx(1400.0)
    assert b.loc[1500, "ceac"] == 0.75 and a.loc[1500, "ceac"] == 0.25
    assert b.loc[1500, "ceaf"] == 1.0 and a.loc[1500, "ceaf"] == 0.0
    assert b.loc[1500, "ceaf_prob"] == 0.75
    assert b.loc[1500, "evpi"] == pytest.approx(25.0) and a.loc[1500, "evpi"] == b.loc[1500, "evpi"]
    assert b.loc[0, "eib"] == pytest.approx(-150.0)
    assert b.loc[0, "ceac"] == 0.25 and a.loc[0, "ceaf"] == 1.0
    assert b.loc[0, "evpi"] == pytest.approx(12.5)
    assert b.loc[0, "icer"] == pytest.approx(1200.0)
    assert (b.loc[0, "p_ne"], b.loc[0, "p_nw"], b.loc[0, "p_se"], b.loc[0, "p_sw"]) == \
        (0.75, 0.0, 0.0, 0.25)
    assert np.isnan(a.loc[0, "icer"]) and np.isnan(a.loc[0, "p_ne"])
    assert (t["reference"] == "A").all()
    assert b.loc[0, "inc_effect"] == pytest.approx(0.125)
    assert b.loc[0, "inc_cost"] == pytest.approx(150.0)


def test_dtors_headline():
    """0.05 QALY for GBP 4,531: ICER GBP 90,620; INB at GBP 30,000 is -GBP 3,031."""
    e = np.array([[0.0, 0.05]] * 4)
    c = np.array([[0.0, 4531.0]] * 4)
    t = cea(e, c, wtp=[30000, 90620], reference="none", options=["none", "treatment"])
    tr = t[t.option == "treatment"].set_index("wtp")
    assert tr.loc[30000, "icer"] == pytest.approx(90620.0)
    assert tr.loc[30000, "eib"] == pytest.approx(-3031.0)
    assert tr.loc[90620, "eib"] == pytest.approx(0.0, abs=1e-9)  # break-even k = ICER
    assert tr.loc[30000, "mcse_nb"] == 0.0  # constant draws


def test_negative_icers_need_quadrants():
    """A dominant and a dominated option have the same negative ICER; the quadrants differ."""
    e = np.array([[1.0, 1.1, 0.9], [1.0, 1.2, 0.8]])
    c = np.array([[100.0, 50.0, 150.0], [100.0, 80.0, 120.0]])
    t = cea(e, c, wtp=[1000], reference="ref", options=["ref", "dominant", "dominated"])
    d = t.set_index("option")
    assert d.loc["dominant", "icer"] == pytest.approx(-35.0 / 0.15)
    assert d.loc["dominated", "icer"] == pytest.approx(-35.0 / 0.15)
    assert d.loc["dominant", "p_se"] == 1.0 and d.loc["dominated", "p_nw"] == 1.0
    assert d.loc["dominant", "eib"] > 0 > d.loc["dominated", "eib"]
    assert d.loc["dominant", "ceaf"] == 1.0


# Five options: A (0, 0), B (1000, 0.10), C (3000, 0.12), D (4000, 0.30), E (5000, 0.25).
#   E: strongly dominated by D (costs more, less effective).
#   ICERs in cost order among A, B, C, D: B 10,000; C 100,000; D 5,555.6 < C's -> C is
#   extendedly dominated. Then A, B, D: B 10,000; D (4000-1000)/(0.3-0.1) = 15,000.
FIVE = pd.DataFrame({"option": list("ABCDE"), "cost": [0.0, 1000, 3000, 4000, 5000],
                     "effect": [0.0, 0.10, 0.12, 0.30, 0.25]})


def test_five_options_frontier_by_hand():
    f = frontier(FIVE["effect"].to_numpy(), FIVE["cost"].to_numpy(), list(FIVE["option"]))
    assert list(f.columns) == FRONTIER_COLUMNS
    assert list(f["option"]) == ["A", "B", "D", "C", "E"]
    assert list(f["status"]) == ["ND", "ND", "ND", "ED", "D"]
    assert f["icer"].iloc[1] == pytest.approx(10000.0)
    assert f["icer"].iloc[2] == pytest.approx(15000.0)
    assert f["inc_cost"].iloc[2] == pytest.approx(3000.0)
    assert f["inc_effect"].iloc[2] == pytest.approx(0.2)
    assert f["icer"].iloc[3:].isna().all()


def test_five_options_ceaf_follows_the_frontier():
    """With no uncertainty the optimal option switches at the frontier ICERs."""
    e = np.tile(FIVE["effect"].to_numpy(), (4, 1))
    c = np.tile(FIVE["cost"].to_numpy(), (4, 1))
    t = cea(e, c, wtp=[5000, 12000, 20000], reference="A", options=list("ABCDE"))
    best = t[t.ceaf == 1].set_index("wtp")["option"]
    assert best.to_dict() == {5000.0: "A", 12000.0: "B", 20000.0: "D"}
    nb = t.set_index(["wtp", "option"])["expected_nb"]
    assert nb[(12000.0, "C")] == pytest.approx(12000 * 0.12 - 3000)
    assert nb[(20000.0, "E")] == pytest.approx(0.0)
    assert (t.groupby("wtp")["ceac"].sum() == 1).all()
    assert (t["evpi"] == 0).all()


def test_dampack_herc_example():
    """dampack's own test of calculate_icers (tests/testthat/test_calculate_icers.R)."""
    cost = [55000, 35000, 25000, 10000, 12000, 5000]
    effect = [5, 4, 3, 2, 1.5, 1]
    f = frontier(np.array(effect, float), np.array(cost, float), ["E", "D", "C", "B", "A", "UC"])
    assert list(f["option"]) == ["UC", "B", "D", "E", "C", "A"]
    assert list(f["status"]) == ["ND", "ND", "ND", "ND", "ED", "D"]
    np.testing.assert_allclose(f["icer"].to_numpy(),
                               [np.nan, 5000, 12500, 20000, np.nan, np.nan])
    np.testing.assert_allclose(f["inc_cost"].to_numpy()[:4], [np.nan, 5000, 25000, 20000])


def _bcea(e, c, k, ref):
    """BCEA's definitions transliterated (bcea.default / compute_* / multi.ce / evi):
    delta.e = e[, ref] - e[, comp], ib = k delta.e - delta.c, eib = mean(ib),
    ICER = mean(delta.c) / mean(delta.e), p_best_interv, ceaf = max p_best, evi."""
    u = k * e - c
    delta_e = e[:, [ref]] - e
    delta_c = c[:, [ref]] - c
    eib = (k * delta_e - delta_c).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        icer = delta_c.mean(0) / delta_e.mean(0)
    p_best = np.array([np.mean((u <= u[:, [i]]).all(axis=1)) for i in range(u.shape[1])])
    evi = u.max(axis=1).mean() - u.mean(axis=0).max()
    return eib, icer, p_best, p_best.max(), evi


def _dampack(e, c, k):
    """dampack ceac(): Proportion = table(max.col(nmb)) / n_sim, On_Frontier =
    which.max(colMeans(nmb)); calc_evpi: mean(max nmb) - max(mean nmb)."""
    nmb = k * e - c
    prop = np.bincount(nmb.argmax(axis=1), minlength=e.shape[1]) / len(e)
    front = np.zeros(e.shape[1])
    front[nmb.mean(axis=0).argmax()] = 1
    return prop, front, nmb.max(axis=1).mean() - nmb.mean(axis=0).max()


@pytest.mark.parametrize("n_opt", [2, 5])
def test_agrees_with_bcea_and_dampack_definitions(n_opt):
    rng = np.random.default_rng(n_opt)
    s = 3000
    e = rng.normal(np.linspace(0.5, 0.7, n_opt), 0.05, (s, n_opt))
    c = rng.gamma(20, np.linspace(100, 400, n_opt) / 20, (s, n_opt))
    labels = [f"o{j}" for j in range(n_opt)]
    for k in (0.0, 2000.0, 20000.0):
        t = cea(e, c, wtp=k, reference="o0", options=labels).set_index("option")
        eib, icer, p_best, ceaf_b, evi = _bcea(e, c, k, 0)
        # BCEA's eib is reference minus comparator: the opposite sign of ours
        np.testing.assert_allclose(t["eib"].to_numpy()[1:], -eib[1:], rtol=1e-12, atol=1e-8)
        np.testing.assert_allclose(t["icer"].to_numpy()[1:], icer[1:], rtol=1e-12)
        np.testing.assert_allclose(t["ceac"].to_numpy(), p_best, atol=1e-12)
        assert t["ceac"].max() == pytest.approx(ceaf_b)
        assert t["evpi"].iloc[0] == pytest.approx(evi, rel=1e-12, abs=1e-9)
        prop, front, evpi = _dampack(e, c, k)
        np.testing.assert_allclose(t["ceac"].to_numpy(), prop, atol=1e-12)
        np.testing.assert_array_equal(t["ceaf"].to_numpy(), front)
        assert t["evpi"].iloc[0] == pytest.approx(evpi, rel=1e-12, abs=1e-9)


def test_input_forms_agree():
    rng = np.random.default_rng(3)
    e = rng.normal(size=(2, 50, 3))
    c = rng.normal(size=(2, 50, 3)) * 100
    labels = ["x", "y", "z"]
    t_arr = cea(e, c, wtp=[100], reference="y", options=labels)
    tidy_e = pd.DataFrame([{"chain": ch, "draw": d, "option": o, "value": e[ch, d, j]}
                           for ch in range(2) for d in range(50) for j, o in enumerate(labels)])
    tidy_c = tidy_e.assign(value=c.reshape(-1))
    t_tidy = cea(tidy_e, tidy_c, wtp=[100], reference="y")
    pd.testing.assert_frame_equal(t_arr, t_tidy)
    arr, lab = as_draws(pd.DataFrame(e[0], columns=labels))
    assert arr.shape == (1, 50, 3) and lab == labels


def test_mcse_from_ess_over_chains():
    rng = np.random.default_rng(0)
    iid = rng.normal(size=(1, 4000))
    assert mcse_mean(iid[None])[0] == pytest.approx(1 / np.sqrt(4000), rel=0.1)
    ar = np.zeros((4, 1000))
    for ch in range(4):
        x = 0.0
        for i in range(1000):
            x = 0.9 * x + rng.normal() * np.sqrt(1 - 0.81)
            ar[ch, i] = x
    naive = ar.std() / np.sqrt(ar.size)
    # AR(1) with rho 0.9: ESS ~ n (1 - rho) / (1 + rho) -> MCSE ~ sqrt(19) x naive
    assert mcse_mean(ar[None])[0] > 3 * naive
    e = np.stack([np.zeros_like(ar), ar], axis=-1)
    t = cea(e, np.zeros_like(e), wtp=1.0, reference="option_0")
    assert t.loc[1, "mcse_nb"] == pytest.approx(mcse_mean(ar[None])[0])
    assert t.loc[0, "mcse_nb"] == 0.0


def test_frontier_probabilities_and_evpi_curve():
    rng = np.random.default_rng(1)
    e = FIVE["effect"].to_numpy() + rng.normal(0, 0.01, (200, 5))
    c = FIVE["cost"].to_numpy() + rng.normal(0, 10, (200, 5))
    fp = frontier_probabilities(e, c, list("ABCDE")).set_index("option")
    assert fp.loc["A", "p_nd"] == 1.0
    assert fp.loc["E", "p_d"] > 0.9
    np.testing.assert_allclose(fp[["p_nd", "p_ed", "p_d"]].sum(axis=1), 1.0)
    curve = evpi_curve(e, c, wtp=[0, 15000, 30000], options=list("ABCDE"), population=1000)
    assert list(curve.columns) == ["wtp", "evpi", "mcse_evpi", "population_evpi"]
    assert (curve["evpi"] >= 0).all()
    assert curve["population_evpi"].iloc[1] == pytest.approx(1000 * curve["evpi"].iloc[1])


def test_errors():
    with pytest.raises(SpecError, match="reference"):
        cea(E2, C2, wtp=1, reference="Z", options=["A", "B"])
    with pytest.raises(SpecError, match="shape"):
        cea(E2, C2[:3], wtp=1, reference="A", options=["A", "B"])
    with pytest.raises(SpecError, match="non-finite"):
        cea(E2 * np.nan, C2, wtp=1, reference="A", options=["A", "B"])


def test_dataarray_input_with_chains():
    import xarray as xr

    rng = np.random.default_rng(5)
    e = rng.normal(size=(2, 30, 2))
    c = rng.normal(size=(2, 30, 2))
    da = xr.DataArray(e, dims=("chain", "draw", "option"), coords={"option": ["p", "q"]})
    dc = xr.DataArray(c, dims=("chain", "draw", "option"), coords={"option": ["p", "q"]})
    t = cea(da, dc, wtp=[10.0], reference="p")
    pd.testing.assert_frame_equal(t, cea(e, c, wtp=[10.0], reference="p", options=["p", "q"]))
    assert t.attrs["n_chain"] == 2 and t.attrs["n_draw"] == 30
