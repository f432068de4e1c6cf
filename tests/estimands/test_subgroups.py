"""Subgroup estimands (``fit.estimate(by=...)``) on hand posteriors: no sampling."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import dtors_bayes  # noqa: F401 - binds Fit.estimate
from dtors_bayes.estimands.engine import ESTIMAND_COLUMNS
from dtors_bayes.exceptions import FitError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.sampling import stack_draws
from dtors_bayes.testing import hand_posterior_fit, with_hand_modifier

GROUP = np.array(["cj", "other", "other", "cj", "other", "cj", "other", "other"])


def _cohort(fit, values=GROUP):
    return types.SimpleNamespace(persons=pd.DataFrame(
        {"person_id": fit.design.person_ids, "route": values}))


def _mu(fit, modality=None):
    """mu (S, person, wave) by hand: inverse logit of beta_time[z_i, t] + u_i (+ modifier)."""
    p, _, _ = stack_draws(fit.tree)
    d = fit.design
    z = d.modality if modality is None else np.full(d.n_person, modality)
    eta = p["beta_time"][:, z, :] + (p["sigma_person"][:, None] * p["z_person"])[:, :, None]
    for k, m in enumerate(d.modifier_names):
        lv = d.modifier_codes[:, k]
        eta = eta + p[f"sigma_{m}"][:, None, None] * np.swapaxes(p[f"z_{m}"], 1, 2)[:, lv, :]
        zi = p[f"sigma_{m}_modality"][:, None, None] * np.moveaxis(
            p[f"z_{m}_modality"], 1, 3)[:, z, lv, :]
        eta = eta + zi
    return 1.0 / (1.0 + np.exp(-eta))


def _row(t, **key):
    sel = np.ones(len(t), bool)
    for k, v in key.items():
        sel &= (t[k] == v).to_numpy()
    assert sel.sum() == 1, key
    return t[sel].iloc[0]


def test_by_rows_equal_hand_averages_over_the_subgroup():
    fit = hand_posterior_fit()
    t = fit.estimate(by="route", cohort=_cohort(fit))
    assert list(t.columns) == ESTIMAND_COLUMNS
    overall = t[t["subgroup"] == ""]
    plain = fit.estimate()
    pd.testing.assert_frame_equal(overall.reset_index(drop=True), plain.reset_index(drop=True))
    mu = _mu(fit)
    for lab in ("cj", "other"):
        g = lab == GROUP
        r = _row(t, estimand="level", wave=2, subgroup=f"route={lab}")
        assert r["mean"] == pytest.approx(mu[:, g, 2].mean(axis=1).mean(), rel=1e-12)
        assert r["n_persons"] == g.sum()
        ch = mu[:, g, 2].mean(1) - mu[:, g, 0].mean(1)
        r = _row(t, estimand="change", wave=2, subgroup=f"route={lab}")
        assert r["mean"] == pytest.approx(ch.mean(), rel=1e-12)
        assert r["sd"] == pytest.approx(ch.std(ddof=1), rel=1e-10)
    # differences are draw-by-draw differences of the subgroup changes and contrasts
    a, b = GROUP == "cj", GROUP == "other"
    ch = {k: mu[:, g, 1].mean(1) - mu[:, g, 0].mean(1) for k, g in (("cj", a), ("other", b))}
    r = _row(t, estimand="subgroup_difference", wave=1, modality="", subgroup="route")
    assert r["contrast"] == "cj - other"
    diff = ch["cj"] - ch["other"]
    assert r["mean"] == pytest.approx(diff.mean(), rel=1e-12)
    assert r["sd"] == pytest.approx(diff.std(ddof=1), rel=1e-10)
    assert r["n_persons"] == 8
    assert "not a modifier of the model" in r["assumption"]
    m0, m1 = _mu(fit, 0), _mu(fit, 1)

    def con(g, j):
        return (m1[:, g, j].mean(1) - m1[:, g, 0].mean(1)) - (m0[:, g, j].mean(1)
                                                              - m0[:, g, 0].mean(1))
    c = _row(t, estimand="modality_contrast", wave=2, subgroup="route=cj")
    assert c["contrast"] == "residential - prescribing"
    assert c["mean"] == pytest.approx(con(a, 2).mean(), rel=1e-12)
    r = _row(t, estimand="subgroup_difference", wave=2, modality="residential - prescribing")
    assert r["mean"] == pytest.approx((con(a, 2) - con(b, 2)).mean(), rel=1e-12)
    assert "no unmeasured confounding" in r["assumption"]


def test_by_with_fixed_weights():
    fit = hand_posterior_fit()
    w = np.linspace(0.5, 2.0, 8)
    t = fit.estimate("fixed", weights=w, by="route", cohort=_cohort(fit))
    mu = _mu(fit)
    g = GROUP == "other"
    r = _row(t, estimand="level", wave=1, subgroup="route=other")
    want = (mu[:, g, 1] * w[g]).sum(1) / w[g].sum()
    assert r["mean"] == pytest.approx(want.mean(), rel=1e-12)
    assert r["population"] == "weighted"


def test_by_with_a_modifier_uses_the_modifier_terms():
    fit = with_hand_modifier(hand_posterior_fit(), "route", ["cj", "other"],
                             GROUP == "other")
    t = fit.estimate(by="route")  # a modifier: no cohort needed
    mu = _mu(fit)
    for lab in ("cj", "other"):
        g = lab == GROUP
        r = _row(t, estimand="level", wave=2, subgroup=f"route={lab}")
        assert r["mean"] == pytest.approx(mu[:, g, 2].mean(1).mean(), rel=1e-12)
    assert "partially pooled" in _row(t, estimand="subgroup_difference", wave=2,
                                      modality="")["assumption"]


def test_by_errors():
    fit = hand_posterior_fit()
    with pytest.raises(FitError, match="pass cohort="):
        fit.estimate(by="route")
    with pytest.raises(FitError, match="not a person-level column"):
        fit.estimate(by="nope", cohort=_cohort(fit))
    vals = GROUP.astype(object)
    vals[2] = None
    with pytest.raises(FitError, match="have no value"):
        fit.estimate(by="route", cohort=_cohort(fit, vals))
    with pytest.raises(FitError, match="one level"):
        fit.estimate(by="route", cohort=_cohort(fit, np.array(["a"] * 8)))
    with pytest.raises(FitError, match="mrp"):
        fit.estimate("mrp", by="route", cohort=_cohort(fit))


def test_saved_fit_keeps_modifiers(tmp_path):
    from dtors_bayes.models.io import load_fit

    fit = hand_posterior_fit()
    d = fit.design
    d.modifier_names, d.modifier_labels = ["route"], [["cj", "other"]]
    d.modifier_codes = (GROUP == "other").astype(int)[:, None]
    fit.model = ChangeModel("y", "bernoulli", levels=(), modifiers=("route",))
    before = fit.estimate(by="route")
    import xarray as xr
    fit.tree["constant_data"] = xr.DataTree(d.to_dataset())
    fit.save(tmp_path / "f.nc")
    back = load_fit(tmp_path / "f.nc")
    assert back.model.modifiers == ("route",)
    assert back.design.modifier_labels == [["cj", "other"]]
    pd.testing.assert_frame_equal(back.estimate(by="route"), before)
