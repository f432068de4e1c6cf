"""The data contract: :class:`Cohort` (DESIGN.md section 4, ARCHITECTURE.md).

A cohort is two tables, *persons* (one row per person) and *interviews* (one row per person
and scheduled wave), plus an optional *population* table of cells with counts. Users keep
their own column names and map them to the canonical roles with ``roles={"person_id":
"client", ...}``; outcome columns keep the user's names. Every rule is checked by
:mod:`dtors_bayes.data.validation` and all problems are raised together as one
:class:`~dtors_bayes.exceptions.CohortError`. No row is dropped silently: rows added or
values derived are counted in :attr:`Cohort.exclusions`.

Building (role mapping, outcome families, the person x wave grid, months and schedule,
the decisions taken on the way) is :mod:`dtors_bayes.data.build`; this module holds the
class, its constructors and its views.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dtors_bayes.data.build import (
    _frame_digest,
    _map_roles,
    _read,
    build_cohort,
    normalise_cohort,
    split_long,
)
from dtors_bayes.data.values import first_ids
from dtors_bayes.exceptions import CohortError

if TYPE_CHECKING:
    from dtors_bayes.data.summary import CohortSummary


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

        The person columns are the contract's person roles present (after ``roles``;
        ``age_group`` included), the columns named in ``person_columns`` (your names), and
        every other column that is constant within every person and is not named in
        ``outcomes`` nor an interview role (``wave``, ``interviewed``, ``months``,
        ``in_treatment``). Columns taken as person-level that way are reported in
        :attr:`exclusions` (stage ``select``, reason "... treated as person-level: ...");
        name such a column in ``outcomes`` to keep it as an interview column. Every other
        column is an interview column. A person column must not vary within a person
        (missing values aside: a value given on the intake row only is fine); it is an
        error otherwise, and the message says how to fix it.

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
        persons, interviews, more, notes = split_long(long, roles=roles, outcomes=outcomes,
                                                      person_columns=person_columns)
        return cls._build(persons, interviews, population, roles=roles, outcomes=outcomes,
                          schedule=schedule, trials=trials, problems=[*problems, *more],
                          notes=notes)

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

    # ---- the build (dtors_bayes.data.build) --------------------------------------------
    @classmethod
    def _build(cls, persons, interviews, population, *, roles, outcomes, schedule, trials,
               problems, notes=()) -> Cohort:
        return build_cohort(cls, persons, interviews, population, roles=roles,
                            outcomes=outcomes, schedule=schedule, trials=trials,
                            problems=problems, notes=notes)

    @classmethod
    def _normalise(cls, persons, interviews, population, *, roles, outcomes, trials, schedule,
                   notes) -> Cohort:
        return normalise_cohort(cls, persons, interviews, population, roles=roles,
                                outcomes=outcomes, trials=trials, schedule=schedule,
                                notes=notes)

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
                              f"{', '.join(self.interviews.columns[1:])}; fix: use one of these")
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
                              f"{', '.join(self.persons.columns)}; fix: use one of these")
        s = self.persons[column]
        if s.isna().any():
            ids = first_ids(self.persons.loc[s.isna(), "person_id"])
            raise CohortError(f"column '{column}': {int(s.isna().sum())} row(s) are missing "
                              f"(first person ids: {ids}); allowed: a value for every person "
                              "to use it as a grouping; fix: fill it in or drop those persons")
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
