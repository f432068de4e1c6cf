"""What the naive adjusted contrast targets under the simulator's unmeasured confounder U.

Session 7 decision (ARCHITECTURE.md, causal): the true confounding functions condition on the
covariates (U integrated out), because that is the adjustment set of the change model's
likelihood; its person effect adds no proxy of U (U does not enter intake, and a contrast
gives a person the same effect in both arms). Checked here without MCMC by maximum
likelihood of the change model's own likelihood (random-intercept logistic, ``time="wave"``,
cell means by modality and wave) on a large complete cohort.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import minimize
from scipy.special import expit, logsumexp

from dtors_bayes import constants
from dtors_bayes.simulation.confounder import GIVEN_X_CONTRAST, given_x_contrasts
from dtors_bayes.simulation.generate import simulate_cohort
from dtors_bayes.simulation.population import simulate_population
from dtors_bayes.simulation.truth import SCHEDULE, OutcomeModel

MODS = constants.DTORS_MODALITIES
OUTCOME = "acquisitive_crime"
PAIRS = ("residential", "psychosocial", "inpatient_detox")


def _design(persons: pd.DataFrame) -> np.ndarray:
    drug = persons["primary_drug"]
    return np.column_stack([
        (persons["age"].to_numpy(float) - 35) / 10, persons["sex"] == "male",
        *(drug == d for d in ("crack", "cocaine", "cannabis", "amphetamine", "other")),
        persons["referral_route"] == "criminal_justice"]).astype(float)


def _random_intercept_ml(y: np.ndarray, z: np.ndarray, x: np.ndarray, nodes: int = 20):
    """MLE of ``logit P(y_it) = alpha[z_i, t] + x_i'b + sigma v_i``, v ~ N(0, 1) (GH)."""
    v, wq = hermegauss(nodes)
    lw = np.log(wq / wq.sum())
    n_m, n_t, n_x = len(MODS), y.shape[1], x.shape[1]

    def unpack(th):
        return th[:n_m * n_t].reshape(n_m, n_t), th[n_m * n_t:-1], th[-1]

    def fg(th):
        a, b, ls = unpack(th)
        s = np.exp(ls)
        e = (a[z] + (x @ b)[:, None])[:, :, None] + s * v[None, None, :]   # n, T, Q
        ll = (y[:, :, None] * e - np.logaddexp(0.0, e)).sum(1) + lw         # n, Q
        lse = logsumexp(ll, axis=1)
        post = np.exp(ll - lse[:, None])
        r = y[:, :, None] - expit(e)                                         # n, T, Q
        d_eta = np.einsum("nq,ntq->nt", post, r)
        ga = np.zeros((n_m, n_t))
        np.add.at(ga, z, d_eta)
        gb = x.T @ d_eta.sum(1)
        gs = np.einsum("nq,ntq,q->", post, r, v) * s
        return -lse.sum(), -np.concatenate([ga.ravel(), gb, [gs]])

    res = minimize(fg, np.zeros(n_m * n_t + n_x + 1), jac=True, method="L-BFGS-B")
    assert res.success, res.message
    a, b, ls = unpack(res.x)
    return a, b, np.exp(ls), v, lw


@pytest.fixture(scope="module")
def big_confounded():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate_cohort(3, n_persons=20_000, attrition="mcar", outcomes=[OUTCOME],
                               population_size=100_000, n_population_areas=149,
                               confounder_strength=1.0)


def test_change_model_likelihood_targets_the_covariate_only_contrast(big_confounded):
    """ML of the change model's likelihood recovers ``modality_contrast_given_x``, not the
    causal contrast, and each person's own posterior effect changes nothing: the adjustment
    set is the covariates (so ``c`` given the covariates is the right sensitivity truth)."""
    sim = big_confounded
    persons = sim.persons
    z = pd.Categorical(persons["modality"], categories=MODS).codes
    x = _design(persons)
    y = (sim.truth.complete.pivot(index="person_id", columns="wave", values=OUTCOME)
         .loc[persons["person_id"]].to_numpy(float))
    a, b, s, v, lw = _random_intercept_ml(y, z, x)
    xb = x @ b
    e_obs = (a[z] + xb[:, None])[:, :, None] + s * v[None, None, :]
    ll = (y[:, :, None] * e_obs - np.logaddexp(0.0, e_obs)).sum(1) + lw
    post = np.exp(ll - logsumexp(ll, axis=1)[:, None])       # each person's own effect
    prior = np.broadcast_to(np.exp(lw), post.shape)            # integrated out
    est = sim.truth.estimands
    sel = (est.outcome == OUTCOME) & (est.wave == 2) & (est.population == "sample")

    def truth(name, zb):  # stored as "prescribing - zb"
        row = est[sel & (est.estimand == name) & (est.contrast == f"prescribing - {zb}")]
        return -float(row["value"].iloc[0])

    for zb in PAIRS:
        j = MODS.index(zb)
        fits = []
        for w in (post, prior):
            def change(m, w=w):
                return ((expit(a[m, 2] + xb[:, None] + s * v) * w).sum(1)
                        - (expit(a[m, 0] + xb[:, None] + s * v) * w).sum(1))
            fits.append(float((change(j) - change(0)).mean()))
        assert fits[0] == pytest.approx(fits[1], abs=2e-3)
        given_x, causal = truth(GIVEN_X_CONTRAST, zb), truth("modality_contrast", zb)
        assert abs(given_x - causal) > 0.03               # the confounding is large
        assert fits[0] == pytest.approx(given_x, abs=0.012)   # and it is what ML sees
        assert abs(fits[0] - causal) > 0.02


def test_given_x_contrasts_are_the_causal_plus_the_level_biases(big_confounded):
    t = big_confounded.truth
    est = t.estimands
    gx = est[est.estimand == GIVEN_X_CONTRAST]
    assert set(gx["population"]) == {"target", "sample"} and set(gx["wave"]) == {1, 2}
    for r in gx.itertuples():
        a, b = r.contrast.split(" - ")
        causal = t.value(r.outcome, "modality_contrast", r.wave, r.population,
                         contrast=r.contrast)
        bias = (t.confounding_bias(r.outcome, r.wave, a, r.population)
                - t.confounding_bias(r.outcome, r.wave, b, r.population))
        assert r.value == pytest.approx(causal + bias, abs=1e-12)
    assert given_x_contrasts(est, pd.DataFrame()).empty


def test_no_given_x_rows_without_a_confounder():
    sim = simulate_cohort(5, n_persons=300, n_areas=8, n_sites=24, n_population_areas=16,
                          population_size=4000, outcomes=[OUTCOME])
    assert GIVEN_X_CONTRAST not in set(sim.truth.estimands["estimand"])


def test_u_does_not_enter_intake_so_the_intake_outcome_is_no_proxy():
    """Conditioning on the intake outcome as well would leave c unchanged: U enters the
    follow-up predictors only, so the intake outcome is independent of U."""
    rng = np.random.default_rng(0)
    u = np.random.default_rng(1).normal(size=20_000)
    pop, _ = simulate_population(rng, population_size=20_000, n_population_areas=10,
                                 n_areas=5, n_sites=15, recruitment_bias=1.0, confounder=u,
                                 confounder_strength=1.0)
    attrs = dict(pop.attrs)
    pop.attrs.clear()
    model = OutcomeModel(rng, pop, confounder=attrs["confounder"], confounder_strength=1.0)
    rows = np.arange(model.n)
    uu = attrs["confounder"]
    at0 = model.etas(OUTCOME, rows, SCHEDULE[0], u=uu)["eta"]
    assert np.array_equal(at0, model.etas(OUTCOME, rows, SCHEDULE[0], u=0 * uu)["eta"])
    at2 = model.etas(OUTCOME, rows, SCHEDULE[2], u=uu)["eta"]
    assert not np.allclose(at2, model.etas(OUTCOME, rows, SCHEDULE[2], u=0 * uu)["eta"])
    y0 = model.simulate(np.random.default_rng(2), OUTCOME, rows, SCHEDULE[0])
    assert abs(np.corrcoef(y0, uu)[0, 1]) < 0.03
