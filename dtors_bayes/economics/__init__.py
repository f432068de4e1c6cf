"""Economics: cost-effectiveness with the whole posterior (issue #15).

- :mod:`~dtors_bayes.economics.decision`: the decision layer on any draws: net benefit,
  EIB, CEAC/CEAF, ICER with quadrant probabilities, EVPI with ESS-based MCSE
  (:func:`cea`), the strong and extended dominance frontier (:func:`frontier`);
- :mod:`~dtors_bayes.economics.evppi`: EVPPI by nonparametric regression (Strong, Oakley &
  Brennan 2014) of net benefit on chosen inputs;
- :mod:`~dtors_bayes.economics.paths`: per-draw population paths of an outcome from a fit
  (the estimand engine's g-computation; weights and the pattern-mixture delta inside the
  draws; or poststratified to population cells, ``weighting="mrp"``);
- :mod:`~dtors_bayes.economics.evaluation`: QALYs (area under the EQ-5D curve,
  baseline-adjusted), treatment, crime (loss or transfer) and care costs, and the explicit
  counterfactual (carried on, or spontaneous improvement with a prior);
- :mod:`~dtors_bayes.economics.pairing`: how the utility and crime fits' draws are paired
  (index, i.e. independent posteriors, or rank-coupled at a correlation; the person-level
  correlation that sets its scale);
- :mod:`~dtors_bayes.economics.inputs`: uncertain inputs (unit costs and priors);
- :mod:`~dtors_bayes.economics.plots`: CE plane, CEAC, EVPI and counterfactual figures.

May import: the core, ``models``, ``data``, ``estimands``, ``simulation``, ``attrition``,
``weighting``, ``comparison``, ``reporting`` and ``causal``; never ``studies`` or
``workflow``.
"""

from dtors_bayes.economics.decision import (
    CEA_COLUMNS,
    FRONTIER_COLUMNS,
    as_draws,
    cea,
    evpi_curve,
    frontier,
    frontier_probabilities,
    mcse_mean,
)
from dtors_bayes.economics.evaluation import (
    NONE,
    PAIRING_COLUMNS,
    EconomicDraws,
    area_under,
    economic_draws,
    improvement_curve,
    pairing_sensitivity,
)
from dtors_bayes.economics.evppi import evppi, evppi_from_nb
from dtors_bayes.economics.inputs import Dist, beta, fixed, gamma, lognormal, normal, uniform
from dtors_bayes.economics.pairing import couple_draws, pairing_correlation
from dtors_bayes.economics.paths import TREATED, Paths, outcome_paths
from dtors_bayes.economics.plots import ce_plane, ceac_plot, evpi_plot, improvement_plot

__all__ = [
    "CEA_COLUMNS",
    "FRONTIER_COLUMNS",
    "NONE",
    "PAIRING_COLUMNS",
    "TREATED",
    "Dist",
    "EconomicDraws",
    "Paths",
    "area_under",
    "as_draws",
    "beta",
    "ce_plane",
    "cea",
    "ceac_plot",
    "couple_draws",
    "economic_draws",
    "evpi_curve",
    "evpi_plot",
    "evppi",
    "evppi_from_nb",
    "fixed",
    "frontier",
    "frontier_probabilities",
    "gamma",
    "improvement_curve",
    "improvement_plot",
    "lognormal",
    "mcse_mean",
    "normal",
    "outcome_paths",
    "pairing_correlation",
    "pairing_sensitivity",
    "uniform",
]
