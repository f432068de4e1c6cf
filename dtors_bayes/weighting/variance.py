r"""Variance decomposition: the shares of model parameters, weights, imputation and MNAR.

:func:`variance_decomposition` uses a two-level design: ``S`` posterior draws ``theta_s``,
each with ``M`` independent weight draws ``w_sm``
(:func:`dtors_bayes.weighting.draws.weight_draws`); ``g_sm`` the estimand. By the law of
total variance ``Var(g) = E_theta[Var_w(g | theta)] + Var_theta(E_w[g | theta])``; the first
term (weights) is estimated by the mean within-draw variance ``W`` and the second (model
parameters) by the between-draw variance of the draw means minus ``W / M`` (one-way ANOVA,
unbiased), truncated at zero.

Two further sources are added the same way, each as a within-``theta`` variance over ``M``
draws of that source alone (weights held at draw ``w_s1``): *imputation*, the variance the
completed-data estimator ``sum_i w_i y~_it / sum_i w_i`` (observed values, and
posterior-predictive draws ``y~ ~ p(y | theta_s)`` for the missing cells) carries beyond the
g-computation one, ``sum_{i missing} w_i^2 Var(y_it | theta_s) / (sum w)^2`` (levels and
changes; ``Var(y | theta)`` estimated from ``M`` simulated values per cell); and *MNAR*, the
variance over a normal prior on the pattern-mixture shift ``delta`` of the non-responders'
link-scale predictions (:func:`dtors_bayes.attrition.pattern_mixture.sensitivity`), when
``mnar_prior`` is given. Sources are treated as additive (no interaction terms): shares are
each component over the sum of the components.

Contents
--------
variance_decomposition
    The table of variance components and shares per estimand.
plot_variance_decomposition
    Stacked bars of the shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dtors_bayes.constants import DEFAULT_SEED
from dtors_bayes.exceptions import FitError
from dtors_bayes.weighting.calibration import DEFAULT_TRIM
from dtors_bayes.weighting.draws import weight_draws

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort
    from dtors_bayes.models.fit import Fit

__all__ = [
    "plot_variance_decomposition",
    "variance_decomposition",
]


def variance_decomposition(fit: Fit, cohort: Cohort | None = None, *, n_param_draws: int = 100,
                           n_weight_draws: int = 8, seed: int | None = DEFAULT_SEED,
                           trim: float | None = DEFAULT_TRIM, imputation: bool = True,
                           mnar_prior: tuple[float, float] | None = None,
                           bootstrap: str = "design",
                           correction: str | None = None) -> pd.DataFrame:
    """Share of each estimand's posterior variance from model parameters, weights,
    imputation of missing interviews and (optionally) the MNAR assumption.

    Two-level design (module notes): ``n_param_draws`` posterior draws, each combined with
    ``n_weight_draws`` draws of each other source; one-way ANOVA by the law of total variance.

    Parameters
    ----------
    fit : Fit
    cohort : Cohort, optional
        Defaults to ``fit.cohort``.
    n_param_draws, n_weight_draws : int
        ``S`` posterior draws and ``M >= 2`` draws of each source per posterior draw.
    seed : int, optional
    trim : float, optional
        Weight trimming, as :func:`weight_draws`.
    imputation : bool
        Add the imputation component (levels and changes; NaN for other estimands).
    mnar_prior : (mean, sd), optional
        Normal prior of the pattern-mixture shift ``delta`` (link scale) of the predictions
        for persons not interviewed; adds the MNAR component.
    bootstrap : {"design", "multistage", "persons"}
        Stages of the Bayesian bootstrap of the weight draws, as :func:`weight_draws`.
    correction : {None, "unbiased"}
        Few-cluster correction of the Bayesian bootstrap, as :func:`weight_draws`.

    Returns
    -------
    DataFrame
        ``estimand, wave, modality, contrast, var_total, var_model, var_weights,
        var_imputation, var_mnar, share_model, share_weights, share_imputation, share_mnar``
        (``var_total``: the variance of the weights design's draws; shares over the sum of
        the components present; absent components are 0).
    """
    from dtors_bayes.estimands.engine import assemble_estimands, draws_of_estimands
    from dtors_bayes.estimands.weights import WeightSpec
    from dtors_bayes.models.sampling import stack_draws

    cohort = cohort if cohort is not None else fit.cohort
    if cohort is None:
        raise FitError("variance_decomposition needs the cohort: pass cohort=")
    params, n_chain, n_draw = stack_draws(fit.tree)
    total = n_chain * n_draw
    rng = np.random.default_rng(seed)
    S = min(n_param_draws, total)
    M = int(n_weight_draws)
    if M < 2:
        raise ValueError("n_weight_draws must be at least 2")
    if mnar_prior is not None:
        try:
            d_mean, d_sd = (float(v) for v in mnar_prior)
        except (TypeError, ValueError):
            raise FitError(f"mnar_prior={mnar_prior!r}: expected (mean, sd) of a normal "
                           "delta on the link scale") from None
        if d_sd < 0:
            raise FitError(f"mnar_prior sd must be >= 0; got {d_sd}")
    pick = np.sort(rng.choice(total, S, replace=False))
    rep = {k: np.repeat(v[pick], M, axis=0) for k, v in params.items()}
    W = weight_draws(cohort, S * M, seed=int(rng.integers(2**31)), trim=trim,
                     person_ids=fit.design.person_ids, bootstrap=bootstrap,
                     correction=correction)
    spec = WeightSpec(W, "propagated", "target")
    draws = draws_of_estimands(fit.model, fit.design, rep, spec, contrast_pairs=[])
    W1 = np.repeat(W[::M], M, axis=0)  # weights held at the first draw of each theta
    extra: dict[str, dict] = {}
    if mnar_prior is not None:
        from dtors_bayes.estimands.shifts import shifted_levels

        spec1 = WeightSpec(W1, "propagated", "target")
        shift = rng.normal(d_mean, d_sd, size=S * M)
        _, _, level, own, adj = shifted_levels(fit, rep, spec1, [shift], None, 128 * 2**20)
        extra["mnar"] = {k: np.asarray(v).reshape(S, M).var(axis=1, ddof=1).mean()
                         for k, v in assemble_estimands(fit.model, fit.design, level[0, 0],
                                                        own[0, 0], adj[0, 0], spec1,
                                                        []).items()}
    if imputation:
        extra["imputation"] = _imputation_variance(fit, {k: v[pick] for k, v in params.items()},
                                                   W[::M], M, rng)
    rows = []
    for key, g in draws.items():
        est, wl, mod, con = key
        g = np.asarray(g).reshape(S, M)
        if not np.isfinite(g).all():
            continue
        within = float(g.var(axis=1, ddof=1).mean())
        between = float(max(g.mean(axis=1).var(ddof=1) - within / M, 0.0))
        comp = {"model": between, "weights": within}
        for name in ("imputation", "mnar"):
            v = extra.get(name, {}).get(key, 0.0 if name not in extra else np.nan)
            comp[name] = float(v)
        tot = sum(v for v in comp.values() if np.isfinite(v))
        rec = {"estimand": est, "wave": wl, "modality": mod, "contrast": con,
               "var_total": float(g.var(ddof=1))}
        rec.update({f"var_{k}": v for k, v in comp.items()})
        rec.update({f"share_{k}": (v / tot if tot > 0 and np.isfinite(v) else np.nan)
                    for k, v in comp.items()})
        rows.append(rec)
    out = pd.DataFrame(rows)
    out.attrs.update({"n_param_draws": S, "n_weight_draws": M, "outcome": fit.outcome,
                      "mnar_prior": None if mnar_prior is None else [d_mean, d_sd],
                      "bootstrap": bootstrap,
                      "method": "two-level design, law of total variance (one-way ANOVA)"})
    return out


def _imputation_variance(fit: Fit, params: dict, weights: np.ndarray, k: int,
                         rng: np.random.Generator) -> dict:
    """``E_theta[sum_{i mis} w_i^2 Var(y_it | theta)] / (sum w)^2`` for levels and changes."""
    from dtors_bayes.models.predictor import linear_predictor

    model, design = fit.model, fit.design
    fam = model.family_obj
    y = design.y
    mis = np.isnan(y)
    basis = model.basis(design)
    n_t = y.shape[1]
    var_t = np.zeros(n_t)
    for j in range(n_t):
        p_idx = np.flatnonzero(mis[:, j])
        if not p_idx.size:
            continue
        cells = design.cells(basis, p_idx, np.full(p_idx.size, j))
        etas = {part: linear_predictor(params, cells, prefix=pre,
                                       by_time=model.modality_by_time)
                for part, pre in zip(fam.parts, ("", "pos_"), strict=False)}
        aux = {a: params[a][:, None] for a in fam.aux}
        sims = np.stack([fam.simulate(rng, etas, aux, design.trials) for _ in range(k)])
        v_cell = sims.var(axis=0, ddof=1)  # (S, n_mis)
        w = weights[:, p_idx]
        var_t[j] = float(((w**2 * v_cell).sum(axis=1) / weights.sum(axis=1) ** 2).mean())
    out = {}
    for j, wl in enumerate(design.waves):
        out[("level", int(wl), "", "")] = var_t[j]
        if j > 0:
            out[("change", int(wl), "", "")] = var_t[j] + var_t[0]
    return out


def plot_variance_decomposition(table: pd.DataFrame, ax: Any = None, *,
                                estimands: Sequence[str] = ("level", "change")):
    """Horizontal stacked bars: share of variance from each source (model parameters, weights,
    imputation, MNAR assumption; components absent from ``table`` are skipped)."""
    import matplotlib.pyplot as plt

    t = table[table["estimand"].isin(estimands) & (table["modality"] == "")]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(t) + 1.6))
    labels = [f"{e} wave {w}" for e, w in zip(t["estimand"], t["wave"], strict=True)]
    y = np.arange(len(t))
    left = np.zeros(len(t))
    for col, colour, label in (("share_model", "#4c72b0", "model parameters"),
                               ("share_weights", "#dd8452", "weights"),
                               ("share_imputation", "#55a868", "imputation"),
                               ("share_mnar", "#c44e52", "MNAR assumption")):
        if col not in t or not np.nansum(t[col]):
            continue
        v = np.nan_to_num(t[col].to_numpy(dtype=float))
        ax.barh(y, v, left=left, color=colour, label=label)
        left = left + v
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of posterior variance")
    ax.set_title(f"{table.attrs.get('outcome', '')}: variance decomposition")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, fontsize="small",
              frameon=False)
    return ax
