"""MRP subgroups (``fit.estimate("mrp", by=column)``) on hand posteriors: no sampling.

A subgroup of MRP is the population cells with that level of a cell variable, so its rows
must equal MRP over those cells alone, and the subgroup differences the differences of those
runs' draws."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import dtors_bayes  # noqa: F401 - binds Fit.estimate
from dtors_bayes.estimands.engine import ESTIMAND_COLUMNS
from dtors_bayes.exceptions import CohortError, FitError
from dtors_bayes.testing import hand_posterior_fit, with_hand_modifier
from dtors_bayes.weighting import mrp

SEX = np.array(["male", "female", "male", "male", "female", "male", "female", "male"])


def _cells(fit) -> pd.DataFrame:
    mods = fit.design.modality_labels
    return pd.DataFrame({"sex": ["male", "male", "female", "female"],
                         "modality": [mods[0], mods[1], mods[0], mods[1]],
                         "count": [40.0, 10.0, 30.0, 20.0]})


def _cohort(fit, cells=None):
    persons = pd.DataFrame({"person_id": fit.design.person_ids, "sex": SEX})
    return types.SimpleNamespace(persons=persons,
                                 population=_cells(fit) if cells is None else cells)


def _key(t):
    return t.set_index(["estimand", "wave", "modality", "contrast"])


def test_mrp_subgroup_rows_are_mrp_over_the_subgroup_cells():
    fit = hand_posterior_fit()
    coh = _cohort(fit)
    t = fit.estimate("mrp", by="sex", cohort=coh)
    assert list(t.columns) == ESTIMAND_COLUMNS
    plain = fit.estimate("mrp", cohort=coh)
    overall = t[t["subgroup"] == ""].reset_index(drop=True)
    pd.testing.assert_frame_equal(overall, plain.reset_index(drop=True))
    cells = _cells(fit)
    for lab in ("female", "male"):
        alone = mrp.mrp_estimates(fit, cells[cells["sex"] == lab], cohort=coh)
        sub = t[t["subgroup"] == f"sex={lab}"]
        assert len(sub) == len(alone) > 0
        both = _key(sub).merge(_key(alone), left_index=True, right_index=True,
                                 suffixes=("", "_alone"))
        assert len(both) == len(alone)
        np.testing.assert_allclose(both["mean"], both["mean_alone"], rtol=1e-12)
        np.testing.assert_allclose(both["sd"], both["sd_alone"], rtol=1e-10)
        assert (sub["n_persons"] == int((lab == SEX).sum())).all()
        assert sub["assumption"].str.contains("poststratified").all()
        assert sub["assumption"].str.contains("not a modifier").all()
    assert t.attrs["n_cells_by"] == {"female": 2, "male": 2}


def test_mrp_subgroup_differences_are_differences_of_the_subgroups():
    fit = hand_posterior_fit()
    coh = _cohort(fit)
    t = fit.estimate("mrp", by="sex", cohort=coh)
    diff = t[t["estimand"] == "subgroup_difference"]
    assert set(diff["contrast"]) == {"female - male"} and (diff["subgroup"] == "sex").all()
    assert set(diff["modality"]) == {"", "residential - prescribing"}
    for r in diff.itertuples():
        est = "change" if r.modality == "" else "modality_contrast"
        sel = (t["estimand"] == est) & (t["wave"] == r.wave) & (t["contrast"] == (
            "" if est == "change" else r.modality))
        f = t[sel & (t["subgroup"] == "sex=female")]["mean"].iloc[0]
        m = t[sel & (t["subgroup"] == "sex=male")]["mean"].iloc[0]
        assert r.mean == pytest.approx(f - m, abs=1e-12)
        assert r.n_persons == len(SEX)


def test_mrp_by_a_column_the_cells_lack_says_what_is_allowed():
    fit = hand_posterior_fit()
    coh = _cohort(fit)
    with pytest.raises(FitError, match=r"by='referral_route'.*population cell variable.*"
                                       r"the cells have: sex, modality"):
        fit.estimate("mrp", by="referral_route", cohort=coh)
    with pytest.raises(FitError, match="population cell variable"):
        fit.estimate("mrp", by="count", cohort=coh)
    one = _cells(fit).assign(sex="male")
    with pytest.raises(FitError, match="one level"):
        fit.estimate("mrp", by="sex", cohort=_cohort(fit, one))


def _with_sex_modifier(fit, scale: float):
    """The hand fit with ``modifiers=("sex",)`` and hand-drawn zero-sum modifier terms."""
    return with_hand_modifier(fit, "sex", ["female", "male"], SEX == "male", scale=scale)


def test_mrp_gives_cells_their_modifier_terms():
    base = hand_posterior_fit()
    coh = _cohort(base)
    plain = base.estimate("mrp", by="sex", cohort=coh)
    zero = _with_sex_modifier(hand_posterior_fit(), 0.0).estimate("mrp", by="sex", cohort=coh)
    np.testing.assert_allclose(zero["mean"], plain["mean"], rtol=1e-12)
    mod = _with_sex_modifier(hand_posterior_fit(), 1.0)
    t = mod.estimate("mrp", by="sex", cohort=coh)
    d = t[(t["estimand"] == "subgroup_difference") & (t["modality"] == "")]
    d0 = plain[(plain["estimand"] == "subgroup_difference") & (plain["modality"] == "")]
    assert not np.allclose(d["mean"].to_numpy(), d0["mean"].to_numpy(), atol=1e-3)
    assert d["assumption"].str.contains("partially pooled").all()


def test_mrp_refuses_a_modifier_the_cells_lack():
    fit = _with_sex_modifier(hand_posterior_fit(), 1.0)
    cells = _cells(fit).groupby("modality", as_index=False)["count"].sum()
    with pytest.raises(CohortError, match="modifier 'sex' is not a population cell variable"):
        fit.estimate("mrp", cohort=_cohort(fit, cells))
    bad = _cells(fit).assign(sex=["male", "male", "other", "other"])
    with pytest.raises(CohortError, match=r"modifier 'sex' = \['other'\]"):
        fit.estimate("mrp", cohort=_cohort(fit, bad))


def test_mrp_with_a_modifier_equals_g_computation_when_effects_vanish():
    """Cells = the persons' (sex, modality) combinations and no person-effect spread: each
    cell's mean is its persons' mu, so MRP by sex equals g-computation by sex exactly, the
    modifier terms included."""
    fit = _with_sex_modifier(hand_posterior_fit(), 1.0)
    post = fit.tree["posterior"].to_dataset()
    post["sigma_person"] = post["sigma_person"] * 0.0
    fit.tree["posterior"] = fit.tree["posterior"].__class__(post)
    mods = np.array(fit.design.modality_labels)[fit.design.modality]
    cells = (pd.DataFrame({"sex": SEX, "modality": mods}).value_counts().rename("count")
             .reset_index().astype({"count": float}))
    coh = _cohort(fit, cells)
    m = fit.estimate("mrp", by="sex", cohort=coh)
    g = fit.estimate(by="sex", cohort=coh)
    key = ["estimand", "wave", "modality", "contrast", "subgroup"]
    both = m.merge(g, on=key, suffixes=("_mrp", "_g"))
    assert len(both) == len(g) == len(m)
    np.testing.assert_allclose(both["mean_mrp"], both["mean_g"], rtol=1e-10, atol=1e-12)
