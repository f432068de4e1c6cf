"""A small real fit through the whole path: sample, diagnose, estimate, save, load."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dtors_bayes as db
from dtors_bayes.constants import TARGET_ACCEPT
from dtors_bayes.exceptions import FitError
from dtors_bayes.testing import TINY_SAMPLER, tiny_cohort, tiny_frames

integration = pytest.mark.integration


@pytest.fixture(scope="module")
def cohort(tiny_fit_cohort):
    return tiny_fit_cohort


@pytest.fixture(scope="module")
def fitted(tiny_fit_run):
    """The shared tiny fit (tests/conftest.py) and the UserWarnings its fitting raised."""
    return tiny_fit_run.fit, tiny_fit_run.warnings


@integration
def test_tree_groups_and_provenance(fitted, cohort):
    fit, _ = fitted
    assert {"posterior", "sample_stats", "constant_data"} <= set(fit.tree.children)
    post = fit.posterior
    assert post.sizes["chain"] == TINY_SAMPLER["chains"]
    assert post.sizes["draw"] == TINY_SAMPLER["draws"]
    assert post["z_person"].dims == ("chain", "draw", "person")
    prov = json.loads(fit.tree.attrs["provenance"])
    assert prov["data_hash"] == cohort.data_hash()
    assert prov["sampler"]["random_seed"] == 11
    # no target_accept given: the package default (0.9, not nutpie's 0.8) is used and recorded
    assert prov["sampler"]["target_accept"] == TARGET_ACCEPT == 0.9
    assert prov["versions"]["pymc"].startswith("6.")
    assert prov["n_persons_model"] == cohort.n_persons
    assert prov["n_observed"] == int((~np.isnan(cohort.matrix("crime"))).sum())


@integration
def test_sampler_trouble_is_warned_and_tabled(fitted):
    fit, messages = fitted
    table = fit.diagnostics()
    assert list(table.columns) == ["check", "variable", "value", "threshold", "ok", "detail"]
    assert {"divergences", "r_hat", "ess_bulk", "ess_tail", "bfmi"} <= set(table.check)
    problems = fit.problems()
    # 2 chains x 60 draws cannot pass the ESS thresholds: there is something to compare
    assert problems and not table.ok.all()
    # every failed check produced exactly one warning naming the outcome
    assert len(problems) == int((~table.ok).sum())
    assert sorted(m for m in messages if m.startswith("crime:")) == sorted(
        f"crime: {p}" for p in problems)


@integration
def test_save_load_round_trip_loses_nothing(fitted, cohort, tmp_path):
    fit, _ = fitted
    est = fit.estimate(contrasts="pairs")
    path = fit.save(tmp_path / "crime.nc")
    loaded = db.load_fit(path, cohort=cohort)
    assert not loaded.data_hash_mismatch
    assert loaded.model.spec() == fit.model.spec()
    assert loaded.provenance == json.loads(json.dumps(fit.provenance, default=str))
    np.testing.assert_array_equal(loaded.posterior["beta_time"].values,
                                  fit.posterior["beta_time"].values)
    est2 = loaded.estimate(contrasts="pairs")
    np.testing.assert_allclose(est2["mean"].to_numpy(), est["mean"].to_numpy(), rtol=0, atol=0)
    np.testing.assert_array_equal(est2["estimand"].to_numpy(), est["estimand"].to_numpy())


@integration
def test_mismatched_data_hash_is_reported(fitted, tmp_path):
    fit, _ = fitted
    path = fit.save(tmp_path / "crime.nc")
    other = tiny_cohort(100, seed=6)
    with pytest.warns(UserWarning, match="data hash mismatch"):
        loaded = db.load_fit(path, cohort=other)
    assert loaded.data_hash_mismatch
    with pytest.raises(db.FitError, match="data hash mismatch"):
        db.load_fit(path, cohort=other, strict=True)


def test_load_errors(tmp_path):
    with pytest.raises(db.FitError, match="no fit at"):
        db.load_fit(tmp_path / "nope.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(db.FitError, match="not a readable dtors_bayes fit"):
        db.load_fit(bad)


@integration
def test_estimates_are_plausible(fitted, cohort):
    """Weak checks with stated tolerances: the intake level is close to the observed mean.

    Intake is fully observed, so the model-based level at intake must be within a few
    posterior sds of the observed proportion; 0.1 absolute is generous for n=100, and the
    90% interval of the level must cover it (a fixed seed: deterministic).
    """
    fit, _ = fitted
    est = fit.estimate()
    intake = est[(est.estimand == "level") & (est.wave == 0)].iloc[0]
    observed = np.nanmean(cohort.matrix("crime")[:, 0])
    assert abs(intake["mean"] - observed) < 0.1
    assert intake["ci_lb"] <= observed <= intake["ci_ub"]
    assert 0 < intake["ci_ub"] - intake["ci_lb"] < 0.5


@integration
def test_cohort_without_sites_or_modality_fits():
    persons, interviews = tiny_frames(60, seed=2)
    persons = persons.drop(columns=["site_id", "area_id", "modality"])
    c = db.Cohort.from_frames(persons, interviews, outcomes={"mental_health": "gaussian"})
    fit = db.ChangeModel("mental_health", "gaussian", levels=()).fit(c, random_seed=1,
                                                                     **TINY_SAMPLER)
    est = fit.estimate()
    assert set(est.estimand) == {"level", "change", "ratio"}


def test_sampler_backend_errors_name_the_argument():
    import importlib.util

    import pymc as pm

    from dtors_bayes.models.sampling import sample_model

    with pm.Model() as m:
        pm.Normal("x")
    with pytest.raises(FitError, match="backend='cuda'; allowed: 'numba', 'jax'"):
        sample_model(m, draws=5, tune=5, chains=1, random_seed=0, backend="cuda")
    with pytest.raises(FitError, match="selects nutpie's compiler; sampler='pymc'"):
        sample_model(m, draws=5, tune=5, chains=1, random_seed=0, sampler="pymc",
                     backend="jax")
    if importlib.util.find_spec("jax") is None:
        with pytest.raises(FitError, match=r"pip install -e '\.\[jax\]'"):
            sample_model(m, draws=5, tune=5, chains=1, random_seed=0, backend="jax")
