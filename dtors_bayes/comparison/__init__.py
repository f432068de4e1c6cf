"""Comparison room: how well fits of one outcome predict the observed data.

- :mod:`~dtors_bayes.comparison.loo`: PSIS-LOO and PSIS leave-one-group-out (person, site,
  area) with Pareto-k diagnostics (:func:`loo`).
- :mod:`~dtors_bayes.comparison.kfold`: exact grouped K-fold cross-validation by refitting
  (:func:`kfold_by_group`).
- :mod:`~dtors_bayes.comparison.ppc`: posterior predictive checks by wave, modality or site
  (:func:`posterior_predictive_check`).
- :mod:`~dtors_bayes.comparison.compare`: :func:`compare` (LOO ranking with stacking weights),
  :class:`ComparisonResult` and the caveat :data:`MAR_MNAR_NOTE` (MAR and MNAR fits cannot be
  ranked by the observed data; see :mod:`dtors_bayes.attrition`).

Note that the re-exported functions ``loo`` and ``compare`` shadow the submodules of the same
name as attributes of this package: import the modules' other names with
``from dtors_bayes.comparison.loo import ...``. Layer: this room may import core, ``models``,
``data``, ``estimands`` and ``simulation``; never ``attrition``, ``weighting``, ``reporting``,
``studies`` or ``workflow`` (``tests/test_architecture.py``).
"""

from __future__ import annotations

from dtors_bayes.comparison.compare import MAR_MNAR_NOTE, ComparisonResult, compare
from dtors_bayes.comparison.kfold import kfold_by_group
from dtors_bayes.comparison.loo import loo
from dtors_bayes.comparison.ppc import posterior_predictive_check

__all__ = [
    "MAR_MNAR_NOTE",
    "ComparisonResult",
    "compare",
    "kfold_by_group",
    "loo",
    "posterior_predictive_check",
]
