"""Response and selection models: the attempt rule, exact marginalisation against brute-force
enumeration, the kappa = 0 reduction to MAR, propensities and the errors users meet."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit, gammaln

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.design import Design, late_interviews, on_time_limits
from dtors_bayes.models.predictor import linear_predictor
from dtors_bayes.models.response import (
    ResponseModel,
    is_monotone,
    response_layout,
    response_linear_predictor,
    response_propensity_draws,
)
from dtors_bayes.models.selection import Selection, from_dict, missing_cell_months
from dtors_bayes.testing import FAST


def design(family="bernoulli", intermittent=False, n=6, trials=3, seed=0):
    """Six persons, three waves, one site per pair; monotone with a late wave-1 interview
    (person 5, months 9), or intermittent (person 4 missing wave 1 but seen at wave 2)."""
    rng = np.random.default_rng(seed)
    inter = np.ones((n, 3), bool)
    inter[[1, 3], 1] = False
    inter[[1, 3, 2, 5], 2] = False
    months = np.tile([0.0, 4.0, 12.0], (n, 1))
    months[0, 1], months[4, 1], months[5, 1] = 3.5, 4.6, 9.0  # person 5: late single FU
    if intermittent:
        inter[4, 1], inter[4, 2] = False, True
    if family == "gaussian":
        y = rng.normal(10, 2, (n, 3))
    else:
        y = rng.integers(0, (1 if family == "bernoulli" else trials) + 1, (n, 3)).astype(float)
    y = np.where(inter, y, np.nan)
    y[0, 2] = np.nan  # item-missing: interviewed, value missing
    schedule = {0: 0.0, 1: 4.0, 2: 12.0}
    return Design(
        person_ids=np.arange(1, n + 1), modality=np.arange(n) % 2,
        modality_labels=["prescribing", "residential"], site=np.arange(n) // 2,
        site_labels=["S1", "S2", "S3"], area=None, area_labels=[], site_area=None,
        X=rng.normal(size=(n, 1)), covariate_names=["age"], y=y, months=months,
        interviewed=inter, waves=[0, 1, 2], schedule=schedule, trials=trials,
        late=late_interviews(months, inter, [0, 1, 2], schedule))


def random_point(model, seed=0):
    rng = np.random.default_rng(seed)
    ip = model.initial_point()
    return {k: v + rng.normal(0, 0.4, size=np.shape(v)) for k, v in ip.items()}


def values_at(model, point):
    """Untransformed values of every free variable at a point of the value variables."""
    outs = model.unobserved_value_vars
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore", **FAST)
    return dict(zip([v.name for v in outs], fn(point), strict=True))


def test_attempt_rule_monotone_with_late_followup():
    d = design()
    lay = response_layout(d, "bernoulli")
    assert lay.rule == "monotone" and is_monotone(d.interviewed)
    # Wave 2 attempted for on-time wave-1 responders only: not person 5 (late, months 9).
    att2 = set(d.person_ids[lay.attempted[:, 2]])
    assert att2 == {1, 3, 5}
    assert lay.attempted[:, 1].all() and lay.attempted[:, 0].all()
    # stages: wave 1 on time (6 persons), its late second chance (the 3 not seen on time:
    # persons 2, 4, 6; only 6 was seen), wave 2 (3)
    assert lay.stage_labels == ["1", "1_late", "2"] and lay.stage_late == [False, True, False]
    assert lay.n == 6 + 3 + 3
    late = lay.stage == 1
    assert set(d.person_ids[lay.person[late]]) == {2, 4, 6}
    assert set(d.person_ids[lay.person[late & lay.r]]) == {6}
    # person 6 was not seen on time: a missing on-time cell, an observed late one
    on6 = (lay.stage == 0) & (d.person_ids[lay.person] == 6)
    assert not lay.r[on6].any() and np.isnan(lay.y[on6]).all()
    # Previous value missing indicator only where the previous value is missing.
    assert np.array_equal(lay.prev_missing == 1, np.isnan(d.y[lay.person, lay.wave - 1]))


def test_attempt_rule_intermittent_attempts_everyone():
    d = design(intermittent=True)
    lay = response_layout(d, "bernoulli")
    assert lay.rule == "all" and not is_monotone(d.interviewed)
    # wave 1 (6), its late stage (the 4 not seen on time), wave 2 (6)
    assert lay.attempted.all() and lay.n == 6 + 4 + 6
    forced = response_layout(design(), "bernoulli", attempted="all")
    assert forced.n == 6 + 3 + 6
    with pytest.raises(ModelError, match="interview"):
        bad = np.ones((6, 3), bool)
        bad[0, 2] = False
        response_layout(design(), "bernoulli", attempted=bad)


@pytest.mark.parametrize("family,intermittent", [("bernoulli", False), ("binomial", False),
                                                 ("beta_binomial", True),
                                                 ("bernoulli", True)])
def test_exact_marginalisation_matches_brute_force(family, intermittent):
    d = design(family, intermittent=intermittent)
    cm = ChangeModel("y", family, covariates=None, levels=("site",),
                     attrition=Selection(kappa=(-1.0, 0.5)))
    model = cm.build(d)
    point = random_point(model, seed=3)
    vals = values_at(model, point)
    lay = response_layout(d, family)
    lead = {k: np.asarray(v)[None] for k, v in vals.items()}
    mis = np.flatnonzero(np.isnan(lay.y))
    basis = cm.basis(d)
    # each missing cell at its months nodes (equal weights; one node at the wave basis'
    # on-time stages); the late stage's nodes differ, so average over them
    months, log_w, late = missing_cell_months(lay, d, basis, mis)
    assert months.shape[1] > 1 and np.isfinite(log_w).sum() > mis.size
    k = months.shape[1]
    cells = d.cells(basis, np.repeat(lay.person[mis], k), np.repeat(lay.wave[mis], k),
                    months.ravel(), late=late.ravel())
    eta_nodes = linear_predictor(lead, cells)[0].reshape(mis.size, k)
    w_nodes = np.exp(log_w)
    lin = response_linear_predictor(lead, lay, d)[0][mis]
    kappa = float(vals["kappa"])
    n = 1 if family == "bernoulli" else d.trials

    def p_y(v, e):
        p = expit(e)
        if family == "beta_binomial":
            from scipy.special import betaln
            phi = float(vals["phi"])
            a, b = p * phi, (1 - p) * phi
            return np.exp(gammaln(n + 1) - gammaln(v + 1) - gammaln(n - v + 1)
                          + betaln(v + a, n - v + b) - betaln(a, b))
        return np.exp(gammaln(n + 1) - gammaln(v + 1) - gammaln(n - v + 1)) * p**v * \
            (1 - p) ** (n - v)

    # Brute force: the cells are independent given the parameters, so the sum over every
    # joint completion factorises into per-cell sums over values and months nodes (a joint
    # enumeration has (n+1)^cells terms: minutes for the beta-binomial case).
    total = 1.0
    for c in range(mis.size):
        for_c = 0.0
        for v in range(n + 1):
            pr = expit(lin[c] + kappa * lay.g(float(v)))
            resp = pr if lay.r[mis][c] else 1 - pr
            for_c += (w_nodes[c] * p_y(float(v), eta_nodes[c])).sum() * resp
        total *= for_c
    pot_graph = model.replace_rvs_by_values([model["y_missing_marginal"]])[0]
    pot = model.compile_fn(pot_graph, inputs=model.value_vars, on_unused_input="ignore",
                           **FAST)(point)
    assert float(pot) == pytest.approx(np.log(total), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("family", ["bernoulli", "binomial"])
def test_kappa_zero_reduces_to_mar(family):
    d = design(family)
    mar = ChangeModel("y", family, levels=("site",), attrition=ResponseModel()).build(d)
    sel = ChangeModel("y", family, levels=("site",), attrition=Selection(kappa=0.0)).build(d)
    assert {v.name for v in mar.free_RVs} == {v.name for v in sel.free_RVs}
    fns = [(m.compile_logp(**FAST), m.compile_dlogp(**FAST)) for m in (mar, sel)]
    for seed in range(2):
        point = random_point(mar, seed)
        (lp_mar, g_mar), (lp_sel, g_sel) = ((f(point), g(point)) for f, g in fns)
        assert lp_sel == pytest.approx(lp_mar, rel=1e-10)
        np.testing.assert_allclose(g_sel, g_mar, rtol=1e-8, atol=1e-10)
    # ... and the outcome part is the plain MAR model's: logp differs by the response terms only.
    plain = ChangeModel("y", family, levels=("site",)).build(d)
    point = random_point(mar, 7)
    part = plain.point_logps({v.name: point[v.name] for v in plain.value_vars}, round_vals=12,
                             **FAST)
    full = mar.point_logps(point, round_vals=12, **FAST)
    assert all(full[k] == pytest.approx(v) for k, v in part.items())


def test_continuous_outcome_gets_latent_values():
    d = design("gaussian")
    model = ChangeModel("y", "gaussian", levels=(), attrition=Selection(kappa=(0.5, 0.5))).build(d)
    lay = response_layout(d, "gaussian")
    ip = model.initial_point()
    assert ip["y_missing"].shape == (int(np.isnan(lay.y).sum()),)
    assert np.isfinite(model.compile_logp(**FAST)(ip))
    assert lay.center == pytest.approx(np.nanmean(d.y[:, 0]))


def test_unsupported_family_is_a_clear_error():
    d = design()
    for fam in ("negative_binomial", "hurdle_lognormal"):
        with pytest.raises(ModelError, match=f"does not support family '{fam}'.*Supported: "
                                             "bernoulli, binomial, beta_binomial, gaussian"):
            Selection().add_to_model(None, ChangeModel("y", fam, levels=()), d, {})


def test_labels_and_round_trip():
    cases = [(Selection(kappa=(-1, 0.5)), "selection(kappa~N(-1,0.5))"),
             (Selection(kappa=0.0), "selection(kappa=0)"),
             (Selection(kappa={1: (-1, 0.5), 2: -0.5}, shared_parameter=True),
              "selection(kappa~{1:N(-1,0.5),2:-0.5}, shared)"),
             (Selection(kappa={"prescribing": (0, 1), "residential": (-1, 1)}),
              "selection(kappa~{prescribing:N(0,1),residential:N(-1,1)})"),
             (ResponseModel(), "mar")]
    import json
    for att, label in cases:
        assert att.label == label
        back = from_dict(json.loads(json.dumps(att.to_dict())))
        assert back.label == label and back.to_dict() == att.to_dict()
    cm = ChangeModel("y", "bernoulli", attrition=Selection(kappa=(-1, 0.5)))
    assert ChangeModel.from_spec(json.loads(json.dumps(cm.spec()))).attrition_label == \
        "selection(kappa~N(-1,0.5))"
    with pytest.raises(ModelError, match="kappa"):
        Selection(kappa="strong")
    with pytest.raises(ModelError, match="sd >= 0"):
        Selection(kappa=(0, -1))


def test_kappa_by_wave_and_modality_build():
    d = design()
    by_wave = ChangeModel("y", "bernoulli", levels=(),
                          attrition=Selection(kappa={1: (-1, 0.5), 2: 0.0})).build(d)
    assert "kappa_1" in by_wave.named_vars and "kappa_2" not in by_wave.named_vars
    with pytest.raises(ModelError, match="one prior for each follow-up wave"):
        ChangeModel("y", "bernoulli", levels=(), attrition=Selection(kappa={1: (-1, 0.5)})
                    ).build(d)
    shared = ChangeModel("y", "bernoulli", levels=(),
                         attrition=Selection(shared_parameter=True)).build(d)
    assert "r_lambda_person" in shared.named_vars


def test_propensity_draws_from_a_hand_posterior():
    d = design()
    lay = response_layout(d, "bernoulli")
    rng = np.random.default_rng(0)
    s = 10
    post = xr.Dataset({
        "r_intercept": (("chain", "draw", "r_wave"), rng.normal(size=(1, s, 3))),
        "r_rho_prev": (("chain", "draw"), rng.normal(size=(1, s))),
        "r_beta_covariate": (("chain", "draw", "covariate"), rng.normal(size=(1, s, 1))),
    })
    from dtors_bayes.models.response import ResponseFit

    rf = ResponseFit(ResponseModel(), d, lay, xr.DataTree.from_dict({"posterior": post}))
    p = rf.response_propensity_draws()
    assert p.shape == (s, 6, 3)
    assert np.all(p[:, :, 0] == 1.0)
    assert np.isnan(p[:, ~lay.attempted[:, 2], 2]).all()
    assert np.all((p[:, lay.attempted[:, 2], 2] > 0) & (p[:, lay.attempted[:, 2], 2] < 1))
    want = expit(post["r_intercept"].values[0, :, 0] + post["r_rho_prev"].values[0] * d.y[0, 0]
                 + post["r_beta_covariate"].values[0, :, 0] * d.X[0, 0])
    np.testing.assert_allclose(p[:, 0, 1], want)
    cum = response_propensity_draws(rf, kind="cumulative")
    np.testing.assert_allclose(cum[:, 0, 2], p[:, 0, 1] * p[:, 0, 2])
    # person 2 (not seen on time) also had the late chance: P(seen) = p_on + (1 - p_on) p_late
    lin2 = post["r_rho_prev"].values[0] * d.y[1, 0] + post["r_beta_covariate"].values[0, :, 0] \
        * d.X[1, 0]
    p_on, p_late = (expit(post["r_intercept"].values[0, :, k] + lin2) for k in (0, 1))
    np.testing.assert_allclose(p[:, 1, 1], p_on + (1 - p_on) * p_late)
    np.testing.assert_allclose(cum[:, 1, 1], p_on)


@pytest.mark.integration
def test_tiny_selection_fit_end_to_end():
    """A real (tiny) joint fit: estimates carry the label; sensitivity and impute run on it."""
    from dtors_bayes.attrition.imputation import impute
    from dtors_bayes.attrition.pattern_mixture import sensitivity
    from dtors_bayes.testing import TINY_SAMPLER, tiny_cohort

    cohort = tiny_cohort(60)
    cm = ChangeModel("crime", "bernoulli", levels=(), attrition=Selection(kappa=(-1.0, 0.5)))
    fit = cm.fit(cohort, random_seed=1, **TINY_SAMPLER)
    assert "kappa" in fit.posterior
    est = fit.estimate()
    assert set(est.attrition) == {"selection(kappa~N(-1,0.5))"}
    res = sensitivity(fit, [0.0, 1.0])
    assert set(res.table.attrition) == {"selection(kappa~N(-1,0.5)); delta=0",
                                        "selection(kappa~N(-1,0.5)); delta=1"}
    shift = cm.attrition.prior_to_posterior(fit.posterior)
    k = fit.posterior["kappa"].values.ravel()
    assert shift.loc[0, "parameter"] == "kappa"
    assert shift.loc[0, "shift_in_prior_sd"] == pytest.approx((k.mean() + 1.0) / 0.5)
    imp = impute(fit, n=4)
    assert imp.value.isin([0.0, 1.0]).all()
    p = response_propensity_draws(fit)
    assert p.shape[1:] == fit.design.y.shape


def _two_person_design(b_seen: bool, b_y: float, time_months=(9.0, 9.0)):
    """Intake + one follow-up; A is seen at month 9 with y = 1; B seen (y = b_y) or not.

    As in every design, a cell not interviewed holds its wave's nominal months (4).
    """
    inter = np.array([[True, True], [True, b_seen]])
    months = np.array([[0.0, time_months[0]], [0.0, time_months[1] if b_seen else 4.0]])
    y = np.array([[0.0, 1.0], [1.0, b_y if b_seen else np.nan]])
    schedule = {0: 0.0, 1: 4.0}
    return Design(
        person_ids=np.array([1, 2]), modality=np.zeros(2, int), modality_labels=["all"],
        site=None, site_labels=[], area=None, area_labels=[], site_area=None,
        X=np.zeros((2, 0)), covariate_names=[], y=y, months=months, interviewed=inter,
        waves=[0, 1], schedule=schedule, trials=1,
        late=late_interviews(months, inter, [0, 1], schedule))


@pytest.mark.parametrize("time", ["wave", "months"])
def test_selection_likelihood_is_a_probability_model(time):
    """P(r=1, y=0) + P(r=1, y=1) + P(r=0) = 1 for one person at fixed parameters.

    Everyone is interviewed at month 9 while the wave's nominal month is 4. A non-responder
    must be scored at the months they would have been seen at (9), not at the nominal 4,
    or the three probabilities do not sum to 1 whenever kappa != 0 (the months-basis defect).
    """
    def model_of(b_seen, b_y=0.0):
        return ChangeModel("y", "bernoulli", levels=(), time=time,
                           attrition=Selection(kappa=(-1.0, 0.5))).build(
                               _two_person_design(b_seen, b_y))

    missing = model_of(False)
    point = random_point(missing, seed=5)
    point["kappa"] = np.array(-1.5)

    def lik(model):
        terms = [*model.observed_RVs, *model.potentials]
        return float(model.compile_logp(vars=terms, jacobian=False, **FAST)(point))

    log_p0 = lik(missing)
    pot = missing.compile_fn(missing.replace_rvs_by_values([missing["y_missing_marginal"]])[0],
                             inputs=missing.value_vars, on_unused_input="ignore", **FAST)
    log_r0 = float(pot(point))  # log P_B(r = 0): B is the only missing cell
    ratio = sum(np.exp(lik(model_of(True, v)) - log_p0) for v in (0.0, 1.0))
    # sum_v P(r=1, v) / P(r=0) + 1 = 1 / P(r=0), to rounding
    assert ratio + 1.0 == pytest.approx(np.exp(-log_r0), rel=1e-9)
    assert np.exp(log_r0) < 0.999  # a real probability, not a degenerate 1


def test_random_change_is_one_at_every_follow_up_under_both_baselines():
    from dtors_bayes.models.time_basis import TimeBasis
    from dtors_bayes.testing import tiny_cohort

    cohort = tiny_cohort(40)
    for baseline, want in (("outcome", [0.0, 1.0, 1.0]), ("covariate", [1.0, 1.0])):
        cm = ChangeModel("crime", levels=("site",), random_change=("site",), baseline=baseline)
        d = cm.design(cohort)
        basis = cm.basis(d)
        for j, w in enumerate(want):
            cells = d.cells(basis, np.arange(3), np.full(3, j))
            assert np.all(cells["change"] == w), (baseline, j)
    b = TimeBasis.build("wave", [1, 2], {0: 0.0, 1: 4.0, 2: 12.0})
    assert b.intake == 0 and b.change_indicator(np.array([0, 1]), np.zeros(2)).tolist() == [1, 1]


def test_attempted_window_does_not_condition_on_the_later_response():
    """An on-time FU1 responder interviewed later than every FU2 responder is still attempted.

    The old rule took the FU2 window from the FU1 months of FU2 *responders*, so this person
    (FU1 at 4.8 months, later than the responders' 3.5 and 4.6) was silently dropped from the
    FU2 risk set, which is conditioning on r at FU2.
    """
    d = design()
    d.months[2, 1] = 4.8
    d.late = late_interviews(d.months, d.interviewed, d.waves, d.schedule)
    lay = response_layout(d, "bernoulli")
    assert lay.attempted[2, 2] and not d.interviewed[2, 2]
    assert not lay.attempted[5, 2]  # the late single follow-up (months 9) is not offered FU2


def test_late_rule_and_late_rows_of_the_wave_basis():
    from dtors_bayes.models.time_basis import TimeBasis

    rng = np.random.default_rng(1)
    n = 400
    on, lt = rng.uniform(3, 5, n), rng.uniform(6, 12, n)
    is_late = rng.random(n) < 0.2
    months = np.column_stack([np.zeros(n), np.where(is_late, lt, on), rng.uniform(11, 13, n)])
    inter = np.ones((n, 3), bool)
    sched = {0: 0.0, 1: 4.0, 2: 12.0}
    lim = on_time_limits(months, inter, [0, 1, 2], sched)
    assert 4.9 < lim[1] <= 5.0 and 2 not in lim
    np.testing.assert_array_equal(late_interviews(months, inter, [0, 1, 2], sched)[:, 1],
                                  is_late)
    # no gap: nobody is late
    months[:, 1] = rng.uniform(3, 12, n)
    assert late_interviews(months, inter, [0, 1, 2], sched) is None
    b = TimeBasis.build("wave", [0, 1, 2], sched)
    rows = b.matrix(np.array([1, 1, 2]), np.array([9.0, 9.0, 12.5]),
                    late=np.array([True, False, True]))
    np.testing.assert_allclose(rows, [[0, 0.375, 0.625], [0, 1, 0], [0, 0, 1]])


def test_design_round_trip_keeps_late_flags():
    d = design()
    back = Design.from_dataset(d.to_dataset())
    np.testing.assert_array_equal(back.late, d.late)
    assert back.late[5, 1] and back.late.sum() == 1


def test_simulated_response_follows_the_selection_model():
    """``Selection.simulate_response`` draws r from the model's own response probabilities.

    5000 persons, no covariates: the share interviewed among y = 1 and y = 0 at each stage
    must match sigmoid(alpha_t + rho y_prev + kappa y) within 4 binomial sd (a fixed seed;
    4 sd keeps a false alarm below 1e-4 per comparison).
    """
    from dataclasses import replace

    n = 5000
    rng = np.random.default_rng(2)
    y = (rng.random((n, 3)) < [0.4, 0.3, 0.2]).astype(float)
    d = replace(design(), person_ids=np.arange(n), modality=np.zeros(n, int),
                modality_labels=["all"], site=None, site_labels=[], X=np.zeros((n, 0)),
                covariate_names=[], y=y, months=np.tile([0.0, 4.0, 12.0], (n, 1)),
                interviewed=np.ones((n, 3), bool), late=None)
    params = {"r_intercept": np.array([0.3, 0.8]), "r_rho_prev": np.array(0.5),
              "kappa": np.array(-1.0)}
    seen = Selection(kappa=(-1.0, 0.5)).simulate_response(d, params, y, "bernoulli", seed=4)
    assert seen[:, 0].all() and not (seen[:, 2] & ~seen[:, 1]).any()  # monotone
    for t, prev_ok in ((1, np.ones(n, bool)), (2, seen[:, 1])):
        for yv in (0.0, 1.0):
            for pv in (0.0, 1.0):
                sel = prev_ok & (y[:, t] == yv) & (y[:, t - 1] == pv)
                want = expit(params["r_intercept"][t - 1] + 0.5 * pv - 1.0 * yv)
                got = seen[sel, t].mean()
                assert abs(got - want) < 4 * np.sqrt(want * (1 - want) / sel.sum())
