"""Models: the Bayesian change model, its attrition models, sampling and the fitted result.

The room that builds and samples the PyMC models, in the order a fit uses them:

- :mod:`~dtors_bayes.models.families`: the outcome families (link, likelihood, support
  checks), :data:`FAMILIES`, :func:`get_family`;
- :mod:`~dtors_bayes.models.time_basis`: the time basis ``B(t)`` of the trajectories
  (``wave``: one level per wave; ``linear`` or ``months``: lines in months through knots),
  :class:`TimeBasis`;
- :mod:`~dtors_bayes.models.priors`: the default, data-scaled priors and the level centres;
- :mod:`~dtors_bayes.models.design`: the :class:`Design`, every array a model reads from a
  cohort (codes, covariates, outcome matrix, months, interview mask, late interviews),
  :func:`build_design`;
- :mod:`~dtors_bayes.models.predictor`: the linear predictor ``eta_it`` and its parts, the
  same code on PyTensor variables and on posterior draws;
- :mod:`~dtors_bayes.models.change_model`: :class:`ChangeModel`, the hierarchical
  within-person change model (sites, areas, persons, modality trajectories);
- :mod:`~dtors_bayes.models.quadrature`: ``person_effect="quadrature"``, the person effect
  integrated out by Gauss-Hermite (:class:`~dtors_bayes.models.quadrature.PersonIntegral`)
  and ``z_person`` drawn afterwards from its exact conditional;
- :mod:`~dtors_bayes.models.response`: the response (interview) model, MAR:
  :class:`ResponseModel`, :class:`ResponseFit`, the attempt rule and the response
  propensities;
- :mod:`~dtors_bayes.models.selection`: the Diggle-Kenward selection model, MNAR:
  :class:`Selection` (response depends on the current outcome, missing values marginalised
  or imputed), :func:`from_dict` for either attrition model;
- :mod:`~dtors_bayes.models.sampling`: :func:`sample_model` (NUTS: nutpie by default, PyMC
  or NumPyro), posterior draws as arrays, the pointwise log likelihood, prior draws;
- :mod:`~dtors_bayes.models.diagnostics`: divergences, R-hat, ESS and BFMI as a table
  (:func:`diagnose`) and as the problems to warn about (:func:`trouble`);
- :mod:`~dtors_bayes.models.fit`: the :class:`Fit` result (an ``xarray.DataTree`` with the
  design and its provenance) and :mod:`~dtors_bayes.models.io`, :func:`load_fit`.

``models`` is the only room that imports pymc, pytensor or nutpie (always inside the
functions that need them, so importing the room does not load them). It is the lowest room: it
imports only the core modules (:mod:`dtors_bayes.constants`, :mod:`dtors_bayes.exceptions`)
and takes cohorts duck-typed (:func:`build_design` reads a cohort's attributes). The analyses
of a fit (estimands, weighting, sensitivity, comparison) live in the rooms above and are
bound to :class:`Fit` by the package top.

The names below are re-exported for users; code inside the package imports them from their
defining modules.
"""

from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.design import (
    LATE_GAP_MONTHS,
    Design,
    build_design,
    late_interviews,
    on_time_limits,
)
from dtors_bayes.models.diagnostics import diagnose, trouble
from dtors_bayes.models.families import FAMILIES, Family, get_family
from dtors_bayes.models.fit import FORMAT_VERSION, Fit
from dtors_bayes.models.io import load_fit
from dtors_bayes.models.predictor import (
    linear_predictor,
    person_effect,
    time_effect,
    trajectory_levels,
)
from dtors_bayes.models.priors import PRIOR_NAMES, default_priors
from dtors_bayes.models.response import (
    ResponseFit,
    ResponseLayout,
    ResponseModel,
    is_monotone,
    response_layout,
    response_propensity_draws,
)
from dtors_bayes.models.sampling import (
    pointwise_log_likelihood,
    prior_draw,
    sample_model,
    stack_draws,
    versions,
)
from dtors_bayes.models.selection import SELECTION_FAMILIES, Selection, from_dict
from dtors_bayes.models.time_basis import TIME_KINDS, TimeBasis

__all__ = [
    "FAMILIES",
    "FORMAT_VERSION",
    "LATE_GAP_MONTHS",
    "PRIOR_NAMES",
    "SELECTION_FAMILIES",
    "TIME_KINDS",
    "ChangeModel",
    "Design",
    "Family",
    "Fit",
    "ResponseFit",
    "ResponseLayout",
    "ResponseModel",
    "Selection",
    "TimeBasis",
    "build_design",
    "default_priors",
    "diagnose",
    "from_dict",
    "get_family",
    "is_monotone",
    "late_interviews",
    "linear_predictor",
    "load_fit",
    "on_time_limits",
    "person_effect",
    "pointwise_log_likelihood",
    "prior_draw",
    "response_layout",
    "response_propensity_draws",
    "sample_model",
    "stack_draws",
    "time_effect",
    "trajectory_levels",
    "trouble",
    "versions",
]
