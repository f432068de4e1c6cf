"""Weighting: survey weights of a cohort and the estimators and diagnostics built on them.

The room holds the raking of the intake sample to the population margins
(:mod:`~dtors_bayes.weighting.raking`), the calibration weights
(:mod:`~dtors_bayes.weighting.calibration`), the fixed DTORS-style weights, calibration
times inverse response propensity (:mod:`~dtors_bayes.weighting.response`), the propagated
weights, one Bayesian-bootstrap weight draw per posterior draw
(:mod:`~dtors_bayes.weighting.draws`), the weighted complete-case estimator with its
linearisation variance (:mod:`~dtors_bayes.weighting.complete_case`), weight diagnostics
(:mod:`~dtors_bayes.weighting.diagnostics`), the variance decomposition of a fit's
estimands into model, weights, imputation and MNAR shares
(:mod:`~dtors_bayes.weighting.variance`) and multilevel regression and poststratification
(:mod:`~dtors_bayes.weighting.mrp`).

Imports
-------
Layer 4 (ARCHITECTURE.md, ``tests/test_architecture.py``): the modules of this room may
import ``core`` (``constants``, ``exceptions``, ...), ``models``, ``data``, ``estimands`` and
``simulation``, never ``attrition``, ``comparison``, ``reporting``, ``studies`` or
``workflow``, and form no import cycle among themselves. Package code imports a name from
the module that defines it; the re-exports below are for users only.
"""

from __future__ import annotations

from dtors_bayes.weighting.calibration import (
    DEFAULT_TRIM,
    calibration_problem,
    calibration_weights,
)
from dtors_bayes.weighting.complete_case import (
    CC_ASSUMPTION,
    CC_UNWEIGHTED,
    LINEARISATIONS,
    complete_case_estimates,
    estimated_weights_se,
    first_stage_cluster,
)
from dtors_bayes.weighting.diagnostics import kish_ess, largest_weights, weight_summary
from dtors_bayes.weighting.draws import (
    BB_CORRECTIONS,
    BOOTSTRAPS,
    attach_weights,
    bayesian_bootstrap,
    bootstrap_stages,
    propagated_weights_for_fit,
    weight_draw_arrays,
    weight_draws,
)
from dtors_bayes.weighting.mrp import cell_design, mrp_draws, mrp_estimates
from dtors_bayes.weighting.raking import (
    Raking,
    RakingProblem,
    margins_from_population,
    rake,
    raking_problem,
    raking_variables,
    weighted_median,
)
from dtors_bayes.weighting.response import fit_logistic, fixed_weights, response_design
from dtors_bayes.weighting.variance import plot_variance_decomposition, variance_decomposition

__all__ = [
    # raking
    "Raking",
    "RakingProblem",
    "margins_from_population",
    "rake",
    "raking_problem",
    "raking_variables",
    "weighted_median",
    # calibration
    "DEFAULT_TRIM",
    "calibration_problem",
    "calibration_weights",
    # response (fixed weights)
    "fit_logistic",
    "fixed_weights",
    "response_design",
    # draws (propagated weights)
    "BB_CORRECTIONS",
    "BOOTSTRAPS",
    "attach_weights",
    "bayesian_bootstrap",
    "bootstrap_stages",
    "propagated_weights_for_fit",
    "weight_draw_arrays",
    "weight_draws",
    # complete case
    "CC_ASSUMPTION",
    "CC_UNWEIGHTED",
    "LINEARISATIONS",
    "complete_case_estimates",
    "estimated_weights_se",
    "first_stage_cluster",
    # diagnostics
    "kish_ess",
    "largest_weights",
    "weight_summary",
    # variance decomposition
    "plot_variance_decomposition",
    "variance_decomposition",
    # mrp
    "cell_design",
    "mrp_draws",
    "mrp_estimates",
]
