"""Integration tier (samples, small): propensity fit flags a positivity violation;
benchmarking refits; the sensitivity analysis on a real fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.causal.confounding import benchmark_confounders, confounding_grid
from dtors_bayes.causal.evalues import evalues
from dtors_bayes.causal.overlap import flag_extrapolation, overlap
from dtors_bayes.data.cohort import Cohort
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.propensity import PropensityModel
from dtors_bayes.testing import TINY_OUTCOMES, TINY_SAMPLER, tiny_cohort, tiny_frames

pytestmark = pytest.mark.integration
SAMPLER = {"draws": 200, "tune": 300, "chains": 2, "progressbar": False, "cores": 1}


def test_propensity_fit_flags_simulated_positivity_violation():
    persons, interviews = tiny_frames(300, seed=4)
    rng = np.random.default_rng(4)
    crack = persons["primary_drug"] == "crack"
    # crack users are never offered residential (a structural positivity violation)
    persons.loc[crack, "modality"] = rng.choice(["prescribing", "psychosocial"], crack.sum())
    cohort = Cohort.from_frames(persons, interviews, outcomes=dict(TINY_OUTCOMES))
    pfit = PropensityModel(covariates=["primary_drug", "age"], levels=("site",)).fit(
        cohort, random_seed=3, **SAMPLER)
    res = overlap(pfit, threshold=0.1)
    pi = res.propensities
    k = res.labels.index("residential")
    c = crack.to_numpy()
    assert pi[c, k].mean() < 0.1 < pi[~c, k].mean()
    below = res.below.set_index("modality")["share_below"]
    assert below["residential"] >= 0.8 * c.mean()
    assert below["prescribing"] < 0.05
    fit = ChangeModel("crime", covariates=["primary_drug", "age"], levels=()).fit(
        cohort, random_seed=5, **SAMPLER)
    est = flag_extrapolation(fit.estimate(contrasts="pairs"), res, max_share=0.1)
    con = est[est["estimand"] == "modality_contrast"].set_index("contrast")
    assert bool(con.loc["prescribing - residential", "extrapolation"].all())
    assert not bool(con.loc["prescribing - psychosocial", "extrapolation"].any())
    assert not est.loc[est["estimand"] == "level", "extrapolation"].any()
    # person-level propensities as shares of the confounding function
    shares = pfit.aligned(fit.design.person_ids)
    grid = confounding_grid(fit, {"residential": -1.0}, np.array([0.0, 0.05]), shares=shares)
    assert grid["mean"].notna().all()


def test_sensitivity_and_evalues_on_a_real_fit(tiny_fit):
    est = tiny_fit.estimate(contrasts="pairs")
    con = est[(est.estimand == "modality_contrast") & (est.wave == 2)].set_index("contrast")
    grid = confounding_grid(tiny_fit, {"residential": -1.0}, np.array([0.0, 0.1]))
    at0 = grid[grid.strength == 0.0].set_index("contrast")
    for c in at0.index:
        assert at0.loc[c, "mean"] == pytest.approx(con.loc[c, "mean"], rel=1e-9, abs=1e-12)
    ev = evalues(tiny_fit)
    assert (ev["evalue"] >= 1).all() and (ev["evalue_ci"] <= ev["evalue"] + 1e-12).all()


def test_benchmark_confounders_refits_without_each_block():
    cohort = tiny_cohort(100, seed=5)
    model = ChangeModel("crime", covariates=["age", "sex", "primary_drug"], levels=())
    table = benchmark_confounders(model, cohort, {"drug": ["primary_drug"], "sex": ["sex"]},
                                  random_seed=2, **{**TINY_SAMPLER, "cores": 1})
    assert set(table["block"]) == {"drug", "sex"}
    assert np.isfinite(table["shift"]).all()
    assert isinstance(table, pd.DataFrame) and (table["wave"] == 2).all()
    assert np.allclose(table["shift"], table["reduced_mean"] - table["full_mean"])
