"""The one place that dispatches the analyses of a fit (the ``Fit`` methods).

``fit.estimate(...)``, ``fit.sensitivity(...)`` and ``fit.impute(...)`` are these functions,
bound to :class:`~dtors_bayes.models.fit.Fit` by :func:`bind` (called from
``dtors_bayes/__init__.py``): ``models`` knows nothing of the rooms above it, and the
dispatch over weighting modes (none, fixed, propagated, MRP) lives here, once.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dtors_bayes.attrition.imputation import impute as _impute
from dtors_bayes.attrition.pattern_mixture import sensitivity as _sensitivity
from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.engine import contrast_pairs, draws_of_estimands, estimand_table
from dtors_bayes.estimands.subgroups import label_subgroups, subgroup_codes
from dtors_bayes.estimands.weights import person_weights
from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import stack_draws
from dtors_bayes.weighting.calibration import calibration_weights
from dtors_bayes.weighting.draws import propagated_weights_for_fit
from dtors_bayes.weighting.mrp import mrp_estimates


def estimate(fit, weighting: str = "none", *, weights: Any = None, cohort=None,
             contrasts: str | list[tuple[str, str]] = "reference",
             reference: str | None = None, ci_prob: float = CI_PROB,
             chunk_bytes: int = 128 * 2**20, seed: int | None = None,
             by: str | None = None) -> pd.DataFrame:
    """Posterior population estimands as a tidy table.

    Parameters
    ----------
    weighting : {"none", "fixed", "propagated", "mrp"}
        ``"none"``: equal weights over the modelled persons (``population="sample"``).
        ``"fixed"``: one weight per person: the ``weights`` given
        (``population="weighted"``), or else the cohort's DTORS-style calibration
        (raking) weights to its population table (``population="target"``).
        ``"propagated"``: one weight draw per posterior draw (``population="target"``),
        from ``weights`` given as a (chain*draw, person) array, the fit's ``weights``
        group, or else drawn now (Bayesian bootstrap + raking,
        :func:`dtors_bayes.weighting.draws.propagated_weights_for_fit`).
        ``"mrp"``: poststratification of the model's predictions to the population
        cells (:func:`dtors_bayes.weighting.mrp.mrp_estimates`); ``weights`` may be a population
        table to use instead of the cohort's.
    weights : array, Series or DataFrame, optional
        Fixed weights (aligned by ``person_id`` when a Series) or weight draws.
    cohort : Cohort, optional
        Needed for computed weights and MRP after :func:`load_fit` (defaults to the cohort
        the fit was made from, when in memory).
    seed : int, optional
        Seed of weight draws made here; defaults to the fit's sampler seed.
    contrasts : {"reference", "pairs"} or list of (A, B)
        Modality contrasts ``A - B``: each against ``reference`` (default), every pair, or
        the pairs given.
    reference : str, optional
        Reference modality; defaults to ``"prescribing"`` when present, else the first.
    ci_prob : float
        Equal-tailed interval probability. Defaults to 0.90.
    chunk_bytes : int
        Memory budget of one draws x persons array (peak memory ~ 4x this).
    by : str, optional
        A person-level column (e.g. ``"referral_route"``): every estimand also per subgroup
        (the same g-computation averaged over the subgroup's persons, with the same
        weights; ``subgroup = "referral_route=criminal_justice"``) plus
        ``subgroup_difference`` rows, draw by draw, of change and of each modality
        contrast between every pair of levels (``contrast = "criminal_justice - other"``,
        ``subgroup = "referral_route"``, ``modality`` the modality contrast or ``""`` for
        change); see :mod:`dtors_bayes.estimands.subgroups`. Without the column among the
        model's ``modifiers`` the differences come only from covariates (and the prior):
        the ``assumption`` column says so. With ``weighting="mrp"`` the column must be a
        population cell variable and a subgroup is the cells with that level
        (:func:`dtors_bayes.weighting.mrp.mrp_estimates`).

    Returns
    -------
    DataFrame
        One row per estimand with columns ``outcome, estimand, wave, modality, contrast,
        subgroup, population, weighting, estimator, attrition, mean, sd, ci_lb, ci_ub,
        ci_prob, p_direction, mcse_mean, ess_bulk, r_hat, n_persons, assumption``
        (``subgroup`` is ``""`` on the overall rows). ``estimand`` is
        one of ``level``, ``change`` (difference from intake), ``ratio`` (to intake),
        ``modality_level`` / ``modality_change`` (each modality's own persons;
        descriptive), ``adjusted_level`` / ``adjusted_change`` (everyone given the
        modality), ``modality_contrast`` (difference in adjusted change, ``A - B``) and,
        with ``by=``, ``subgroup_difference``.
    """
    if not 0 < ci_prob < 1:
        raise FitError(f"ci_prob must be in (0, 1); got {ci_prob!r}"
                       + (f". Did you mean {ci_prob / 100}?" if 1 < ci_prob < 100 else ""))
    cohort = cohort if cohort is not None else fit.cohort
    if weighting == "mrp":
        population = weights if isinstance(weights, pd.DataFrame) else None
        if population is None and getattr(cohort, "population", None) is None:
            raise FitError("weighting='mrp' needs the population: pass cohort= (with a "
                           "population table) or weights=<population DataFrame>")
        return mrp_estimates(fit, population=population, cohort=cohort,
                             contrasts=contrasts, reference=reference, ci_prob=ci_prob, by=by)
    computed = weights is None and weighting in ("fixed", "propagated")
    if computed:
        weights = computed_weights(fit, weighting, cohort, seed)
    spec = person_weights(fit, weighting, weights)
    if computed:  # calibrated to the cohort's population table
        spec.population = "target"
    params, n_chain, n_draw = stack_draws(fit.tree)
    if spec.values is not None and spec.values.ndim == 2 and \
            spec.values.shape[0] != n_chain * n_draw:
        raise FitError(f"weight draws have {spec.values.shape[0]} rows; the posterior has "
                       f"{n_chain * n_draw} draws (chain x draw): one weight draw per draw")
    pairs = contrast_pairs(fit.design.modality_labels, contrasts, reference)
    groups = subgroup_codes(fit, by, cohort) if by is not None else None
    draws = draws_of_estimands(fit.model, fit.design, params, spec,
                               contrast_pairs=pairs, chunk_bytes=chunk_bytes,
                               groups=None if groups is None else (by, *groups[:2]))
    table = estimand_table(draws, n_chain, n_draw, ci_prob=ci_prob, outcome=fit.outcome,
                           population=spec.population, weighting=spec.weighting,
                           attrition=fit.model.attrition_label, n_persons=fit.design.n_person)
    if groups is not None:
        label_subgroups(table, by, *groups)
    return table


def computed_weights(fit, weighting: str, cohort, seed: int | None):
    """Weights from the cohort when none are given (None when none can be made)."""
    if weighting == "propagated" and "weights" in fit.tree.children:
        return None  # person_weights reads the fit's own weights group
    if cohort is None or getattr(cohort, "population", None) is None:
        raise FitError(f"weighting={weighting!r} without weights= needs a cohort with a "
                       "population table (pass cohort=, or weights=)")
    if weighting == "fixed":
        return calibration_weights(cohort, person_ids=fit.design.person_ids).weights
    if seed is None:
        seed = fit.provenance.get("sampler", {}).get("random_seed")
    return propagated_weights_for_fit(fit, cohort, seed=seed)


def bind(cls) -> None:
    """Attach the analyses of a fit as methods of ``cls`` (:class:`~dtors_bayes.models.fit.Fit`).

    ``estimate`` is :func:`estimate`; ``sensitivity`` and ``impute`` are
    :func:`dtors_bayes.attrition.pattern_mixture.sensitivity` and
    :func:`dtors_bayes.attrition.imputation.impute` themselves (same signature, same
    docstring), so ``fit.sensitivity(deltas)`` is ``sensitivity(fit, deltas)``.
    """
    cls.estimate = estimate
    cls.sensitivity = _sensitivity
    cls.impute = _impute
