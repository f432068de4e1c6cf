r"""Calibration weights: the intake sample raked to the population margins.

The calibration weight ``c_i`` of intake person ``i`` rakes the sample to the population
margins of the variables present in both the persons and the population table
(``age_group, sex, primary_drug, referral_route, modality``); it is trimmed at
``trim x median`` and re-raked, so that ``sum_i c_i = N`` (the population total). The
raking itself is :func:`dtors_bayes.weighting.raking.rake`; the fixed weights of
:mod:`dtors_bayes.weighting.response` and the weight draws of
:mod:`dtors_bayes.weighting.draws` start from the same raking problem.

Contents
--------
DEFAULT_TRIM
    Default trimming factor of every weight of the room (cap at ``5 x median``).
calibration_problem
    Raking problem of a person table against the margins of a population cell table.
calibration_weights
    Calibration weights of a cohort's intake sample, trimmed and re-raked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from dtors_bayes.exceptions import CohortError
from dtors_bayes.weighting.raking import (
    Raking,
    RakingProblem,
    margins_from_population,
    rake,
    raking_problem,
    raking_variables,
)

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort

__all__ = [
    "DEFAULT_TRIM",
    "calibration_problem",
    "calibration_weights",
]


DEFAULT_TRIM = 5.0


def _persons(cohort: Cohort, person_ids: Sequence | None = None) -> pd.DataFrame:
    persons = cohort.persons
    if person_ids is None:
        return persons.reset_index(drop=True)
    idx = pd.Index(persons["person_id"]).get_indexer(pd.Index(person_ids))
    if (idx < 0).any():
        raise CohortError(f"{int((idx < 0).sum())} person id(s) are not in the cohort")
    return persons.iloc[idx].reset_index(drop=True)


def calibration_problem(persons: pd.DataFrame, population: pd.DataFrame | None,
                        variables: Sequence[str] | None = None) -> RakingProblem:
    """Raking problem of ``persons`` against the margins of a population cell table."""
    if population is None:
        raise CohortError("weighting needs a population table (cells with a 'count'); the "
                          "cohort has none: pass population= to Cohort.from_frames")
    vars_ = raking_variables(persons, population, variables)
    return raking_problem(persons, margins_from_population(population, vars_))


def calibration_weights(cohort: Cohort, *, trim: float | None = DEFAULT_TRIM,
                        variables: Sequence[str] | None = None,
                        person_ids: Sequence | None = None,
                        population: pd.DataFrame | None = None) -> Raking:
    """Calibration (raking) weights of the intake sample, trimmed and re-raked.

    Parameters
    ----------
    cohort : Cohort
    trim : float or None
        Cap at ``trim x median`` then re-rake; ``None`` for no trimming. Default 5.
    variables : sequence of str, optional
        Raking variables (default: the population variables present in both tables).
    person_ids : sequence, optional
        Rake only these persons (e.g. a fit's modelled persons).
    population : DataFrame, optional
        Cell table with ``count`` (default ``cohort.population``).

    Returns
    -------
    Raking
        ``weights`` in the order of ``person_ids`` (or ``cohort.persons``), summing to the
        population total, with convergence and trimming information.
    """
    persons = _persons(cohort, person_ids)
    pop = cohort.population if population is None else population
    return rake(calibration_problem(persons, pop, variables), trim=trim)
