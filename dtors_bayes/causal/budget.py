"""The joint bias budget: unmeasured confounding x missing-not-at-random, from one fit.

Two untestable assumptions carry every adjusted modality contrast of an observational
cohort with attrition: no unmeasured confounding of modality, and missingness at random. The
budget crosses the confounding function of :mod:`dtors_bayes.causal.confounding`
(strength ``gamma`` along the modality scores ``s``) with the pattern-mixture shift of the
non-responders (``delta`` added to the linear predictor of every follow-up cell not
interviewed, the engine's ``offsets`` hook, as in
:mod:`dtors_bayes.attrition.pattern_mixture` with ``by=None``):

.. math::

    \\mu^{(\\delta)}_{a,t}(X_i) = g^{-1}\\big(\\eta_{it}(a) + \\delta\\,1[r_{it} = 0]\\big),
    \\qquad
    E[Y_t(a)]^{(\\gamma, \\delta)} = E_i\\big[\\mathrm{clip}\\big(\\mu^{(\\delta)}_{a,t}(X_i)
        - \\gamma\\,(s_a - \\bar s(X_i))\\big)\\big],

and reports, per contrast and grid point, the posterior mean and ``P(contrast < 0)``: the
surface that shows how much of both kinds of bias the conclusion can absorb. No refit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtors_bayes.causal.confounding import CONFOUNDING_ASSUMPTION, confounding_draws


def bias_budget(fit, scores: dict[str, float], strengths, deltas, *,
                wave: int | None = None, **kwargs) -> pd.DataFrame:
    """P(contrast < 0) and the posterior mean over confounding strength x MNAR delta.

    Parameters
    ----------
    fit : Fit
    scores : dict
        Modality scores of the confounding function.
    strengths : array (G,)
        Confounding strengths ``gamma`` (response scale).
    deltas : array (K,)
        Pattern-mixture shifts of the non-responders on the link scale (log odds ratio for
        a logit link); 0 is MAR.
    wave : int, optional
        Follow-up wave (default the last).
    **kwargs
        ``shares``, ``contrasts``, ``reference``, ``weights`` of :func:`confounding_draws`.

    Returns
    -------
    DataFrame
        ``outcome, wave, contrast, delta, strength, mean, ci_lb, ci_ub, p_negative,
        assumption`` (90% intervals), one row per contrast x delta x strength.
    """
    from dtors_bayes.models.sampling import stack_draws

    params = stack_draws(fit.tree)[0]
    missing = ~fit.design.interviewed.astype(bool)
    rows = []
    for delta in np.asarray(deltas, dtype=float):
        offsets = {j: float(delta) * missing[:, j] for j in range(1, missing.shape[1])}
        cd = confounding_draws(fit, scores, np.asarray(strengths, float), wave=wave,
                               params=params, offsets=offsets, **kwargs)
        for con, d in cd.contrast.items():
            q = np.quantile(d, [0.05, 0.95], axis=1)
            for g, gamma in enumerate(cd.strength):
                rows.append({"outcome": fit.outcome, "wave": cd.wave, "contrast": con,
                             "delta": float(delta), "strength": float(gamma),
                             "mean": float(d[g].mean()), "ci_lb": float(q[0, g]),
                             "ci_ub": float(q[1, g]), "p_negative": float((d[g] < 0).mean()),
                             "assumption": CONFOUNDING_ASSUMPTION + "; pattern-mixture shift "
                             "delta of the non-responders' linear predictor"})
    return pd.DataFrame(rows)


def budget_surface(budget: pd.DataFrame, contrast: str, value: str = "p_negative"
                   ) -> pd.DataFrame:
    """One contrast's budget as a delta (rows) x strength (columns) table of ``value``."""
    sel = budget[budget["contrast"] == contrast]
    return sel.pivot(index="delta", columns="strength", values=value)
