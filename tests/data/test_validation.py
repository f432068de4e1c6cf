"""One test per data-contract rule, all problems at once, and a corruption property test."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtors_bayes.data.cohort import Cohort
from dtors_bayes.data.validation import validate
from dtors_bayes.exceptions import CohortError
from dtors_bayes.testing import HAND_OUTCOMES, hand_frames, hand_long_frame


def build(f, **kwargs):
    kwargs.setdefault("outcomes", HAND_OUTCOMES)
    return Cohort.from_frames(f["persons"], f["interviews"], f.get("population"), **kwargs)


def test_valid_tiny_cohort_has_no_problems(frames):
    assert validate(frames["persons"], frames["interviews"], outcomes=HAND_OUTCOMES) == []


def test_missing_required_column_names_role_and_columns_found(frames):
    frames["interviews"] = frames["interviews"].drop(columns="wave")
    with pytest.raises(CohortError, match=r"role 'wave' expects column 'wave' in interviews; "
                       r"columns found: person_id, interviewed"):
        build(frames)


def test_missing_required_column_names_user_column(frames):
    frames["persons"] = frames["persons"].rename(columns={"person_id": "client"})
    frames["interviews"] = frames["interviews"].rename(columns={"person_id": "client"})
    with pytest.raises(CohortError, match="role 'person_id' expects column 'person_id'"):
        build(frames)


def test_missing_outcome_column(frames):
    with pytest.raises(CohortError, match="outcome 'alcohol' is not in interviews"):
        build(frames, outcomes={**HAND_OUTCOMES, "alcohol": "gaussian"})


def test_duplicate_person_id(frames):
    frames["persons"] = pd.concat([frames["persons"], frames["persons"].iloc[[2]]])
    with pytest.raises(CohortError, match=r"column 'person_id': 2 row\(s\) in persons repeat "
                       r"a person id \(first person ids: P003\)"):
        build(frames)


def test_person_in_two_sites(frames):
    extra = frames["persons"].iloc[[0]].assign(site_id="S2")
    frames["persons"] = pd.concat([frames["persons"], extra])
    with pytest.raises(CohortError, match=r"column 'site_id'.*1 person\(s\) in two or more sites"):
        build(frames)


def test_person_in_two_sites_in_long_form(frames):
    long = hand_long_frame(frames)
    long.loc[long.index[1], "site_id"] = "S3"
    with pytest.raises(CohortError, match=r"place 1 person\(s\) in two or more sites "
                       r"\(first person ids: P001\)"):
        Cohort.from_long(long, outcomes=HAND_OUTCOMES)


def test_site_in_two_areas(frames):
    frames["persons"].loc[0, "area_id"] = "A2"
    with pytest.raises(CohortError, match=r"column 'area_id'.*1 site\(s\) \(S1\) in two or more "
                       "areas.*each site in exactly one area"):
        build(frames)


def test_duplicate_person_wave(frames):
    iv = frames["interviews"]
    frames["interviews"] = pd.concat([iv, iv.iloc[[4]]])
    with pytest.raises(CohortError, match=r"column 'wave': 2 row\(s\) repeat a \(person_id, "
                       r"wave\) pair \(first person ids: P002\)"):
        build(frames)


def test_interviewed_false_with_outcomes(frames):
    iv = frames["interviews"]
    row = iv.index[(iv["person_id"] == "P007") & (iv["wave"] == 1)][0]
    iv.loc[row, "crime"] = 1.0
    with pytest.raises(CohortError, match=r"column 'crime': 1 row\(s\) have a value where "
                       r"interviewed is False \(first person ids: P007\)"):
        build(frames)


def test_no_intake_interview_false(frames):
    iv = frames["interviews"]
    row = iv.index[(iv["person_id"] == "P004") & (iv["wave"] == 0)][0]
    iv.loc[row, ["interviewed", "months", *HAND_OUTCOMES]] = [False, np.nan, np.nan, np.nan, np.nan]
    with pytest.raises(CohortError, match=r"lack an intake interview at wave 0.*P004"):
        build(frames)


def test_no_intake_row_absent(frames):
    iv = frames["interviews"]
    frames["interviews"] = iv[~((iv["person_id"] == "P005") & (iv["wave"] == 0))]
    with pytest.raises(CohortError, match=r"1 row\(s\) lack an intake interview.*P005"):
        build(frames)


def test_negative_months(frames):
    frames["interviews"].loc[1, "months"] = -2.0
    with pytest.raises(CohortError, match=r"column 'months': 1 row\(s\) are negative"):
        build(frames)


def test_months_not_increasing(frames):
    iv = frames["interviews"]
    row = iv.index[(iv["person_id"] == "P003") & (iv["wave"] == 2)][0]
    iv.loc[row, "months"] = 3.0
    with pytest.raises(CohortError, match=r"of 1 person\(s\) do not increase.*P003.*strictly"):
        build(frames)


def test_months_missing_at_interviewed_follow_up(frames):
    iv = frames["interviews"]
    row = iv.index[(iv["person_id"] == "P001") & (iv["wave"] == 1)][0]
    iv.loc[row, "months"] = np.nan
    with pytest.raises(CohortError, match=r"are missing at interviewed follow-up waves"):
        build(frames)


def test_months_missing_at_intake_defaults_to_zero(frames):
    frames["interviews"].loc[frames["interviews"]["wave"] == 0, "months"] = np.nan
    c = build(frames)
    assert (c.months_matrix()[:, 0] == 0).all()
    note = c.exclusions[c.exclusions["reason"] == "months missing at intake set to 0"]
    assert note["n_rows"].item() == 8


@pytest.mark.parametrize(("table", "column"), [
    ("interviews", "months"), ("persons", "age"), ("interviews", "wellbeing"),
    ("interviews", "wave"),
])
def test_text_in_numeric_column(frames, table, column):
    df = frames[table]
    df[column] = df[column].astype(object)
    df.loc[2, column] = "about ten"
    with pytest.raises(CohortError, match=rf"column '{column}': 1 row\(s\) in {table} hold "
                       r"text.*wrong dtype"):
        build(frames)


def test_text_outcome_without_families_is_wrong_dtype(frames):
    frames["interviews"]["note"] = "fine"
    with pytest.raises(CohortError, match=r"column 'note'.*wrong dtype"):
        build(frames, outcomes=None)


def test_interviewed_not_boolean(frames):
    iv = frames["interviews"]
    iv["interviewed"] = iv["interviewed"].astype(object)
    iv.loc[0, "interviewed"] = "maybe"
    with pytest.raises(CohortError, match=r"column 'interviewed'.*not true/false"):
        build(frames)


@pytest.mark.parametrize("column", ["site_id", "area_id"])
def test_nan_site_or_area_ids(frames, column):
    frames["persons"].loc[3, column] = np.nan
    with pytest.raises(CohortError, match=rf"column '{column}' in persons: 1 row\(s\) have a "
                       r"missing id \(first person ids: P004\)"):
        build(frames)


def test_nan_person_id(frames):
    frames["interviews"].loc[5, "person_id"] = np.nan
    with pytest.raises(CohortError, match=r"column 'person_id' in interviews: 1 row\(s\) have "
                       r"a missing id \(first row numbers: 5\)"):
        build(frames)


def test_outcome_outside_support(frames):
    frames["interviews"].loc[0, "days_heroin"] = 31.0
    with pytest.raises(CohortError, match=r"column 'days_heroin'.*outside the support of family "
                       r"'binomial'.*0 to the trials \(28\)"):
        build(frames)


def test_support_uses_given_trials(frames):
    frames["interviews"].loc[0, "days_heroin"] = 10.0
    with pytest.raises(CohortError, match=r"whole numbers from 0 to the trials \(7\)"):
        build(frames, trials={"days_heroin": 7})


def test_unknown_referral_route(frames):
    frames["persons"].loc[1, "referral_route"] = "court"
    with pytest.raises(CohortError, match=r"column 'referral_route'.*unknown levels \(court\).*"
                       "criminal_justice, other"):
        build(frames)


def test_unknown_sex(frames):
    frames["persons"].loc[1, "sex"] = "M"
    with pytest.raises(CohortError, match=r"column 'sex'.*unknown levels \(M\)"):
        build(frames)


def test_modality_needs_two_levels(frames):
    frames["persons"]["modality"] = "prescribing"
    frames.pop("population")
    with pytest.raises(CohortError, match=r"column 'modality': 1 level\(s\).*two or more"):
        build(frames)


def test_fewer_than_two_waves(frames):
    iv = frames["interviews"]
    frames["interviews"] = iv[iv["wave"] == 0]
    with pytest.raises(CohortError, match=r"column 'wave': 1 wave\(s\) found; allowed: two"):
        build(frames)


def test_population_unknown_level(frames):
    frames["population"].loc[0, "sex"] = "unknown"
    with pytest.raises(CohortError, match=r"population column 'sex': 1 cell\(s\) have levels "
                       r"that match no cohort category \(unknown\)"):
        build(frames)


def test_population_bad_counts(frames):
    pop = frames["population"]
    pop["count"] = pop["count"].astype(object)
    pop.loc[0, "count"] = 0
    pop.loc[1, "count"] = "many"
    with pytest.raises(CohortError, match=r"(?s)1 cell\(s\) are not numbers.*1 cell\(s\) are "
                       "zero, negative or missing"):
        build(frames)


def test_population_unknown_column(frames):
    frames["population"]["region"] = "north"
    with pytest.raises(CohortError, match=r"population: unknown column\(s\) region"):
        build(frames)


def test_population_age_group_matches_derived(frames):
    frames["population"] = pd.DataFrame({"age_group": ["18-24", "25-34", "35-44", "45+"],
                                          "count": [1.0, 2.0, 3.0, 4.0]})
    c = build(frames)
    assert list(c.persons["age_group"]) == ["18-24", "25-34", "35-44", "25-34", "45+",
                                            "18-24", "25-34", "35-44"]
    frames["population"].loc[0, "age_group"] = "16-17"
    with pytest.raises(CohortError, match="population column 'age_group'"):
        build(frames)


def test_person_column_varying_in_long_form(frames):
    long = hand_long_frame(frames)
    long.loc[long.index[4], "motivation"] = 99.0
    with pytest.raises(CohortError, match=r"column 'motivation'.*vary within 1 person\(s\) in "
                       r"the long table \(first person ids: P002\)"):
        Cohort.from_long(long, outcomes=HAND_OUTCOMES, person_columns=["motivation"])


def test_unknown_family(frames):
    with pytest.raises(CohortError, match="column 'crime' has unknown family 'poisson'"):
        build(frames, outcomes={**HAND_OUTCOMES, "crime": "poisson"})


def test_roles_naming_missing_column(frames):
    with pytest.raises(CohortError, match=r"role 'site_id' is mapped to column 'clinic', which "
                       "does not exist; columns found: persons: person_id"):
        build(frames, roles={"site_id": "clinic"})


def test_unknown_role(frames):
    with pytest.raises(CohortError, match="unknown role 'clinic'"):
        build(frames, roles={"clinic": "site_id"})


def test_interview_persons_absent_from_persons(frames):
    frames["persons"] = frames["persons"].iloc[1:]
    with pytest.raises(CohortError, match=r"column 'person_id': 3 row\(s\) in interviews name "
                       r"persons absent from persons \(first person ids: P001\)"):
        build(frames)


def test_schedule_must_cover_waves(frames):
    with pytest.raises(CohortError, match=r"schedule: no months for wave\(s\) 2"):
        build(frames, schedule={0: 0, 1: 4})


def test_all_problems_listed_at_once(frames):
    frames["persons"].loc[0, "area_id"] = "A2"
    frames["persons"].loc[1, "referral_route"] = "court"
    frames["interviews"].loc[0, "months"] = -1.0
    frames["interviews"].loc[0, "days_heroin"] = 40.0
    with pytest.raises(CohortError) as err:
        build(frames, outcomes={**HAND_OUTCOMES, "crime": "poisson"})
    text = str(err.value)
    assert len(err.value.problems) == 5
    for piece in ("two or more areas", "court", "negative", "outside the support",
                  "unknown family 'poisson'"):
        assert piece in text
    assert text.startswith("5 problem(s) in the cohort data:")


# ---- property test: any corruption gives CohortError, never another exception ---------------
def _corrupt(f: dict, kind: str, pick: int) -> dict:
    p, iv, pop = f["persons"], f["interviews"], f["population"]
    i, j = pick % len(p), pick % len(iv)
    if kind == "drop_column":
        col = ["person_id", "wave", *HAND_OUTCOMES][pick % 5]
        table = "persons" if col == "person_id" and pick % 2 else "interviews"
        f[table] = f[table].drop(columns=col)
    elif kind == "text":
        table, col = [("interviews", "months"), ("persons", "age"), ("interviews", "crime"),
                      ("interviews", "wave"), ("population", "count")][pick % 5]
        df = f[table]
        df[col] = df[col].astype(object)
        df.loc[df.index[pick % len(df)], col] = "n/a?"
    elif kind == "duplicate":
        if pick % 2:
            f["persons"] = pd.concat([p, p.iloc[[i]]])
        else:
            f["interviews"] = pd.concat([iv, iv.iloc[[j]]])
    elif kind == "nan_id":
        table, col = [("persons", "person_id"), ("interviews", "person_id"),
                      ("persons", "site_id"), ("persons", "area_id")][pick % 4]
        f[table].loc[f[table].index[pick % len(f[table])], col] = np.nan
    elif kind == "negative_months":
        iv.loc[iv.index[j], "months"] = -1.0 - pick
        iv.loc[iv.index[j], "interviewed"] = True
    elif kind == "support":
        col, bad = [("days_heroin", 29.0), ("days_heroin", 2.5), ("crime", 2.0),
                    ("wellbeing", np.inf)][pick % 4]
        interviewed = iv.index[iv["interviewed"]]
        iv.loc[interviewed[pick % len(interviewed)], col] = bad
    elif kind == "site_area":
        site = p["site_id"].iloc[i]  # move one of the site's persons to another area
        p.loc[p.index[p["site_id"] == site][0], "area_id"] = "A9"
    elif kind == "category":
        col = ["referral_route", "sex"][pick % 2]
        p.loc[p.index[i], col] = "unknown-level"
    elif kind == "population":
        pop.loc[pop.index[pick % len(pop)], ["count", "sex"][pick % 2]] = (
            -5 if pick % 2 == 0 else "nobody")
    elif kind == "interviewed_with_values":
        missed = iv.index[~iv["interviewed"]]
        iv.loc[missed[pick % len(missed)], "crime"] = 1.0
    elif kind == "no_intake":
        f["interviews"] = iv[~((iv["wave"] == 0) & (iv["person_id"] == p["person_id"].iloc[i]))]
    return f


KINDS = ["drop_column", "text", "duplicate", "nan_id", "negative_months", "support",
         "site_area", "category", "population", "interviewed_with_values", "no_intake"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
       picks=st.lists(st.integers(0, 1000), min_size=3, max_size=3),
       long=st.booleans())
def test_corrupted_cohort_always_raises_cohort_error(kinds, picks, long):
    f = hand_frames()
    f = _corrupt(f, kinds[0], picks[0])  # always applies to the clean frames
    for kind, pick in zip(kinds[1:], picks[1:], strict=False):
        # a later corruption may need a column an earlier one removed
        with contextlib.suppress(KeyError, IndexError, ZeroDivisionError):
            f = _corrupt(f, kind, pick)
    with pytest.raises(CohortError) as err:
        if long and "person_id" in f["persons"] and "person_id" in f["interviews"]:
            Cohort.from_long(hand_long_frame(f), outcomes=HAND_OUTCOMES, population=f["population"],
                             person_columns=["motivation"])
        else:
            build(f)
    # the rules themselves reported it, not the safety net around them
    assert not any("could not be" in p for p in err.value.problems), err.value.problems
    # and every problem says what to do about it
    assert all("; fix: " in p for p in err.value.problems), err.value.problems
