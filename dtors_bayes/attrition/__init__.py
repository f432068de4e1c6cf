"""Attrition room: what a fit's conclusions depend on the outcomes of people not interviewed.

- :mod:`~dtors_bayes.attrition.pattern_mixture`: pattern-mixture (delta-adjustment)
  sensitivity of every estimand of a fit, without refitting (:func:`sensitivity`,
  :func:`check_deltas`).
- :mod:`~dtors_bayes.attrition.tipping`: stated conclusions (:class:`Conclusion`), their
  probability over the delta grid and tipping points (:func:`conclusion_probabilities`,
  :func:`tipping_point`), and :class:`SensitivityResult`.
- :mod:`~dtors_bayes.attrition.imputation`: posterior predictive imputation of the missing
  outcome values, for reports (:func:`impute`).

The selection (MNAR) model itself lives in :mod:`dtors_bayes.models.selection`. Layer: this
room may import core, ``models``, ``data``, ``estimands`` and ``simulation``; never
``weighting``, ``comparison``, ``reporting``, ``studies`` or ``workflow``
(``tests/test_architecture.py``).
"""

from __future__ import annotations

from dtors_bayes.attrition.imputation import impute
from dtors_bayes.attrition.pattern_mixture import LINK_LIMIT, check_deltas, sensitivity
from dtors_bayes.attrition.tipping import (
    Conclusion,
    SensitivityResult,
    conclusion_probabilities,
    tipping_point,
)

__all__ = [
    "LINK_LIMIT",
    "Conclusion",
    "SensitivityResult",
    "check_deltas",
    "conclusion_probabilities",
    "impute",
    "sensitivity",
    "tipping_point",
]
