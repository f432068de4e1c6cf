"""One small fit with an effect modifier on a simulated cohort (integration tier)."""

from __future__ import annotations

import warnings

import pytest

import dtors_bayes  # noqa: F401 - binds Fit.estimate
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.simulation.generate import simulate_cohort


@pytest.mark.integration
def test_modifier_fit_recovers_the_direction_of_a_subgroup_difference():
    sim = simulate_cohort(11, n_persons=500, n_areas=20, n_sites=40, n_population_areas=40,
                          population_size=4000, attrition="mcar",
                          outcomes=["acquisitive_crime"],
                          modifier_effects={"referral_route": {"criminal_justice": 2.0}})
    model = ChangeModel("acquisitive_crime", "bernoulli", levels=(),
                        modifiers=["referral_route"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(sim.cohort, draws=150, tune=200, chains=2, cores=1, random_seed=3,
                        progressbar=False)
    t = fit.estimate(by="referral_route")
    truth = sim.truth.subgroups
    for wave in (1, 2):
        row = t[(t["estimand"] == "subgroup_difference") & (t["wave"] == wave)
                & (t["modality"] == "")].iloc[0]
        assert row["contrast"] == "criminal_justice - other"
        want = truth[(truth["estimand"] == "subgroup_difference") & (truth["wave"] == wave)
                     & (truth["modality"] == "") & (truth["population"] == "sample")]["value"]
        assert float(want.iloc[0]) > 0.2  # criminal-justice clients improve less
        assert row["mean"] > 0 and row["p_direction"] > 0.9, row.to_dict()
        assert "partially pooled" in row["assumption"]
