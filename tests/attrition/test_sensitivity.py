"""Pattern-mixture sensitivity on hand-built posteriors (no sampling): the fast delta
kernels against the estimand code's offsets hook, delta = 0 against Fit.estimate, tipping
points against direct interpolation, and the errors users meet."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from dtors_bayes.attrition.imputation import impute
from dtors_bayes.attrition.pattern_mixture import check_deltas, sensitivity
from dtors_bayes.attrition.tipping import Conclusion, tipping_point
from dtors_bayes.estimands.engine import contrast_pairs, draws_of_estimands
from dtors_bayes.estimands.weights import WeightSpec
from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import stack_draws
from dtors_bayes.testing import HAND_MODALITIES, hand_posterior_fit

matplotlib.use("Agg")
MODS = HAND_MODALITIES
KEY = ["estimand", "wave", "modality", "contrast"]
fake_fit = hand_posterior_fit  # 8 persons, 3 waves, an iid posterior drawn by hand


def direct(fit, delta, groups=None):
    """Estimand draws through the estimand code's offsets hook (the reference)."""
    d = fit.design
    miss = ~d.interviewed
    if groups is not None:
        miss = miss & groups
    offsets = {j: np.where(miss[:, j], delta, 0.0) for j in range(len(d.waves))}
    params, _, _ = stack_draws(fit.tree)
    return draws_of_estimands(fit.model, d, params, WeightSpec(None, "none", "sample"),
                              contrast_pairs=contrast_pairs(MODS, "reference", None),
                              offsets=offsets)


def test_delta_zero_equals_estimate():
    fit = fake_fit()
    est = fit.estimate()
    res = sensitivity(fit, [-1.0, 0.0, 1.0])
    t0 = res.table[res.table.delta == 0]
    m = est.merge(t0, on=KEY, suffixes=("", "_s"))
    assert len(m) == len(est) == len(t0)
    for col in ("mean", "sd", "ci_lb", "ci_ub", "p_direction", "mcse_mean", "ess_bulk"):
        np.testing.assert_allclose(m[col + "_s"], m[col], rtol=1e-12, atol=1e-12)
    assert set(t0.attrition) == {"delta=0"}
    assert (res.table.delta_scale == "logit").all()


@pytest.mark.parametrize("family", ["bernoulli", "binomial", "beta_binomial",
                                    "negative_binomial", "gaussian", "hurdle_lognormal",
                                    "eq5d"])
def test_fast_kernels_match_offsets_hook(family):
    fit = fake_fit(family)
    grid = [-1.5, -0.3, 0.0, 0.7]
    res = sensitivity(fit, grid)
    for delta in grid:
        ref = direct(fit, delta)
        t = res.table[res.table.delta == delta]
        for key, v in ref.items():
            row = t[(t.estimand == key[0]) & (t.wave == key[1]) & (t.modality == key[2])
                    & (t.contrast == key[3])]
            assert len(row) == 1, key
            np.testing.assert_allclose(row["mean"].iloc[0], np.nanmean(v), rtol=2e-6,
                                       atol=1e-7, err_msg=f"{family} {key} delta={delta}")


def test_by_group_shifts_only_that_group():
    fit = fake_fit()
    res = sensitivity(fit, [0.0, 1.0], by="modality")
    member = fit.design.modality[:, None] == 1  # residential
    ref = direct(fit, 1.0, groups=np.repeat(member, 3, axis=1))
    t = res.table[(res.table.delta == 1.0) & (res.table.delta_group == "residential")]
    r = t[(t.estimand == "level") & (t.wave == 2)]
    np.testing.assert_allclose(r["mean"].iloc[0], ref[("level", 2, "", "")].mean(), rtol=1e-6)
    # Prescribing persons' own level is untouched when only residential ones are shifted.
    own = t[(t.estimand == "modality_level") & (t.modality == "prescribing") & (t.wave == 2)]
    base = res.table[(res.table.delta == 0.0) & (res.table.delta_group == "residential")]
    own0 = base[(base.estimand == "modality_level") & (base.modality == "prescribing")
                & (base.wave == 2)]
    np.testing.assert_allclose(own["mean"].iloc[0], own0["mean"].iloc[0], rtol=1e-12)
    assert t.attrition.iloc[0] == "delta=1@modality=residential"
    wave = sensitivity(fit, [0.0, 1.0], by="wave")
    t1 = wave.table[(wave.table.delta_group == 1) & (wave.table.delta == 1.0)]
    lvl2 = t1[(t1.estimand == "level") & (t1.wave == 2)]["mean"].iloc[0]
    lvl2_0 = wave.table[(wave.table.delta == 0.0) & (wave.table.estimand == "level")
                        & (wave.table.wave == 2)]["mean"].iloc[0]
    assert lvl2 == pytest.approx(lvl2_0, rel=1e-12)  # shifting wave 1 leaves wave 2 alone


def test_tipping_point_interpolation_known_answer():
    grid = np.linspace(-2, 2, 9)
    prob = np.where(grid >= 0, 0.99 - 0.05 * grid, 0.99)
    lo, hi = tipping_point(grid, prob, 0.95)
    assert lo == -np.inf
    assert hi == pytest.approx(0.8)
    assert np.isnan(tipping_point(grid, np.full(9, 0.5), 0.95)).all()
    assert tipping_point(grid, np.full(9, 0.99), 0.95) == (-np.inf, np.inf)


def test_tipping_point_on_a_fit_matches_direct_computation():
    fit = fake_fit()
    grid = np.linspace(-3, 3, 13)
    cut = float(np.quantile(direct(fit, 0.0)[("level", 2, "", "")], 0.9))
    c = ("level", 2, "<", cut, 0.8)  # holds at delta = 0 with probability 0.9
    res = sensitivity(fit, grid, conclusion=c)
    probs = np.array([np.mean(direct(fit, d)[("level", 2, "", "")] < cut) for d in grid])
    want = tipping_point(grid, probs, 0.8)
    tp = res.tipping_points.iloc[0]
    assert tp.holds_at_zero
    assert (tp.tipping_lower, tp.tipping_upper) == pytest.approx(want)
    assert np.isfinite(tp.tipping_upper)  # pushing non-responders up breaks "level is low"
    k = np.searchsorted(grid, tp.tipping_upper)
    assert probs[k - 1] >= 0.8 > probs[k]
    fig = res.plot()
    assert fig.axes and fig.axes[0].get_xlabel().startswith("delta")


def test_prior_mode_with_zero_sd_equals_the_grid_point():
    fit = fake_fit()
    a = sensitivity(fit, prior=(0.5, 0.0)).table
    b = sensitivity(fit, [0.5]).table
    np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12)
    assert a.attrition.iloc[0] == "delta~N(0.5,0)" and a.delta.isna().all()
    wide = sensitivity(fit, prior=(0.5, 1.0)).table
    ra, rw = (t.query("estimand == 'level' and wave == 2").iloc[0] for t in (a, wide))
    assert rw.ci_ub - rw.ci_lb > ra.ci_ub - ra.ci_lb  # delta uncertainty widens the interval


def test_wrong_scale_and_bad_deltas_raise():
    fit = fake_fit()
    with pytest.raises(FitError, match="not probabilities or percentages"):
        sensitivity(fit, [0, 25, 50])
    with pytest.raises(FitError, match="allowed: link, logit, log, identity"):
        sensitivity(fit, [0.1], scale="probability")
    with pytest.raises(FitError, match="has a 'logit' link"):
        sensitivity(fit, [0.1], scale="log")
    with pytest.raises(FitError, match="finite"):
        sensitivity(fit, [0.0, np.nan])
    with pytest.raises(FitError, match="deltas= .* or prior"):
        sensitivity(fit)
    with pytest.raises(FitError, match="no such estimand"):
        sensitivity(fit, [0.0], conclusion=("change", 7, "<", 0))
    with pytest.raises(FitError, match="op="):
        Conclusion("change", 2, "!=", 0)
    with pytest.raises(FitError, match="10 sd"):
        check_deltas([0, 500], "identity", "link", np.array([1.0, 2.0, 3.0]))
    with pytest.raises(FitError, match="by="):
        sensitivity(fit, [0.0], by="no_such_column")


def test_person_level_series_groups():
    """A by= Series is matched to persons by its index, not by position: shuffled, and
    grouping persons otherwise than the modality pattern, it must shift exactly its
    group's non-responders (against the offsets hook)."""
    fit = fake_fit()
    ids = fit.design.person_ids
    labels = np.array(["a", "a", "b", "a", "b", "b", "a", "b"])  # not the modality pattern
    order = np.random.default_rng(3).permutation(ids.size)
    grp = pd.Series(labels[order], index=ids[order], name="sex")
    res = sensitivity(fit, [0.0, 1.0], by=grp)
    assert set(res.table.delta_group) == {"a", "b"}
    assert res.table.delta_by.iloc[0] == "sex"
    for g in ("a", "b"):
        ref = direct(fit, 1.0, groups=np.repeat((labels == g)[:, None], 3, axis=1))
        t = res.table[(res.table.delta == 1.0) & (res.table.delta_group == g)]
        for wave in (1, 2):
            got = t[(t.estimand == "level") & (t.wave == wave)]["mean"].iloc[0]
            np.testing.assert_allclose(got, ref[("level", wave, "", "")].mean(), rtol=1e-6)


def test_impute_long_table():
    fit = fake_fit("binomial")
    imp = impute(fit, n=5)
    n_missing = int(np.isnan(fit.design.y).sum())
    assert len(imp) == 5 * n_missing
    assert list(imp.columns) == ["person_id", "wave", "draw", "value", "interviewed"]
    assert imp.value.between(0, fit.design.trials).all()
    assert (imp.value == imp.value.round()).all()
    hi = impute(fit, n=40, delta=3.0)
    assert hi.value.mean() > impute(fit, n=40).value.mean()
