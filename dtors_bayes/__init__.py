"""dtors_bayes: Bayesian within-person change models for observational treatment cohorts.

Hierarchical models over sites and areas, attrition that is missing at random or not, and
weights whose uncertainty reaches the posterior. See ARCHITECTURE.md for the module map.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from dtors_bayes.exceptions import CohortError, DtorsError, FitError, ModelError, SpecError
from dtors_bayes.families import FAMILIES, get_family

try:
    __version__ = version("dtors-bayes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "FAMILIES",
    "CohortError",
    "DtorsError",
    "FitError",
    "ModelError",
    "SpecError",
    "__version__",
    "get_family",
]
