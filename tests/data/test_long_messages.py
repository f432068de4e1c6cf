"""The first hour of a new user (issue 16): flat long tables and messages that name the fix.

Each test reproduces a real mistake: text baseline columns repeated on every row of a long
table, ``age_group`` given as a column, a published trial's covariates (``drug``,
``length``), an empty interviews table; from frames, CSV and Parquet, with the user's own
column names mapped by ``roles=``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.data.cohort import Cohort
from dtors_bayes.exceptions import CohortError
from dtors_bayes.testing import HAND_OUTCOMES, hand_frames, hand_long_frame

LIFTED = "treated as person-level"


def _long_with_baselines() -> pd.DataFrame:
    """The hand cohort as one flat long table with text and numeric baselines repeated."""
    long = hand_long_frame(hand_frames())
    long["age_group"] = np.where(long["age"] < 25, "18-24", "25-34")
    long["drug"] = long["primary_drug"].map({"heroin": "A", "crack": "B", "alcohol": "B"})
    long["length"] = long["motivation"] * 2.0
    return long


def _lifted_row(cohort: Cohort) -> str:
    rows = cohort.exclusions.loc[cohort.exclusions["reason"].str.contains(LIFTED), "reason"]
    assert len(rows) == 1, cohort.exclusions
    return rows.iloc[0]


@pytest.mark.parametrize("outcomes", [HAND_OUTCOMES, None])
def test_flat_long_table_with_text_baselines_loads(outcomes):
    c = Cohort.from_long(_long_with_baselines(), outcomes=outcomes)
    assert set(c.outcomes) == set(HAND_OUTCOMES)
    for col in ("drug", "length", "motivation"):
        assert col in c.persons.columns and col not in c.interviews.columns
        assert col in c.covariates
    # age_group is the contract's: person-level, never an interview column or a covariate
    assert "age_group" in c.persons.columns and "age_group" not in c.interviews.columns
    assert "age_group" not in c.covariates
    reason = _lifted_row(c)
    assert "drug" in reason and "length" in reason and "motivation" in reason
    assert "age_group" not in reason  # a contract role is not "offered", it is person-level


def test_person_columns_named_are_not_reported_as_lifted():
    c = Cohort.from_long(_long_with_baselines(), outcomes=HAND_OUTCOMES,
                         person_columns=["motivation", "drug", "length"])
    assert not c.exclusions["reason"].str.contains(LIFTED).any()


def test_age_group_without_age_is_person_level():
    long = _long_with_baselines().drop(columns="age")
    c = Cohort.from_long(long, outcomes=HAND_OUTCOMES)
    assert c.persons.set_index("person_id").loc["P001", "age_group"] == "18-24"
    assert "age_group" not in c.interviews.columns


def test_constant_column_named_as_outcome_stays_an_interview_column():
    long = _long_with_baselines()
    long.loc[~long["interviewed"], "length"] = np.nan
    c = Cohort.from_long(long, outcomes={**HAND_OUTCOMES, "length": "gaussian"})
    assert "length" in c.interviews.columns and "length" not in c.persons.columns


def test_varying_text_column_names_the_fixes():
    long = _long_with_baselines()
    long.loc[long.index[1], "drug"] = "C"  # no longer constant within P001: an interview column
    with pytest.raises(CohortError) as err:
        Cohort.from_long(long)
    text = str(err.value)
    assert "column 'drug'" in text and "wrong dtype" in text
    assert "person_columns=['drug']" in text and "outcomes=[...]" in text
    assert all("; fix: " in p for p in err.value.problems)


def test_varying_person_column_names_the_fix():
    long = _long_with_baselines()
    long.loc[long.index[1], "drug"] = "C"
    with pytest.raises(CohortError) as err:
        Cohort.from_long(long, outcomes=HAND_OUTCOMES, person_columns=["drug"])
    (problem,) = err.value.problems
    assert "column 'drug'" in problem and "vary within 1 person(s) in the long table" in problem
    assert "transform('first')" in problem and "leave it out of person_columns=[...]" in problem


def test_varying_age_names_the_intake_value_fix():
    long = _long_with_baselines()
    long.loc[long["wave"] == 2, "age"] += 1  # age recorded at each interview
    with pytest.raises(CohortError) as err:
        Cohort.from_long(long, outcomes=HAND_OUTCOMES)
    (problem,) = err.value.problems
    assert "column 'age'" in problem
    assert "df['age'] = df.groupby('person_id')['age'].transform('first')" in problem


def test_value_where_not_interviewed_names_the_fix():
    f = hand_frames()
    iv = f["interviews"]
    iv.loc[~iv["interviewed"], "crime"] = 1.0
    with pytest.raises(CohortError) as err:
        Cohort.from_frames(f["persons"], iv, outcomes=HAND_OUTCOMES)
    (problem,) = err.value.problems
    assert "have a value where interviewed is False" in problem
    assert "fix: set 'crime' to NaN where interviewed is False" in problem


def test_empty_interviews_table_says_it_is_empty():
    f = hand_frames()
    with pytest.raises(CohortError) as err:
        Cohort.from_frames(f["persons"], f["interviews"].iloc[:0], outcomes=HAND_OUTCOMES)
    (problem,) = err.value.problems
    assert problem.startswith("interviews: the table is empty (0 rows")
    assert "wave(s) found" not in problem and "; fix: " in problem


def test_empty_long_table_says_it_is_empty():
    with pytest.raises(CohortError) as err:
        Cohort.from_long(_long_with_baselines().iloc[:0], outcomes=HAND_OUTCOMES)
    assert err.value.problems[0].startswith("long table: the table is empty")
    assert not any("wave(s) found" in p or "level(s) found" in p for p in err.value.problems)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_files_with_user_names_and_trial_covariates(tmp_path, suffix):
    """A published trial's long file: own column names, covariates ``drug`` and ``length``."""
    ren = {"person_id": "client", "wave": "visit", "months": "since_intake",
           "modality": "arm", "site_id": "clinic", "area_id": "region"}
    long = _long_with_baselines().rename(columns=ren)
    path = tmp_path / f"trial{suffix}"
    long.to_csv(path, index=False) if suffix == ".csv" else long.to_parquet(path, index=False)
    roles = dict(ren)
    c = Cohort.from_paths(path, roles=roles, outcomes=list(HAND_OUTCOMES))
    assert {"drug", "length"} <= set(c.persons.columns)
    assert "drug" in _lifted_row(c)
    ref = Cohort.from_long(_long_with_baselines(), outcomes=list(HAND_OUTCOMES))
    assert c.data_hash() == ref.data_hash()
    # a user column mapped by roles= in the messages too
    bad = long.copy()
    bad.loc[bad.index[1], "drug"] = "C"
    bad.to_csv(path, index=False) if suffix == ".csv" else bad.to_parquet(path, index=False)
    with pytest.raises(CohortError, match=r"person_columns=\['drug'\]"):
        Cohort.from_paths(path, roles=roles)
