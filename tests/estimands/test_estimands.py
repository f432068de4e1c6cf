"""Estimand arithmetic on hand-built posteriors with known answers (no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

from dtors_bayes.estimands.engine import contrast_pairs
from dtors_bayes.exceptions import FitError, ModelError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.design import Design
from dtors_bayes.models.fit import Fit

N_CHAIN, N_DRAW = 2, 50
MODS = ["prescribing", "residential"]


def hand_design(family="bernoulli"):
    """Four persons, two modalities, waves 0/1; persons 0,1 prescribing, 2,3 residential."""
    n = 4
    return Design(
        person_ids=np.array([11, 12, 13, 14]), modality=np.array([0, 0, 1, 1]),
        modality_labels=MODS, site=None, site_labels=[], area=None, area_labels=[],
        site_area=None, X=np.zeros((n, 0)), covariate_names=[],
        y=np.array([[1, 0], [0, np.nan], [1, 1], [0, 0]], dtype=float),
        months=np.array([[0, 4], [0, 4], [0, 4], [0, 4]], dtype=float),
        interviewed=np.array([[1, 1], [1, 0], [1, 1], [1, 1]], dtype=bool), waves=[0, 1],
        schedule={0: 0.0, 1: 4.0}, trials=28,
    )


def hand_fit(family="bernoulli", seed=0, aux=None):
    rng = np.random.default_rng(seed)
    s = N_CHAIN * N_DRAW
    beta = rng.normal([[0.0, -1.0], [0.2, -0.2]], 0.1, size=(s, 2, 2))
    z = rng.normal(size=(s, 4))
    sigma = np.abs(rng.normal(1.0, 0.1, size=s))
    post = {"beta_time": (("chain", "draw", "modality", "time_basis"),
                          beta.reshape(N_CHAIN, N_DRAW, 2, 2)),
            "z_person": (("chain", "draw", "person"), z.reshape(N_CHAIN, N_DRAW, 4)),
            "sigma_person": (("chain", "draw"), sigma.reshape(N_CHAIN, N_DRAW))}
    for k, v in (aux or {}).items():
        post[k] = (("chain", "draw"), np.full((N_CHAIN, N_DRAW), v))
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset(post)})
    model = ChangeModel("y", family, levels=())
    return Fit(model, hand_design(family), tree, {"sampler": {}}), beta, z, sigma


def truth_levels(beta, z, sigma, modality):
    """mu for each draw, person, wave: expit(beta[z_i, t] + sigma u_i)."""
    eta = beta[:, modality, :] + (sigma[:, None] * z)[:, :, None]
    return expit(eta)  # (S, N, T)


def row(table, estimand, wave, modality="", contrast=""):
    r = table[(table.estimand == estimand) & (table.wave == wave)
              & (table.modality == modality) & (table.contrast == contrast)]
    assert len(r) == 1, (estimand, wave, modality, contrast)
    return r.iloc[0]


def test_levels_changes_and_ratios_match_hand_computation():
    fit, beta, z, sigma = hand_fit()
    table = fit.estimate()
    mu = truth_levels(beta, z, sigma, np.array([0, 0, 1, 1]))
    level = mu.mean(axis=1)  # average of the inverse link, draw by draw
    for t in (0, 1):
        assert row(table, "level", t)["mean"] == pytest.approx(level[:, t].mean(), rel=1e-12)
    change = level[:, 1] - level[:, 0]
    r = row(table, "change", 1)
    assert r["mean"] == pytest.approx(change.mean(), rel=1e-12)
    assert r["sd"] == pytest.approx(change.std(ddof=1), rel=1e-12)
    lo, hi = np.quantile(change, [0.05, 0.95])
    assert (r["ci_lb"], r["ci_ub"]) == pytest.approx((lo, hi), rel=1e-12)
    assert row(table, "ratio", 1)["mean"] == pytest.approx((level[:, 1] / level[:, 0]).mean())
    assert r["p_direction"] == pytest.approx(max((change > 0).mean(), (change < 0).mean()))
    # never the inverse link of the average linear predictor
    eta_mean_based = expit((beta[:, [0, 0, 1, 1], 1] + sigma[:, None] * z).mean(axis=1)).mean()
    assert abs(row(table, "level", 1)["mean"] - eta_mean_based) > 1e-4


def test_descriptive_and_adjusted_modality_estimands():
    fit, beta, z, sigma = hand_fit()
    table = fit.estimate(contrasts="pairs")
    own = truth_levels(beta, z, sigma, np.array([0, 0, 1, 1]))
    res_own = own[:, 2:, :].mean(axis=1)
    assert row(table, "modality_change", 1, "residential")["mean"] == pytest.approx(
        (res_own[:, 1] - res_own[:, 0]).mean(), rel=1e-12)
    everyone = {m: truth_levels(beta, z, sigma, np.full(4, m)).mean(axis=1) for m in (0, 1)}
    adj_change = {m: everyone[m][:, 1] - everyone[m][:, 0] for m in (0, 1)}
    assert row(table, "adjusted_change", 1, "prescribing")["mean"] == pytest.approx(
        adj_change[0].mean(), rel=1e-12)
    c = row(table, "modality_contrast", 1, contrast="prescribing - residential")
    assert c["mean"] == pytest.approx((adj_change[0] - adj_change[1]).mean(), rel=1e-12)
    assert "no unmeasured confounding" in c["assumption"]


def test_fixed_weights_reweight_persons():
    fit, beta, z, sigma = hand_fit()
    w = pd.Series([1.0, 3.0, 0.5, 0.5], index=[14, 13, 12, 11])  # any order, by person_id
    table = fit.estimate("fixed", weights=w)
    mu = truth_levels(beta, z, sigma, np.array([0, 0, 1, 1]))
    wv = np.array([0.5, 0.5, 3.0, 1.0])
    expect = (mu[:, :, 1] * wv).sum(1) / wv.sum()
    r = row(table, "level", 1)
    assert r["mean"] == pytest.approx(expect.mean(), rel=1e-12)
    assert r["population"] == "weighted" and r["weighting"] == "fixed"


def test_constant_weight_draws_equal_fixed_weights():
    fit, *_ = hand_fit()
    w = np.array([0.5, 0.5, 3.0, 1.0])
    fixed = fit.estimate("fixed", weights=w)
    prop = fit.estimate("propagated", weights=np.tile(w, (N_CHAIN * N_DRAW, 1)))
    np.testing.assert_allclose(fixed["mean"], prop["mean"], rtol=1e-12)
    np.testing.assert_allclose(fixed["ci_lb"], prop["ci_lb"], rtol=1e-12)


def test_chunking_does_not_change_results():
    fit, *_ = hand_fit()
    a = fit.estimate()
    b = fit.estimate(chunk_bytes=8 * 4 * 3)  # three draws per chunk
    np.testing.assert_allclose(a["mean"], b["mean"], rtol=1e-12)
    np.testing.assert_allclose(a["ess_bulk"], b["ess_bulk"], rtol=1e-12)


def test_gaussian_mu_is_linear_predictor():
    fit, beta, z, sigma = hand_fit("gaussian", aux={"sigma": 2.0})
    table = fit.estimate()
    eta = beta[:, [0, 0, 1, 1], :] + (sigma[:, None] * z)[:, :, None]
    assert row(table, "level", 1)["mean"] == pytest.approx(eta[:, :, 1].mean(), rel=1e-12)


def test_table_columns_are_the_contract():
    fit, *_ = hand_fit()
    table = fit.estimate(ci_prob=0.5)
    for col in ["outcome", "estimand", "wave", "modality", "contrast", "population",
                "weighting", "estimator", "attrition", "mean", "sd", "ci_lb", "ci_ub",
                "ci_prob", "p_direction", "ess_bulk", "r_hat"]:
        assert col in table.columns
    assert (table.ci_prob == 0.5).all() and (table.attrition == "mar").all()
    assert (table.estimator == "model").all()
    assert np.isfinite(table.r_hat).all() and (table.ess_bulk > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weighting": "raked"}, "weighting='raked'"),
        ({"weighting": "fixed"}, "needs a cohort with a population table"),
        ({"weighting": "fixed", "weights": np.ones(3)}, "expected 4 values"),
        ({"weighting": "fixed", "weights": np.array([1, -1, 1, 1.0])}, "non-negative"),
        ({"weighting": "fixed", "weights": pd.Series([1.0], index=[11])}, "have no weight"),
        ({"weighting": "propagated", "weights": np.ones((7, 4))}, "one weight draw per draw"),
        ({"weighting": "propagated"}, "needs a cohort with a population table"),
        ({"weighting": "mrp"}, "needs the population"),
        ({"ci_prob": 90}, "Did you mean 0.9"),
    ],
)
def test_estimate_errors(kwargs, match):
    fit, *_ = hand_fit()
    with pytest.raises(FitError, match=match):
        fit.estimate(**kwargs)


def test_contrast_pairs():
    labels = ["a", "prescribing", "c"]
    assert contrast_pairs(labels, "reference", None) == [("a", "prescribing"), ("c", "prescribing")]
    assert contrast_pairs(labels, "pairs", None) == [("a", "prescribing"), ("a", "c"),
                                                     ("prescribing", "c")]
    assert contrast_pairs(labels, [("c", "a")], None) == [("c", "a")]
    with pytest.raises(ModelError, match="reference='x'"):
        contrast_pairs(labels, "reference", "x")
    with pytest.raises(ModelError, match="not in the fit"):
        contrast_pairs(labels, [("a", "zz")], None)


def test_offsets_shift_only_the_chosen_persons_and_wave():
    from dtors_bayes.estimands.engine import draws_of_estimands
    from dtors_bayes.estimands.weights import WeightSpec
    from dtors_bayes.models.sampling import stack_draws

    fit, beta, z, sigma = hand_fit()
    params, *_ = stack_draws(fit.tree)
    missing = ~fit.design.interviewed[:, 1]  # person 12 was not interviewed at wave 1
    delta = 1.5
    out = draws_of_estimands(fit.model, fit.design, params, WeightSpec(None, "none", "sample"),
                             contrast_pairs=[], offsets={1: delta * missing})
    eta = beta[:, [0, 0, 1, 1], :] + (sigma[:, None] * z)[:, :, None]
    eta[:, :, 1] += delta * missing
    np.testing.assert_allclose(out[("level", 1, "", "")], expit(eta[:, :, 1]).mean(1), rtol=1e-12)
    np.testing.assert_allclose(out[("level", 0, "", "")], expit(eta[:, :, 0]).mean(1), rtol=1e-12)


def test_one_definition_of_every_estimand_for_persons_and_population_cells():
    """assemble_estimands is the one definition: MRP and g-computation get the same keys;
    a modality nobody in the model received gets no adjusted row and no contrast, however
    many population cells it has; a modality absent from the averaged units gets no
    descriptive row."""
    from types import SimpleNamespace

    from dtors_bayes.estimands.engine import assemble_estimands
    from dtors_bayes.estimands.weights import WeightSpec

    rng = np.random.default_rng(0)
    S, M, T = 5, 3, 3
    level, own, adj = rng.random((S, T)), rng.random((S, M, T)), rng.random((S, M, T))
    model = SimpleNamespace(baseline="outcome")
    design = SimpleNamespace(modality_labels=["a", "b", "c"], modality=np.array([0, 0, 1, 1]),
                             waves=[0, 1, 2], schedule={0: 0.0, 1: 3.0, 2: 12.0})
    w = WeightSpec(None, "none", "sample")
    pairs = [("b", "a"), ("c", "a")]
    persons = assemble_estimands(model, design, level, own, adj, w, pairs)
    cells = assemble_estimands(model, design, level, own, adj, w, pairs,
                               present=[True, True, True])
    # "c" has population cells but no modelled person: descriptive rows only for MRP
    assert set(cells) - set(persons) == {("modality_level", t, "c", "") for t in (0, 1, 2)} | {
        ("modality_change", t, "c", "") for t in (1, 2)}
    for keys in (persons, cells):
        assert not any(k[0].startswith("adjusted") and k[2] == "c" for k in keys)
        assert ("modality_contrast", 2, "", "c - a") not in keys
        np.testing.assert_allclose(keys[("modality_contrast", 2, "", "b - a")],
                                   (adj[:, 1, 2] - adj[:, 1, 0]) - (adj[:, 0, 2] - adj[:, 0, 0]))
    overall = assemble_estimands(model, design, level, own, adj, w, pairs, modalities=False)
    assert {k[0] for k in overall} == {"level", "change", "ratio"}


def test_every_model_path_labels_its_rows_the_same_way():
    from dtors_bayes.estimands.engine import ADJUSTED_ASSUMPTION, DESCRIPTIVE, estimand_table

    rng = np.random.default_rng(1)
    draws = {("level", 0, "", ""): rng.random(40), ("modality_level", 0, "a", ""): rng.random(40),
             ("adjusted_level", 0, "a", ""): rng.random(40)}
    kw = {"ci_prob": 0.9, "outcome": "y", "population": "target", "weighting": "mrp",
          "attrition": "mar", "n_persons": 4}
    plain = estimand_table(draws, 2, 20, **kw).set_index("estimand")["assumption"]
    mrp = estimand_table(draws, 2, 20, assumption="MRP", **kw).set_index("estimand")["assumption"]
    assert plain["level"] == "" and mrp["level"] == "MRP"
    assert plain["modality_level"] == DESCRIPTIVE and mrp["modality_level"] == "MRP; " + DESCRIPTIVE
    assert mrp["adjusted_level"] == "MRP; " + ADJUSTED_ASSUMPTION
