"""Model comparison on tiny real fits: LOO, grouped LOO, K-fold by group, PPC."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dtors_bayes as db

# (db.compare is the function; the submodule's names are imported from it directly)
from dtors_bayes.comparison.compare import MAR_MNAR_NOTE, compare
from dtors_bayes.comparison.kfold import kfold_by_group
from dtors_bayes.comparison.loo import loo
from dtors_bayes.comparison.ppc import posterior_predictive_check
from dtors_bayes.models.sampling import pointwise_log_likelihood
from dtors_bayes.testing import TINY_SAMPLER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fits(tiny_fit, tiny_fit_cohort):
    """The shared tiny fit (covariates, site and area levels) and one without levels or
    covariates on the same cohort."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny draws: convergence warnings
        b = db.ChangeModel("crime", time="months", levels=()).fit(
            tiny_fit_cohort, random_seed=2, **TINY_SAMPLER)
    return {"site_area": tiny_fit, "months_no_levels": b}


def test_loo_comparison_table_and_note(fits):
    res = compare(fits)
    assert set(res.table.index) == set(fits)
    assert res.table["weight"].sum() == pytest.approx(1.0, abs=1e-6)
    assert (res.table["attrition"] == "mar").all()
    assert MAR_MNAR_NOTE in res.notes
    assert "cannot be ranked" in str(res)


def test_pointwise_log_likelihood_matches_bernoulli_formula(fits):
    from scipy.special import expit

    from dtors_bayes.models.predictor import linear_predictor
    from dtors_bayes.models.sampling import stack_draws

    fit = fits["site_area"]
    ll = pointwise_log_likelihood(fit).values.reshape(-1, int((~np.isnan(fit.design.y)).sum()))
    d = fit.design
    p_idx, t_idx = d.observed_cells()
    params, _, _ = stack_draws(fit.tree)
    eta = linear_predictor(params, d.cells(fit.model.basis(d), p_idx, t_idx,
                                           d.months[p_idx, t_idx]))
    y = d.y[p_idx, t_idx]
    expect = np.where(y == 1, np.log(expit(eta)), np.log1p(-expit(eta)))
    np.testing.assert_allclose(ll, expect, rtol=1e-6, atol=1e-8)


def test_grouped_loo_sums_each_groups_cells(fits):
    """Leave-one-area-out scores the sum of each area's cells: PSIS-LOO's elpd + p_loo is
    the in-sample lppd, here sum_G log mean_s exp(sum_{cells in G} log p), by hand."""
    from scipy.special import logsumexp

    fit = fits["site_area"]
    d = fit.design
    res = loo(fit, group="area")
    areas = d.area[d.observed_cells()[0]]
    assert np.asarray(res.pareto_k).size == len(np.unique(areas)) == res.n_data_points
    ll = pointwise_log_likelihood(fit).values.reshape(-1, areas.size)
    by_area = np.stack([ll[:, areas == a].sum(axis=1) for a in np.unique(areas)], axis=1)
    lppd = float((logsumexp(by_area, axis=0) - np.log(ll.shape[0])).sum())
    assert res.elpd + res.p == pytest.approx(lppd, rel=1e-10)
    full = loo(fit)
    assert np.asarray(full.pareto_k).size == int((~np.isnan(d.y)).sum())
    assert full.elpd + full.p == pytest.approx(
        float((logsumexp(ll, axis=0) - np.log(ll.shape[0])).sum()), rel=1e-10)


def test_kfold_by_group_scores_held_out_groups_with_the_fits_that_excluded_them(
        fits, monkeypatch):
    """Each refit sees every observed cell but its fold's areas; each held-out cell is
    scored by log mean_s p(y | theta_s) under the refit that did not see it."""
    from scipy.special import logsumexp

    from dtors_bayes.comparison.loo import _group_codes
    from dtors_bayes.models import sampling
    from dtors_bayes.models.fit import Fit

    fit = fits["months_no_levels"]
    d = fit.design
    refits = []
    real = sampling.sample_model

    def spy(model, **kwargs):
        tree, seconds = real(model, **kwargs)
        refits.append((model["y"].eval().size, tree))
        return tree, seconds

    monkeypatch.setattr(sampling, "sample_model", spy)
    out = kfold_by_group(fit, group="area", k=2, draws=40, tune=40, seed=0)
    assert out["n_groups"] == 4 and out["k"] == 2
    codes = _group_codes(fit, "area")
    uniq = np.unique(codes)
    fold = np.random.default_rng(0).permutation(np.arange(uniq.size) % 2)[
        np.searchsorted(uniq, codes)]
    assert len(refits) == 2
    for f, (n_seen, tree) in enumerate(refits):
        held = fold == f
        assert n_seen == (~held).sum()  # the refit saw every cell but the held-out ones
        ll = pointwise_log_likelihood(Fit(fit.model, d, tree, {})).values.reshape(-1, held.size)
        want = logsumexp(ll[:, held], axis=0) - np.log(ll.shape[0])
        np.testing.assert_allclose(out["pointwise"][held], want, rtol=1e-10)
    assert out["elpd"] == pytest.approx(out["pointwise"].sum(), rel=1e-12)


def test_ppc_observed_means_are_the_data(fits):
    """The observed group means are the data's; a model with a level per wave reproduces
    its waves' means, so each lies inside its 90% replicated interval and its ppp is not
    extreme (fixed seeds: deterministic)."""
    fit = fits["site_area"]
    tab = posterior_predictive_check(fit, by="wave", n_draws=50)
    observed = np.nanmean(fit.design.y, axis=0)
    np.testing.assert_allclose(tab["observed"], observed)
    assert (tab.n == (~np.isnan(fit.design.y)).sum(axis=0)).all()
    assert ((tab.replicated_lb <= tab.observed) & (tab.observed <= tab.replicated_ub)).all()
    assert ((tab.ppp > 0.05) & (tab.ppp < 0.95)).all()
    assert (abs(tab.replicated_mean - tab.observed) < 0.1).all()
    assert len(posterior_predictive_check(fit, by="site")) == len(np.unique(
        fit.design.site[fit.design.observed_cells()[0]]))


def test_compare_errors(fits):
    with pytest.raises(db.FitError, match="two or more"):
        compare({"a": fits["site_area"]})
    with pytest.raises(db.FitError, match="by='week'"):
        posterior_predictive_check(fits["site_area"], by="week")


def test_compare_command_line(fits, tmp_path):
    from dtors_bayes.workflow.cli import main

    paths = []
    for name, fit in fits.items():
        paths.append(str(fit.save(tmp_path / f"{name}.nc")))
    out = tmp_path / "cmp.csv"
    assert main(["compare", *paths, "--ppc", "wave", "--out", str(out)]) == 0
    import pandas as pd

    table = pd.read_csv(out)
    assert set(table["model"]) == set(fits)
    assert main(["compare", paths[0]]) == 1  # one fit: a one-line error, exit 1
