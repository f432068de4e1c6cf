"""Every rule of the data contract (DESIGN.md section 4), one function per rule.

Each ``check_*`` function takes the cohort tables with *canonical* column names (after the
role mapping) and returns a list of problem strings, empty when the rule holds. Each message
names the column, the number of rows, the first few (at most five) person ids, what is
allowed and, after ``fix:``, what to do about it (the exact call where there is one, e.g.
``person_columns=['drug']``). An empty table is said to be empty. The shared readers and the
message format are :mod:`dtors_bayes.data.values`. :func:`validate` runs them all and
returns every problem at once; :class:`dtors_bayes.data.cohort.Cohort` raises them together
as one :class:`~dtors_bayes.exceptions.CohortError`.

The checks never assume the data are clean: text in a numeric column is reported by
:func:`check_dtypes` and read as missing by the other checks, a missing column makes the
checks that need it skip, and an unexpected failure inside a check becomes a problem string.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from dtors_bayes.constants import INTERVIEW_ROLES, PERSON_ROLES, POPULATION_VARIABLES
from dtors_bayes.data.values import (
    ID_COLUMNS,
    NUMERIC_INTERVIEW_COLUMNS,
    NUMERIC_PERSON_COLUMNS,
    REFERRAL_ROUTES,
    SEX_VALUES,
    as_bool,
    as_numeric,
    first_ids,
)
from dtors_bayes.data.values import ids_of as _ids_of
from dtors_bayes.data.values import message as _msg
from dtors_bayes.data.values import waves_of as _waves
from dtors_bayes.models.families import FAMILIES


# ---- rules --------------------------------------------------------------------------------
def check_roles(roles: Mapping[str, str] | None, tables: Mapping[str, Sequence[str]]) -> list[str]:
    """Roles must be canonical role names mapped to columns that exist (no clashes)."""
    problems = []
    known = set(PERSON_ROLES) | set(INTERVIEW_ROLES)
    all_cols = {c for cols in tables.values() for c in cols}
    for role, col in (roles or {}).items():
        if not isinstance(col, Hashable) or not isinstance(role, Hashable):
            problems.append(f"roles: {role!r} -> {col!r}; allowed: role name -> column name; "
                            "fix: pass e.g. roles={'person_id': 'client'}")
        elif role not in known:
            problems.append(
                f"roles: unknown role '{role}' (mapped to column '{col}'); allowed roles: "
                f"{', '.join(sorted(known))}; fix: use one of these roles as the key, e.g. "
                f"roles={{'person_id': '{col}'}}"
            )
        elif col not in all_cols:
            found = "; ".join(f"{t}: {', '.join(map(str, c))}" for t, c in tables.items())
            problems.append(
                f"roles: role '{role}' is mapped to column '{col}', which does not exist; "
                f"columns found: {found}; fix: map '{role}' to one of the columns found"
            )
        elif col != role and role in all_cols:
            problems.append(
                f"roles: role '{role}' is mapped to column '{col}' but a column named "
                f"'{role}' also exists; allowed: one column per role; fix: rename or drop "
                "one of them"
            )
    return problems


def check_outcome_spec(outcomes: Mapping[str, str], trials: Mapping[str, object]) -> list[str]:
    """Outcome families must be known; trials must be positive whole numbers."""
    problems = []
    for col, fam in outcomes.items():
        if not isinstance(fam, str) or fam not in FAMILIES:
            problems.append(
                f"outcomes: column '{col}' has unknown family '{fam}'; allowed: "
                f"{', '.join(sorted(FAMILIES))}; fix: outcomes={{'{col}': '<a family above>'}}, "
                "or None to infer it"
            )
    for col, n in trials.items():
        if col not in outcomes:
            problems.append(f"trials: '{col}' is not an outcome; outcomes: {', '.join(outcomes)}"
                            f"; fix: remove '{col}' from trials or name it in outcomes")
        elif isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            problems.append(f"trials: '{col}' has trials {n!r}; allowed: a whole number >= 1; "
                            f"fix: e.g. trials={{'{col}': 28}}")
    return problems


def check_required(
    persons: pd.DataFrame,
    interviews: pd.DataFrame,
    outcomes: Mapping[str, str],
    roles: Mapping[str, str] | None = None,
) -> list[str]:
    """``person_id`` (both tables), ``wave`` and every outcome column must be present."""
    roles = dict(roles or {})
    problems = []
    needed = [("persons", persons, "person_id"), ("interviews", interviews, "person_id"),
              ("interviews", interviews, "wave")]
    for table, df, role in needed:
        if role not in df:
            user = roles.get(role, role)
            problems.append(
                f"missing required column: role '{role}' expects column '{user}' in {table}; "
                f"columns found: {', '.join(map(str, df.columns))}; fix: map yours with "
                f"roles={{'{role}': '<your column>'}}"
            )
    for col in outcomes:
        if col not in interviews:
            problems.append(
                f"missing required column: outcome '{col}' is not in interviews; columns "
                f"found: {', '.join(map(str, interviews.columns))}; fix: name interview "
                "columns in outcomes= (your names), or add the column"
            )
    if not outcomes:
        problems.append("outcomes: no outcome columns; allowed: at least one outcome column; "
                        "fix: pass outcomes=['<an interview column>'] or give the interviews "
                        "an outcome column")
    return problems


def check_dtypes(persons: pd.DataFrame, interviews: pd.DataFrame,
                 outcomes: Mapping[str, str]) -> list[str]:
    """Numeric columns hold numbers; boolean columns hold true/false values."""
    problems = []
    numeric = [("persons", persons, c) for c in NUMERIC_PERSON_COLUMNS]
    numeric += [("interviews", interviews, c) for c in (*NUMERIC_INTERVIEW_COLUMNS, *outcomes)]
    for table, df, col in numeric:
        if col in df:
            _, bad = as_numeric(df[col])
            if bad.any():
                fix = (f"recode '{col}' as numbers (NaN for missing)" if col not in outcomes
                       else f"if '{col}' is a baseline (person-level) column, put it in the "
                       f"persons table (Cohort.from_long: person_columns=['{col}'], after "
                       "making it one value per person); if it is not an outcome, name your "
                       f"outcomes with outcomes=[...] without it; else recode '{col}' as "
                       "numbers")
                problems.append(_msg(col, _ids_of(df, bad), f"in {table} hold text or other "
                                     "non-numbers (wrong dtype)", "numbers (NaN for missing)",
                                     fix))
    for col in ("interviewed", "in_treatment"):
        if col in interviews:
            _, bad = as_bool(interviews[col])
            if bad.any():
                problems.append(_msg(col, _ids_of(interviews, bad), "hold values that are not "
                                     "true/false (wrong dtype)", "True/False, 1/0, yes/no",
                                     f"recode '{col}' to True/False (missing as NaN)"))
    if "interviewed" in interviews and interviews["interviewed"].isna().any():
        mask = interviews["interviewed"].isna()
        problems.append(_msg("interviewed", _ids_of(interviews, mask), "are missing",
                             "True or False on every row", "fill in interviewed (False where "
                             "no interview took place), or drop the column to derive it from "
                             "the outcomes"))
    return problems


def check_not_empty(persons: pd.DataFrame, interviews: pd.DataFrame) -> list[str]:
    """Neither table is empty (an empty table is said to be empty, not "0 waves")."""
    problems = []
    for table, df, what in (("persons", persons, "one row per person"),
                            ("interviews", interviews, "one row per person and wave")):
        if len(df) == 0:
            problems.append(f"{table}: the table is empty (0 rows; columns found: "
                            f"{', '.join(map(str, df.columns)) or 'none'}); allowed: {what}; "
                            f"fix: pass the {table} table with its rows (was it filtered "
                            "to nothing, or read from the wrong file or sheet?)")
    return problems


def check_ids(persons: pd.DataFrame, interviews: pd.DataFrame) -> list[str]:
    """No missing ``person_id``, ``site_id`` or ``area_id``."""
    problems = []
    for table, df in (("persons", persons), ("interviews", interviews)):
        for col in ID_COLUMNS:
            if col in df and df[col].isna().any():
                rows = np.flatnonzero(df[col].isna().to_numpy())
                ids = _ids_of(df, df[col].isna()) if col != "person_id" else rows
                label = "person ids" if col != "person_id" else "row numbers"
                problems.append(
                    f"column '{col}' in {table}: {len(rows)} row(s) have a missing id (first "
                    f"{label}: {first_ids(ids)}); allowed: an id on every row; fix: fill "
                    f"in '{col}' or drop those rows before building the cohort"
                )
    return problems


def check_unique_persons(persons: pd.DataFrame) -> list[str]:
    """One row per person in the persons table."""
    if "person_id" not in persons:
        return []
    dup = persons["person_id"].duplicated(keep=False) & persons["person_id"].notna()
    if not dup.any():
        return []
    return [_msg("person_id", persons.loc[dup, "person_id"], "in persons repeat a person id",
                 "one row per person", "keep one row per person (persons.drop_duplicates("
                 "'person_id')), or pass one long table to Cohort.from_long")]


def check_person_sites(persons: pd.DataFrame) -> list[str]:
    """Each person belongs to one site."""
    if not {"person_id", "site_id"} <= set(persons.columns):
        return []
    n = persons.dropna(subset=["person_id", "site_id"]).groupby("person_id")["site_id"].nunique()
    bad = n.index[n > 1]
    if len(bad) == 0:
        return []
    rows = persons[persons["person_id"].isin(bad)]
    return [_msg("site_id", rows, f"place {len(bad)} person(s) in two or more sites",
                 "each person in exactly one site", "give each person one site (the intake "
                 "site) on every row")]


def check_site_areas(persons: pd.DataFrame) -> list[str]:
    """Each site lies in exactly one area."""
    if not {"site_id", "area_id"} <= set(persons.columns):
        return []
    n = persons.dropna(subset=["site_id", "area_id"]).groupby("site_id")["area_id"].nunique()
    bad = n.index[n > 1]
    if len(bad) == 0:
        return []
    rows = persons[persons["site_id"].isin(bad)]
    return [_msg("area_id", rows, f"put {len(bad)} site(s) ({first_ids(bad)}) in two or more "
                 "areas", "each site in exactly one area", "correct area_id, or give the sites of "
                 "different areas different site ids")]


def check_unique_person_wave(interviews: pd.DataFrame) -> list[str]:
    """One interview row per person and wave."""
    if not {"person_id", "wave"} <= set(interviews.columns):
        return []
    dup = interviews.duplicated(subset=["person_id", "wave"], keep=False)
    if not dup.any():
        return []
    return [_msg("wave", interviews[dup], "repeat a (person_id, wave) pair",
                 "one row per person and wave", "drop repeated interviews (interviews."
                 "drop_duplicates(['person_id', 'wave'])) or give an extra interview its own "
                 "wave label")]


def check_known_persons(persons: pd.DataFrame, interviews: pd.DataFrame) -> list[str]:
    """Every interviewed person is in the persons table."""
    if "person_id" not in persons or "person_id" not in interviews:
        return []
    unknown = interviews["person_id"].notna() & ~interviews["person_id"].isin(persons["person_id"])
    if not unknown.any():
        return []
    return [_msg("person_id", interviews[unknown], "in interviews name persons absent from "
                 "persons", "person ids listed in the persons table", "add those persons "
                 "to the persons table, or drop their interviews")]


def check_interviewed_outcomes(interviews: pd.DataFrame, outcomes: Mapping[str, str]) -> list[str]:
    """Rows marked not interviewed carry no outcome values."""
    if "interviewed" not in interviews:
        return []
    flag, _ = as_bool(interviews["interviewed"])
    not_int = (flag == False).fillna(False).astype(bool)  # noqa: E712 - nullable boolean
    problems = []
    for col in outcomes:
        if col in interviews:
            mask = not_int & interviews[col].notna()
            if mask.any():
                problems.append(_msg(col, _ids_of(interviews, mask), "have a value where "
                                     "interviewed is False", "missing (NaN) when not interviewed",
                                     f"set '{col}' to NaN where interviewed is False, or set "
                                     "interviewed True where an interview took place; a "
                                     "baseline column belongs in the persons table "
                                     f"(Cohort.from_long: person_columns=['{col}'])"))
    return problems


def check_intake(persons: pd.DataFrame, interviews: pd.DataFrame) -> list[str]:
    """Every person is interviewed at intake (the first wave)."""
    waves = _waves(interviews)
    if not waves or "person_id" not in persons or "person_id" not in interviews:
        return []
    wave, _ = as_numeric(interviews["wave"])
    at_intake = interviews[wave == waves[0]]
    if "interviewed" in at_intake:
        flag, _ = as_bool(at_intake["interviewed"])
        at_intake = at_intake[flag.fillna(False).astype(bool)]
    missing = persons["person_id"].notna() & ~persons["person_id"].isin(at_intake["person_id"])
    if not missing.any():
        return []
    return [_msg("interviewed", persons.loc[missing, "person_id"],
                 f"lack an intake interview at wave {waves[0]:g} (row absent or interviewed "
                 "False)", "every person interviewed at intake", "add the intake "
                 f"interview rows (wave {waves[0]:g}, interviewed True), or drop those "
                 "persons")]


def check_months(interviews: pd.DataFrame) -> list[str]:
    """Months are >= 0, known at interviewed follow-ups, strictly increasing per person.

    Missing ``months`` at an interviewed *intake* row is allowed (it defaults to 0); missing
    ``months`` at an interviewed follow-up is a problem, because models with continuous time
    need it.
    """
    if not {"months", "wave", "person_id"} <= set(interviews.columns):
        return []
    months, _ = as_numeric(interviews["months"])
    wave, _ = as_numeric(interviews["wave"])
    problems = []
    neg = months < 0
    if neg.any():
        problems.append(_msg("months", _ids_of(interviews, neg), "are negative",
                             "months since intake, >= 0", "correct the months (months since "
                             "the intake interview)"))
    waves = _waves(interviews)
    if "interviewed" in interviews:
        flag, _ = as_bool(interviews["interviewed"])
        interviewed = flag.fillna(False).astype(bool)
    else:
        interviewed = pd.Series(True, index=interviews.index)
    if waves:
        gap = interviewed & (wave != waves[0]) & interviews["months"].isna()
        if gap.any():
            problems.append(_msg("months", _ids_of(interviews, gap), "are missing at "
                                 "interviewed follow-up waves", "months known whenever "
                                 "interviewed after intake", "fill in months, or drop the "
                                 "months column to use the nominal schedule (schedule=)"))
    d = pd.DataFrame({"person_id": interviews["person_id"], "wave": wave, "months": months})
    d = d[interviewed.to_numpy() & d["months"].notna() & d["wave"].notna()]
    if d.duplicated(["person_id", "wave"]).any():
        return problems  # reported by check_unique_person_wave
    d = d.sort_values(["person_id", "wave"], kind="stable")
    step = d.groupby("person_id", sort=False)["months"].diff()
    bad_persons = d.loc[step <= 0, "person_id"]
    if len(bad_persons):
        rows = d[d["person_id"].isin(bad_persons)]
        problems.append(_msg("months", rows, f"of {bad_persons.nunique()} person(s) do not "
                             "increase from wave to wave", "months strictly increasing over a "
                             "person's interviewed waves", "check the wave labels and months "
                             "of those persons"))
    return problems


def check_support(interviews: pd.DataFrame, outcomes: Mapping[str, str],
                  trials: Mapping[str, int]) -> list[str]:
    """Outcome values lie in their family's support."""
    problems = []
    for col, fam in outcomes.items():
        if col not in interviews or not isinstance(fam, str) or fam not in FAMILIES:
            continue
        values, _ = as_numeric(interviews[col])
        n = trials.get(col, 28)
        n = int(n) if isinstance(n, (int, np.integer)) else 28  # bad trials: reported apart
        bad = pd.Series(FAMILIES[fam].invalid(values.to_numpy(), n), index=interviews.index)
        bad |= values.notna() & ~np.isfinite(values)  # +-inf is never a valid outcome
        if bad.any():
            support = FAMILIES[fam].support.replace("(28)", f"({n})")
            problems.append(_msg(col, _ids_of(interviews, bad), f"are outside the support of "
                                 f"family '{fam}'", support, "recode the values, or choose "
                                 f"another family: outcomes={{'{col}': '<family>'}}"))
    return problems


def check_categories(persons: pd.DataFrame) -> list[str]:
    """Known levels of ``referral_route`` and ``sex``; ``modality`` complete with >= 2 levels."""
    problems = []
    for col, allowed in (("referral_route", REFERRAL_ROUTES), ("sex", SEX_VALUES)):
        if col in persons:
            s = persons[col]
            bad = s.notna() & ~s.astype(str).isin(allowed)
            if bad.any():
                levels = first_ids(s[bad].astype(str))
                problems.append(_msg(col, _ids_of(persons, bad), f"hold unknown levels "
                                     f"({levels})", ", ".join(allowed),
                                     f"recode '{col}' to the allowed levels (e.g. "
                                     f"df['{col}'].map({{...}})), or rename the column and "
                                     "use it as a covariate"))
    if "modality" in persons:
        s = persons["modality"]
        if s.isna().any():
            problems.append(_msg("modality", _ids_of(persons, s.isna()), "are missing",
                                 "a modality for every person", "fill in modality or drop "
                                 "those persons"))
        if s.dropna().nunique() < 2 and len(persons):
            problems.append(
                f"column 'modality': {s.dropna().nunique()} level(s) found "
                f"({first_ids(s.dropna())}); allowed: two or more treatment groups; fix: "
                "drop the modality column (or its role) when there is one group"
            )
    return problems


def check_waves(interviews: pd.DataFrame) -> list[str]:
    """Wave labels are whole numbers and there are at least two waves."""
    if "wave" not in interviews:
        return []
    values, _ = as_numeric(interviews["wave"])
    problems = []
    frac = values.notna() & (values != values.round())
    if frac.any():
        problems.append(_msg("wave", _ids_of(interviews, frac), "are not whole numbers",
                             "integer wave labels (0 = intake)", "recode the waves as 0, 1, "
                             "2, ... and keep the exact time in months"))
    miss = interviews["wave"].isna()
    if miss.any():
        problems.append(_msg("wave", _ids_of(interviews, miss), "are missing",
                             "a wave label on every row", "fill in the wave or drop those "
                             "rows"))
    n = values.dropna().nunique()
    if n < 2 and len(interviews):
        problems.append(f"column 'wave': {n} wave(s) found; allowed: two or more waves "
                        "(intake and at least one follow-up); fix: include the follow-up "
                        "interview rows")
    return problems


def check_schedule(schedule: Mapping | None, interviews: pd.DataFrame) -> list[str]:
    """A user schedule gives finite months for every wave and no other waves."""
    if schedule is None:
        return []
    waves = _waves(interviews)
    problems = []
    try:
        given = {float(k): v for k, v in schedule.items()}
    except (TypeError, ValueError, AttributeError):
        return [f"schedule: {schedule!r} is not a mapping of wave -> months; fix: pass e.g. "
                "schedule={0: 0, 1: 4, 2: 12}"]
    missing = [w for w in waves if w not in given]
    extra = [k for k in given if k not in waves]
    if missing:
        problems.append(f"schedule: no months for wave(s) {first_ids([f'{w:g}' for w in missing])}"
                        "; allowed: one entry per wave; fix: add them to schedule=")
    if extra:
        problems.append(f"schedule: wave(s) {first_ids([f'{w:g}' for w in extra])} are not in "
                        "the interviews; allowed: the cohort's waves only; fix: remove them from "
                        "schedule=")
    for k, v in given.items():
        try:
            ok = np.isfinite(float(v)) and float(v) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(f"schedule: wave {k:g} has months {v!r}; allowed: a number >= 0; "
                            "fix: give the wave's nominal months since intake")
    return problems


def check_population(population: pd.DataFrame | None, persons: pd.DataFrame) -> list[str]:
    """Population cells: known variables, a positive numeric ``count``, levels seen in the cohort.

    ``persons`` must already carry ``age_group`` when the population has it.
    """
    if population is None:
        return []
    problems = []
    cols = [c for c in population.columns if c != "count"]
    if len(population) == 0:
        problems.append("population: the table is empty (no cells); allowed: one row per cell "
                        "with a count; fix: pass the population cells, or population=None")
    if not cols:
        problems.append(f"population: no category columns; allowed: some of "
                        f"{', '.join(POPULATION_VARIABLES)} plus count; fix: add the "
                        "category columns, or map yours with roles=")
    unknown = [c for c in cols if c not in POPULATION_VARIABLES]
    if unknown:
        problems.append(f"population: unknown column(s) {', '.join(map(str, unknown))}; allowed: "
                        f"{', '.join(POPULATION_VARIABLES)} and count; fix: drop or rename them "
                        "(roles= maps your names)")
    if "count" not in population:
        problems.append(f"population: no 'count' column; columns found: "
                        f"{', '.join(map(str, population.columns))}; fix: name the "
                        "column of counts 'count'")
    else:
        counts, bad = as_numeric(population["count"])
        nonpos = ~bad & ~(counts > 0)
        if bad.any():
            problems.append(f"population column 'count': {int(bad.sum())} cell(s) are not "
                            "numbers (wrong dtype); allowed: positive numbers; fix: recode "
                            "count as numbers")
        if nonpos.any():
            problems.append(f"population column 'count': {int(nonpos.sum())} cell(s) are zero, "
                            "negative or missing; allowed: positive numbers; fix: drop those "
                            "cells or merge them into neighbouring ones")
    known = [c for c in cols if c in POPULATION_VARIABLES]
    for col in known:
        if col not in persons:
            problems.append(f"population column '{col}': the cohort has no '{col}' column; "
                            "allowed: variables present in the persons table; fix: add "
                            f"'{col}' to the persons or drop it from the population")
            continue
        levels = set(persons[col].dropna().astype(str))
        vals = population[col].astype(str)
        bad = ~vals.isin(levels) | population[col].isna()
        if bad.any():
            problems.append(f"population column '{col}': {int(bad.sum())} cell(s) have levels "
                            f"that match no cohort category ({first_ids(vals[bad])}); allowed: "
                            f"{', '.join(sorted(levels))}; fix: recode the levels to the "
                            "cohort's, or merge those cells")
    if known and population.duplicated(subset=known).any():
        n = int(population.duplicated(subset=known, keep=False).sum())
        problems.append(f"population: {n} cell(s) repeat the same combination of "
                        f"{', '.join(known)}; allowed: one row per cell; fix: sum the "
                        "repeated cells (population.groupby(...).sum())")
    return problems


def check_constant_within_person(df: pd.DataFrame, columns: Sequence[str],
                                 table: str = "the long table", *,
                                 lifted_from_long: bool = False) -> list[str]:
    """Person-level columns given on interview rows must not vary within a person.

    Missing values do not count as a different value: a baseline column filled in on the
    intake row only is fine. ``lifted_from_long`` words the fix for
    :meth:`~dtors_bayes.data.cohort.Cohort.from_long` (``person_columns=``).
    """
    if "person_id" not in df:
        return []
    problems = []
    for col in columns:
        if col not in df or col == "person_id":
            continue
        n = df.groupby("person_id")[col].nunique()
        bad = n.index[n > 1]
        if len(bad):
            rows = df[df["person_id"].isin(bad)]
            what = (f"place {len(bad)} person(s) in two or more sites" if col == "site_id"
                    else f"vary within {len(bad)} person(s) in {table}")
            fix = (f"give every row of a person the same {col} (e.g. the intake value: "
                   f"df['{col}'] = df.groupby('person_id')['{col}'].transform('first'))")
            if lifted_from_long and col not in PERSON_ROLES:
                fix += (f", or, if '{col}' is measured at each interview, leave it out of "
                        "person_columns=[...]")
            problems.append(_msg(col, rows, what, "one value per person (a person-level column)",
                                 fix))
    return problems


def validate(
    persons: pd.DataFrame,
    interviews: pd.DataFrame,
    population: pd.DataFrame | None = None,
    *,
    outcomes: Mapping[str, str],
    trials: Mapping[str, int] | None = None,
    schedule: Mapping | None = None,
    roles: Mapping[str, str] | None = None,
) -> list[str]:
    """Run every rule and return all problems found (empty when the data are valid).

    Parameters
    ----------
    persons, interviews : pandas.DataFrame
        The cohort tables with canonical column names.
    population : pandas.DataFrame, optional
        Population cells with ``count``; ``persons`` must carry ``age_group`` if it is used.
    outcomes : mapping
        Outcome column -> family name.
    trials : mapping, optional
        Trials of binomial outcomes (default 28).
    schedule : mapping, optional
        User schedule, wave -> nominal months.
    roles : mapping, optional
        The user's role mapping, only to name the expected columns in messages.

    Returns
    -------
    list of str
        One message per problem.
    """
    trials = dict(trials or {})
    checks: list[tuple[str, Callable[[], list[str]]]] = [
        ("empty tables", lambda: check_not_empty(persons, interviews)),
        ("outcome spec", lambda: check_outcome_spec(outcomes, trials)),
        ("required columns", lambda: check_required(persons, interviews, outcomes, roles)),
        ("dtypes", lambda: check_dtypes(persons, interviews, outcomes)),
        ("ids", lambda: check_ids(persons, interviews)),
        ("unique persons", lambda: check_unique_persons(persons)),
        ("person sites", lambda: check_person_sites(persons)),
        ("site areas", lambda: check_site_areas(persons)),
        ("unique person-wave", lambda: check_unique_person_wave(interviews)),
        ("known persons", lambda: check_known_persons(persons, interviews)),
        ("waves", lambda: check_waves(interviews)),
        ("intake", lambda: check_intake(persons, interviews)),
        ("interviewed outcomes", lambda: check_interviewed_outcomes(interviews, outcomes)),
        ("months", lambda: check_months(interviews)),
        ("support", lambda: check_support(interviews, outcomes, trials)),
        ("categories", lambda: check_categories(persons)),
        ("schedule", lambda: check_schedule(schedule, interviews)),
        ("population", lambda: check_population(population, persons)),
    ]
    problems: list[str] = []
    for name, check in checks:
        try:
            problems.extend(check())
        except Exception as exc:  # a rule that cannot run on these data is itself a problem
            problems.append(f"{name}: the data could not be checked ({type(exc).__name__}: {exc})")
    return problems
