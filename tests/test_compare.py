"""Model comparison on tiny real fits: LOO, grouped LOO, K-fold by group, PPC."""

from __future__ import annotations

import numpy as np
import pytest

import dtors_bayes as db

# (db.compare is the function; the submodule's names are imported from it directly)
from dtors_bayes.comparison.compare import MAR_MNAR_NOTE, compare
from dtors_bayes.comparison.kfold import kfold_by_group
from dtors_bayes.comparison.loo import loo
from dtors_bayes.comparison.ppc import posterior_predictive_check
from dtors_bayes.models.sampling import pointwise_log_likelihood
from dtors_bayes.testing import TINY_SAMPLER, tiny_cohort

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fits():
    c = tiny_cohort(90, seed=8)
    with pytest.warns(UserWarning):  # tiny draws: convergence warnings are expected
        a = db.ChangeModel("crime", time="wave").fit(c, random_seed=1, **TINY_SAMPLER)
        b = db.ChangeModel("crime", time="months", levels=()).fit(c, random_seed=2,
                                                                 **TINY_SAMPLER)
    return {"wave_site_area": a, "months_no_levels": b}


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

    fit = fits["wave_site_area"]
    ll = pointwise_log_likelihood(fit).values.reshape(-1, int((~np.isnan(fit.design.y)).sum()))
    d = fit.design
    p_idx, t_idx = d.observed_cells()
    params, _, _ = stack_draws(fit.tree)
    eta = linear_predictor(params, d.cells(fit.model.basis(d), p_idx, t_idx,
                                           d.months[p_idx, t_idx]))
    y = d.y[p_idx, t_idx]
    expect = np.where(y == 1, np.log(expit(eta)), np.log1p(-expit(eta)))
    np.testing.assert_allclose(ll, expect, rtol=1e-6, atol=1e-8)


def test_grouped_loo_has_one_point_per_group(fits):
    fit = fits["wave_site_area"]
    res = loo(fit, group="area")
    assert np.asarray(res.pareto_k).size == len(np.unique(fit.design.area))
    full = loo(fit)
    assert np.asarray(full.pareto_k).size == int((~np.isnan(fit.design.y)).sum())


def test_kfold_by_group_scores_every_cell(fits):
    out = kfold_by_group(fits["months_no_levels"], group="area", k=2, draws=40, tune=40)
    assert np.isfinite(out["pointwise"]).all()
    assert out["elpd"] < 0 and out["n_groups"] == 4


def test_ppc_observed_means_are_the_data(fits):
    fit = fits["wave_site_area"]
    tab = posterior_predictive_check(fit, by="wave", n_draws=50)
    observed = np.nanmean(fit.design.y, axis=0)
    np.testing.assert_allclose(tab["observed"], observed)
    assert ((tab.ppp >= 0) & (tab.ppp <= 1)).all()
    assert (tab.replicated_lb <= tab.replicated_ub).all()
    assert len(posterior_predictive_check(fit, by="site")) == len(np.unique(
        fit.design.site[fit.design.observed_cells()[0]]))


def test_compare_errors(fits):
    with pytest.raises(db.FitError, match="two or more"):
        compare({"a": fits["wave_site_area"]})
    with pytest.raises(db.FitError, match="by='week'"):
        posterior_predictive_check(fits["wave_site_area"], by="week")


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
