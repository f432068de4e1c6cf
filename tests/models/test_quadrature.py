"""The person effect integrated out by Gauss-Hermite quadrature (``person_effect="quadrature"``).

The likelihood checks are exact comparisons against numpy (tolerance 1e-9: the same sums in
another order) or against a 4001-point trapezoid integral (tolerance 1e-6 per person at
60 nodes: the GH error is then below 1e-10 for these smooth integrands, the trapezoid's about
1e-12). The conditional draws are checked against the conditional's mean and sd by a fine
trapezoid (tolerances in the test's docstring).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest
import xarray as xr
from scipy.special import expit, logsumexp

from dtors_bayes import ChangeModel, ModelError, Selection
from dtors_bayes.models.predictor import linear_predictor
from dtors_bayes.models.quadrature import (
    conditional_function,
    draw_person_effects,
    gauss_hermite,
)
from dtors_bayes.models.sampling import prior_draw
from dtors_bayes.testing import tiny_cohort


@pytest.fixture(scope="module")
def cohort():
    return tiny_cohort(80, seed=3)


def test_gauss_hermite_rule_is_the_standard_normal_expectation():
    x, lw = gauss_hermite(9)
    w = np.exp(lw)
    assert w.sum() == pytest.approx(1.0, abs=1e-13)
    for k, moment in ((1, 0.0), (2, 1.0), (4, 3.0), (6, 15.0)):
        assert (w * x**k).sum() == pytest.approx(moment, abs=1e-10)


def _point_of(model, draw):
    """The value-variable point (transformed space) of a prior draw, via PyMC's transforms."""
    out = {}
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        tr = model.rvs_to_transforms.get(rv)
        x = draw[rv.name]
        if tr is not None:
            x = tr.forward(pt.as_tensor(np.asarray(x, dtype=value.dtype)),
                           *rv.owner.inputs).eval()
        out[value.name] = np.asarray(x, dtype=value.dtype)
    return out


def test_bernoulli_marginal_equals_numpy_gauss_hermite(cohort):
    cm = ChangeModel("crime", "bernoulli", person_effect="quadrature", quadrature_nodes=12)
    design = cm.design(cohort)
    model = cm.build(design)
    assert "z_person" not in model.named_vars
    draw = prior_draw(model, seed=5)
    import pytensor

    pot = model.replace_rvs_by_values([model["person_marginal"]])[0]
    fn = pytensor.function(model.value_vars, pot, on_unused_input="ignore")
    point = _point_of(model, draw)
    value = float(fn(*[point[v.name] for v in model.value_vars]))
    p_idx, t_idx = design.observed_cells()
    cells = design.cells(cm.basis(design), p_idx, t_idx, design.months[p_idx, t_idx])
    eta = linear_predictor({k: np.asarray(v)[None] for k, v in draw.items()}, cells)[0]
    x, lw = gauss_hermite(12)
    z = eta[:, None] + draw["sigma_person"] * x[None, :]
    y = design.y[p_idx, t_idx][:, None]
    lp = y * np.log(expit(z)) + (1 - y) * np.log(expit(-z))
    acc = np.zeros((design.n_person, 12))
    np.add.at(acc, p_idx, lp)
    assert value == pytest.approx(logsumexp(acc + lw, axis=1).sum(), abs=1e-9)


def test_many_nodes_match_a_fine_integral(cohort):
    cm = ChangeModel("crime", "bernoulli", person_effect="quadrature", levels=())
    design = cm.design(cohort)
    evaluate, _ = conditional_function(cm, design)
    draw = prior_draw(cm.build(design), seed=2)
    draw["sigma_person"] = np.array(1.6)
    fine = np.linspace(-9, 9, 4001)
    lp = evaluate(draw, np.broadcast_to(fine, (design.n_person, fine.size)))[""] \
        - 0.5 * fine**2 - 0.5 * np.log(2 * np.pi)
    m = lp.max(axis=1, keepdims=True)
    exact = m[:, 0] + np.log(np.trapezoid(np.exp(lp - m), fine, axis=1))
    x, lw = gauss_hermite(60)
    gh = logsumexp(evaluate(draw, np.broadcast_to(x, (design.n_person, x.size)))[""] + lw,
                   axis=1)
    assert np.abs(gh - exact).max() < 1e-6


def test_selection_at_kappa_zero_leaves_the_outcome_posterior_alone(cohort):
    """With kappa fixed at 0 the missing-outcome sum inside each person's integral is P(r),
    free of the person effect: logp(selection) - logp(MAR) must not depend on the outcome
    parameters. A wrong nesting (the sum outside the integral, or the response term at the
    nodes twice) breaks this."""
    def logps(att):
        cm = ChangeModel("crime", "bernoulli", person_effect="quadrature", levels=(),
                         attrition=att)
        m = cm.build(cm.design(cohort))
        return m, m.compile_logp()

    sel, sel_logp = logps(Selection(kappa=0.0))
    mar, mar_logp = logps("mar")
    diffs = []
    for seed in (1, 2, 3):
        draw = prior_draw(sel, seed=seed)
        resp = {k: v for k, v in _point_of(sel, draw).items() if k.startswith("r_")}
        for shift in (0.0, 0.7):
            outcome = _point_of(mar, {**draw, "sigma_person": draw["sigma_person"] + shift})
            diffs.append(sel_logp({**outcome, **resp}) - mar_logp(outcome))
        # the response parameters move the difference; the outcome ones must not
        assert diffs[-1] == pytest.approx(diffs[-2], abs=1e-8)


def test_conditional_draws_match_the_numerical_conditional(cohort):
    """4000 draws per person at one parameter value against the conditional's mean and sd
    by a 4001-point trapezoid (independent of the adaptive grid). The mean of 4000 draws
    has a Monte Carlo sd of 0.016 conditional sd; 0.07 is over 4 of them (80 persons)."""
    cm = ChangeModel("crime", "bernoulli", person_effect="quadrature", levels=())
    design = cm.design(cohort)
    draw = prior_draw(cm.build(design), seed=4)
    draw["sigma_person"] = np.array(1.5)
    n_draw = 4000
    post = xr.Dataset({k: (("chain", "draw", *[f"d{k}{i}" for i in range(np.ndim(v))]),
                           np.broadcast_to(v, (1, n_draw, *np.shape(v))))
                       for k, v in draw.items()})
    z, error = draw_person_effects(cm, design, post, seed=1)
    z = z["z_person"][0]                                                  # (draw, person)
    assert error < 0.1
    evaluate, _ = conditional_function(cm, design)
    fine = np.linspace(-9, 9, 4001)
    lp = evaluate(draw, np.broadcast_to(fine, (design.n_person, fine.size)))[""] - 0.5 * fine**2
    dens = np.exp(lp - lp.max(axis=1, keepdims=True))
    dens /= np.trapezoid(dens, fine, axis=1)[:, None]
    mean = np.trapezoid(dens * fine, fine, axis=1)
    sd = np.sqrt(np.trapezoid(dens * (fine - mean[:, None]) ** 2, fine, axis=1))
    assert np.abs((z.mean(axis=0) - mean) / sd).max() < 0.07
    assert np.abs(z.std(axis=0) / sd - 1).max() < 0.08


def test_bad_person_effect_arguments_are_listed():
    with pytest.raises(ModelError) as e:
        ChangeModel("crime", person_effect="laplace", quadrature_nodes=1)
    msg = str(e.value)
    assert "person_effect='laplace'" in msg and "'sampled', 'quadrature'" in msg
    assert "quadrature_nodes=1" in msg
    for fam in ("binomial", "gaussian"):
        with pytest.raises(ModelError, match=f"family='{fam}'"):
            ChangeModel("days", fam, person_effect="quadrature")
    with pytest.raises(ModelError, match="shared-parameter"):
        ChangeModel("crime", person_effect="quadrature",
                    attrition=Selection(kappa=(0, 1), shared_parameter=True))


def test_spec_round_trip_and_default_spec_unchanged():
    cm = ChangeModel("crime", person_effect="quadrature", quadrature_nodes=9)
    assert ChangeModel.from_spec(cm.spec()) == cm
    assert "person_effect" not in ChangeModel("crime").spec()


@pytest.mark.integration
def test_quadrature_fit_agrees_with_the_sampled_fit(cohort, tmp_path):
    """Same posterior, two samplers of it. Tolerance 0.6 posterior sd: the difference of two
    independent means with bulk ESS >= 90 each (the sampled fit's sigma_person reaches
    about 96 at these settings) has an sd of at most 0.15 posterior sd, so 0.6 is 4 of
    them."""
    from dtors_bayes import load_fit

    kw = {"draws": 300, "tune": 300, "chains": 2, "progressbar": False, "random_seed": 3}
    fits = {pe: ChangeModel("crime", "bernoulli", levels=(), person_effect=pe).fit(cohort,
                                                                                  **kw)
            for pe in ("sampled", "quadrature")}
    a, b = (fits[k].posterior for k in ("sampled", "quadrature"))
    for name in ("sigma_person", "mu_time"):
        sd = a[name].std(("chain", "draw")).values
        diff = np.abs(a[name].mean(("chain", "draw")).values
                      - b[name].mean(("chain", "draw")).values)
        assert np.all(diff < 0.6 * sd), name
    q = fits["quadrature"]
    assert not any("quadrature" in m for m in q.problems())
    assert q.posterior.attrs["quadrature_log_error"] < 0.1
    assert q.posterior["z_person"].dims == ("chain", "draw", "person")
    est = q.estimate()
    assert np.isfinite(est["mean"]).all()
    q.save(tmp_path / "q.nc")
    back = load_fit(tmp_path / "q.nc")
    assert back.model == q.model
    assert np.array_equal(back.posterior["z_person"].values, q.posterior["z_person"].values)


def test_analysis_spec_takes_the_person_effect(tmp_path):
    from dtors_bayes import SpecError
    from dtors_bayes.workflow.spec import load_spec

    good = tmp_path / "q.toml"
    good.write_text('[model]\noutcome = "crime"\nperson_effect = "quadrature"\n'
                    'quadrature_nodes = 11\n')
    model = load_spec(good).model()
    assert (model.person_effect, model.quadrature_nodes) == ("quadrature", 11)
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\noutcome = "crime"\nperson_effect = "laplace"\n')
    with pytest.raises(SpecError, match="person_effect"):
        load_spec(bad)
