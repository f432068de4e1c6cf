"""Every rule of the data contract (DESIGN.md section 4), one function per rule.

Each ``check_*`` function takes the cohort tables with *canonical* column names (after the
role mapping) and returns a list of problem strings, empty when the rule holds. Each message
names the column, the number of rows, the first few (at most five) person ids and what is
allowed. :func:`validate` runs them all and returns every problem at once;
:class:`dtors_bayes.data.cohort.Cohort` raises them together as one
:class:`~dtors_bayes.exceptions.CohortError`.

The checks never assume the data are clean: text in a numeric column is reported by
:func:`check_dtypes` and read as missing by the other checks, a missing column makes the
checks that need it skip, and an unexpected failure inside a check becomes a problem string.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from dtors_bayes.constants import INTERVIEW_ROLES, PERSON_ROLES, POPULATION_VARIABLES
from dtors_bayes.models.families import FAMILIES

#: Allowed values of the canonical ``referral_route`` column.
REFERRAL_ROUTES = ("criminal_justice", "other")
#: Allowed values of the canonical ``sex`` column.
SEX_VALUES = ("female", "male", "other")
#: Allowed spellings of a boolean column (``interviewed``, ``in_treatment``), lower case.
TRUE_WORDS = ("true", "1", "1.0", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "0.0", "no", "n", "f")
#: Columns of the interviews table read as numbers (plus the outcomes).
NUMERIC_INTERVIEW_COLUMNS = ("wave", "months")
NUMERIC_PERSON_COLUMNS = ("age",)
ID_COLUMNS = ("person_id", "site_id", "area_id")
MAX_IDS = 5


# ---- helpers shared with cohort.py ------------------------------------------------------
def as_numeric(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read a column as float.

    Returns
    -------
    values : pandas.Series
        float64, NaN where missing or unreadable.
    bad : pandas.Series
        bool, True where a value is present but is not a number (text, say).
    """
    if pd.api.types.is_bool_dtype(s):
        values = s.astype(float)
    else:
        values = pd.to_numeric(s, errors="coerce").astype(float)
    bad = s.notna() & values.isna()
    return values, bad


def as_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read a column as nullable boolean (``True``/``False``/``1``/``0``/``yes``/``no``).

    Returns ``(values, bad)`` as :func:`as_numeric` does; ``values`` has pandas' nullable
    ``boolean`` dtype.
    """
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), pd.Series(False, index=s.index)
    words = s.map(lambda v: str(v).strip().lower() if pd.notna(v) else None)
    values = pd.Series(pd.NA, index=s.index, dtype="boolean")
    values[words.isin(TRUE_WORDS)] = True
    values[words.isin(FALSE_WORDS)] = False
    bad = s.notna() & values.isna()
    return values, bad


def first_ids(ids: Sequence | pd.Series | np.ndarray, k: int = MAX_IDS) -> str:
    """The first ``k`` distinct ids, comma separated (for messages)."""
    seen: list = []
    for v in pd.unique(pd.Series(list(ids), dtype=object)):
        seen.append(str(v))
        if len(seen) == k:
            break
    return ", ".join(seen)


def _msg(column: str, rows: pd.DataFrame | pd.Series, what: str, allowed: str) -> str:
    ids = rows["person_id"] if isinstance(rows, pd.DataFrame) and "person_id" in rows else rows
    return (
        f"column '{column}': {len(rows)} row(s) {what} (first person ids: {first_ids(ids)}); "
        f"allowed: {allowed}"
    )


def _ids_of(df: pd.DataFrame, mask: pd.Series) -> pd.Series:
    if "person_id" in df:
        return df.loc[mask, "person_id"]
    return pd.Series(np.flatnonzero(mask.to_numpy()), dtype=object)


def _waves(interviews: pd.DataFrame) -> list[float]:
    if "wave" not in interviews:
        return []
    values, _ = as_numeric(interviews["wave"])
    return sorted(values.dropna().unique().tolist())


# ---- rules --------------------------------------------------------------------------------
def check_roles(roles: Mapping[str, str] | None, tables: Mapping[str, Sequence[str]]) -> list[str]:
    """Roles must be canonical role names mapped to columns that exist (no clashes)."""
    problems = []
    known = set(PERSON_ROLES) | set(INTERVIEW_ROLES)
    all_cols = {c for cols in tables.values() for c in cols}
    for role, col in (roles or {}).items():
        if not isinstance(col, Hashable) or not isinstance(role, Hashable):
            problems.append(f"roles: {role!r} -> {col!r}; allowed: role name -> column name")
        elif role not in known:
            problems.append(
                f"roles: unknown role '{role}' (mapped to column '{col}'); allowed roles: "
                f"{', '.join(sorted(known))}"
            )
        elif col not in all_cols:
            found = "; ".join(f"{t}: {', '.join(map(str, c))}" for t, c in tables.items())
            problems.append(
                f"roles: role '{role}' is mapped to column '{col}', which does not exist; "
                f"columns found: {found}"
            )
        elif col != role and role in all_cols:
            problems.append(
                f"roles: role '{role}' is mapped to column '{col}' but a column named "
                f"'{role}' also exists; allowed: one column per role (rename or drop one)"
            )
    return problems


def check_outcome_spec(outcomes: Mapping[str, str], trials: Mapping[str, object]) -> list[str]:
    """Outcome families must be known; trials must be positive whole numbers."""
    problems = []
    for col, fam in outcomes.items():
        if not isinstance(fam, str) or fam not in FAMILIES:
            problems.append(
                f"outcomes: column '{col}' has unknown family '{fam}'; allowed: "
                f"{', '.join(sorted(FAMILIES))}"
            )
    for col, n in trials.items():
        if col not in outcomes:
            problems.append(f"trials: '{col}' is not an outcome; outcomes: {', '.join(outcomes)}")
        elif isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            problems.append(f"trials: '{col}' has trials {n!r}; allowed: a whole number >= 1")
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
                f"columns found: {', '.join(map(str, df.columns))}; map yours with "
                f"roles={{'{role}': '<your column>'}}"
            )
    for col in outcomes:
        if col not in interviews:
            problems.append(
                f"missing required column: outcome '{col}' is not in interviews; columns "
                f"found: {', '.join(map(str, interviews.columns))}"
            )
    if not outcomes:
        problems.append("outcomes: no outcome columns; allowed: at least one outcome column")
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
                problems.append(_msg(col, _ids_of(df, bad), f"in {table} hold text or other "
                                     "non-numbers (wrong dtype)", "numbers (NaN for missing)"))
    for col in ("interviewed", "in_treatment"):
        if col in interviews:
            _, bad = as_bool(interviews[col])
            if bad.any():
                problems.append(_msg(col, _ids_of(interviews, bad), "hold values that are not "
                                     "true/false (wrong dtype)", "True/False, 1/0, yes/no"))
    if "interviewed" in interviews and interviews["interviewed"].isna().any():
        mask = interviews["interviewed"].isna()
        problems.append(_msg("interviewed", _ids_of(interviews, mask), "are missing",
                             "True or False on every row"))
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
                    f"{label}: {first_ids(ids)}); allowed: an id on every row"
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
                 "one row per person")]


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
                 "each person in exactly one site")]


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
                 "areas", "each site in exactly one area")]


def check_unique_person_wave(interviews: pd.DataFrame) -> list[str]:
    """One interview row per person and wave."""
    if not {"person_id", "wave"} <= set(interviews.columns):
        return []
    dup = interviews.duplicated(subset=["person_id", "wave"], keep=False)
    if not dup.any():
        return []
    return [_msg("wave", interviews[dup], "repeat a (person_id, wave) pair",
                 "one row per person and wave")]


def check_known_persons(persons: pd.DataFrame, interviews: pd.DataFrame) -> list[str]:
    """Every interviewed person is in the persons table."""
    if "person_id" not in persons or "person_id" not in interviews:
        return []
    unknown = interviews["person_id"].notna() & ~interviews["person_id"].isin(persons["person_id"])
    if not unknown.any():
        return []
    return [_msg("person_id", interviews[unknown], "in interviews name persons absent from "
                 "persons", "person ids listed in the persons table")]


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
                                     "interviewed is False", "missing (NaN) when not interviewed"))
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
                 "False)", "every person interviewed at intake")]


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
                             "months since intake, >= 0"))
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
                                 "interviewed after intake"))
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
                             "person's interviewed waves"))
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
                                 f"family '{fam}'", support))
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
                                     f"({levels})", ", ".join(allowed)))
    if "modality" in persons:
        s = persons["modality"]
        if s.isna().any():
            problems.append(_msg("modality", _ids_of(persons, s.isna()), "are missing",
                                 "a modality for every person"))
        if s.dropna().nunique() < 2:
            problems.append(
                f"column 'modality': {s.dropna().nunique()} level(s) found "
                f"({first_ids(s.dropna())}); allowed: two or more treatment groups"
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
                             "integer wave labels (0 = intake)"))
    miss = interviews["wave"].isna()
    if miss.any():
        problems.append(_msg("wave", _ids_of(interviews, miss), "are missing",
                             "a wave label on every row"))
    n = values.dropna().nunique()
    if n < 2:
        problems.append(f"column 'wave': {n} wave(s) found; allowed: two or more waves "
                        "(intake and at least one follow-up)")
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
        return [f"schedule: {schedule!r} is not a mapping of wave -> months"]
    missing = [w for w in waves if w not in given]
    extra = [k for k in given if k not in waves]
    if missing:
        problems.append(f"schedule: no months for wave(s) {first_ids([f'{w:g}' for w in missing])}"
                        "; allowed: one entry per wave")
    if extra:
        problems.append(f"schedule: wave(s) {first_ids([f'{w:g}' for w in extra])} are not in "
                        "the interviews; allowed: the cohort's waves only")
    for k, v in given.items():
        try:
            ok = np.isfinite(float(v)) and float(v) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append(f"schedule: wave {k:g} has months {v!r}; allowed: a number >= 0")
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
        problems.append("population: the table has no cells; allowed: one row per cell with a "
                        "count")
    if not cols:
        problems.append(f"population: no category columns; allowed: some of "
                        f"{', '.join(POPULATION_VARIABLES)} plus count")
    unknown = [c for c in cols if c not in POPULATION_VARIABLES]
    if unknown:
        problems.append(f"population: unknown column(s) {', '.join(map(str, unknown))}; allowed: "
                        f"{', '.join(POPULATION_VARIABLES)} and count")
    if "count" not in population:
        problems.append(f"population: no 'count' column; columns found: "
                        f"{', '.join(map(str, population.columns))}")
    else:
        counts, bad = as_numeric(population["count"])
        nonpos = ~bad & ~(counts > 0)
        if bad.any():
            problems.append(f"population column 'count': {int(bad.sum())} cell(s) are not "
                            "numbers (wrong dtype); allowed: positive numbers")
        if nonpos.any():
            problems.append(f"population column 'count': {int(nonpos.sum())} cell(s) are zero, "
                            "negative or missing; allowed: positive numbers")
    known = [c for c in cols if c in POPULATION_VARIABLES]
    for col in known:
        if col not in persons:
            problems.append(f"population column '{col}': the cohort has no '{col}' column; "
                            "allowed: variables present in the persons table")
            continue
        levels = set(persons[col].dropna().astype(str))
        vals = population[col].astype(str)
        bad = ~vals.isin(levels) | population[col].isna()
        if bad.any():
            problems.append(f"population column '{col}': {int(bad.sum())} cell(s) have levels "
                            f"that match no cohort category ({first_ids(vals[bad])}); allowed: "
                            f"{', '.join(sorted(levels))}")
    if known and population.duplicated(subset=known).any():
        n = int(population.duplicated(subset=known, keep=False).sum())
        problems.append(f"population: {n} cell(s) repeat the same combination of "
                        f"{', '.join(known)}; allowed: one row per cell")
    return problems


def check_constant_within_person(df: pd.DataFrame, columns: Sequence[str],
                                 table: str = "the long table") -> list[str]:
    """Person-level columns given on interview rows must not vary within a person.

    Missing values do not count as a different value: a baseline column filled in on the
    intake row only is fine.
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
            problems.append(_msg(col, rows, what, "one value per person (a person-level column)"))
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
