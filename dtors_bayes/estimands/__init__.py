"""Estimands: the one engine that turns posterior draws into population quantities.

Every estimand is a function of ``mu_it``, the response-scale mean of unit i at wave t,
computed draw by draw and averaged with explicit weights (ARCHITECTURE.md, "Estimands"):

- :mod:`~dtors_bayes.estimands.engine`: g-computation over draws x persons in memory-bounded
  chunks (:func:`draws_of_estimands`), the definitions of every estimand in one function
  (:func:`assemble_estimands`: level, change, ratio, descriptive modality rows, adjusted rows,
  contrasts), the summary of draws and the one labeller (:func:`estimand_table`);
- :mod:`~dtors_bayes.estimands.shifts`: the same under pattern-mixture shifts of the cells
  that were not interviewed;
- :mod:`~dtors_bayes.estimands.weights`: who is averaged and with which weights.

MRP (:mod:`dtors_bayes.weighting.mrp`) averages population cells instead of persons and hands
its per-draw averages to the same :func:`assemble_estimands` and :func:`estimand_table`.

May import: the core modules and ``models`` (the linear predictor, the posterior as arrays).
"""

from dtors_bayes.estimands.engine import (
    ADJUSTED_ASSUMPTION,
    DESCRIPTIVE,
    ESTIMAND_COLUMNS,
    assemble_estimands,
    contrast_pairs,
    draws_of_estimands,
    estimand_table,
    summarize_draws,
)
from dtors_bayes.estimands.shifts import ShiftKernel, shift_groups, shifted_levels
from dtors_bayes.estimands.weights import WeightSpec, check_positive, person_weights

__all__ = [
    "ADJUSTED_ASSUMPTION",
    "DESCRIPTIVE",
    "ESTIMAND_COLUMNS",
    "ShiftKernel",
    "WeightSpec",
    "assemble_estimands",
    "check_positive",
    "contrast_pairs",
    "draws_of_estimands",
    "estimand_table",
    "person_weights",
    "shift_groups",
    "shifted_levels",
    "summarize_draws",
]
