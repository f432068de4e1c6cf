"""dtors_bayes: Bayesian within-person change models for observational treatment cohorts.

Hierarchical models over sites and areas, attrition that is missing at random or not, and
weights whose uncertainty reaches the posterior. See ARCHITECTURE.md for the module map.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from dtors_bayes.attrition.imputation import impute
from dtors_bayes.attrition.pattern_mixture import sensitivity
from dtors_bayes.comparison.compare import compare
from dtors_bayes.data.cohort import Cohort
from dtors_bayes.data.summary import CohortSummary
from dtors_bayes.exceptions import CohortError, DtorsError, FitError, ModelError, SpecError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.families import FAMILIES, get_family
from dtors_bayes.models.fit import Fit
from dtors_bayes.models.io import load_fit
from dtors_bayes.models.response import ResponseModel
from dtors_bayes.models.selection import Selection
from dtors_bayes.simulation.bundle import load_example, load_example_truth
from dtors_bayes.simulation.generate import SimulatedCohort, simulate_cohort
from dtors_bayes.simulation.truth import Truth
from dtors_bayes.weighting.complete_case import complete_case_estimates
from dtors_bayes.weighting.diagnostics import kish_ess
from dtors_bayes.weighting.draws import attach_weights, weight_draws
from dtors_bayes.weighting.mrp import mrp_estimates
from dtors_bayes.weighting.response import fixed_weights
from dtors_bayes.workflow import analyses as _analyses

# The analyses of a fit live above models/; bind them as Fit methods (see
# dtors_bayes.workflow.analyses and ARCHITECTURE.md, "the Fit binding").
_analyses.bind(Fit)



def overlap_check(cohort, covariates=None, *, levels=("site", "area"), threshold: float = 0.05,
                  **fit_kwargs):
    """Overlap (positivity) of modality given the covariates, site and area, in one call.

    Fits :class:`~dtors_bayes.models.propensity.PropensityModel` (this samples; sampler
    settings in ``fit_kwargs``: ``draws``, ``tune``, ``chains``, ``random_seed`` ...) and
    returns :func:`dtors_bayes.causal.overlap.overlap` of its propensities: their
    distribution per modality, the share of persons below ``threshold`` for any modality and
    the covariate balance after inverse-propensity weighting. The propensity fit is the
    result's ``propensity_fit`` attribute (for ``shares=`` of the confounding functions).
    """
    from dtors_bayes.causal.overlap import overlap
    from dtors_bayes.models.propensity import PropensityModel

    pfit = PropensityModel(covariates=covariates, levels=tuple(levels)).fit(cohort, **fit_kwargs)
    result = overlap(pfit, threshold=threshold)
    result.propensity_fit = pfit
    return result


try:
    __version__ = version("dtors-bayes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "FAMILIES",
    "ChangeModel",
    "Cohort",
    "CohortError",
    "CohortSummary",
    "Fit",
    "SimulatedCohort",
    "ResponseModel",
    "Selection",
    "Truth",
    "impute",
    "sensitivity",
    "attach_weights",
    "compare",
    "complete_case_estimates",
    "fixed_weights",
    "kish_ess",
    "mrp_estimates",
    "overlap_check",
    "weight_draws",
    "load_example",
    "load_example_truth",
    "load_fit",
    "simulate_cohort",
    "DtorsError",
    "FitError",
    "ModelError",
    "SpecError",
    "__version__",
    "get_family",
]
