"""Data: the data contract, a validated cohort of persons, interviews and population cells.

- :mod:`~dtors_bayes.data.cohort`: :class:`Cohort`, a persons table, an interviews table on
  the complete person x wave grid and an optional population table, built with
  ``Cohort.from_frames``, ``from_long`` or ``from_paths`` (users keep their column names and
  map them to the canonical roles); its array views (``matrix``, ``codes``, ...) are what the
  models read, and :meth:`Cohort.data_hash` identifies the data in a fit's provenance;
- :mod:`~dtors_bayes.data.build`: how a cohort is built: role mapping, outcome families
  (:func:`infer_family`), the person x wave grid, months and the nominal schedule; every row
  added and value derived is counted in ``Cohort.exclusions``, none is dropped silently;
- :mod:`~dtors_bayes.data.validation`: every rule of the contract, one ``check_*`` function
  per rule; :func:`validate` returns all problems at once and the cohort raises them
  together as one :class:`~dtors_bayes.exceptions.CohortError`;
- :mod:`~dtors_bayes.data.summary`: :class:`CohortSummary`, aggregate tables (counts by wave,
  missingness patterns, response, sample against population, exclusions), no person rows.

May import: the core modules and ``models`` (:mod:`dtors_bayes.models.families` only: the
outcome families a cohort's outcomes are checked against).

The names below are re-exported for users; code inside the package imports them from their
defining modules.
"""

from dtors_bayes.data.build import infer_family
from dtors_bayes.data.cohort import Cohort
from dtors_bayes.data.summary import CohortSummary
from dtors_bayes.data.validation import validate

__all__ = [
    "Cohort",
    "CohortSummary",
    "infer_family",
    "validate",
]
