"""E-values of the adjusted modality comparisons (VanderWeele & Ding 2017).

For a risk ratio ``RR`` the E-value is the minimum strength of association, on the risk
ratio scale, that an unmeasured confounder would need with both the modality and the outcome
(conditional on the measured covariates) to explain the observed ratio away:

.. math::

    E(RR) = RR^* + \\sqrt{RR^* (RR^* - 1)}, \\qquad
    RR^* = \\begin{cases} RR & RR \\ge 1 \\\\ 1 / RR & RR < 1 \\end{cases}

The ratio here is the posterior *marginal* risk ratio of two modalities at a follow-up wave,
``RR_s = adjusted_level_s(A) / adjusted_level_s(B)`` per draw s, from the estimand engine's
g-computation draws (:func:`dtors_bayes.estimands.engine.draws_of_estimands`). Reported: the
E-value of the posterior median ratio (taken as ``exp(median(log RR_s))``, so that it is
exactly invariant under inversion also for an even number of draws), and of the credible
limit nearer the null (1 when the interval contains 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.engine import contrast_pairs, draws_of_estimands
from dtors_bayes.estimands.weights import WeightSpec
from dtors_bayes.exceptions import FitError

EVALUE_ASSUMPTION = (
    "E-value (VanderWeele-Ding) of the marginal risk ratio of adjusted levels: the risk-ratio "
    "association an unmeasured confounder would need with modality and outcome, beyond "
    "covariates, site and area, to move the ratio to 1"
)
EVALUE_COLUMNS = ["outcome", "wave", "contrast", "rr", "rr_lb", "rr_ub", "ci_prob",
                  "evalue", "evalue_ci", "n_persons", "assumption"]


def evalue(rr: float | np.ndarray) -> float | np.ndarray:
    """The VanderWeele-Ding E-value of a risk ratio (ratios below 1 are inverted first).

    Parameters
    ----------
    rr : float or array
        Risk ratio(s) > 0.

    Returns
    -------
    float or array
        ``RR* + sqrt(RR* (RR* - 1))`` with ``RR* = max(RR, 1/RR)``; 1 at ``RR = 1``.
    """
    r = np.asarray(rr, dtype=float)
    if np.any(~(r > 0)):
        raise FitError(f"risk ratios must be positive; got {r[~(r > 0)][:3].tolist()}")
    r = np.where(r < 1, 1 / r, r)
    out = r + np.sqrt(r * (r - 1))
    return float(out) if out.ndim == 0 else out


def evalue_ci(lb: float, ub: float) -> float:
    """E-value of the credible limit nearer the null: 1 when ``[lb, ub]`` contains 1."""
    if lb <= 1 <= ub:
        return 1.0
    return float(evalue(lb if lb > 1 else ub))


def marginal_risk_draws(fit, wave: int | None = None, *, params: dict | None = None,
                        weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-draw adjusted (everyone-given-modality) mean outcome at a wave, by modality.

    The estimand engine's ``adjusted_level`` draws: ``{modality: array (S,)}``, for the
    modalities with modelled persons. ``weights``: fixed person weights (default equal).
    """
    from dtors_bayes.causal.counterfactual import wave_position
    from dtors_bayes.models.sampling import stack_draws

    if params is None:
        params = stack_draws(fit.tree)[0]
    j = wave_position(fit, wave)
    wlab = int(fit.design.waves[j])
    spec = (WeightSpec(None, "none", "sample") if weights is None
            else WeightSpec(np.asarray(weights, float), "fixed", "weighted"))
    draws = draws_of_estimands(fit.model, fit.design, params, spec, contrast_pairs=[])
    return {m: draws[("adjusted_level", wlab, m, "")] for m in fit.design.modality_labels
            if ("adjusted_level", wlab, m, "") in draws}


def evalues(fit, wave: int | None = None, *, contrasts: str | list[tuple[str, str]] = "pairs",
            reference: str | None = None, ci_prob: float = CI_PROB,
            weights: np.ndarray | None = None) -> pd.DataFrame:
    """E-values of the posterior marginal risk ratios of every modality pair.

    Parameters
    ----------
    fit : Fit
        A change-model fit of a non-negative outcome (risks, counts, days; an identity-link
        outcome has no risk ratio and raises :class:`FitError`).
    wave : int, optional
        Follow-up wave label (default: the last modelled wave).
    contrasts, reference
        Pairs ``A - B`` as in :func:`dtors_bayes.estimands.engine.contrast_pairs`
        (default every pair).
    ci_prob : float
        Equal-tailed credible interval of the ratio.
    weights : array, optional
        Fixed person weights of the average (default equal).

    Returns
    -------
    DataFrame
        :data:`EVALUE_COLUMNS`: ``rr`` the posterior median ``exp(median(log RR_s))`` of
        ``RR_s = risk_A / risk_B``,
        ``rr_lb``/``rr_ub`` its interval, ``evalue`` = :func:`evalue` of ``rr``,
        ``evalue_ci`` = :func:`evalue_ci` of the interval.
    """
    if fit.model.family_obj.link == "identity" or fit.model.family_obj.kind == "utility":
        raise FitError(f"E-values need a non-negative outcome (risk ratio); family "
                       f"{fit.model.family!r} has none")
    risks = marginal_risk_draws(fit, wave, weights=weights)
    pairs = contrast_pairs(fit.design.modality_labels, contrasts, reference)
    j = fit.design.waves[-1] if wave is None else int(wave)
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    rows = []
    for a, b in pairs:
        if a not in risks or b not in risks:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            rr = risks[a] / risks[b]
        point = float(np.exp(np.median(np.log(rr))))
        lb, ub = (float(q) for q in np.quantile(rr, [lo, hi]))
        rows.append({"outcome": fit.outcome, "wave": int(j), "contrast": f"{a} - {b}",
                     "rr": point, "rr_lb": lb, "rr_ub": ub, "ci_prob": ci_prob,
                     "evalue": float(evalue(point)), "evalue_ci": evalue_ci(lb, ub),
                     "n_persons": fit.design.n_person, "assumption": EVALUE_ASSUMPTION})
    return pd.DataFrame(rows, columns=EVALUE_COLUMNS)
