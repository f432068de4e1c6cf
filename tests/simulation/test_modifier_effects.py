"""The simulator's effect modification option (``modifier_effects``): no sampling."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.exceptions import SpecError
from dtors_bayes.simulation.generate import simulate_cohort

SMALL = {"n_persons": 300, "n_areas": 20, "n_sites": 40, "n_population_areas": 40,
         "population_size": 3000, "outcomes": ["acquisitive_crime"]}


def test_default_has_no_subgroup_truth_and_same_draws():
    a = simulate_cohort(5, **SMALL)
    b = simulate_cohort(5, **SMALL, modifier_effects={})
    assert a.truth.subgroups.empty and "modifier_effects" not in a.settings
    assert a.interviews.equals(b.interviews) and a.persons.equals(b.persons)


def test_subgroup_truth_follows_the_effect():
    sim = simulate_cohort(5, **SMALL, modifier_effects={"referral_route":
                                                        {"criminal_justice": 1.0}})
    t = sim.truth.subgroups
    assert set(t["subgroup"]) >= {"referral_route=criminal_justice", "referral_route"}
    d = t[(t["estimand"] == "subgroup_difference") & (t["modality"] == "")
          & (t["population"] == "sample")]
    assert (d["contrast"] == "criminal_justice - other").all()
    assert (d["value"] > 0).all()  # a worse follow-up for criminal-justice clients
    # the difference is the difference of the subgroup changes
    ch = t[(t["estimand"] == "change") & (t["population"] == "sample") & (t["wave"] == 2)]
    v = dict(zip(ch["subgroup"], ch["value"], strict=True))
    assert float(d[d["wave"] == 2]["value"].iloc[0]) == pytest.approx(
        v["referral_route=criminal_justice"] - v["referral_route=other"])
    mu = sim.truth.complete
    cj = sim.persons.set_index("person_id")["referral_route"] == "criminal_justice"
    assert np.isfinite(mu["mu_acquisitive_crime"]).all() and cj.any()
    assert sim.settings["modifier_effects"] == {"referral_route": {"criminal_justice": 1.0}}


@pytest.mark.parametrize(("effects", "match"), [
    ({"modality": {"residential": 1.0}}, "not allowed"),
    ({"referral_route": {"prison": 1.0}}, "not in the population"),
])
def test_bad_modifier_effects(effects, match):
    with pytest.raises(SpecError, match=match):
        simulate_cohort(5, **SMALL, modifier_effects=effects)
