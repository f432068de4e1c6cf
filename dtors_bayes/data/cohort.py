"""The data contract: :class:`Cohort` (DESIGN.md section 4, ARCHITECTURE.md).

A cohort is two tables, *persons* (one row per person) and *interviews* (one row per person
and scheduled wave), plus an optional *population* table of cells with counts. Users keep
their own column names and map them to the canonical roles with ``roles={"person_id":
"client", ...}``; outcome columns keep the user's names. Every rule is checked by
:mod:`dtors_bayes.data.validation` and all problems are raised together as one
:class:`~dtors_bayes.exceptions.CohortError`. No row is dropped silently: rows added or
values derived are counted in :attr:`Cohort.exclusions`.

Decisions
---------
- ``interviewed`` defaults to "any outcome observed in that row" when absent.
- ``months`` missing at an interviewed intake row defaults to 0; missing at an interviewed
  follow-up is an error. ``months`` present on a row not interviewed is set to missing.
  Without a ``months`` column, months are the nominal schedule (``schedule=`` or, failing
  that, the wave label minus the intake label).
- Person-level role columns found on interview rows (``site_id`` in the interviews table,
  say) must be constant within each person; they are moved to the persons table.
- ``covariates`` are the person columns other than the ids, ``modality`` and the derived
  ``age_group``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dtors_bayes.constants import AGE_BREAKS, AGE_LABELS, INTERVIEW_ROLES, PERSON_ROLES
from dtors_bayes.data.validation import (
    as_bool,
    as_numeric,
    check_constant_within_person,
    check_roles,
    first_ids,
    validate,
)
from dtors_bayes.exceptions import CohortError
from dtors_bayes.models.families import FAMILIES

if TYPE_CHECKING:
    from dtors_bayes.data.summary import CohortSummary

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
    raise CohortError(f"file {path}: unknown format '{suffix}'; allowed: .csv, .parquet, .pq")


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
            fatal.append(f"{name}: a {type(df).__name__} was given; allowed: a pandas DataFrame")
        elif df.columns.duplicated().any():
            dup = first_ids(df.columns[df.columns.duplicated()])
            fatal.append(f"{name}: column name(s) {dup} appear more than once; allowed: "
                         "unique column names")
    if not isinstance(roles, Mapping):
        fatal.append(f"roles: {roles!r}; allowed: a mapping of role -> your column name")
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


class Cohort:
    """A validated cohort: persons, interviews on a complete person x wave grid, population.

    Build it with :meth:`from_frames`, :meth:`from_long` or :meth:`from_paths`; the
    constructor itself takes already-validated parts and is not for users.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per person, canonical column names (``person_id``, ``site_id``,
        ``area_id``, ``age``, ``age_group``, ``sex``, ``primary_drug``, ``referral_route``,
        ``modality`` where present, then extra baseline columns), sorted by ``person_id``.
    interviews : pandas.DataFrame
        One row per person and wave for every person and wave, sorted by
        (``person_id``, ``wave``): ``person_id``, ``wave`` (int), ``interviewed`` (bool),
        ``months`` (float, NaN when not interviewed), ``in_treatment`` (nullable boolean,
        when given), then the outcome columns (float, NaN = missing).
    population : pandas.DataFrame or None
        Population cells (a subset of ``age_group``, ``sex``, ``primary_drug``,
        ``referral_route``, ``modality``) with a float ``count``.
    outcomes : dict of str to str
        Outcome column -> family name (a key of :data:`dtors_bayes.models.families.FAMILIES`).
    trials : dict of str to int
        Trials of binomial and beta-binomial outcomes (default 28).
    covariates : list of str
        Person columns other than the ids, ``modality`` and ``age_group``.
    roles : dict of str to str
        Canonical role -> the user's column name (identity for canonical names).
    waves : list of int
        Sorted wave labels; ``waves[0]`` is intake.
    schedule : dict of int to float
        Nominal months of each wave.
    levels : tuple of str
        Which of ``"site"`` and ``"area"`` are present.
    exclusions : pandas.DataFrame
        ``stage``, ``reason``, ``n_rows``, ``first_ids``: every row added or excluded and
        every value derived, counted.
    """

    def __init__(self, *, persons: pd.DataFrame, interviews: pd.DataFrame,
                 population: pd.DataFrame | None, outcomes: dict[str, str],
                 trials: dict[str, int], covariates: list[str], roles: dict[str, str],
                 waves: list[int], schedule: dict[int, float], levels: tuple[str, ...],
                 exclusions: pd.DataFrame) -> None:
        self.persons = persons
        self.interviews = interviews
        self.population = population
        self.outcomes = outcomes
        self.trials = trials
        self.covariates = covariates
        self.roles = roles
        self.waves = waves
        self.schedule = schedule
        self.levels = levels
        self.exclusions = exclusions

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def from_frames(
        cls,
        persons: pd.DataFrame,
        interviews: pd.DataFrame,
        population: pd.DataFrame | None = None,
        *,
        roles: Mapping[str, str] | None = None,
        outcomes: Mapping[str, str | None] | Sequence[str] | str | None = None,
        schedule: Mapping[int, float] | None = None,
        trials: Mapping[str, int] | int | None = None,
    ) -> Cohort:
        """Build a cohort from a persons table and an interviews table.

        Parameters
        ----------
        persons : pandas.DataFrame
            One row per person.
        interviews : pandas.DataFrame
            One row per person and wave (absent waves are added as not interviewed).
        population : pandas.DataFrame, optional
            Population cells with a ``count`` column.
        roles : mapping, optional
            Canonical role -> your column name, e.g. ``{"person_id": "client"}``.
        outcomes : mapping, sequence or str, optional
            Outcome column -> family, or a list of outcome columns whose families are
            inferred (0/1 -> bernoulli; whole numbers in 0..trials named ``days*`` ->
            binomial; other non-negative whole numbers -> negative_binomial; else gaussian).
            Default: every interview column that is not a role.
        schedule : mapping, optional
            Wave -> nominal months; default the median interviewed months per wave, rounded
            to a whole month (intake 0).
        trials : mapping or int, optional
            Trials of binomial outcomes (default 28).

        Returns
        -------
        Cohort

        Raises
        ------
        CohortError
            Listing every problem found in the data.
        """
        roles = dict(roles) if isinstance(roles, Mapping) else roles if roles else {}
        frames, problems = _map_roles(
            {"persons": persons, "interviews": interviews, "population": population}, roles)
        return cls._build(frames["persons"], frames["interviews"], frames["population"],
                          roles=roles, outcomes=outcomes, schedule=schedule, trials=trials,
                          problems=problems)

    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        *,
        roles: Mapping[str, str] | None = None,
        outcomes: Mapping[str, str | None] | Sequence[str] | str | None = None,
        population: pd.DataFrame | None = None,
        person_columns: Sequence[str] | None = None,
        schedule: Mapping[int, float] | None = None,
        trials: Mapping[str, int] | int | None = None,
    ) -> Cohort:
        """Build a cohort from one long table (one row per interview, person columns repeated).

        The person columns are the canonical person roles present (after ``roles``) plus the
        columns named in ``person_columns`` (your names); every other column is an interview
        column. A person column must not vary within a person (missing values aside: a
        value given on the intake row only is fine); it is an error otherwise.

        Parameters
        ----------
        df : pandas.DataFrame
            The long table.
        person_columns : sequence of str, optional
            Extra baseline columns (beyond the canonical person roles) to treat as
            person-level.
        roles, outcomes, population, schedule, trials
            As in :meth:`from_frames`.

        Returns
        -------
        Cohort
        """
        roles = dict(roles) if isinstance(roles, Mapping) else roles if roles else {}
        frames, problems = _map_roles({"long table": df, "population": population}, roles)
        long, population = frames["long table"], frames["population"]
        rename = {u: r for r, u in roles.items() if r in long.columns}
        extra = [rename.get(c, c) for c in (person_columns or [])]
        for c in extra:
            if c not in long.columns:
                problems.append(f"person_columns: column '{c}' is not in the long table; "
                                f"columns found: {', '.join(map(str, long.columns))}")
        pcols = [c for c in PERSON_ROLES if c in long.columns]
        pcols += [c for c in extra if c in long.columns and c not in pcols]
        if "person_id" in long.columns:
            problems += check_constant_within_person(long, pcols)
            rest = [c for c in pcols if c != "person_id"]
            persons = (long.groupby("person_id", sort=False, dropna=False)[rest].first()
                       .reset_index())
        else:
            persons = long[pcols].copy()
        interviews = long[[c for c in long.columns if c not in pcols or c == "person_id"]]
        return cls._build(persons, interviews, population, roles=roles, outcomes=outcomes,
                          schedule=schedule, trials=trials, problems=problems)

    @classmethod
    def from_paths(
        cls,
        persons: str | Path,
        interviews: str | Path | None = None,
        population: str | Path | None = None,
        **kwargs,
    ) -> Cohort:
        """Build a cohort from CSV or Parquet files (format chosen by suffix).

        With ``interviews=None`` the ``persons`` path is one long table
        (:meth:`from_long`); otherwise :meth:`from_frames`. Keyword arguments pass on.

        Returns
        -------
        Cohort
        """
        pop = _read(population) if population is not None else None
        if interviews is None:
            return cls.from_long(_read(persons), population=pop, **kwargs)
        return cls.from_frames(_read(persons), _read(interviews), pop, **kwargs)

    # ---- the build ----------------------------------------------------------------------
    @classmethod
    def _build(cls, persons, interviews, population, *, roles, outcomes, schedule, trials,
               problems) -> Cohort:
        problems = list(problems)
        notes: list[dict] = []
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
                            "per person")
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
        problems += validate(persons, interviews, population, outcomes=out_spec,
                             trials=trial_map, schedule=schedule, roles=roles)
        if problems:
            raise CohortError(problems)
        try:
            return cls._normalise(persons, interviews, population, roles=roles,
                                  outcomes=out_spec, trials=trial_map, schedule=schedule,
                                  notes=notes)
        except CohortError:
            raise
        except Exception as exc:  # never let a bare KeyError etc. escape for bad data
            raise CohortError(f"the cohort could not be built ({type(exc).__name__}: {exc})") \
                from exc

    @classmethod
    def _normalise(cls, persons, interviews, population, *, roles, outcomes, trials, schedule,
                   notes) -> Cohort:
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

    # ---- views --------------------------------------------------------------------------
    @property
    def n_persons(self) -> int:
        """Number of persons."""
        return len(self.persons)

    @property
    def n_waves(self) -> int:
        """Number of waves (intake included)."""
        return len(self.waves)

    def person_ids(self) -> np.ndarray:
        """Person ids in the row order of every person-level array."""
        return self.persons["person_id"].to_numpy()

    def matrix(self, column: str) -> np.ndarray:
        """An interview column as a float ``(n_persons, n_waves)`` array, NaN where missing.

        Raises
        ------
        CohortError
            If ``column`` is not an interview column.
        """
        if column not in self.interviews.columns or column == "person_id":
            raise CohortError(f"matrix: '{column}' is not an interview column; allowed: "
                              f"{', '.join(self.interviews.columns[1:])}")
        s = self.interviews[column]
        a = s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        return a.reshape(self.n_persons, self.n_waves)

    def interviewed_matrix(self) -> np.ndarray:
        """Boolean ``(n_persons, n_waves)`` array: interviewed at that wave."""
        return self.interviews["interviewed"].to_numpy(bool).reshape(self.n_persons, self.n_waves)

    def months_matrix(self) -> np.ndarray:
        """Float ``(n_persons, n_waves)`` months since intake, NaN where not interviewed."""
        return self.matrix("months")

    def codes(self, column: str) -> tuple[np.ndarray, list]:
        """Integer codes of a person-level categorical column and its sorted labels.

        Raises
        ------
        CohortError
            If the column is absent or has missing values.
        """
        if column not in self.persons.columns:
            raise CohortError(f"codes: '{column}' is not a person column; allowed: "
                              f"{', '.join(self.persons.columns)}")
        s = self.persons[column]
        if s.isna().any():
            ids = first_ids(self.persons.loc[s.isna(), "person_id"])
            raise CohortError(f"column '{column}': {int(s.isna().sum())} row(s) are missing "
                              f"(first person ids: {ids}); allowed: a value for every person "
                              "to use it as a grouping")
        labels = sorted(pd.unique(s).tolist())
        lookup = {v: i for i, v in enumerate(labels)}
        return np.array([lookup[v] for v in s], dtype=np.int64), labels

    def site_area_map(self) -> np.ndarray | None:
        """Area code of each site code (site order of ``codes("site_id")``), or ``None``."""
        if not {"site_id", "area_id"} <= set(self.persons.columns):
            return None
        site, site_labels = self.codes("site_id")
        area, _ = self.codes("area_id")
        out = np.empty(len(site_labels), dtype=np.int64)
        out[site] = area
        return out

    def data_hash(self) -> str:
        """SHA-256 (hex) of a canonical serialisation of the data.

        Covers persons, interviews, population, outcomes, trials and schedule; insensitive to
        column order and to int/float storage of the same numbers, so the same data read
        from frames, a long table, CSV or Parquet hash alike.
        """
        h = hashlib.sha256()
        _frame_digest(h, "persons", self.persons)
        _frame_digest(h, "interviews", self.interviews)
        if self.population is not None:
            _frame_digest(h, "population", self.population)
        h.update(repr(sorted(self.outcomes.items())).encode())
        h.update(repr(sorted(self.trials.items())).encode())
        h.update(repr(sorted((int(k), float(v)) for k, v in self.schedule.items())).encode())
        return h.hexdigest()

    def summary(self) -> CohortSummary:
        """Aggregate tables: counts by wave, missingness patterns, response, exclusions."""
        from dtors_bayes.data.summary import CohortSummary

        return CohortSummary.from_cohort(self)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Copies of ``persons``, ``interviews`` and (if any) ``population``."""
        out = {"persons": self.persons.copy(), "interviews": self.interviews.copy()}
        if self.population is not None:
            out["population"] = self.population.copy()
        return out

    def __repr__(self) -> str:
        outs = ", ".join(f"{k} ({v})" for k, v in self.outcomes.items())
        levels = ", ".join(self.levels) or "none"
        return (f"Cohort({self.n_persons} persons, waves {self.waves}, outcomes: {outs}; "
                f"levels: {levels})")


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
                        "column -> family")
        spec = {}
    if trials is not None and not isinstance(trials, (int, Mapping)):
        problems.append(f"trials: {trials!r}; allowed: a whole number or a mapping of "
                        "outcome -> whole number")
        trials = None
    for c in [c for c in spec if c in roles]:
        problems.append(f"outcomes: '{c}' is a role column, not an outcome; allowed: other "
                        "interview columns")
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
                          "interviewed months to take a nominal month from; allowed: pass "
                          "schedule={wave: months}")
    return out
