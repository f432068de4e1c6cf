"""SBC of the selection model: template design, joint prior simulation, one tiny run."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import warnings

import numpy as np
import pytest

from dtors_bayes.models.response import is_monotone, response_layout
from dtors_bayes.models.selection import Selection
from dtors_bayes.studies.sbc import sbc_study
from dtors_bayes.studies.sbc_design import (
    _design_for,
    _free_names,
    _scalar_quantities,
    ranked_names,
    selection_template,
    simulate_dataset,
)

N_PERSONS = 60
MODEL_JSON = json.dumps({"time": "wave"}, sort_keys=True)


@pytest.fixture(scope="module")
def selection_sbc():
    """The 60-person selection SBC design, its model and the prior model built on it."""
    model, design = _design_for("bernoulli", N_PERSONS, 1, MODEL_JSON, (0.0, 1.0))
    return model, design, model.build(design)


def test_template_has_no_late_stage_item_missing_value_or_intermittent_pattern(selection_sbc):
    model, design, _ = selection_sbc
    assert isinstance(model.attrition, Selection) and model.time == "wave"
    assert design.late is None and design.interviewed[:, 0].all()
    assert is_monotone(design.interviewed)
    np.testing.assert_array_equal(np.isnan(design.y), ~design.interviewed)
    layout = response_layout(design, "bernoulli")
    assert layout.stage_labels == ["1", "2"] and not layout.prev_missing.any()
    # frozen centres: one per stage, the logit of the template's response rates
    loc = model.attrition.response.intercept_loc
    rates = [layout.r[layout.stage == k].mean() for k in range(2)]
    np.testing.assert_allclose(loc, np.log(np.divide(rates, np.subtract(1, rates))))


def test_template_fills_item_missing_values_and_drops_late_flags():
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.testing import tiny_cohort

    m = ChangeModel("crime", "bernoulli")
    d = m.design(tiny_cohort(40, seed=2))
    y = d.y.copy()
    y[0, 0] = np.nan  # an item-missing intake value
    t = selection_template(dataclasses.replace(d, y=y))
    assert not np.isnan(t.y[:, 0]).any() and t.y[0, 0] in (0.0, 1.0)
    assert t.late is None and is_monotone(t.interviewed)
    assert (t.months == np.array([t.schedule[w] for w in t.waves])).all()


def test_prior_and_refit_models_have_the_same_free_variables_and_monotone_masks(selection_sbc):
    model, design, prior_model = selection_sbc
    names = _free_names(prior_model)
    assert {"kappa", "r_intercept", "r_rho_prev"} <= names
    assert "r_rho_prev_missing" not in names
    for i in range(3):
        truth, sim = simulate_dataset(model, design, prior_model, prior_seed=i,
                                      data_seed=100 + i, mask_seed=200 + i)
        assert {"kappa", "r_intercept", "beta_time"} <= set(truth)
        assert is_monotone(sim.interviewed) and sim.interviewed[:, 0].all()
        np.testing.assert_array_equal(np.isnan(sim.y), ~sim.interviewed)
        assert not np.array_equal(sim.interviewed, design.interviewed)  # drawn, not copied
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert _free_names(model.build(sim)) == names
    # the mask depends on its own seed only
    _, a = simulate_dataset(model, design, prior_model, prior_seed=0, data_seed=1, mask_seed=2)
    _, b = simulate_dataset(model, design, prior_model, prior_seed=0, data_seed=1, mask_seed=2)
    _, c = simulate_dataset(model, design, prior_model, prior_seed=0, data_seed=1, mask_seed=3)
    np.testing.assert_array_equal(a.interviewed, b.interviewed)
    assert not np.array_equal(a.interviewed, c.interviewed)


def test_ranked_quantities_include_kappa_and_response_scalars_not_offsets(selection_sbc):
    model, design, prior_model = selection_sbc
    truth, _ = simulate_dataset(model, design, prior_model, prior_seed=0, data_seed=1,
                                mask_seed=2)
    names = ranked_names(model, design, truth)
    assert "kappa" in names and not any(n.startswith(("r_z_", "z_")) for n in names)
    coords = {"r_wave": ["1", "2"], "modality": design.modality_labels,
              "time_basis": model.basis(design).names}
    dims = {k: tuple(d) for k, d in prior_model.named_vars_to_dims.items()}
    q = _scalar_quantities(model, design, {k: v[None] for k, v in truth.items()}, coords, dims)
    assert {"kappa", "r_rho_prev", "r_intercept[1]", "r_intercept[2]", "mu_time[wave_2]",
            "level_last_wave"} <= set(q)


def test_selection_options_are_validated():
    with pytest.raises(ValueError, match="no selection model"):
        sbc_study("negative_binomial", 1, selection_kappa=(0, 1), only_cached=True)
    with pytest.raises(ValueError, match="time='wave'"):
        sbc_study("bernoulli", 1, selection_kappa=(0, 1), model_kwargs={"time": "months"},
                  only_cached=True)
    with pytest.raises(ValueError, match="sd > 0"):
        sbc_study("bernoulli", 1, selection_kappa=(0, 0), only_cached=True)


@pytest.mark.integration
def test_tiny_selection_sbc_ranks_kappa(tmp_path):
    backend = "jax" if importlib.util.find_spec("jax") else "numba"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sbc_study("bernoulli", 2, n_persons=N_PERSONS, draws=60, tune=60, chains=2,
                        backend=backend, selection_kappa=(0.0, 1.0), scheduler="sync",
                        cache_dir=tmp_path / "cache", progress=False)
    assert res.failures == [] and res.n_computed == 2
    r = res.ranks
    k = r[r["quantity"] == "kappa"]
    assert sorted(k["sim"]) == [0, 1]
    assert ((k["rank"] >= 0) & (k["rank"] <= k["n_ranked"])).all()
    assert k["pit"].between(0, 1).all() and k["r_hat"].notna().all()
    assert {"r_intercept[1]", "r_intercept[2]", "r_rho_prev", "level_last_wave"} <= \
        set(r["quantity"])
    s = res.summary().set_index("quantity")
    assert s.loc["kappa", "n_sims"] == 2 and 0 <= s.loc["kappa", "share_divergent"] <= 1
    paths = res.write(tmp_path / "out")
    assert paths[0].name == "bernoulli_selection_ranks.csv"
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
