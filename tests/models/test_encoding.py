"""The one covariate encoder (models/encoding.py): names matched by name, new rows encoded as
the fit's persons, unseen levels and missing values, JSON round trip; MRP with age_group on
a hand-built posterior (no sampling)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dtors_bayes.exceptions import CohortError, ModelError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.design import Design, build_design
from dtors_bayes.models.encoding import CovariateEncoding, covariate_variables
from dtors_bayes.models.fit import Fit
from dtors_bayes.testing import tiny_cohort
from dtors_bayes.weighting import mrp
from dtors_bayes.weighting.response import response_design

N_CHAIN, N_DRAW = 2, 20


@pytest.fixture(scope="module")
def cohort():
    return tiny_cohort(160, seed=4)


def _design(cohort, covariates):
    return build_design(cohort, outcome="crime", family="bernoulli", covariates=covariates,
                        baseline="outcome", levels=())


def _formulae_standardised(rhs, frame):
    """The matrix before the encoder: formulae's columns (no intercept), centred, columns
    with more than two values scaled to sd 1."""
    from formulae import design_matrices

    common = design_matrices(rhs, frame.reset_index(drop=True), na_action="error").common
    names = [n for t in common.terms.values() for n in t.labels]
    keep = [i for i, n in enumerate(names) if n != "Intercept"]
    X = np.asarray(common.design_matrix, float)[:, keep]
    X = X - X.mean(axis=0)
    for j in range(X.shape[1]):
        if np.unique(X[:, j]).size > 2 and X[:, j].std() > 0:
            X[:, j] = X[:, j] / X[:, j].std()
    return X, [names[i] for i in keep]


# ---------------------------------------------------------------- names, not substrings
def test_formula_variables_are_matched_by_name():
    cols = ["person_id", "age", "age_group", "sex", "sexuality"]
    assert covariate_variables("age_group + sex", cols) == ["age_group", "sex"]
    assert covariate_variables("~ age + age_group", cols) == ["age", "age_group"]
    assert covariate_variables(["age_group"], cols) == ["age_group"]
    assert covariate_variables(None, cols) == [] == covariate_variables([], cols)


@pytest.mark.parametrize("covariates", [["age_group", "sex"], "age_group + sex"])
def test_age_group_without_age(cohort, covariates):
    """``age`` is a substring of ``age_group``: the old match (``c in rhs``) took it in, so a
    person with an unknown age (but a known age group) was excluded from a model that does
    not use age, and the exclusion named it."""
    persons = cohort.persons
    saved = persons["age"].copy()
    persons.loc[persons.index[:5], "age"] = np.nan  # age unknown, age group recorded
    try:
        d = _design(cohort, covariates)
    finally:
        persons["age"] = saved
    assert d.n_person == cohort.n_persons  # nobody excluded
    assert d.exclusions.empty
    assert "age" not in d.covariate_names
    assert d.encoding.variables == ["age_group", "sex"]
    assert [n for n in d.covariate_names if n.startswith("age_group[")]
    X, names = _formulae_standardised("age_group + sex", persons[["age_group", "sex"]])
    assert d.covariate_names == names
    np.testing.assert_array_equal(d.X, X)


@pytest.mark.parametrize("covariates", [["age", "age_group", "sex"], "age + age_group + sex"])
def test_age_and_age_group(cohort, covariates):
    persons = cohort.persons
    saved = persons["age"].copy()
    persons.loc[persons.index[:3], "age"] = np.nan  # now age is used: those three go
    try:
        d = _design(cohort, covariates)
    finally:
        persons["age"] = saved
    assert d.encoding.variables == ["age", "age_group", "sex"]
    assert d.covariate_names[0] == "age"
    n_groups = persons["age_group"].iloc[3:].nunique()
    assert sum(n.startswith("age_group[") for n in d.covariate_names) == n_groups - 1
    assert d.n_person == cohort.n_persons - 3
    assert d.exclusions["reason"].tolist() == [
        "missing covariate value (age, age_group, sex)"]


@pytest.mark.parametrize("rhs", [
    "age + sex + primary_drug", "age_group + sex", "age * sex + primary_drug",
    "C(sex) + scale(age) + center(age):sex + referral_route*primary_drug",
    "sex:primary_drug", "0 + primary_drug + sex", "~ age + 1", "standardize(age) + sex",
])
def test_formula_encoding_is_the_matrix_before_the_encoder(cohort, rhs):
    p = cohort.persons
    enc = CovariateEncoding.fit(p, rhs)
    X, names = _formulae_standardised(rhs.split("~")[-1], p[enc.variables])
    assert enc.names == names
    np.testing.assert_allclose(enc.transform(p), X, rtol=0, atol=1e-12)


def test_unsupported_formula_term_is_a_clear_error(cohort):
    with pytest.raises(ModelError, match="put other transformations into a person column"):
        CovariateEncoding.fit(cohort.persons, "np.log(age) + sex")
    with pytest.raises(ModelError, match="not supported"):
        CovariateEncoding.fit(cohort.persons, "C(sex, Treatment('male'))")


# ---------------------------------------------------------------- new rows
def test_cells_encode_like_persons_with_the_same_values(cohort):
    p = cohort.persons
    for covariates in (["age", "sex", "primary_drug"], "scale(age) + sex * referral_route"):
        enc = CovariateEncoding.fit(p, covariates)
        X = enc.transform(p)
        rows = [0, 7, 3, 3, 42]
        cells = p.iloc[rows][enc.variables].reset_index(drop=True)
        cells = cells.assign(count=1.0)  # extra columns are ignored
        np.testing.assert_array_equal(enc.transform(cells), X[rows])
        # one row at a time: the encoding does not depend on the other rows
        np.testing.assert_array_equal(enc.transform(cells.iloc[[2]]), X[[3]])


def test_unseen_level_names_the_column_and_the_level(cohort):
    enc = CovariateEncoding.fit(cohort.persons, ["age", "sex", "primary_drug"])
    cells = pd.DataFrame({"age": [30.0], "sex": ["male"], "primary_drug": ["ketamine"]})
    with pytest.raises(ModelError, match=r"column 'primary_drug': level\(s\) 'ketamine'"):
        enc.transform(cells)
    with pytest.raises(ModelError, match=r"columns \['sex'\] are missing"):
        enc.transform(cells.drop(columns="sex"))


def test_mrp_refuses_a_cell_category_without_persons(cohort):
    fit = _hand_fit(cohort, ["age_group", "sex"])
    cells = pd.DataFrame({"age_group": ["18-24"], "sex": ["unknown"],
                          "modality": ["prescribing"], "count": [5.0]})
    with pytest.raises(CohortError, match="'sex' = 'unknown' has no modelled person"):
        mrp.cell_design(fit, cells, cohort.persons)


# ---------------------------------------------------------------- missing values
def _with_holes(cohort):
    p = cohort.persons.copy()
    p.loc[p.index[[1, 5, 9]], "age"] = np.nan
    p["sex"] = p["sex"].astype(object)
    p.loc[p.index[[2, 5]], "sex"] = np.nan
    return p


def test_missing_values_are_an_error_by_default(cohort):
    p = _with_holes(cohort)
    with pytest.raises(ModelError, match=r"column 'age': 3 missing value\(s\)"):
        CovariateEncoding.fit(p, ["age", "sex"])
    enc = CovariateEncoding.fit(cohort.persons, ["age", "sex"])
    with pytest.raises(ModelError, match=r"column 'sex': 2 missing value\(s\)"):
        enc.transform(p)


def test_missing_indicator(cohort):
    p = _with_holes(cohort)
    enc = CovariateEncoding.fit(p, ["age", "sex"], missing="indicator", scaling="response")
    assert enc.names == ["age", "age_missing", "sex[male]", "sex[missing]"]
    X = enc.transform(p, missing="indicator")
    age = p["age"].to_numpy(float)
    miss = np.isnan(age)
    filled = np.where(miss, np.nanmean(age), age)
    np.testing.assert_allclose(X[:, 0], (filled - filled.mean()) / filled.std(), atol=1e-12)
    np.testing.assert_array_equal(X[:, 1], miss.astype(float))
    np.testing.assert_array_equal(X[:, 3], p["sex"].isna().to_numpy(float))
    # a new row with a missing age takes the fill value and the indicator
    row = pd.DataFrame({"age": [np.nan], "sex": [np.nan]})
    np.testing.assert_allclose(enc.transform(row, missing="indicator"),
                               [[(np.nanmean(age) - filled.mean()) / filled.std(), 1, 0, 1]],
                               atol=1e-12)
    with pytest.raises(ModelError, match="missing value"):
        enc.transform(row)  # missing="error"
    # a variable with no missing value at fit has no indicator to take one later
    enc2 = CovariateEncoding.fit(cohort.persons, ["age"], missing="indicator")
    with pytest.raises(ModelError, match="had none when the encoding was fit"):
        enc2.transform(row, missing="indicator")


def test_response_design_on_the_encoder(cohort):
    """Intercept first, numeric columns standardised with a missing indicator, indicators
    0/1 of all categories but the first (missing as a category), constant columns dropped."""
    p = _with_holes(cohort).assign(const=1.0, flag=lambda f: f["age"].fillna(0) > 40)
    X, names = response_design(p, ["age", "sex", "const", "flag", "modality"])
    assert names == ["Intercept", "age", "age_missing", "sex[male]", "sex[missing]",
                     "flag[True]", "modality[psychosocial]", "modality[residential]"]
    assert np.all(X[:, 0] == 1)
    assert set(np.unique(X[:, 3:])) <= {0.0, 1.0}
    assert abs(X[:, 1].mean()) < 1e-12 and X[:, 1].std() == pytest.approx(1.0)


# ---------------------------------------------------------------- JSON
@pytest.mark.parametrize("covariates,missing", [
    (["age", "age_group", "sex"], "error"),
    ("C(sex) + scale(age) + center(age):sex + referral_route*primary_drug", "error"),
    (["age", "sex"], "indicator"),
    ([], "error"),
])
def test_round_trip_to_dict(cohort, covariates, missing):
    p = _with_holes(cohort) if missing == "indicator" else cohort.persons
    enc = CovariateEncoding.fit(p, covariates, missing=missing)
    back = CovariateEncoding.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert back.to_dict() == enc.to_dict()
    assert back.names == enc.names and back.variables == enc.variables
    np.testing.assert_array_equal(back.transform(p, missing=missing),
                                  enc.transform(p, missing=missing))


def test_design_keeps_the_encoding_and_loads_without_it(cohort):
    d = _design(cohort, ["age", "sex", "primary_drug"])
    ds = d.to_dataset()
    assert "covariate_encoding" in ds.attrs
    back = Design.from_dataset(ds)
    assert back.encoding.to_dict() == d.encoding.to_dict()
    np.testing.assert_array_equal(back.encoding.transform(cohort.persons), d.X)
    del ds.attrs["covariate_encoding"]  # a fit saved before the encoding was kept
    assert Design.from_dataset(ds).encoding is None


# ---------------------------------------------------------------- MRP with age_group
def _hand_fit(cohort, covariates, *, with_encoding=True, seed=0):
    """A fit of ``crime`` with a hand-built posterior: wave levels per modality and
    covariate coefficients, no random effects (so MRP on the sample's own cells is
    g-computation exactly)."""
    model = ChangeModel("crime", "bernoulli", covariates=covariates, levels=())
    design = model.design(cohort)
    if not with_encoding:
        design.encoding = None
    rng = np.random.default_rng(seed)
    n_mod, n_t, k = len(design.modality_labels), len(design.waves), design.X.shape[1]
    post = xr.Dataset({
        "beta_time": (("chain", "draw", "modality", "time_basis"),
                      rng.normal(-0.5, 0.3, (N_CHAIN, N_DRAW, n_mod, n_t))),
        "beta_covariate": (("chain", "draw", "covariate"),
                           rng.normal(0.0, 0.5, (N_CHAIN, N_DRAW, k))),
    })
    tree = xr.DataTree.from_dict({"posterior": post})
    fit = Fit(model, design, tree, {"sampler": {}})
    fit.cohort = cohort
    return fit


@pytest.mark.parametrize("covariates", [["age_group", "sex"], "age_group + sex",
                                        ["age", "age_group", "sex"]])
def test_mrp_with_age_group_covariate(cohort, covariates):
    """tests_review P0-3 ("MRP fails with age_group as a covariate"). Without age, on the
    sample's own cells and with no random effects, a cell's row is its persons' and MRP is
    g-computation exactly; with age too, MRP runs (a cell's age: its group's mean)."""
    fit = _hand_fit(cohort, covariates)
    p = cohort.persons
    by = ["age_group", "sex"]
    cells = p.groupby([*by, "modality"]).size().rename("count").reset_index()
    cells = cells.astype({"count": float})
    X = mrp.cell_design(fit, cells, p)
    assert X.shape == (len(cells), fit.design.X.shape[1])
    if "age" not in fit.design.encoding.variables:
        key = cells[by].astype(str).agg("|".join, axis=1).to_numpy()
        pkey = p[by].astype(str).agg("|".join, axis=1).to_numpy()
        for k, row in zip(key, X, strict=True):
            own = fit.design.X[pkey == k]
            np.testing.assert_array_equal(own, np.tile(row, (len(own), 1)))
        m = mrp.mrp_estimates(fit, cells, modalities=False)
        g = fit.estimate("none")
        both = m.merge(g[g.modality == ""], on=["estimand", "wave"], suffixes=("_m", "_g"))
        assert len(both) == len(m) > 0
        np.testing.assert_allclose(both["mean_m"], both["mean_g"], rtol=1e-10)
    tab = mrp.mrp_estimates(fit, cells)
    lv = tab[(tab.estimand == "level") & (tab.modality == "")]
    assert len(lv) == len(fit.design.waves) and lv["mean"].between(0, 1).all()
    assert np.isfinite(lv["sd"]).all()


def test_mrp_refits_the_encoding_of_an_old_fit(cohort):
    p = cohort.persons
    cells = p.groupby(["age_group", "sex", "modality"]).size().rename("count").reset_index()
    new = mrp.cell_design(_hand_fit(cohort, ["age", "age_group", "sex"]), cells, p)
    old = mrp.cell_design(_hand_fit(cohort, ["age", "age_group", "sex"],
                                    with_encoding=False), cells, p)
    np.testing.assert_array_equal(new, old)
    # the cell's age is the mean age of the persons of its age group
    enc = _hand_fit(cohort, ["age"]).design.encoding
    means = p.groupby("age_group")["age"].mean()
    expect = enc.transform(pd.DataFrame({"age": means[cells["age_group"]].to_numpy()}))
    np.testing.assert_allclose(new[:, :1], expect, atol=1e-12)
