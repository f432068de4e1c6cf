"""The simulator's unmeasured confounder U and its true confounding functions."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

from dtors_bayes import constants
from dtors_bayes.simulation.confounder import confounding_truth
from dtors_bayes.simulation.generate import simulate_cohort
from dtors_bayes.simulation.population import CONFOUNDER_MODALITY, simulate_population
from dtors_bayes.simulation.truth import FAMILIES, SCHEDULE, OutcomeModel

SMALL = {"n_persons": 300, "n_areas": 8, "n_sites": 24, "n_population_areas": 16,
         "population_size": 4000, "outcomes": ["acquisitive_crime", "mental_health"]}


def test_strength_zero_is_the_default_output():
    a = simulate_cohort(5, **SMALL)
    b = simulate_cohort(5, confounder_strength=0.0, **SMALL)
    assert a.persons.equals(b.persons) and a.interviews.equals(b.interviews)
    assert a.truth.to_json() == b.truth.to_json()
    assert a.truth.confounding.empty and "confounder_strength" not in a.settings
    assert a.truth.confounding_bias("acquisitive_crime", 2, "residential") == 0.0


def test_confounder_biases_selection_and_is_recorded():
    sim = simulate_cohort(5, confounder_strength=1.0, **SMALL)
    c = sim.truth.confounding
    assert set(c["population"]) == {"target", "sample"} and set(c["wave"]) == {1, 2}
    assert "unmeasured_confounder" in sim.truth.params
    u = sim.truth.population_persons["confounder"].to_numpy()
    mod = sim.truth.population_persons["modality"].to_numpy()
    # the less frail choose residential, the frailer psychosocial
    assert u[mod == "residential"].mean() < u[mod == "prescribing"].mean() < \
        u[mod == "psychosocial"].mean()
    crime = c[(c.outcome == "acquisitive_crime") & (c.wave == 2) & (c.population == "target")]
    row = crime[(crime.modality == "residential") & (crime.other == "psychosocial")]
    assert row["c"].iloc[0] < 0  # residential clients at lower risk than psychosocial ones
    assert row["gamma"].iloc[0] > 0
    # scores are E[U | A = a]: ordered like the loadings
    s = crime.drop_duplicates("modality").set_index("modality")["score_modality"]
    assert s["residential"] < s["prescribing"] < s["psychosocial"]
    assert sim.truth.confounding_bias("acquisitive_crime", 2, "residential", "target") < 0


def test_confounding_identity_is_exact():
    """E[Y_t(a)] = E_i[E(Y_t(a) | A=a, i)] - sum_a' pibar_a' cbar(a, a'), U integrated out."""
    rng = np.random.default_rng(0)
    u = np.random.default_rng(1).normal(size=3000)
    pop, _ = simulate_population(rng, population_size=3000, n_population_areas=10, n_areas=5,
                                 n_sites=15, recruitment_bias=1.0, confounder=u,
                                 confounder_strength=1.5)
    attrs = dict(pop.attrs)
    pop.attrs.clear()
    model = OutcomeModel(rng, pop, confounder=attrs["confounder"], confounder_strength=1.5)
    rows = np.arange(0, 3000, 3)
    table = confounding_truth(model, attrs["modality_logit_base"], CONFOUNDER_MODALITY, 1.5,
                              rows, ["acquisitive_crime"], nodes=24)
    nodes, wq = hermegauss(24)
    wq = wq / wq.sum()
    fam = FAMILIES["bernoulli"]
    rep, uu = np.repeat(rows, 24), np.tile(nodes, rows.size)
    from scipy.special import softmax

    load = np.array([CONFOUNDER_MODALITY[z] for z in constants.DTORS_MODALITIES])
    prob = softmax(attrs["modality_logit_base"][rows][:, None, :]
                   + 1.5 * nodes[None, :, None] * load, axis=2)
    for a, za in enumerate(constants.DTORS_MODALITIES):
        mu = fam.mean(model.etas("acquisitive_crime", rep, SCHEDULE[2], z=a, u=uu), {},
                      28).reshape(rows.size, 24)
        causal = (mu * wq).sum(1).mean()
        own = ((mu * wq[None] * prob[:, :, a]).sum(1) / (wq * prob[:, :, a]).sum(1)).mean()
        sel = table[(table.wave == 2) & (table.population == "sample") & (table.modality == za)]
        bias = (sel["share_other"] * sel["c"]).sum()
        assert own - bias == pytest.approx(causal, abs=1e-10)
