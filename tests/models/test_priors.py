"""Wave-specific prior centres and partially pooled trajectory levels (no sampling here)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.families import FAMILIES
from dtors_bayes.models.predictor import linear_predictor, trajectory_levels
from dtors_bayes.models.priors import HALFNORMAL_MEAN, ZEGER_C2, basis_centres, parse_level_loc
from dtors_bayes.studies.sbc_design import _scalar_quantities, frozen_priors, ranked_names
from dtors_bayes.testing import FAMILY_OUTCOME, FAST, tiny_cohort


@pytest.fixture(scope="module")
def cohort():
    return tiny_cohort(80, seed=3)


def _logit(p):
    p = np.clip(p, 0.02, 0.98)
    return np.log(p / (1 - p))


def _mu_time_loc(pm_model, name="mu_time"):
    """The ``mu`` argument of a Normal RV in the graph."""
    node = pm_model[name].owner
    return np.asarray(node.op.dist_params(node)[0].eval())


# ---------------------------------------------------------------------------- centres
@pytest.mark.parametrize("levels", [(), ("site", "area")])
def test_logit_centres_are_each_waves_attenuated_logit(cohort, levels):
    m = ChangeModel("crime", levels=levels)
    d = m.design(cohort)
    got = m.prior_scales(d)[""]["level_loc"]
    s2 = (2 / np.pi) * (1.0 + 0.25 * len(levels))  # HalfN(1) person, HalfN(0.5) site/area
    want = _logit(np.nanmean(d.y, axis=0)) * np.sqrt(1 + 0.346 * s2)
    assert list(got) == d.waves == [0, 1, 2]
    np.testing.assert_allclose([got[w] for w in d.waves], want, rtol=1e-3)
    np.testing.assert_allclose(_mu_time_loc(m.build(d)), [got[w] for w in d.waves])
    assert abs(ZEGER_C2 - 0.346) < 5e-4


def test_centres_follow_the_sigma_person_override(cohort):
    m = ChangeModel("crime", levels=(), priors={"sigma_person": 2.0})
    d = m.design(cohort)
    s = 2.0 * HALFNORMAL_MEAN
    want = _logit(np.nanmean(d.y, axis=0)) * np.sqrt(1 + ZEGER_C2 * s ** 2)
    np.testing.assert_allclose(list(m.prior_scales(d)[""]["level_loc"].values()), want)


def test_log_identity_binomial_and_hurdle_centres(cohort):
    s2 = (2 / np.pi) * 1.5
    nb = ChangeModel("offences", "negative_binomial")
    d = nb.design(cohort)
    np.testing.assert_allclose(list(nb.prior_scales(d)[""]["level_loc"].values()),
                               np.log(np.nanmean(d.y, axis=0)) - s2 / 2)
    ga = ChangeModel("mental_health", "gaussian")
    d = ga.design(cohort)
    np.testing.assert_allclose(list(ga.prior_scales(d)[""]["level_loc"].values()),
                               np.nanmean(d.y, axis=0))
    bi = ChangeModel("days_use", "binomial")
    d = bi.design(cohort)
    np.testing.assert_allclose(list(bi.prior_scales(d)[""]["level_loc"].values()),
                               _logit(np.nanmean(d.y / d.trials, axis=0))
                               * np.sqrt(1 + ZEGER_C2 * s2))
    for family in ("hurdle_lognormal", "hurdle_gamma"):
        hu = ChangeModel("spend", family)
        d = hu.design(cohort)
        sc = hu.prior_scales(d)
        nz = np.where(np.isnan(d.y), np.nan, d.y > 0)
        np.testing.assert_allclose(list(sc[""]["level_loc"].values()),
                                   _logit(np.nanmean(nz, axis=0)) * np.sqrt(1 + ZEGER_C2 * s2))
        pos = np.where(d.y > 0, d.y, np.nan)
        want = np.nanmean(np.log(pos), axis=0) if family == "hurdle_lognormal" else \
            np.log(np.nanmean(pos, axis=0)) - s2 / 2
        np.testing.assert_allclose(list(sc["pos_"]["level_loc"].values()), want)
    eq = ChangeModel("eq5d", "eq5d")
    d = eq.design(cohort)
    dis = np.where(1 - d.y > 0, 1 - d.y, np.nan)
    np.testing.assert_allclose(list(eq.prior_scales(d)["pos_"]["level_loc"].values()),
                               np.nanmean(np.log(dis), axis=0))


def test_knot_centres_interpolate_in_months(cohort):
    m = ChangeModel("crime", time="months", knots=(2.0, 8.0))
    d = m.design(cohort)
    c = m.prior_scales(d)[""]["level_loc"]
    basis = m.basis(d)
    assert basis.names == ["month_0", "month_2", "month_8", "month_12"]
    want = [c[0], (c[0] + c[1]) / 2, (c[1] + c[2]) / 2, c[2]]
    np.testing.assert_allclose(basis_centres(c, d.waves, d.schedule, basis), want)
    np.testing.assert_allclose(_mu_time_loc(m.build(d)), want)
    # baseline="covariate": intake is not a modelled wave, the first knot is FU1's month
    mc = ChangeModel("crime", time="linear", baseline="covariate")
    dc = mc.design(cohort)
    cc = mc.prior_scales(dc)[""]["level_loc"]
    assert list(cc) == [1, 2]
    np.testing.assert_allclose(_mu_time_loc(mc.build(dc)), [cc[1], cc[2]])


def test_a_wave_without_data_falls_back_to_the_pooled_centre(cohort):
    m = ChangeModel("crime", levels=())
    d = m.design(cohort)
    y = d.y.copy()
    y[:, 2] = np.nan
    c = m.prior_scales(dataclasses.replace(d, y=y))[""]["level_loc"]
    s2 = (2 / np.pi)
    assert c[2] == pytest.approx(_logit(np.nanmean(y)) * np.sqrt(1 + ZEGER_C2 * s2))


# ---------------------------------------------------------------------------- overrides
def test_per_wave_override_changes_only_that_wave(cohort):
    base = ChangeModel("crime")
    d = base.design(cohort)
    default = base.prior_scales(d)[""]["level_loc"]
    for key in (2, "2", "wave_2"):
        m = ChangeModel("crime", priors={"level_loc": {key: -3.0}})
        got = m.prior_scales(d)[""]["level_loc"]
        assert got == {0: default[0], 1: default[1], 2: -3.0}
    np.testing.assert_allclose(_mu_time_loc(m.build(d)), [default[0], default[1], -3.0])
    every = ChangeModel("crime", priors={"level_loc": -1.0, "level": 0.7}).prior_scales(d)[""]
    assert every["level_loc"] == {0: -1.0, 1: -1.0, 2: -1.0} and every["level"] == 0.7
    hurdle = ChangeModel("spend", "hurdle_gamma", priors={"pos_level_loc": {1: 9.0}})
    dh = hurdle.design(cohort)
    sc = hurdle.prior_scales(dh)
    assert sc["pos_"]["level_loc"][1] == 9.0 and sc[""]["level_loc"][1] != 9.0


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"level_loc": {3: -1.0}}, r"not modelled; allowed wave labels: 0, 1, 2"),
        ({"level_loc": {"fu2": -1.0}}, "'fu2'"),
        ({"level_loc": {2: "low"}}, "is not a number"),
        ({"level_loc": "low"}, "expected a number or a table"),
        ({"sigma_modalityy": 0.3}, r"unknown name 'sigma_modalityy'; allowed: .*"
                                   r"sigma_modality_time"),
    ],
)
def test_bad_overrides_are_clear_errors(cohort, priors, match):
    with pytest.raises(ModelError, match=match):
        ChangeModel("crime", priors=priors).build(cohort)


def test_parse_level_loc_under_covariate_baseline():
    assert parse_level_loc({"1": 2.0}, [1, 2]) == {1: 2.0}
    with pytest.raises(ModelError, match="allowed wave labels: 1, 2"):
        parse_level_loc({0: 2.0}, [1, 2])


def test_spec_round_trip_keeps_a_per_wave_table(cohort):
    import json

    m = ChangeModel("crime", priors={"level_loc": {2: -2.5}, "sigma_modality_time": 0.3})
    again = ChangeModel.from_spec(json.loads(json.dumps(m.spec())))
    d = m.design(cohort)
    assert again.prior_scales(d) == m.prior_scales(d)
    assert "level_loc" in str(m)


# ---------------------------------------------------------------------------- structure
def test_partially_pooled_levels_structure(cohort):
    m = ChangeModel("crime")
    pm_model = m.build(cohort)
    free = {v.name for v in pm_model.free_RVs}
    assert {"mu_time", "sigma_modality", "z_modality", "sigma_modality_time",
            "z_modality_time"} <= free and "beta_time" not in free
    assert [v.name for v in pm_model.deterministics] == ["beta_time"]
    dims = pm_model.named_vars_to_dims
    assert dims["beta_time"] == ("modality", "time_basis")
    assert dims["mu_time"] == ("time_basis",)
    assert dims["z_modality_time"] == ("time_basis", "modality")
    import pymc as pm

    draw = pm.draw([pm_model[n] for n in ("beta_time", "mu_time", "z_modality",
                                          "z_modality_time")], random_seed=4)
    bt, mu, zm, zmt = draw
    assert bt.shape == (3, 3)
    # zero-sum deviations: mu_time is the modality average of beta_time
    np.testing.assert_allclose(bt.mean(axis=0), mu, atol=1e-10)
    np.testing.assert_allclose(zm.sum(), 0.0, atol=1e-10)
    np.testing.assert_allclose(zmt.sum(axis=1), 0.0, atol=1e-10)
    # the selection model reads every named variable, beta_time included
    assert "beta_time" in pm_model.named_vars


def test_one_modality_and_constant_modality_effect(cohort):
    # a cohort needs two modalities; a design with one arises for a subset (e.g. MRP cells)
    model = ChangeModel("crime")
    d = model.design(cohort)
    one = dataclasses.replace(d, modality=np.zeros_like(d.modality),
                              modality_labels=["prescribing"])
    m = model.build(one)
    free = {v.name for v in m.free_RVs}
    assert "mu_time" in free and not free & {"sigma_modality", "z_modality_time"}
    assert m.named_vars_to_dims["beta_time"] == ("modality", "time_basis")
    assert m["beta_time"].eval({m["mu_time"]: np.array([1.0, 2.0, 3.0])}).tolist() == \
        [[1.0, 2.0, 3.0]]
    flat = ChangeModel("crime", modality_by_time=False).build(cohort)
    free = {v.name for v in flat.free_RVs}
    assert {"mu_time", "beta_modality"} <= free and "sigma_modality" not in free
    assert flat.named_vars_to_dims["beta_time"] == ("time_basis",)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_logp_finite_with_constant_modality_effect(cohort, family):
    model = ChangeModel(FAMILY_OUTCOME[family], family, modality_by_time=False, levels=())
    pm_model = model.build(cohort)
    ip = pm_model.initial_point()
    logp = pm_model.compile_logp(sum=False, **FAST)(ip)  # <= 32 operands each
    assert np.isfinite(sum(float(np.sum(t)) for t in logp))
    assert np.all(np.isfinite(pm_model.compile_dlogp(**FAST)(ip)))


def test_simulate_derives_beta_time_from_free_variables(cohort):
    import pymc as pm

    model = ChangeModel("spend", "hurdle_lognormal")
    design = model.design(cohort)
    pm_model = model.build(design)
    named = [*pm_model.free_RVs, *pm_model.deterministics]
    vals = dict(zip([v.name for v in named], pm.draw(named, random_seed=3), strict=True))
    free = {k: v for k, v in vals.items() if "beta_time" not in k}
    np.testing.assert_allclose(trajectory_levels(free), vals["beta_time"])
    np.testing.assert_allclose(trajectory_levels(free, prefix="pos_"), vals["pos_beta_time"])
    np.testing.assert_allclose(model.simulate(design, free, seed=1),
                               model.simulate(design, vals, seed=1), rtol=1e-12)


def test_unpooled_modality_trajectories(cohort):
    """``modality_pooling="none"``: fixed-scale zero-sum deviations, no estimated scales; the
    hurdle's positive part likewise; the spec records the choice and simulate derives
    beta_time from the free variables."""
    import json

    import pymc as pm

    model = ChangeModel("spend", "hurdle_lognormal", modality_pooling="none")
    design = model.design(cohort)
    pm_model = model.build(design)
    free = {v.name for v in pm_model.free_RVs}
    assert {"delta_modality_time", "pos_delta_modality_time"} <= free
    assert not free & {"sigma_modality", "z_modality", "sigma_modality_time",
                       "pos_sigma_modality", "pos_z_modality_time"}
    assert pm_model.named_vars_to_dims["delta_modality_time"] == ("time_basis", "modality")
    # the deviation's scale is the fixed "modality" prior (1 on the logit link)
    node = pm_model["delta_modality_time"].owner
    assert np.unique(np.asarray(node.op.dist_params(node)[0].eval())).tolist() == [1.0]
    narrow = ChangeModel("crime", modality_pooling="none", priors={"modality": 0.7})
    node = narrow.build(cohort)["delta_modality_time"].owner
    assert np.unique(np.asarray(node.op.dist_params(node)[0].eval())).tolist() == [0.7]
    named = [*pm_model.free_RVs, *pm_model.deterministics]
    vals = dict(zip([v.name for v in named], pm.draw(named, random_seed=5), strict=True))
    np.testing.assert_allclose(vals["beta_time"].mean(axis=0), vals["mu_time"], atol=1e-10)
    np.testing.assert_allclose(vals["beta_time"],
                               vals["mu_time"][None, :] + vals["delta_modality_time"].T)
    fv = {k: v for k, v in vals.items() if "beta_time" not in k}
    np.testing.assert_allclose(trajectory_levels(fv, prefix="pos_"), vals["pos_beta_time"])
    np.testing.assert_allclose(model.simulate(design, fv, seed=1),
                               model.simulate(design, vals, seed=1), rtol=1e-12)
    spec = json.loads(json.dumps(model.spec()))
    assert spec["modality_pooling"] == "none"
    assert ChangeModel.from_spec(spec).modality_pooling == "none"
    assert "modality_pooling" not in ChangeModel("crime").spec()  # default: spec unchanged
    assert "not pooled" in str(model)
    with pytest.raises(ModelError, match=r"modality_pooling='full'; allowed: 'partial', 'none'"):
        ChangeModel("crime", modality_pooling="full")


# ---------------------------------------------------------------------------- SBC
def test_frozen_priors_freeze_the_wave_centres(cohort):
    m = ChangeModel("crime", time="months")
    d = m.design(cohort)
    frozen = frozen_priors(m, d)
    assert frozen["level_loc"] == m.prior_scales(d)[""]["level_loc"]
    m2 = dataclasses.replace(m, priors=frozen)
    d2 = dataclasses.replace(d, y=np.where(np.isnan(d.y), np.nan, 1.0 - d.y))
    assert m2.prior_scales(d2) == m.prior_scales(d)
    assert m.prior_scales(d2) != m.prior_scales(d)
    np.testing.assert_allclose(_mu_time_loc(m2.build(d2)), _mu_time_loc(m.build(d)))


def test_sbc_design_freezes_every_wave_under_a_partial_user_table():
    import json

    from dtors_bayes.studies.sbc_design import _design_for

    model, design = _design_for("bernoulli", 60, 1, json.dumps(
        {"time": "wave", "levels": [], "priors": {"level_loc": {"2": -2.0}}}))
    frozen = model.priors["level_loc"]
    assert set(frozen) == {0, 1, 2} and frozen[2] == -2.0
    y = np.where(np.isnan(design.y), np.nan, 1.0 - design.y)
    assert model.prior_scales(dataclasses.replace(design, y=y)) == model.prior_scales(design)


def test_sbc_ranks_mu_time_scales_and_follow_up_cells(cohort):
    import pymc as pm

    m = ChangeModel("crime", levels=())
    d = m.design(cohort)
    pm_model = m.build(d)
    named = [*pm_model.free_RVs, *pm_model.deterministics]
    vals = {v.name: np.asarray(x)[None] for v, x in zip(named, pm.draw(named, random_seed=2),
                                                         strict=True)}
    coords = {k: list(v) for k, v in pm_model.coords.items()}
    q = _scalar_quantities(m, d, vals, coords, pm_model.named_vars_to_dims)
    assert {"mu_time[wave_0]", "mu_time[wave_2]", "sigma_modality", "sigma_modality_time",
            "beta_time[residential, wave_2]", "level_last_wave"} <= set(q)
    assert not any(k.startswith("beta_time[") and "wave_0" in k for k in q)
    assert not any(k.startswith("z_") for k in q)
    flat = ChangeModel("crime", levels=(), modality_by_time=False)
    assert ranked_names(flat, d, ["mu_time", "beta_time", "beta_modality"]) == \
        ["mu_time", "beta_modality"]


# ---------------------------------------------------------------------------- prior predictive
def test_prior_predictive_fu2_level_sits_at_the_observed_fu2_proportion():
    """Prior of the FU2 level (mean over persons of expit(eta) at FU2) on a DTORS-shaped
    300-person MCAR cohort (FU2 observed proportion about 0.13, intake 0.36).

    The *median* is the check of the centre: the level is monotone in mu_time[FU2], and
    the Zeger mapping puts the marginal level at mu_time = m_FU2 at the observed proportion.
    Tolerance 0.05: the mapping uses the prior mean of sigma_person (0.80) where the prior
    spreads it (HalfNormal(1)), which lifts the median by about 0.03 here; 2000 draws add
    about 0.005 of Monte Carlo error. The *mean* is pulled towards 0.5 by the width of any
    logit-normal prior (total prior sd of eta about 2 here: about +0.08 at 0.13), so it gets
    the looser 0.10. The former pooled centre (all waves' logit, sd 2) puts both above 0.3.
    """
    import pymc as pm
    from scipy.special import expit

    from dtors_bayes.simulation.generate import simulate_cohort
    from dtors_bayes.studies.design import cohort_kwargs

    sim = simulate_cohort(1, **cohort_kwargs(300, outcomes=["acquisitive_crime"],
                                             attrition="mcar"))
    m = ChangeModel("acquisitive_crime", levels=())
    d = m.design(sim.cohort)
    pbar = float(np.nanmean(d.y[:, 2]))
    pm_model = m.build(d)
    named = [*pm_model.free_RVs, *pm_model.deterministics]
    draws = pm.draw(named, draws=2000, random_seed=1)
    params = {v.name: np.asarray(x) for v, x in zip(named, draws, strict=True)}
    n = d.n_person
    cells = d.cells(m.basis(d), np.arange(n), np.full(n, 2))
    level = expit(linear_predictor(params, cells)).mean(axis=1)
    assert abs(np.median(level) - pbar) < 0.05
    assert abs(level.mean() - pbar) < 0.10
