"""Building a :class:`~dtors_bayes.data.cohort.Cohort`: roles, outcomes, normalised tables.

The steps behind ``Cohort.from_frames``, ``from_long`` and ``from_paths``, in order:

1. :func:`_map_roles` renames the user's columns to the canonical roles (``roles={"person_id":
   "client", ...}``); tables that are not data frames, or repeat a column name, raise at once.
2. :func:`build_cohort` lifts person-level roles given on interview rows to the persons table,
   resolves the outcomes and their families (:func:`infer_family` where not given), derives
   ``interviewed`` and ``age_group``, writes category labels as strings, and runs every check
   of :mod:`dtors_bayes.data.validation`; all problems are raised together as one
   :class:`~dtors_bayes.exceptions.CohortError`.
3. :func:`normalise_cohort` fixes the dtypes, completes the person x wave grid, derives or
   cleans ``months``, takes the nominal schedule (:func:`_schedule`) and orders rows and
   columns. No row is dropped silently: rows added and values derived are counted in
   ``Cohort.exclusions`` (columns :data:`EXCLUSION_COLUMNS`).

Decisions
---------
- ``interviewed`` defaults to "any outcome observed in that row" when absent.
- ``months`` missing at an interviewed intake row defaults to 0; missing at an interviewed
  follow-up is an error. ``months`` present on a row not interviewed is set to missing.
  Without a ``months`` column, months are the nominal schedule (``schedule=`` or, failing
  that, the wave label minus the intake label).
- Person-level role columns found on interview rows (``site_id`` in the interviews table,
  say) must be constant within each person; they are moved to the persons table.
- In one long table (:func:`split_long`) the person-level columns are the contract's person
  roles (``age_group`` included), ``person_columns=`` and every other column constant within
  every person that is not an interview role or a named outcome. The last are *taken* as
  person-level (not refused) and reported in ``Cohort.exclusions`` as one ``select`` row
  "column(s) constant within every person treated as person-level: ..."; naming such a column
  in ``outcomes`` keeps it as an interview column.
- Every problem message ends with ``fix: ...``, what to do about it.
- ``covariates`` are the person columns other than the ids, ``modality`` and the derived
  ``age_group``.

The role constants (:data:`ROLE_NAMES`, :data:`ID_COLUMNS`, :data:`LABEL_COLUMNS`,
:data:`PERSON_ORDER`) are defined here because the build uses them and this module may not
import :mod:`dtors_bayes.data.cohort` at run time (the class comes in as ``cls``; the import
below is for type hints only).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dtors_bayes.constants import AGE_BREAKS, AGE_LABELS, INTERVIEW_ROLES, PERSON_ROLES
from dtors_bayes.data.validation import check_constant_within_person, check_roles, validate
from dtors_bayes.data.values import as_bool, as_numeric, first_ids
from dtors_bayes.exceptions import CohortError
from dtors_bayes.models.families import FAMILIES

if TYPE_CHECKING:
    from dtors_bayes.data.cohort import Cohort

ROLE_NAMES = tuple(dict.fromkeys((*PERSON_ROLES, *INTERVIEW_ROLES)))
ID_COLUMNS = ("person_id", "site_id", "area_id")
LABEL_COLUMNS = ("age_group", "sex", "primary_drug", "referral_route", "modality")
PERSON_ORDER = ("person_id", "site_id", "area_id", "age", "age_group", "sex", "primary_drug",
                "referral_route", "modality")
DEFAULT_TRIALS = 28
BINOMIAL_FAMILIES = ("binomial", "beta_binomial")
EXCLUSION_COLUMNS = ["stage", "reason", "n_rows", "first_ids"]


# ---- small helpers ----------------------------------------------------------------------------
def _as_labels(s: pd.Series) -> pd.Series:
    """Category labels as ``str`` (whole numbers written without ``.0``), NaN kept."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.astype(float)
        if bool((v.dropna() == v.dropna().round()).all()):
            out = v.map(lambda x: str(int(x)) if pd.notna(x) else np.nan)
        else:
            out = v.map(lambda x: repr(float(x)) if pd.notna(x) else np.nan)
    else:
        out = s.map(lambda x: str(x) if pd.notna(x) else np.nan)
    return out.astype("str")


def _as_ids(s: pd.Series) -> pd.Series:
    """Ids as int64 when they are whole numbers, else as ``str``."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.astype(float)
        if bool((v == v.round()).all()):
            return v.astype("int64")
    return _as_labels(s)


def _age_group(age: pd.Series) -> pd.Series:
    values, _ = as_numeric(age)
    groups = pd.cut(values, bins=list(AGE_BREAKS), right=False, labels=list(AGE_LABELS))
    return groups.astype(object).where(groups.notna(), np.nan).astype("str")


def _read(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise CohortError(f"file {path}: unknown format '{suffix}'; allowed: .csv, .parquet, .pq; "
                      "fix: save the table as CSV or Parquet (df.to_parquet), or read it "
                      "yourself and use Cohort.from_frames / from_long")


def _map_roles(frames: dict[str, pd.DataFrame | None], roles: Mapping[str, str]):
    """Rename the user's columns to canonical role names in every frame that has them.

    Tables that are not data frames, or that repeat a column name, cannot be checked
    further: they raise at once.
    """
    fatal = []
    for name, df in frames.items():
        if df is None:
            continue
        if not isinstance(df, pd.DataFrame):
            fatal.append(f"{name}: a {type(df).__name__} was given; allowed: a pandas DataFrame; "
                         "fix: pass pd.DataFrame(...) or read the file with Cohort.from_paths")
        elif df.columns.duplicated().any():
            dup = first_ids(df.columns[df.columns.duplicated()])
            fatal.append(f"{name}: column name(s) {dup} appear more than once; allowed: "
                         "unique column names; fix: rename or drop the repeats")
    if not isinstance(roles, Mapping):
        fatal.append(f"roles: {roles!r}; allowed: a mapping of role -> your column name; "
                     "fix: pass e.g. roles={'person_id': 'client', 'wave': 'visit'}")
    if fatal:
        raise CohortError(fatal)
    tables = {k: list(v.columns) for k, v in frames.items() if v is not None}
    problems = check_roles(roles, tables)
    all_cols = {c for cols in tables.values() for c in cols}
    rename = {user: role for role, user in roles.items()
              if isinstance(user, Hashable) and role in ROLE_NAMES and user in all_cols
              and user != role and role not in all_cols}
    out = {k: (v.rename(columns=rename) if v is not None else None) for k, v in frames.items()}
    return out, problems


def _frame_digest(h, name: str, df: pd.DataFrame) -> None:
    h.update(f"\x1e{name}\x1e{len(df)}".encode())
    for col in sorted(map(str, df.columns)):
        s = df[col]
        h.update(f"\x1d{col}".encode())
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            a = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            a = np.where(np.isnan(a), np.nan, a + 0.0)
            h.update(a.astype("<f8").tobytes())
        else:
            h.update("\x1f".join("\x00" if pd.isna(v) else str(v) for v in s).encode())


def _exclusion(stage: str, reason: str, ids: Sequence = ()) -> dict:
    return {"stage": stage, "reason": reason, "n_rows": len(ids), "first_ids": first_ids(ids)}


# ---- one long table -------------------------------------------------------------------------
#: Person-level columns of the contract in a long table (``age_group`` is derived from ``age``
#: but may be given instead of it).
LONG_PERSON_COLUMNS = (*PERSON_ROLES, "age_group")


def _outcome_names(outcomes) -> set:
    if outcomes is None:
        return set()
    if isinstance(outcomes, str):
        return {outcomes}
    try:
        return set(outcomes)
    except TypeError:  # reported by the outcome checks
        return set()


def split_long(long: pd.DataFrame, *, roles: Mapping[str, str], outcomes,
               person_columns: Sequence[str] | None) -> tuple[pd.DataFrame, pd.DataFrame,
                                                              list[str], list[dict]]:
    """Split a long table (canonical names) into persons and interviews.

    Person-level: the contract's person roles present (:data:`LONG_PERSON_COLUMNS`), the
    columns named in ``person_columns`` (the user's names) and any other column that holds a
    value and is constant within every person, unless it is an interview role or named in
    ``outcomes``. The last kind are reported in one ``select`` exclusion row ("treated as
    person-level").

    Returns
    -------
    persons, interviews : pandas.DataFrame
    problems : list of str
        Person columns that vary within a person, unknown ``person_columns``, an empty table.
    notes : list of dict
        Exclusion rows.
    """
    problems: list[str] = []
    notes: list[dict] = []
    rename = {u: r for r, u in roles.items() if isinstance(u, Hashable) and r in long.columns}
    given = person_columns
    if isinstance(given, str):
        given = [given]
    extra = [rename.get(c, c) for c in (given or [])]
    for c in extra:
        if c not in long.columns:
            problems.append(f"person_columns: column '{c}' is not in the long table; columns "
                            f"found: {', '.join(map(str, long.columns))}; fix: name columns "
                            "of the table (your names), e.g. person_columns=['"
                            f"{next((str(x) for x in long.columns if x not in ROLE_NAMES), 'x')}"
                            "']")
    if len(long) == 0:
        problems.append("long table: the table is empty (0 rows; columns found: "
                        f"{', '.join(map(str, long.columns)) or 'none'}); fix: pass a table "
                        "with one row per person and interview")
    pcols = [c for c in LONG_PERSON_COLUMNS if c in long.columns]
    pcols += [c for c in extra if c in long.columns and c not in pcols]
    if "person_id" not in long.columns:
        persons = long[pcols].copy()
        interviews = long[[c for c in long.columns if c not in pcols or c == "person_id"]]
        return persons, interviews, problems, notes
    named = _outcome_names(outcomes)
    candidates = [c for c in long.columns if c not in pcols and c not in INTERVIEW_ROLES
                  and c not in named and long[c].notna().any()]
    lifted: list = []
    if candidates and len(long):
        n_values = long.groupby("person_id", dropna=True)[candidates].nunique()
        lifted = [c for c in candidates if int(n_values[c].max()) <= 1]
    if lifted:
        notes.append({"stage": "select", "reason": "column(s) constant within every person "
                      f"treated as person-level: {', '.join(map(str, lifted))} (name one in "
                      "outcomes= to keep it as an interview column)", "n_rows": 0,
                      "first_ids": ""})
    pcols += lifted
    problems += check_constant_within_person(long, pcols, "the long table",
                                             lifted_from_long=True)
    rest = [c for c in pcols if c != "person_id"]
    persons = long.groupby("person_id", sort=False, dropna=False)[rest].first().reset_index()
    interviews = long[[c for c in long.columns if c not in pcols or c == "person_id"]]
    return persons, interviews, problems, notes


# ---- the build ------------------------------------------------------------------------------
def build_cohort(cls: type[Cohort], persons, interviews, population, *, roles, outcomes,
                 schedule, trials, problems, notes: Sequence[dict] = ()) -> Cohort:
    """Check and build a cohort of class ``cls`` (the body of ``Cohort._build``).

    Lifts person-level roles from the interview rows, resolves the outcomes, derives
    ``interviewed`` and ``age_group``, validates everything (one
    :class:`~dtors_bayes.exceptions.CohortError` listing every problem, ``problems``
    included) and hands over to :func:`normalise_cohort`; any other error there is
    raised as a ``CohortError`` too. ``notes`` are exclusion rows found before the build
    (by :func:`split_long`).
    """
    problems = list(problems)
    notes = list(notes)
    persons = persons.copy()
    interviews = interviews.copy()
    population = population.copy() if population is not None else None
    # person-level roles given on interview rows move to persons
    lift = [c for c in PERSON_ROLES if c != "person_id" and c in interviews.columns]
    if lift and "person_id" in interviews.columns and "person_id" in persons.columns:
        problems += check_constant_within_person(interviews, lift, "interviews")
        first = interviews.groupby("person_id", dropna=True)[lift].first()
        for c in lift:
            if c not in persons.columns:
                persons[c] = persons["person_id"].map(first[c])
            else:
                given = persons["person_id"].map(first[c])
                clash = given.notna() & persons[c].notna() & (
                    given.astype(str) != persons[c].astype(str))
                if clash.any():
                    problems.append(
                        f"column '{c}': {int(clash.sum())} row(s) disagree between persons "
                        f"and interviews (first person ids: "
                        f"{first_ids(persons.loc[clash, 'person_id'])}); allowed: one value "
                        f"per person; fix: drop '{c}' from the interviews table or correct it "
                        "in one of the tables")
    interviews = interviews.drop(columns=lift)
    out_spec, trial_map, more = _resolve_outcomes(interviews, outcomes, trials)
    problems += more
    if "interviewed" not in interviews.columns:
        present = [c for c in out_spec if c in interviews.columns]
        interviews["interviewed"] = interviews[present].notna().any(axis=1)
        notes.append(_exclusion("derive", "interviewed derived from outcomes",
                                interviews.get("person_id", pd.Series(dtype=object))))
    for c in LABEL_COLUMNS:
        if c in persons.columns:
            persons[c] = _as_labels(persons[c])
    if "age" in persons.columns:
        persons["age_group"] = _age_group(persons["age"])
    if population is not None:
        for c in LABEL_COLUMNS:
            if c in population.columns:
                population[c] = _as_labels(population[c])
    found = validate(persons, interviews, population, outcomes=out_spec, trials=trial_map,
                     schedule=schedule, roles=roles)
    if any(p.startswith("long table: the table is empty") for p in problems):
        found = [p for p in found if "the table is empty" not in p]
    problems += found
    if problems:
        raise CohortError(problems)
    try:
        return normalise_cohort(cls, persons, interviews, population, roles=roles,
                                outcomes=out_spec, trials=trial_map, schedule=schedule,
                                notes=notes)
    except CohortError:
        raise
    except Exception as exc:  # never let a bare KeyError etc. escape for bad data
        raise CohortError(f"the cohort could not be built ({type(exc).__name__}: {exc}); "
                          "fix: please report this with the call that raised it; meanwhile "
                          "check the dtypes of the role columns") \
            from exc


def normalise_cohort(cls: type[Cohort], persons, interviews, population, *, roles,
                     outcomes, trials, schedule, notes) -> Cohort:
    """Normalise validated tables into a cohort of class ``cls`` (``Cohort._normalise``).

    Dtypes, the complete person x wave grid, ``months`` and the schedule, row and column
    order; every row added and value derived is appended to ``notes`` (the exclusions).
    """
    for c in ID_COLUMNS:
        if c in persons.columns:
            persons[c] = _as_ids(persons[c])
    if "age" in persons.columns:
        persons["age"] = as_numeric(persons["age"])[0]
        low = persons["age"].notna() & persons["age_group"].isna()
        if low.any():
            notes.append(_exclusion("derive", "age outside the age groups "
                                    f"({AGE_LABELS[0]} to {AGE_LABELS[-1]}): age_group missing",
                                    persons.loc[low, "person_id"]))
    extras = [c for c in persons.columns if c not in PERSON_ORDER]
    for c in extras:
        s = persons[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            persons[c] = s.astype(float)
        elif not pd.api.types.is_bool_dtype(s):
            persons[c] = _as_labels(s)
    persons = persons[[c for c in PERSON_ORDER if c in persons.columns] + extras]
    persons = persons.sort_values("person_id", kind="stable").reset_index(drop=True)

    trials = {c: int(n) for c, n in trials.items() if outcomes[c] in BINOMIAL_FAMILIES}
    iv = interviews
    iv["person_id"] = _as_ids(iv["person_id"]).astype(persons["person_id"].dtype)
    iv["wave"] = as_numeric(iv["wave"])[0].astype("int64")
    iv["interviewed"] = as_bool(iv["interviewed"])[0].astype(bool)
    if "in_treatment" in iv.columns:
        iv["in_treatment"] = as_bool(iv["in_treatment"])[0]
    for c in outcomes:
        iv[c] = as_numeric(iv[c])[0]
    dropped = [c for c in iv.columns if c not in INTERVIEW_ROLES and c not in outcomes]
    if dropped:
        notes.append({"stage": "select", "reason": "interview column(s) not named as "
                      f"outcomes were not kept: {', '.join(map(str, dropped))}",
                      "n_rows": 0, "first_ids": ""})
    waves = sorted(int(w) for w in iv["wave"].unique())
    # complete the person x wave grid
    grid = pd.MultiIndex.from_product([persons["person_id"], waves],
                                      names=["person_id", "wave"]).to_frame(index=False)
    grid["person_id"] = grid["person_id"].astype(persons["person_id"].dtype)
    merged = grid.merge(iv, on=["person_id", "wave"], how="left", indicator=True)
    added = merged["_merge"] == "left_only"
    merged["interviewed"] = merged["interviewed"].fillna(False).astype(bool)
    notes.append(_exclusion("complete", "rows added for scheduled waves with no interview "
                            "row", merged.loc[added, "person_id"]))
    iv = merged.drop(columns="_merge")
    yes = iv["interviewed"].to_numpy()
    if "months" in iv.columns:
        iv["months"] = as_numeric(iv["months"])[0]
        intake_nan = yes & (iv["wave"] == waves[0]) & iv["months"].isna()
        if intake_nan.any():
            notes.append(_exclusion("derive", "months missing at intake set to 0",
                                    iv.loc[intake_nan, "person_id"]))
            iv.loc[intake_nan, "months"] = 0.0
        stray = ~yes & iv["months"].notna()
        if stray.any():
            notes.append(_exclusion("clean", "months set to missing where not interviewed",
                                    iv.loc[stray, "person_id"]))
            iv.loc[stray, "months"] = np.nan
    sched = _schedule(iv, waves, schedule, yes)
    if "months" not in iv.columns:
        iv["months"] = np.where(yes, iv["wave"].map(sched).to_numpy(float), np.nan)
        notes.append(_exclusion("derive", "months absent: nominal schedule used for "
                                "interviewed rows", iv.loc[yes, "person_id"]))
    if "in_treatment" in iv.columns:
        iv["in_treatment"] = iv["in_treatment"].astype("boolean")
    order = [c for c in INTERVIEW_ROLES if c in iv.columns] + list(outcomes)
    iv = iv[order].sort_values(["person_id", "wave"], kind="stable").reset_index(drop=True)

    if population is not None:
        population = population.copy()
        population["count"] = as_numeric(population["count"])[0]
        keys = [c for c in population.columns if c != "count"]
        population = population[[*keys, "count"]]
        if keys:
            population = population.sort_values(keys, kind="stable")
        population = population.reset_index(drop=True)

    covariates = [c for c in persons.columns if c not in (*ID_COLUMNS, "modality",
                                                           "age_group")]
    levels = tuple(lv for lv, c in (("site", "site_id"), ("area", "area_id"))
                   if c in persons.columns)
    all_roles = {r: roles.get(r, r) for r in ROLE_NAMES
                 if r in persons.columns or r in iv.columns}
    exclusions = pd.DataFrame(notes, columns=EXCLUSION_COLUMNS).astype({"n_rows": "int64"})
    return cls(persons=persons, interviews=iv, population=population, outcomes=outcomes,
               trials=trials, covariates=covariates, roles=all_roles, waves=waves,
               schedule=sched, levels=levels, exclusions=exclusions)


def infer_family(name: str, values: pd.Series, trials: int = DEFAULT_TRIALS) -> str:
    """Guess an outcome's family from its values and name.

    0/1 -> ``bernoulli``; whole numbers in 0..``trials`` and a name starting with ``days``
    -> ``binomial``; other non-negative whole numbers -> ``negative_binomial``; anything
    else (or no values) -> ``gaussian``.
    """
    v = values.dropna().to_numpy(float)
    if len(v) == 0 or not np.isfinite(v).all():
        return "gaussian"
    whole = bool(np.all(v == np.round(v))) and bool(np.all(v >= 0))
    if np.isin(v, (0.0, 1.0)).all():
        return "bernoulli"
    if whole and v.max() <= trials and str(name).lower().startswith("days"):
        return "binomial"
    if whole:
        return "negative_binomial"
    return "gaussian"


def _resolve_outcomes(interviews, outcomes, trials):
    problems: list[str] = []
    roles = set(ROLE_NAMES)
    try:
        if outcomes is None:
            spec = {c: None for c in interviews.columns if c not in roles}
        elif isinstance(outcomes, str):
            spec = {outcomes: None}
        elif isinstance(outcomes, Mapping):
            spec = dict(outcomes)
        else:
            spec = dict.fromkeys(outcomes)
    except TypeError:
        problems.append(f"outcomes: {outcomes!r} is not a list of columns or a mapping of "
                        "column -> family; fix: e.g. outcomes=['crime'] or "
                        "outcomes={'crime': 'bernoulli'}")
        spec = {}
    if trials is not None and not isinstance(trials, (int, Mapping)):
        problems.append(f"trials: {trials!r}; allowed: a whole number or a mapping of "
                        "outcome -> whole number; fix: e.g. trials=28")
        trials = None
    for c in [c for c in spec if c in roles]:
        problems.append(f"outcomes: '{c}' is a role column, not an outcome; allowed: other "
                        f"interview columns; fix: remove '{c}' from outcomes")
        spec.pop(c)
    user_trials = {} if trials is None or isinstance(trials, int) else dict(trials)
    resolved: dict[str, str] = {}
    for col, fam in spec.items():
        if fam is None:
            n = user_trials.get(col, trials if isinstance(trials, int) else DEFAULT_TRIALS)
            fam = "gaussian"
            if col in interviews.columns:
                values, bad = as_numeric(interviews[col])
                if not bad.any() and isinstance(n, int):
                    fam = infer_family(col, values, n)
        resolved[col] = fam
    trial_map = dict(user_trials)
    for col, fam in resolved.items():
        if isinstance(fam, str) and fam in FAMILIES and fam in BINOMIAL_FAMILIES:
            trial_map.setdefault(col, trials if isinstance(trials, int) else DEFAULT_TRIALS)
    return resolved, trial_map, problems


def _schedule(iv: pd.DataFrame, waves: list[int], schedule, yes: np.ndarray) -> dict[int, float]:
    if schedule is not None:
        return {int(float(k)): float(v) for k, v in schedule.items()}
    if "months" not in iv.columns:
        return {w: float(w - waves[0]) for w in waves}
    med = iv.loc[yes].groupby("wave")["months"].median()
    out: dict[int, float] = {waves[0]: 0.0}
    missing = []
    for w in waves[1:]:
        m = med.get(w, np.nan)
        if pd.isna(m):
            missing.append(w)
        else:
            out[w] = float(np.round(m))
    if missing:
        raise CohortError(f"schedule: wave(s) {', '.join(map(str, missing))} have no "
                          "interviewed months to take a nominal month from; fix: pass "
                          "schedule={wave: months}")
    return out
