"""What a coverage study crosses: scenarios (how cohorts are simulated) and methods (how
they are analysed), and the estimand columns every method's table carries.

:class:`Scenario` and :class:`Method` name what enters a task's cache key (``key()``);
:func:`estimates_with_intervals` is the table a default method returns (90% and 50%
intervals plus convergence figures); :func:`cohort_kwargs` scales DTORS' sizes to a cohort.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.constants import CI_PROB
from dtors_bayes.studies.seeds import key_name

__all__ = ["CELL_KEYS", "ESTIMAND_KEYS", "Method", "Scenario", "cohort_kwargs",
           "estimates_with_intervals"]

#: Columns that identify one estimand.
ESTIMAND_KEYS = ["outcome", "estimand", "wave", "modality", "contrast"]
#: Columns that identify one summary cell.
CELL_KEYS = ["scenario", "method", *ESTIMAND_KEYS]
#: DTORS sizes that :func:`cohort_kwargs` scales down for small cohorts.
_DTORS = {"n_persons": 1796, "n_sites": 342, "n_areas": 94, "response_counts": (886, 504, 245)}
_LOW_PROB = 0.50


def cohort_kwargs(n_persons: int, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`~dtors_bayes.simulation.generate.simulate_cohort` for a cohort
    size.

    Sites, areas and expected response counts are scaled from DTORS (1796 persons, 342
    sites, 94 areas, 886/504/245 follow-ups) to ``n_persons``; ``overrides`` win.
    """
    f = n_persons / _DTORS["n_persons"]
    n_sites = int(min(n_persons, max(4, round(_DTORS["n_sites"] * f))))
    n_areas = int(min(_DTORS["n_areas"], n_sites, max(2, round(_DTORS["n_areas"] * f))))
    fu1, fu2, late = (max(2, round(c * f)) for c in _DTORS["response_counts"])
    fu2 = min(fu2, fu1 - 1)
    late = min(late, n_persons - fu1 - 1)
    out: dict[str, Any] = {"n_persons": int(n_persons), "n_sites": n_sites, "n_areas": n_areas,
                           "response_counts": (int(fu1), int(fu2), int(late)),
                           "population_size": max(53_851, 3 * int(n_persons))}
    out.update(overrides)
    return out


# ---------------------------------------------------------------------------- scenarios, methods
@dataclass
class Scenario:
    """How the cohorts of a study are simulated.

    Parameters
    ----------
    name : str
        Label (also part of every seed and cache key).
    simulate_kwargs : dict
        Keyword arguments of :func:`~dtors_bayes.simulation.generate.simulate_cohort` (not
        ``seed``).
        When ``n_persons`` is given without ``n_sites``/``n_areas``/``response_counts``,
        those are scaled from DTORS (:func:`cohort_kwargs`).
    """

    name: str
    simulate_kwargs: dict[str, Any] = field(default_factory=dict)

    def resolved_kwargs(self) -> dict[str, Any]:
        """``simulate_kwargs`` with the sizes :func:`cohort_kwargs` fills in."""
        kw = dict(self.simulate_kwargs)
        if "response_counts" in kw:
            kw["response_counts"] = tuple(kw["response_counts"])
        if "n_persons" in kw:
            return cohort_kwargs(kw.pop("n_persons"), **kw)
        return kw

    def simulate(self, seed: int):
        """Simulate one cohort (a :class:`~dtors_bayes.simulation.generate.SimulatedCohort`)."""
        from dtors_bayes.simulation.generate import simulate_cohort

        return simulate_cohort(seed, **self.resolved_kwargs())

    def key(self) -> dict[str, Any]:
        """What identifies this scenario in cache keys."""
        return {"name": self.name, "simulate": self.resolved_kwargs(),
                "class": key_name(type(self))}  # "dtors_bayes.studies.Scenario" (KEY_MODULES)


def estimates_with_intervals(fit, *, ci_prob: float = CI_PROB, low_prob: float = _LOW_PROB,
                             **estimate_kwargs: Any) -> pd.DataFrame:
    """A fit's estimate table with a second, narrower interval and convergence figures.

    Calls :meth:`~dtors_bayes.models.fit.Fit.estimate` at ``ci_prob`` and ``low_prob`` (no refit)
    and adds ``ci50_lb, ci50_ub`` (the ``low_prob`` interval), ``r_hat_max`` (worst
    structural R-hat), ``divergences`` and ``ess_bulk_min``. Method functions can return this.
    """
    est = fit.estimate(ci_prob=ci_prob, **estimate_kwargs)
    low = fit.estimate(ci_prob=low_prob, **estimate_kwargs)
    est = est.copy()
    est["ci50_lb"] = low["ci_lb"].to_numpy()
    est["ci50_ub"] = low["ci_ub"].to_numpy()
    diag = fit.diagnostics().set_index("check")["value"]
    est["r_hat_max"] = float(diag.get("r_hat", np.nan))
    est["divergences"] = float(diag.get("divergences", np.nan))
    est["ess_bulk_min"] = float(diag.get("ess_bulk", np.nan))
    return est


@dataclass
class Method:
    """How each cohort is analysed.

    By default a :class:`~dtors_bayes.models.change_model.ChangeModel` built from ``model_kwargs``
    is fitted (``cores=1``, no progress bar) and its :meth:`~dtors_bayes.models.fit.Fit.estimate`
    table returned with 90% and 50% intervals (:func:`estimates_with_intervals`).
    Weighting, attrition or design-based methods pass ``method_fn`` instead, or subclass
    and override :meth:`run`.

    Parameters
    ----------
    name : str
        Label.
    model_kwargs : dict
        Keyword arguments of ``ChangeModel``.
    estimate_kwargs : dict
        Keyword arguments of ``Fit.estimate`` (``weighting``, ``contrasts`` ...).
    sampler_kwargs : dict
        Keyword arguments of ``ChangeModel.fit`` (``draws``, ``tune``, ``chains``,
        ``sampler``, ``target_accept``).
    method_fn : callable, optional
        ``method_fn(cohort, seed, sim) -> DataFrame`` with at least ``outcome, estimand,
        wave, modality, contrast, mean, ci_lb, ci_ub``; optional ``ci50_lb, ci50_ub,
        r_hat_max, divergences, ess_bulk_min``. ``sim`` is the
        :class:`~dtors_bayes.simulation.generate.SimulatedCohort` (for oracle methods). Must be
        importable by the workers (a module-level function). ``model_kwargs`` and
        ``estimate_kwargs`` are then passed to it as keyword arguments when non-empty.
    """

    name: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    estimate_kwargs: dict[str, Any] = field(default_factory=dict)
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    method_fn: Callable[..., pd.DataFrame] | None = None

    def run(self, cohort, seed: int, sim=None) -> pd.DataFrame:
        """Analyse one cohort; returns the estimate table (see the class docstring)."""
        if self.method_fn is not None:
            extra = {}
            if self.model_kwargs:
                extra["model_kwargs"] = self.model_kwargs
            if self.estimate_kwargs:
                extra["estimate_kwargs"] = self.estimate_kwargs
            if self.sampler_kwargs:
                extra["sampler_kwargs"] = self.sampler_kwargs
            return self.method_fn(cohort, seed, sim, **extra)
        from dtors_bayes.models.change_model import ChangeModel

        kw = {"draws": 500, "tune": 500, "chains": 2, **self.sampler_kwargs,
              "random_seed": int(seed), "progressbar": False, "cores": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence is recorded per row instead
            fit = ChangeModel(**self.model_kwargs).fit(cohort, **kw)
            return estimates_with_intervals(fit, **self.estimate_kwargs)

    def key(self) -> dict[str, Any]:
        """What identifies this method in cache keys."""
        return {"name": self.name, "model": self.model_kwargs,
                "estimate": self.estimate_kwargs, "sampler": self.sampler_kwargs,
                "fn": self.method_fn,  # spelled by seeds.json_default (key_name)
                "class": key_name(type(self))}  # "dtors_bayes.studies.Method" (KEY_MODULES)
