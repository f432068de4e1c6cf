"""Cohort construction, round trips, role mapping, array views and the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.data.build import infer_family
from dtors_bayes.data.cohort import Cohort
from dtors_bayes.data.summary import CohortSummary
from dtors_bayes.exceptions import CohortError
from dtors_bayes.testing import HAND_OUTCOMES, hand_long_frame


def test_shapes_and_canonical_tables(hand_cohort):
    c = hand_cohort
    assert (c.n_persons, c.n_waves) == (8, 3)
    assert c.waves == [0, 1, 2]
    assert list(c.person_ids()) == [f"P{i:03d}" for i in range(1, 9)]
    iv = c.interviews
    assert len(iv) == 24
    assert isinstance(iv.index, pd.RangeIndex) and isinstance(c.persons.index, pd.RangeIndex)
    assert list(iv.columns) == ["person_id", "wave", "interviewed", "months", "in_treatment",
                                *HAND_OUTCOMES]
    assert iv["interviewed"].dtype == bool and iv["wave"].dtype == np.int64
    assert iv.equals(iv.sort_values(["person_id", "wave"]).reset_index(drop=True))
    assert c.levels == ("site", "area")
    assert c.outcomes == HAND_OUTCOMES and c.trials == {"days_heroin": 28}
    assert c.covariates == ["age", "sex", "primary_drug", "referral_route", "motivation"]
    assert c.schedule == {0: 0.0, 1: 4.0, 2: 12.0}
    assert "8 persons" in repr(c) and "days_heroin (binomial)" in repr(c)


def test_added_rows_are_counted(hand_cohort):
    ex = hand_cohort.exclusions
    assert list(ex.columns) == ["stage", "reason", "n_rows", "first_ids"]
    row = ex[ex["stage"] == "complete"].iloc[0]
    assert row["n_rows"] == 1 and row["first_ids"] == "P008"
    iv = hand_cohort.interviews
    added = iv[(iv["person_id"] == "P008") & (iv["wave"] == 2)].iloc[0]
    assert not added["interviewed"] and np.isnan(added["months"])


def test_matrices(hand_cohort):
    c = hand_cohort
    yes = c.interviewed_matrix()
    assert yes.dtype == bool and yes.shape == (8, 3)
    assert yes[:, 0].all() and not yes[6, 1] and not yes[5, 2] and not yes[7, 2]
    months = c.months_matrix()
    assert np.isnan(months[~yes]).all() and not np.isnan(months[yes]).any()
    crime = c.matrix("crime")
    assert np.isnan(crime[~yes]).all()
    assert np.isnan(c.matrix("wellbeing")[1, 1])
    treat = c.matrix("in_treatment")
    assert np.isnan(treat[~yes]).all() and (treat[:, 0] == 1).all()
    with pytest.raises(CohortError, match="not an interview column"):
        c.matrix("age")


def test_codes_and_site_area_map(hand_cohort):
    site, labels = hand_cohort.codes("site_id")
    assert labels == ["S1", "S2", "S3", "S4"]
    assert list(site) == [0, 0, 1, 1, 2, 2, 3, 3]
    _, areas = hand_cohort.codes("area_id")
    assert areas == ["A1", "A2"]
    assert list(hand_cohort.site_area_map()) == [0, 0, 1, 1]
    mod, mlabels = hand_cohort.codes("modality")
    assert mlabels == ["prescribing", "psychosocial"] and mod.dtype == np.int64
    with pytest.raises(CohortError, match="not a person column"):
        hand_cohort.codes("nope")


def test_from_long_matches_from_frames(frames, hand_cohort):
    c = Cohort.from_long(hand_long_frame(frames), outcomes=HAND_OUTCOMES,
                         population=frames["population"], person_columns=["motivation"])
    assert c.data_hash() == hand_cohort.data_hash()
    pd.testing.assert_frame_equal(c.persons, hand_cohort.persons)
    pd.testing.assert_frame_equal(c.interviews, hand_cohort.interviews)


def test_from_long_baseline_only_on_intake_row(frames, hand_cohort):
    long = hand_long_frame(frames)
    long.loc[long["wave"] > 0, "motivation"] = np.nan
    c = Cohort.from_long(long, outcomes=HAND_OUTCOMES, population=frames["population"],
                         person_columns=["motivation"])
    assert c.data_hash() == hand_cohort.data_hash()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_from_paths_round_trip(frames, hand_cohort, tmp_path, suffix):
    def write(df, name):
        path = tmp_path / f"{name}{suffix}"
        df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path, index=False)
        return path

    paths = {k: write(v, k) for k, v in frames.items()}
    c = Cohort.from_paths(paths["persons"], paths["interviews"], paths["population"],
                          outcomes=HAND_OUTCOMES)
    assert c.data_hash() == hand_cohort.data_hash()
    long = write(hand_long_frame(frames), "long")
    c2 = Cohort.from_paths(long, population=paths["population"], outcomes=HAND_OUTCOMES,
                           person_columns=["motivation"])
    assert c2.data_hash() == hand_cohort.data_hash()


def test_from_paths_unknown_suffix(tmp_path):
    with pytest.raises(CohortError, match="unknown format '.xlsx'"):
        Cohort.from_paths(tmp_path / "persons.xlsx")


def test_data_hash_changes_with_data(frames, hand_cohort):
    frames["interviews"].loc[0, "wellbeing"] += 0.001
    other = Cohort.from_frames(frames["persons"], frames["interviews"], frames["population"],
                               outcomes=HAND_OUTCOMES)
    assert other.data_hash() != hand_cohort.data_hash()
    assert len(hand_cohort.data_hash()) == 64


def test_role_mapping_with_user_names(frames, hand_cohort):
    ren = {"person_id": "client", "site_id": "clinic", "area_id": "dat", "wave": "visit",
           "months": "since_intake", "sex": "gender"}
    persons = frames["persons"].rename(columns=ren)
    interviews = frames["interviews"].rename(columns=ren)
    population = frames["population"].rename(columns=ren)
    roles = dict(ren)
    c = Cohort.from_frames(persons, interviews, population, roles=roles, outcomes=HAND_OUTCOMES)
    assert c.data_hash() == hand_cohort.data_hash()
    assert c.roles["person_id"] == "client" and c.roles["wave"] == "visit"
    assert c.roles["modality"] == "modality"
    long = interviews.merge(persons, on="client")
    c2 = Cohort.from_long(long, roles=roles, outcomes=HAND_OUTCOMES, population=population,
                          person_columns=["motivation"])
    assert c2.data_hash() == hand_cohort.data_hash()


def test_cohort_without_site_area_or_population(frames):
    persons = frames["persons"].drop(columns=["site_id", "area_id"])
    c = Cohort.from_frames(persons, frames["interviews"], outcomes=HAND_OUTCOMES)
    assert c.levels == ()
    assert c.site_area_map() is None and c.population is None
    s = c.summary()
    assert s.response_by_site is None and s.response_by_area is None
    assert s.sample_vs_population is None
    assert "levels: none" in repr(c)


def test_minimal_cohort_ids_wave_outcome_only():
    persons = pd.DataFrame({"person_id": [3, 1, 2]})
    interviews = pd.DataFrame({"person_id": [1, 1, 2, 2, 3, 3], "wave": [0, 1] * 3,
                               "score": [1.5, 2.0, 0.5, np.nan, 3.0, 2.5]})
    c = Cohort.from_frames(persons, interviews)
    assert c.outcomes == {"score": "gaussian"}
    assert list(c.person_ids()) == [1, 2, 3]
    assert c.interviewed_matrix().tolist() == [[True, True], [True, False], [True, True]]
    assert c.schedule == {0: 0.0, 1: 1.0}
    assert np.isnan(c.months_matrix()[1, 1]) and c.months_matrix()[0, 1] == 1.0
    reasons = set(c.exclusions["reason"])
    assert "interviewed derived from outcomes" in reasons
    assert any(r.startswith("months absent") for r in reasons)


def test_family_inference(frames):
    iv = frames["interviews"]
    iv["arrests"] = np.where(iv["interviewed"], iv["days_heroin"] + 30, np.nan)
    c = Cohort.from_frames(frames["persons"], iv,
                           outcomes=["days_heroin", "crime", "wellbeing", "arrests"])
    assert c.outcomes == {"days_heroin": "binomial", "crime": "bernoulli",
                          "wellbeing": "gaussian", "arrests": "negative_binomial"}
    assert infer_family("days_x", pd.Series([0.0, 40.0])) == "negative_binomial"
    assert infer_family("days_x", pd.Series([0.0, 20.0]), trials=10) == "negative_binomial"
    assert infer_family("y", pd.Series([np.nan])) == "gaussian"


def test_extra_interview_columns_are_reported(frames):
    frames["interviews"]["interviewer"] = "ab"
    c = Cohort.from_frames(frames["persons"], frames["interviews"], outcomes=HAND_OUTCOMES)
    assert "interviewer" not in c.interviews.columns
    assert c.exclusions["reason"].str.contains("interviewer").any()


def test_months_on_non_interviewed_rows_are_cleared(frames):
    iv = frames["interviews"]
    iv.loc[~iv["interviewed"], "months"] = 99.0
    c = Cohort.from_frames(frames["persons"], iv, outcomes=HAND_OUTCOMES)
    assert np.isnan(c.months_matrix()[~c.interviewed_matrix()]).all()
    row = c.exclusions[c.exclusions["stage"] == "clean"].iloc[0]
    assert row["n_rows"] == 2


def test_user_schedule_and_trials(frames):
    c = Cohort.from_frames(frames["persons"], frames["interviews"], outcomes=["days_heroin"],
                           schedule={0: 0, 1: 3, 2: 9}, trials={"days_heroin": 30})
    assert c.schedule == {0: 0.0, 1: 3.0, 2: 9.0}
    assert c.trials == {"days_heroin": 30} and c.outcomes == {"days_heroin": "binomial"}


def test_summary_reconciles_with_input(hand_cohort, frames):
    s = hand_cohort.summary()
    assert isinstance(s, CohortSummary)
    n_int = int(frames["interviews"]["interviewed"].sum())
    assert s.counts_by_wave["n_interviewed"].sum() == n_int
    assert (s.counts_by_wave["n_scheduled"] == 8).all()
    assert s.patterns["n"].sum() == 8 and np.isclose(s.patterns["share"].sum(), 1.0)
    assert s.patterns.iloc[0]["pattern"] == "1 1 1"
    for table in (s.response_by_modality, s.response_by_site, s.response_by_area):
        assert table["n_interviewed"].sum() == n_int and table["n"].sum() == 24
    om = s.outcome_missingness
    well = om[(om["outcome"] == "wellbeing") & (om["wave"] == 1)].iloc[0]
    assert (well["n_interviewed"], well["n_observed"], well["n_item_missing"]) == (7, 6, 1)
    svp = s.sample_vs_population
    sex = svp[svp["variable"] == "sex"].set_index("category")
    assert sex.loc["male", "sample_n"] == 5 and np.isclose(sex.loc["male", "population_share"],
                                                           0.7)


def test_summary_renders_and_writes(hand_cohort, tmp_path):
    s = hand_cohort.summary()
    md = s.to_markdown()
    assert "## Interviews by wave" in md and "| wave | n_scheduled |" in md
    page = s.to_html()
    assert "<h2>Response by site</h2>" in page and "<table" in page
    assert "P00" not in md.split("## Rows added")[0]  # aggregates only
    written = s.write(tmp_path / "out")
    names = {p.name for p in written}
    assert {"summary.md", "summary.html", "counts_by_wave.csv", "patterns.csv",
            "exclusions.csv"} <= names
    back = pd.read_csv(tmp_path / "out" / "counts_by_wave.csv")
    assert back["n_interviewed"].tolist() == [8, 7, 6]


def test_to_frames_are_copies(hand_cohort):
    out = hand_cohort.to_frames()
    assert set(out) == {"persons", "interviews", "population"}
    out["persons"].loc[0, "age"] = -1
    assert hand_cohort.persons.loc[0, "age"] == 22.0


def test_person_columns_on_interview_rows_move_to_persons(frames, hand_cohort):
    iv = frames["interviews"].merge(frames["persons"][["person_id", "site_id"]], on="person_id")
    persons = frames["persons"].drop(columns="site_id")
    c = Cohort.from_frames(persons, iv, frames["population"], outcomes=HAND_OUTCOMES)
    assert c.data_hash() == hand_cohort.data_hash()
    assert "site_id" not in c.interviews.columns
    iv.loc[iv.index[1], "site_id"] = "S4"
    with pytest.raises(CohortError, match=r"place 1 person\(s\) in two or more sites"):
        Cohort.from_frames(persons, iv, outcomes=HAND_OUTCOMES)
    iv["site_id"] = "S9"
    with pytest.raises(CohortError, match=r"column 'site_id': 8 row\(s\) disagree between "
                       "persons and interviews"):
        Cohort.from_frames(frames["persons"], iv, outcomes=HAND_OUTCOMES)


def test_boolean_spellings_and_numeric_labels():
    persons = pd.DataFrame({"person_id": [1, 2, 3, 4], "modality": [0, 1, 0, 1]})
    interviews = pd.DataFrame({
        "person_id": [1, 1, 2, 2, 3, 3, 4, 4], "wave": [0, 1] * 4,
        "interviewed": ["yes", "no", "Yes", "yes", "TRUE", "false", 1, 0],
        "months": [0, np.nan, 0, 3, 0, np.nan, 0, np.nan],
        "y": [1.0, np.nan, 2.0, 3.0, 0.0, np.nan, 4.0, np.nan],
    })
    c = Cohort.from_frames(persons, interviews)
    assert c.interviewed_matrix()[:, 1].tolist() == [False, True, False, False]
    assert c.codes("modality")[1] == ["0", "1"]
    assert c.outcomes == {"y": "negative_binomial"}
