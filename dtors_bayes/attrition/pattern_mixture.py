r"""Pattern-mixture (delta-adjustment) sensitivity of every estimand, from one fit.

Pattern-mixture (delta adjustment)
----------------------------------
For a fit under an attrition assumption (usually MAR), the persons *not interviewed* at wave
``t`` get their predictions shifted on the link scale:

.. math::

    \mu^{(\delta)}_{it} = g^{-1}\big(\eta_{it} + \delta\, 1[r_{it} = 0]\, 1[i \in G]\big)

and every estimand of :meth:`dtors_bayes.models.fit.Fit.estimate` is recomputed draw by draw from
``mu^(delta)`` (adjusted modality predictions included: the shift belongs to the person and
the wave, not to the modality). ``delta`` is the log odds ratio (logit link), log ratio (log
link) or difference (identity) between the non-responders' and the responders' outcome at
equal covariates and effects; ``delta = 0`` is the fit itself. Under a logistic selection
model ``logit P(r = 1 | y) = l + kappa y`` for a binary outcome, the odds of ``y = 1`` among
non-responders are exactly ``exp(-kappa)`` times those of responders with the same ``l``, so
``delta = -kappa`` is the pattern-mixture analogue of a selection model with that ``kappa``.

``G`` is everyone (``by=None``) or, one group at a time, a follow-up wave (``by="wave"``), a
modality (``by="modality"``) or a level of a person-level column (``by="<column>"``).

The computation never refits and never loops over the estimand code per delta: the linear
predictors are computed once per wave (one evaluation; the counterfactual modalities differ
from it only by the modality terms), and each delta costs a few arithmetic passes over the
non-responders' cells: for a logit link ``mu = a + b expit(eta)`` is summed as
``a + b / (1 + exp(-eta) exp(-delta))`` with ``exp(-eta)`` stored; log and identity links are
linear in ``exp(delta)`` and ``delta``.

Conclusions and their tipping points over the grid are computed by
:mod:`dtors_bayes.attrition.tipping`; posterior predictive imputation of the missing
values by :mod:`dtors_bayes.attrition.imputation`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.attrition.tipping import Conclusion, SensitivityResult, conclusion_probabilities
from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.shifts import shifted_levels
from dtors_bayes.estimands.weights import person_weights
from dtors_bayes.exceptions import FitError

LINK_LIMIT = 10.0  # |delta| beyond this on a logit or log scale is almost surely a mistake


# ---------------------------------------------------------------------------- checks
def check_deltas(deltas, link: str, scale: str, y: np.ndarray | None = None) -> np.ndarray:
    """Validate a delta grid for a family's link; returns it sorted as floats.

    Raises
    ------
    FitError
        Unknown scale, a scale that is not the fit's link scale, non-finite values, or
        values implausible on the scale (``|delta| > 10`` on logit/log: probabilities or
        percentages passed as shifts?; beyond 10 sd of the outcome on the identity scale).
    """
    allowed = ("link", "logit", "log", "identity")
    if scale not in allowed:
        raise FitError(f"scale={scale!r}; allowed: {', '.join(allowed)} (delta is a shift of "
                       "the linear predictor; 'link' means the family's link, here "
                       f"{link!r})")
    if scale != "link" and scale != link:
        raise FitError(f"scale={scale!r} but this fit's outcome family has a {link!r} link: "
                       f"deltas must be on the {link} scale (or pass scale='link')")
    d = np.asarray(deltas, dtype=float).ravel()
    if d.size == 0 or not np.all(np.isfinite(d)):
        raise FitError("deltas: need one or more finite numbers")
    big = np.abs(d).max()
    if link in ("logit", "log") and big > LINK_LIMIT:
        what = "odds" if link == "logit" else "mean"
        raise FitError(f"deltas up to {big:g} on the {link} scale: a shift of 10 multiplies the "
                       f"{what} by {math.exp(10):.0f}. Deltas are {link}-scale shifts (e.g. "
                       f"np.linspace(-2, 2, 41)), not probabilities or percentages")
    if link == "identity" and y is not None:
        sd = float(np.nanstd(y)) or 1.0
        if big > LINK_LIMIT * sd:
            raise FitError(f"deltas up to {big:g} on the outcome's own scale, more than 10 sd "
                           f"({sd:.3g}) of the observed outcome: check the units")
    return np.unique(d)


def _quick_summary(draws: dict, ci_prob: float) -> pd.DataFrame:
    """Mean, sd, interval and probability of direction (no MCMC diagnostics), vectorised."""
    keys = list(draws)
    if not keys:
        return pd.DataFrame()
    flat = np.stack([draws[k] for k in keys])
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    q = np.nanquantile(flat, [lo, hi], axis=1)
    pdir = np.maximum((flat > 0).mean(axis=1), (flat < 0).mean(axis=1))
    return pd.DataFrame({
        "estimand": [k[0] for k in keys], "wave": [k[1] for k in keys],
        "modality": [k[2] for k in keys], "contrast": [k[3] for k in keys],
        "mean": np.nanmean(flat, axis=1), "sd": np.nanstd(flat, axis=1, ddof=1),
        "ci_lb": q[0], "ci_ub": q[1], "ci_prob": ci_prob, "p_direction": pdir,
        "mcse_mean": np.nan, "ess_bulk": np.nan, "r_hat": np.nan})


def sensitivity(fit, deltas=None, *, by: Any = None, scale: str = "link",
                conclusion: Any = None, prior: tuple[float, float] | None = None,
                weighting: str = "none", weights: Any = None,
                contrasts: str | list[tuple[str, str]] = "reference",
                reference: str | None = None, ci_prob: float = CI_PROB,
                random_seed: int | None = 0, diagnostics: bool = False,
                chunk_bytes: int = 128 * 2**20) -> SensitivityResult:
    """Pattern-mixture sensitivity of every estimand to a non-responder shift delta.

    Parameters
    ----------
    fit : Fit
        Any fitted change model (MAR or a selection model); no refit is made.
    deltas : array-like, optional
        Grid of link-scale shifts (e.g. ``np.linspace(-2, 2, 41)`` on the logit scale).
        Required unless ``prior`` is given.
    by : None, "wave", "modality", str or Series
        Shift everyone not interviewed (None) or one group at a time: a follow-up wave, a
        modality, or a level of a person-level column of ``fit.cohort`` (or a Series indexed
        by person_id).
    scale : {"link", "logit", "log", "identity"}
        Scale of delta; must be the family's link scale.
    conclusion : tuple, dict, Conclusion or list of them, optional
        Conclusions whose tipping points are wanted (see :class:`Conclusion`).
    prior : (mean, sd), optional
        Instead of a grid: one delta per posterior draw from ``N(mean, sd)``; returns one
        interval per estimand that averages over the delta prior.
    weighting, weights, contrasts, reference, ci_prob, chunk_bytes
        As in :meth:`Fit.estimate`.
    random_seed : int, optional
        Seed of the delta-prior draws.
    diagnostics : bool
        Compute MCSE, bulk ESS and R-hat for every delta (slow: rank-normalisation per row).
        By default only the rows at the grid value nearest 0 carry them (the sampler's
        behaviour does not change with delta); the others have NaN there.

    Returns
    -------
    SensitivityResult
    """
    import time

    from dtors_bayes.estimands.engine import (
        ESTIMAND_COLUMNS,
        assemble_estimands,
        contrast_pairs,
        label_estimands,
        summarize_draws,
    )
    from dtors_bayes.models.sampling import stack_draws

    t0 = time.perf_counter()
    if not 0 < ci_prob < 1:
        raise FitError(f"ci_prob must be in (0, 1); got {ci_prob!r}")
    link = fit.model.family_obj.link
    y = fit.design.y
    if prior is not None:
        if deltas is not None:
            raise FitError("give deltas (a grid) or prior=(mean, sd), not both")
        try:
            pm_, ps_ = (float(v) for v in prior)
        except (TypeError, ValueError):
            raise FitError(f"prior={prior!r}: expected (mean, sd) of a normal delta") from None
        if ps_ < 0:
            raise FitError("prior sd must be >= 0")
        check_deltas([pm_ - 2 * ps_, pm_ + 2 * ps_], link, scale, y)
    else:
        if deltas is None:
            raise FitError("sensitivity needs deltas= (a grid of link-scale shifts) or "
                           "prior=(mean, sd)")
        grid = check_deltas(deltas, link, scale, y)
    conclusions = [] if conclusion is None else [
        Conclusion.parse(c) for c in (
            [conclusion] if isinstance(conclusion, Conclusion | dict) or (
                isinstance(conclusion, tuple) and isinstance(conclusion[0], str))
            else conclusion)]
    wspec = person_weights(fit, weighting, weights)
    params, n_chain, n_draw = stack_draws(fit.tree)
    n_sample = n_chain * n_draw
    if wspec.values is not None and wspec.values.ndim == 2 and wspec.values.shape[0] != n_sample:
        raise FitError(f"weight draws have {wspec.values.shape[0]} rows; the posterior has "
                       f"{n_sample} draws")
    pairs = contrast_pairs(fit.design.modality_labels, contrasts, reference)
    if prior is not None:
        rng = np.random.default_rng(random_seed)
        shifts: list = [rng.normal(pm_, ps_, size=n_sample)]
        grid = np.array([np.nan])
    else:
        shifts = [float(d) for d in grid]
    by_name, groups, level, own, adj = shifted_levels(fit, params, wspec, shifts, by,
                                                     chunk_bytes)
    all_draws: dict[tuple, np.ndarray] = {}
    for g in range(len(groups)):
        for k in range(len(grid)):
            dr = assemble_estimands(fit.model, fit.design, level[g, k], own[g, k], adj[g, k], wspec,
                           pairs)
            for key, v in dr.items():
                all_draws[(key[0], key[1], key[2], (key[3], g, k))] = v
    for c in conclusions:
        if not any(k[:3] == c.key[:3] and k[3][0] == c.key[3] for k in all_draws):
            have = sorted({f"{k[0]}/{k[1]}/{k[2] or k[3][0]}" for k in all_draws})
            raise FitError(f"conclusion {c}: no such estimand in this fit; available "
                           f"(estimand/wave/modality or contrast): {', '.join(have[:30])}")
    k_ref = int(np.nanargmin(np.abs(grid))) if prior is None else 0
    if diagnostics:
        table = summarize_draws(all_draws, n_chain, n_draw, ci_prob=ci_prob)
    else:
        ref = {k: v for k, v in all_draws.items() if k[3][2] == k_ref}
        rest = {k: v for k, v in all_draws.items() if k[3][2] != k_ref}
        table = pd.concat([summarize_draws(ref, n_chain, n_draw, ci_prob=ci_prob),
                           _quick_summary(rest, ci_prob)], ignore_index=True)
    gi = np.array([c[1] for c in table["contrast"]])
    ki = np.array([c[2] for c in table["contrast"]])
    table["contrast"] = [c[0] for c in table["contrast"]]
    table["delta"] = grid[ki]
    table["delta_by"] = by_name
    table["delta_group"] = [groups[g] for g in gi]
    table["delta_scale"] = link
    base = fit.model.attrition_label
    if prior is not None:
        dl = [f"delta~N({pm_:g},{ps_:g})"] * len(table)
    else:
        dl = [f"delta={d:g}" for d in table["delta"]]
    if by_name != "none":
        dl = [f"{s}@{by_name}={g}" for s, g in zip(dl, table["delta_group"], strict=True)]
    table["attrition"] = dl if base == "mar" else [f"{base}; {s}" for s in dl]
    label_estimands(table, outcome=fit.outcome, population=wspec.population,
                    weighting=wspec.weighting, attrition=None, n_persons=fit.design.n_person)
    table = table[[*ESTIMAND_COLUMNS, "delta", "delta_by", "delta_group", "delta_scale"]]
    table.attrs.update({"ci_prob": ci_prob, "ci_kind": "equal-tailed", "outcome": fit.outcome,
                        "delta_scale": link})
    # Conclusions: probability at each delta and tipping points.
    probabilities, tp = conclusion_probabilities(conclusions, all_draws, groups, grid,
                                                 tipping=prior is None)
    return SensitivityResult(table=table, tipping_points=tp, probabilities=probabilities,
                             conclusions=conclusions, scale=link,
                             seconds=time.perf_counter() - t0)


__all__ = ["LINK_LIMIT", "check_deltas", "sensitivity"]
