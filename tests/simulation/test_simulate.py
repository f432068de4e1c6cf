"""Tests of the DTORS-shaped simulator, its truth and the bundled data."""

from __future__ import annotations

import filecmp
import json
import math

import numpy as np
import pandas as pd
import pytest

from dtors_bayes import constants
from dtors_bayes.exceptions import SpecError
from dtors_bayes.models.families import FAMILIES
from dtors_bayes.simulation.bundle import DATA_DIR, FILES, read_bundle, write_bundle
from dtors_bayes.simulation.generate import OUTCOME_FAMILIES, SCHEDULE, simulate_cohort
from dtors_bayes.simulation.truth import Truth

SEED = constants.DEFAULT_SEED


@pytest.fixture(scope="module")
def sim():
    return simulate_cohort(SEED)


@pytest.fixture(scope="module")
def sim_mcar():
    return simulate_cohort(SEED, attrition="mcar")


def _binom_tol(n: int, p: float, k: float = 4.0) -> float:
    return k * math.sqrt(n * p * (1 - p))


def _wave(sim, t):
    return sim.interviews[sim.interviews["wave"] == t].set_index("person_id")


# ---- sizes and structure -----------------------------------------------------------------
def test_sizes_and_nesting(sim):
    p = sim.persons
    assert len(p) == 1796
    assert p["person_id"].is_unique
    assert list(p.columns[:8]) == list(constants.PERSON_ROLES)
    assert p["area_id"].nunique() == 94
    # Every site in the sampled areas gets a recruit, so the count is exact (tolerance 0).
    assert p["site_id"].nunique() == 342
    assert (p.groupby("site_id")["area_id"].nunique() == 1).all()
    assert set(p["modality"]) == set(constants.DTORS_MODALITIES)
    assert set(p["referral_route"]) == {"criminal_justice", "other"}
    i = sim.interviews
    assert len(i) == 3 * 1796
    assert (i.groupby("person_id")["wave"].apply(list) == [[0, 1, 2]] * 1796).all()


def test_sample_profile(sim):
    p = sim.persons
    n = len(p)
    male = (p["sex"] == "male").sum()
    assert abs(male - 0.73 * n) <= _binom_tol(n, 0.73)
    age = pd.cut(p["age"], constants.AGE_BREAKS, right=False, labels=constants.AGE_LABELS)
    assert abs((age == "25-34").sum() - 0.47 * n) <= _binom_tol(n, 0.47)
    assert abs((p["primary_drug"] == "heroin").sum() - 0.57 * n) <= _binom_tol(n, 0.57)
    assert abs((p["primary_drug"] == "crack").sum() - 0.12 * n) <= _binom_tol(n, 0.12)


def test_population_table_and_recruitment_bias(sim):
    pop = sim.population
    assert list(pop.columns) == [*constants.POPULATION_VARIABLES, "count"]
    assert pop["count"].sum() == 53_851
    assert (pop["count"] > 0).all()
    assert set(pop["age_group"]) <= set(constants.AGE_LABELS)
    # Recruitment is tilted: heroin and prescribing over-represented in the sample.
    share_pop = pop.groupby("primary_drug")["count"].sum() / pop["count"].sum()
    share_sample = sim.persons["primary_drug"].value_counts(normalize=True)
    assert share_sample["heroin"] > share_pop["heroin"] + 0.03
    cj_pop = pop.loc[pop.referral_route == "criminal_justice", "count"].sum() / 53_851
    assert (sim.persons["referral_route"] == "criminal_justice").mean() < cj_pop - 0.03
    # The population frame in the truth agrees with the table and marks the recruits.
    pp = sim.truth.population_persons
    assert len(pp) == 53_851
    assert pp["person_id"].notna().sum() == 1796
    assert pp["area_id"].nunique() == 149


# ---- attrition ---------------------------------------------------------------------------
def test_response_counts(sim):
    w1, w2 = _wave(sim, 1), _wave(sim, 2)
    on_time = w1["interviewed"] & (w1["months"] <= 5)
    late = w1["interviewed"] & (w1["months"] >= 6)
    n = 1796
    assert abs(on_time.sum() - 886) <= _binom_tol(n, 886 / n)
    assert abs(w2["interviewed"].sum() - 504) <= _binom_tol(int(on_time.sum()), 504 / 886)
    assert abs(late.sum() - 245) <= _binom_tol(n - 886, 245 / (n - 886))
    counts = sim.truth.params["response"]["realised_counts"]
    assert counts == {"fu1": on_time.sum(), "fu2": w2["interviewed"].sum(), "late": late.sum()}


def test_monotone_and_months(sim):
    w0, w1, w2 = _wave(sim, 0), _wave(sim, 1), _wave(sim, 2)
    assert w0["interviewed"].all() and (w0["months"] == 0).all()
    on_time = w1["interviewed"] & w1["months"].between(3, 5)
    # No second follow-up without an on-time first one.
    assert not (w2["interviewed"] & ~on_time).any()
    late = w1["interviewed"] & ~on_time
    assert w1.loc[late, "months"].between(6, 12).all()
    assert not w2.loc[late[late].index, "interviewed"].any()
    assert w2.loc[w2["interviewed"], "months"].between(11, 13).all()
    for w in (w1, w2):
        assert w.loc[~w["interviewed"], ["months", *OUTCOME_FAMILIES]].isna().all().all()
        assert w.loc[~w["interviewed"], "in_treatment"].isna().all()
    assert w0["in_treatment"].isna().all()
    treated = w1.loc[w1["interviewed"], "in_treatment"]
    assert treated.notna().all() and 0.6 < treated.mean() < 0.85


def test_mnar_versus_mcar(sim, sim_mcar):
    # Same seed -> same complete data, whatever the attrition (wave 1 of late responders is
    # at their late months, so only waves 0 and 2 are compared).
    pd.testing.assert_frame_equal(sim.truth.complete.query("wave != 1"),
                                  sim_mcar.truth.complete.query("wave != 1"))
    comp2 = sim.truth.complete.query("wave == 2").set_index("person_id")["acquisitive_crime"]

    def gap(s):
        r = _wave(s, 2)["interviewed"]
        a, b = comp2[~r], comp2[r]
        se = math.sqrt(a.var() / len(a) + b.var() / len(b))
        return a.mean() - b.mean(), se

    d_mnar, se = gap(sim)
    assert d_mnar > 4 * se
    d_mcar, se = gap(sim_mcar)
    assert abs(d_mcar) < 4 * se
    assert sim_mcar.truth.params["response"]["kappa"] == 0.0
    assert sim.truth.params["response"]["kappa"] == pytest.approx(-1.0)


def test_item_nonresponse_and_sharing(sim):
    i = sim.interviews[sim.interviews["interviewed"]]
    miss = i[[k for k in OUTCOME_FAMILIES if k != "sharing"]].isna().to_numpy().mean()
    assert 0.01 < miss < 0.03
    not_inj = i["injecting"] == 0
    assert i.loc[not_inj, "sharing"].isna().all()
    c = sim.truth.complete
    assert c.loc[c["injecting"] == 0, "sharing"].isna().all()
    assert c.loc[c["injecting"] == 1, "sharing"].notna().all()
    cols = [k for k in OUTCOME_FAMILIES if k != "sharing"]
    assert c[cols].notna().all().all()


def test_family_support(sim):
    c = sim.truth.complete
    for k, fam in OUTCOME_FAMILIES.items():
        assert not FAMILIES[fam].invalid(c[k].to_numpy(), 28).any(), k
        assert not FAMILIES[fam].invalid(sim.interviews[k].to_numpy(), 28).any(), k
    assert (c["eq5d"] <= 1).all() and (c["eq5d"] < 1).any()
    assert (c["drug_spend"] >= 0).all() and (c["drug_spend"] == 0).mean() > 0.2
    d = c["days_heroin"]
    assert d.between(0, 28).all() and (d == d.round()).all()


# ---- calibration and truth ---------------------------------------------------------------
PUBLISHED = {
    "acquisitive_crime": (0.40, 0.21, 0.16),
    "overdose": (0.09, 0.06, 0.04),
    "employed": (0.09, 0.12, 0.16),
    "stable_housing": (0.60, 0.70, 0.77),
}


@pytest.mark.parametrize("outcome", list(PUBLISHED))
def test_target_levels_are_calibrated(sim, outcome):
    for wave, target in zip(SCHEDULE, PUBLISHED[outcome], strict=True):
        assert sim.truth.value(outcome, "level", wave) == pytest.approx(target, abs=0.005)


def test_sample_intake_crime(sim):
    # Stated tolerance: the observed intake prevalence of the sample within 0.06 of 40%
    # (recruitment tilt and sampling noise move it away from the population's 40%).
    observed = _wave(sim, 0)["acquisitive_crime"].mean()
    assert abs(observed - 0.40) < 0.06
    assert abs(sim.truth.value("acquisitive_crime", "level", 0, "sample") - 0.40) < 0.06


def test_estimands_table(sim):
    e = sim.truth.estimands
    assert list(e.columns) == [
        "outcome", "estimand", "wave", "modality", "contrast", "population", "value"]
    assert set(e["estimand"]) == {"level", "change", "ratio", "modality_change",
                                  "modality_contrast"}
    assert set(e["population"]) == {"target", "sample"}
    n_pairs = math.comb(len(constants.DTORS_MODALITIES), 2)
    con = e[e["estimand"] == "modality_contrast"]
    assert len(con) == len(OUTCOME_FAMILIES) * 2 * 2 * n_pairs
    assert (con["value"].abs() > 1e-3).any()
    crime = con[(con.outcome == "acquisitive_crime") & (con.population == "target")
                & (con.wave == 1)].set_index("contrast")["value"]
    assert crime["prescribing - residential"] > 0  # residential a larger fall in crime
    t = sim.truth
    lv = [t.value("acquisitive_crime", "level", w) for w in (0, 1, 2)]
    assert t.value("acquisitive_crime", "change", 2) == pytest.approx(lv[2] - lv[0])
    assert t.value("acquisitive_crime", "ratio", 1) == pytest.approx(lv[1] / lv[0])
    # Levels are means of mu at the schedule months: the sample's equal the complete data's
    # mu at intake (months 0 for everyone).
    mu0 = t.complete.query("wave == 0")["mu_acquisitive_crime"].mean()
    assert t.value("acquisitive_crime", "level", 0, "sample") == pytest.approx(mu0)


def test_params_are_json_and_round_trip(sim):
    p = sim.truth.params
    crime = p["outcomes"]["acquisitive_crime"]["eta"]
    assert set(crime) >= {"a", "b", "c", "beta", "sigma_person", "lambda", "sigma_site",
                          "sigma_area", "site_effects", "area_effects"}
    assert len(crime["site_effects"]) == 342
    assert set(p["outcomes"]["drug_spend"]) >= {"eta", "eta_pos", "aux"}
    assert "kappa" in p["response"]
    back = Truth.from_json(sim.truth.to_json())
    assert back.params == json.loads(sim.truth.to_json())["params"]
    pd.testing.assert_frame_equal(back.estimands, sim.truth.estimands, rtol=1e-9)


# ---- determinism and the bundle ----------------------------------------------------------
def test_determinism(sim):
    again = simulate_cohort(SEED)
    pd.testing.assert_frame_equal(again.persons, sim.persons)
    pd.testing.assert_frame_equal(again.interviews, sim.interviews)
    pd.testing.assert_frame_equal(again.truth.estimands, sim.truth.estimands)
    other = simulate_cohort(SEED + 1)
    assert not other.interviews.equals(sim.interviews)
    assert not other.persons.equals(sim.persons)


def test_write_bundle_is_byte_identical(sim, tmp_path):
    a = write_bundle(sim, tmp_path / "a")
    b = write_bundle(simulate_cohort(SEED), tmp_path / "b")
    assert [p.name for p in a] == list(FILES)
    assert all(filecmp.cmp(x, y, shallow=False) for x, y in zip(a, b, strict=True))
    r = read_bundle(tmp_path / "a")
    pd.testing.assert_frame_equal(r["persons"], sim.persons)
    pd.testing.assert_frame_equal(r["interviews"], sim.interviews)
    pd.testing.assert_frame_equal(r["population"], sim.population)
    assert r["config"]["outcomes"] == OUTCOME_FAMILIES
    assert r["config"]["seed"] == SEED


def test_bundled_data_are_current(sim, tmp_path):
    # the example bundle is package data (tests/test_packaging.py): it is always there
    assert (DATA_DIR / "cohort.json").is_file()
    fresh = write_bundle(sim, tmp_path)
    stale = [p.name for p in fresh if not filecmp.cmp(p, DATA_DIR / p.name, shallow=False)]
    assert not stale, f"data/ is stale, regenerate with write_bundle: {stale}"


def test_cohort_property_and_load_example(sim):
    from dtors_bayes.simulation.bundle import load_example, load_example_truth

    cohort = sim.cohort
    assert cohort is sim.cohort  # built once
    assert len(cohort.persons) == 1796
    example = load_example()
    assert len(example.persons) == 1796
    truth = load_example_truth()
    assert truth.value("acquisitive_crime", "level", 2) == pytest.approx(0.16, abs=0.005)


# ---- options -----------------------------------------------------------------------------
def test_options():
    small = simulate_cohort(
        3, n_persons=400, n_areas=20, n_sites=60, n_population_areas=40,
        population_size=5000, response_counts=(200, 110, 60),
        outcomes=["acquisitive_crime", "eq5d"], attrition="mar", recruitment_bias=0.0,
    )
    assert set(small.interviews.columns) == {*constants.INTERVIEW_ROLES, "acquisitive_crime",
                                             "eq5d"}
    assert small.persons["site_id"].nunique() == 60
    assert set(small.truth.estimands["outcome"]) == {"acquisitive_crime", "eq5d"}
    assert small.truth.params["response"]["kappa"] == 0.0
    with pytest.raises(SpecError, match="attrition"):
        simulate_cohort(1, attrition="sometimes")
    with pytest.raises(SpecError, match="response_counts"):
        simulate_cohort(1, response_counts=(2000, 10, 10))
    with pytest.raises(SpecError, match="unknown outcomes"):
        simulate_cohort(1, outcomes=["nope"])


def test_strength_zero_mnar_is_covariate_only(sim):
    weak = simulate_cohort(SEED, strength=0.0)
    comp2 = weak.truth.complete.query("wave == 2").set_index("person_id")["acquisitive_crime"]
    r = _wave(weak, 2)["interviewed"]
    a, b = comp2[~r], comp2[r]
    se = math.sqrt(a.var() / len(a) + b.var() / len(b))
    strong_gap = comp2[~_wave(sim, 2)["interviewed"]].mean() - comp2[
        _wave(sim, 2)["interviewed"]].mean()
    assert a.mean() - b.mean() < strong_gap
    assert abs(a.mean() - b.mean()) < 4 * se + 0.05
    assert np.isfinite(weak.truth.params["response"]["intercepts"]["fu1"])
