"""Causal analyses of the modality comparisons: what they assume and what would overturn them.

Re-exports for users (package code imports from the defining modules):

- :func:`~dtors_bayes.causal.evalues.evalues`, :func:`~dtors_bayes.causal.evalues.evalue`:
  E-values of the posterior marginal risk ratios (VanderWeele & Ding);
- :func:`~dtors_bayes.causal.confounding.confounding_grid`,
  :func:`~dtors_bayes.causal.confounding.tipping_points`,
  :func:`~dtors_bayes.causal.confounding.bias_prior_contrasts`,
  :func:`~dtors_bayes.causal.confounding.benchmark_confounders`: unmeasured-confounding
  sensitivity by confounding functions (Brumback/Robins), no refit;
- :func:`~dtors_bayes.causal.overlap.overlap`,
  :func:`~dtors_bayes.causal.overlap.flag_extrapolation`: positivity diagnostics from
  generalised propensities (:mod:`dtors_bayes.models.propensity`);
- :func:`~dtors_bayes.causal.budget.bias_budget`: the joint bias budget, P(contrast < 0)
  over confounding strength x pattern-mixture delta, from one fit;
- :func:`~dtors_bayes.causal.plots.budget_heatmap`: its surface as a heatmap figure.
"""

from dtors_bayes.causal.budget import bias_budget, budget_surface
from dtors_bayes.causal.confounding import (
    benchmark_confounders,
    bias_prior_contrasts,
    confounding_draws,
    confounding_grid,
    tipping_points,
)
from dtors_bayes.causal.evalues import evalue, evalue_ci, evalues, marginal_risk_draws
from dtors_bayes.causal.overlap import flag_extrapolation, overlap
from dtors_bayes.causal.plots import budget_heatmap

__all__ = [
    "benchmark_confounders", "bias_budget", "bias_prior_contrasts", "budget_heatmap",
    "budget_surface",
    "confounding_draws", "confounding_grid",
    "evalue", "evalue_ci", "evalues", "flag_extrapolation", "marginal_risk_draws", "overlap",
    "tipping_points",
]
