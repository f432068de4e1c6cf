"""Structure, logp/gradient, errors and simulation of the change model (no sampling here)."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.families import FAMILIES
from dtors_bayes.testing import FAMILY_OUTCOME, FAST, TINY_OUTCOMES, tiny_cohort


@pytest.fixture(scope="module")
def cohort():
    return tiny_cohort(80, seed=3)


def test_every_family_is_covered():
    assert set(FAMILY_OUTCOME) == set(FAMILIES)
    assert set(FAMILY_OUTCOME.values()) <= set(TINY_OUTCOMES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("time", ["wave", "months"])
def test_logp_and_gradient_finite_at_initial_point(cohort, family, time):
    model = ChangeModel(FAMILY_OUTCOME[family], family, covariates=["age", "sex"], time=time)
    pm_model = model.build(cohort)
    ip = pm_model.initial_point()
    # FAST_COMPILE: the graph is the same; skipping C compilation keeps this test in ~1 s.
    # The logp terms are summed here: Python-mode Elemwise takes at most 32 operands, fewer
    # than the hurdles' (two parts x the hierarchical levels' terms and Jacobians).
    logp = sum(float(np.sum(t)) for t in
               pm_model.compile_logp(sum=False, **FAST)(ip))
    grad = pm_model.compile_dlogp(**FAST)(ip)
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad))
    assert np.any(grad != 0)


def test_structure_names_dims_coords(cohort):
    model = ChangeModel("crime", "bernoulli", covariates="age + sex + primary_drug",
                        random_change=("site",))
    m = model.build(cohort)
    names = {v.name for v in m.free_RVs}
    assert {"mu_time", "sigma_modality", "z_modality", "sigma_modality_time",
            "z_modality_time", "beta_covariate", "sigma_person", "z_person", "sigma_site",
            "z_site", "sigma_area", "z_area", "sigma_site_change", "z_site_change"} == names
    # the trajectory levels are a deterministic of the partially pooled parameters
    assert [v.name for v in m.deterministics] == ["beta_time"]
    dims = m.named_vars_to_dims
    assert dims["beta_time"] == ("modality", "time_basis")
    assert dims["mu_time"] == ("time_basis",)
    assert dims["z_person"] == ("person",)
    assert list(m.coords["time_basis"]) == ["wave_0", "wave_1", "wave_2"]
    assert list(m.coords["modality"]) == ["prescribing", "psychosocial", "residential"]
    # formula: sex and primary_drug dummies, age numeric
    assert len(m.coords["covariate"]) == 1 + 1 + 2
    assert len(m.coords["person"]) == cohort.n_persons
    n_obs = int((~np.isnan(cohort.matrix("crime"))).sum())
    assert m["y"].eval().shape == (n_obs,)


def test_constant_modality_effect_and_no_levels(cohort):
    m = ChangeModel("crime", modality_by_time=False, levels=(), time="linear").build(cohort)
    names = {v.name for v in m.free_RVs}
    assert "beta_modality" in names and "z_site" not in names and "z_area" not in names
    assert "mu_time" in names and "sigma_modality" not in names
    assert list(m.coords["time_basis"]) == ["month_0", "month_12"]


def test_months_basis_interpolates_between_knots(cohort):
    model = ChangeModel("crime", time="months")
    design = model.design(cohort)
    basis = model.basis(design)
    assert basis.names == ["month_0", "month_4", "month_12"]
    rows = basis.matrix(np.array([0, 1, 1, 2, 2]), np.array([0.0, 4.0, 8.0, 12.0, 14.0]))
    # at a knot the coefficient is the level; between knots linear; beyond the last, extended
    np.testing.assert_allclose(rows, [[1, 0, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1],
                                      [0, -0.25, 1.25]])
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)


def test_hurdle_has_two_predictors(cohort):
    m = ChangeModel("spend", "hurdle_lognormal").build(cohort)
    names = {v.name for v in m.observed_RVs}
    assert names == {"y_nonzero", "y_positive"}
    assert {"pos_mu_time", "pos_sigma_modality"} <= {v.name for v in m.free_RVs}
    assert {v.name for v in m.deterministics} == {"beta_time", "pos_beta_time"}


def test_ancova_models_followups_only(cohort):
    model = ChangeModel("mental_health", "gaussian", baseline="covariate")
    d = model.design(cohort)
    assert d.waves == [1, 2]
    assert d.covariate_names[-1] == "baseline_mental_health"
    assert d.baseline_values is not None and not np.isnan(d.baseline_values).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"outcome": "crime", "family": "poisson"}, "unknown family|family='poisson'"),
        ({"outcome": "not_there"}, "outcome 'not_there' is not an outcome"),
        ({"outcome": "mental_health", "family": "bernoulli"}, "does not fit outcome"),
        ({"outcome": "crime", "time": "weekly"}, "time='weekly'"),
        ({"outcome": "crime", "levels": ("clinic",)}, "levels"),
        ({"outcome": "crime", "covariates": ["income"]}, r"covariates \['income'\]"),
        ({"outcome": "crime", "random_change": ("site",), "levels": ("area",)}, "random_change"),
        ({"outcome": "crime", "priors": {"sigma_personn": 1.0}}, "unknown name 'sigma_personn'"),
    ],
)
def test_clear_errors(cohort, kwargs, match):
    with pytest.raises(ModelError, match=match):
        ChangeModel(**kwargs).build(cohort)


def test_level_missing_from_cohort_is_an_error():
    from dtors_bayes.data.cohort import Cohort
    from dtors_bayes.testing import tiny_frames

    persons, interviews = tiny_frames(40, seed=1)
    c = Cohort.from_frames(persons.drop(columns=["site_id", "area_id"]), interviews,
                           outcomes={"crime": "bernoulli"})
    with pytest.raises(ModelError, match="no site_id column"):
        ChangeModel("crime").build(c)
    # and with levels=() it builds, with no site or area effects
    names = {v.name for v in ChangeModel("crime", levels=()).build(c).free_RVs}
    assert "z_person" in names and not names & {"z_site", "sigma_site", "z_area", "sigma_area"}


def test_print_shows_math_and_priors(cohort):
    text = str(ChangeModel("mental_health", "gaussian", priors={"sigma_person": 3.0}))
    assert "eta =" in text and "identity" in text and "sigma_person" in text
    assert "mu_time[b] ~ N(m_b, 2.5 sd_y)" in text and "m_t = ybar_t" in text
    assert "sigma_modality_time" in text


def test_user_prior_override_reaches_the_graph(cohort):
    m = ChangeModel("crime", priors={"sigma_person": 0.1}).build(cohort)
    # HalfNormal(0.1): logp at 1.0 is far below HalfNormal(1)'s
    import pymc as pm

    lp = pm.logp(m.rvs_to_values and m["sigma_person"], 1.0).eval()
    assert lp < -40


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_simulate_respects_support_and_shape(cohort, family):
    model = ChangeModel(FAMILY_OUTCOME[family], family, covariates=["age"])
    design = model.design(cohort)
    pm_model = model.build(design)
    import pymc as pm

    prior = pm.draw([pm_model[v.name] for v in pm_model.free_RVs], random_seed=1)
    params = {v.name: val for v, val in zip(pm_model.free_RVs, prior, strict=True)}
    y = model.simulate(design, params, seed=2)
    assert y.shape == design.y.shape
    assert not FAMILIES[family].invalid(y, design.trials).any()
