"""Compile once, sample on new data: lifting keeps the log density, the signature tells
structures apart, and a reused compilation gives the draws a fresh one gives."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from dtors_bayes import ChangeModel, Selection
from dtors_bayes.models import compiled
from dtors_bayes.models.sampling import sample_model
from dtors_bayes.testing import tiny_cohort

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
FAST = {"draws": 60, "tune": 60, "chains": 2, "cores": 1, "progressbar": False}


def _relabelled(cohort, offset: int):
    """The same cohort with every person id moved by ``offset`` (other coordinates)."""
    from dtors_bayes.data.cohort import Cohort

    p, i = cohort.persons.copy(), cohort.interviews.copy()
    p["person_id"] += offset
    i["person_id"] += offset
    return Cohort.from_frames(p, i, outcomes=dict(cohort.outcomes))


@pytest.mark.parametrize("outcome, family, kwargs", [
    ("crime", "bernoulli", {"levels": ("site", "area")}),
    ("crime", "bernoulli", {"attrition": Selection(), "time": "wave"}),
    ("crime", "bernoulli", {"person_effect": "quadrature", "time": "wave"}),
    ("eq5d", "eq5d", {"levels": ("site",)}),
    ("mental_health", "gaussian", {"covariates": ["age", "sex"]}),
])
def test_lifting_keeps_the_log_density(outcome, family, kwargs):
    """The lifted model's log density and gradient equal the original's at a point away
    from the initial one (every data array enters the density, so a lifted array that
    lost its values, its dtype or its broadcasting would show)."""
    model = ChangeModel(outcome, family, **kwargs).build(tiny_cohort(60, seed=1))
    lifted = compiled.lift_constants(model)
    assert lifted.shared and lifted.cacheable
    rng = np.random.default_rng(0)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    for m in (model, lifted.model):
        assert set(m.initial_point()) == set(point)
    lp0, lp1 = model.compile_logp()(point), lifted.model.compile_logp()(point)
    np.testing.assert_allclose(lp1, lp0, rtol=1e-10)
    names = sorted(v.name for v in model.free_RVs)  # the same order in both models
    g0, g1 = (m.compile_dlogp(vars=[m[n] for n in names])(point)
              for m in (model, lifted.model))
    np.testing.assert_allclose(g1, g0, rtol=1e-9, atol=1e-10)


def test_signature_tells_structures_apart():
    """Same options and sizes on other data: one signature. One more person, or another
    covariate set: another."""
    m = ChangeModel("crime", "bernoulli", levels=("site", "area"))
    sig = [compiled.lift_constants(m.build(tiny_cohort(80, seed=s))).signature for s in (1, 2)]
    assert sig[0] == sig[1]
    assert compiled.lift_constants(m.build(tiny_cohort(81, seed=1))).signature != sig[0]
    other = ChangeModel("crime", "bernoulli", levels=("site", "area"), covariates=["age"])
    assert compiled.lift_constants(other.build(tiny_cohort(80, seed=1))).signature != sig[0]


def test_deterministic_of_data_is_not_cached():
    """A deterministic computed from the data could change shape with it, while nutpie fixes
    every stored variable's shape at compile time: such a model is compiled every time."""
    with pm.Model() as model:
        a = pm.Normal("a")
        pm.Deterministic("scaled", a * np.arange(5.0))
        pm.Normal("y", a, 1.0, observed=np.arange(3.0))
    assert not compiled.lift_constants(model).cacheable
    with pm.Model() as plain:
        a = pm.Normal("a", mu=np.zeros(2), shape=2)
        pm.Deterministic("total", a.sum())
        pm.Normal("y", a.sum(), 1.0, observed=np.arange(3.0))
    assert compiled.lift_constants(plain).cacheable


@pytest.mark.integration
def test_reused_compilation_gives_the_fresh_draws(monkeypatch):
    """The second cohort of the same structure finds the first one's compiled model; its
    draws are bitwise those of a fresh compilation, labelled with its own person ids. With
    reuse off (argument or environment) ``pm.sample`` runs and the cache is not touched."""
    m = ChangeModel("crime", "bernoulli", time="wave")
    a = tiny_cohort(60, seed=1)
    b = _relabelled(tiny_cohort(60, seed=2), 1000)
    compiled.clear_cache()
    m.fit(a, random_seed=5, **FAST)
    reused = m.fit(b, random_seed=5, **FAST)
    assert compiled.cache_info() == {"hits": 1, "misses": 1, "uncacheable": 0, "size": 1}
    compiled.clear_cache()
    fresh = m.fit(b, random_seed=5, **FAST)
    assert compiled.cache_info()["misses"] == 1
    for name in ("mu_time", "sigma_person", "z_person", "beta_time"):
        np.testing.assert_array_equal(reused.posterior[name].values,
                                      fresh.posterior[name].values)
    ids = [str(x) for x in b.persons["person_id"]]
    assert [str(x) for x in reused.posterior["z_person"].coords["person"].values] == ids
    np.testing.assert_array_equal(reused.tree["observed_data"]["y"].values,
                                  fresh.tree["observed_data"]["y"].values)
    before = compiled.cache_info()
    tree, _ = sample_model(m.build(b), random_seed=5, reuse_compiled=False, **FAST)
    monkeypatch.setenv("DTORS_REUSE_COMPILED", "0")
    sample_model(m.build(a), random_seed=5, **FAST)
    assert compiled.cache_info() == before
    assert tree["posterior"]["z_person"].shape == fresh.posterior["z_person"].shape
