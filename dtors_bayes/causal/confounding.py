"""Sensitivity of the adjusted modality contrasts to unmeasured confounding, without refit.

The confounding-function approach (Robins 1999; Brumback et al. 2004) on the response
(risk-difference) scale, applied to the g-computation draws. With ``mu_a(X)`` the model's
expectation at a follow-up wave under modality a (the person's own posterior effects) and
``pi_a'(X)`` the modality shares,

.. math::

    E[Y(a)] = E_X\\Big[\\mu_a(X) - \\sum_{a' \\ne a} \\pi_{a'}(X)\\, c(a, a')\\Big],
    \\qquad c(a, a') = E[Y(a) \\mid A = a, X] - E[Y(a) \\mid A = a', X].

The 20 pairwise functions are parameterised by one interpretable score ``s_a`` per modality
and a strength ``gamma`` (risk-difference units),

.. math::

    c(a, a') = \\gamma (s_a - s_{a'}), \\qquad
    \\sum_{a' \\ne a} \\pi_{a'}(X) c(a, a') = \\gamma \\big(s_a - \\bar s(X)\\big),\\quad
    \\bar s(X) = \\sum_{a'} \\pi_{a'}(X) s_{a'},

which is what an unmeasured confounder ``U`` with an additive effect ``gamma`` on the outcome
and mean ``s_a'`` among those choosing ``a'`` implies (``E[Y(a) | A = a', X] = h_a(X) +
gamma s_a'``). For a harmful outcome, ``scores={"residential": -1}`` reads "people who chose
residential were at lower risk than the others, by ``gamma`` at equal covariates" (healthier
selection into residential). The bias-adjusted person-level expectation is clipped to the
outcome's range (:func:`dtors_bayes.causal.counterfactual.outcome_bounds`) before averaging.

The confounding is placed at the follow-up wave: intake precedes treatment, so the adjusted
intake levels are left as they are and ``change(a) = E[Y_t(a)] - adjusted_level_0(a)``; the
contrast ``A - B`` is the difference of changes, as in the engine. At ``gamma = 0`` every
result equals the engine's ``modality_contrast`` draws.

What ``mu_a(X)`` conditions on. The engine's ``mu_a(X_i)`` uses person i's *own* posterior
person effect, which is informed by i's observed follow-ups. A person-level confounder that
shifts follow-up outcomes is therefore partly absorbed by it, and ``c(a, a')`` is the
confounding that remains given the covariates, site, area *and* the person's own posterior
effect: smaller than the confounding given the covariates alone (the simulator's
``truth.confounding``, which integrates U out given X only). ``person="marginal"``
integrates the person effect over its fitted normal instead, so that ``c(a, a')`` is the
confounding given the covariates (site and area) alone, the quantity a subject-matter
score describes; its ``gamma = 0`` contrast is then the marginal g-formula's, not the
engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dtors_bayes.causal.counterfactual import (
    counterfactual_chunks,
    identified_modalities,
    modality_shares,
    outcome_bounds,
    wave_position,
)
from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.engine import contrast_pairs
from dtors_bayes.exceptions import FitError

CONFOUNDING_ASSUMPTION = (
    "unmeasured confounding of modality by the confounding function c(a, a') = "
    "strength * (score_a - score_a') on the response scale at the follow-up wave "
    "(Brumback/Robins); no refit"
)


@dataclass
class ConfoundingDraws:
    """Per-draw bias-adjusted estimands over strengths.

    Attributes
    ----------
    strength : ndarray (G,) or (G, S)
        The strengths (a grid, or per-draw values drawn from a bias prior).
    change : dict
        Modality -> (G, S) bias-adjusted change from intake at the wave.
    level : dict
        Modality -> (G, S) bias-adjusted level at the wave.
    contrast : dict
        ``"A - B"`` -> (G, S) difference of bias-adjusted changes.
    wave : int
        The wave label.
    """

    strength: np.ndarray
    change: dict[str, np.ndarray]
    level: dict[str, np.ndarray]
    contrast: dict[str, np.ndarray]
    wave: int


def score_vector(labels: list[str], scores: dict[str, float]) -> np.ndarray:
    """Scores ``s_a`` in the order of ``labels`` (unnamed modalities score 0)."""
    bad = sorted(set(scores) - set(labels))
    if bad:
        raise FitError(f"scores name modalities not in the fit: {bad}; modalities: {labels}")
    return np.array([float(scores.get(m, 0.0)) for m in labels])


def pairwise_matrix(labels: list[str], scores: dict[str, float] | None = None,
                    pairwise: dict[tuple[str, str], float] | None = None) -> np.ndarray:
    """The (M, M) matrix ``C[a, a'] = c(a, a')`` at strength 1 (zero diagonal).

    From ``scores`` (``C = s_a - s_a'``) or from ``pairwise`` values ``{(a, a'): c}`` given
    directly (for example a simulator's true confounding functions); unnamed pairs are 0.
    """
    if (scores is None) == (pairwise is None):
        raise FitError("give exactly one of scores= or pairwise=")
    if scores is not None:
        s = score_vector(labels, scores)
        return s[:, None] - s[None, :]
    bad = sorted({m for pair in pairwise for m in pair} - set(labels))
    if bad:
        raise FitError(f"pairwise names modalities not in the fit: {bad}; modalities: {labels}")
    c = np.zeros((len(labels), len(labels)))
    for (a, b), v in pairwise.items():
        if a != b:
            c[labels.index(a), labels.index(b)] = float(v)
    return c


def confounding_draws(fit, scores: dict[str, float] | None, strengths: np.ndarray, *,
                      pairwise: dict[tuple[str, str], float] | None = None,
                      wave: int | None = None, shares: np.ndarray | None = None,
                      contrasts: str | list[tuple[str, str]] = "pairs",
                      reference: str | None = None, weights: np.ndarray | None = None,
                      params: dict | None = None,
                      offsets: dict[int, np.ndarray] | None = None,
                      person: str = "own",
                      chunk_bytes: int = 64 * 2**20) -> ConfoundingDraws:
    """Bias-adjusted changes and contrasts per draw, for each strength.

    Parameters
    ----------
    fit : Fit
    scores : dict or None
        Modality -> score ``s_a`` (see the module notes); missing modalities score 0.
    strengths : array (G,) or (G, S)
        Strengths ``gamma`` (response-scale units): a grid applied to every draw, or one
        value per posterior draw in each of G rows (a bias prior's draws).
    pairwise : dict, optional
        Instead of ``scores``: ``{(a, a'): c(a, a')}`` at strength 1, a general (not
        score-shaped) confounding function; the bias of a is then
        ``strength * sum_a' pi_a'(X) c(a, a')``.
    wave : int, optional
        Follow-up wave label (default the last).
    shares : array (n_person, M), optional
        ``pi_a(X_i)``; default the empirical modality shares (:func:`modality_shares`).
    contrasts, reference
        Pairs ``A - B`` (default every pair).
    weights : array (n_person,), optional
        Fixed person weights (default equal).
    offsets : dict, optional
        Pattern-mixture shifts of ``eta`` by wave position (see
        :func:`dtors_bayes.causal.counterfactual.counterfactual_chunks`), for the joint bias
        budget (:func:`dtors_bayes.causal.budget.bias_budget`).
    person : {"own", "marginal"}
        Person effects in ``mu_a(X)``: each person's own posterior effect (the engine's
        rule, default) or integrated over their fitted normal, so that ``mu_a(X)`` is the
        model's ``E[Y(a) | A = a, X, site, area]`` and ``c(a, a')`` the confounding given
        the covariates alone (module notes;
        :func:`dtors_bayes.causal.counterfactual.counterfactual_chunks`).

    Returns
    -------
    ConfoundingDraws
    """
    design = fit.design
    labels = list(design.modality_labels)
    if len(labels) < 2:
        raise FitError("confounding sensitivity needs two or more modalities")
    cmat = pairwise_matrix(labels, scores, pairwise)
    pi = modality_shares(design, shares)
    # (M, n): sum_a' pi_a'(X_i) c(a, a'); with scores this is s_a - sbar(X_i)
    bias = cmat @ pi.T
    j = wave_position(fit, wave)
    if j == 0:
        raise FitError("wave must be a follow-up wave (intake precedes treatment)")
    lo, hi = outcome_bounds(fit)
    w = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    from dtors_bayes.models.sampling import stack_draws

    params = stack_draws(fit.tree)[0] if params is None else params
    n_sample = next(iter(params.values())).shape[0]
    gam = np.asarray(strengths, dtype=float)
    grid = gam.ndim == 1
    gam2 = np.broadcast_to(gam[:, None], (gam.size, n_sample)) if grid else gam
    if gam2.shape[1] != n_sample:
        raise FitError(f"strengths per draw must have {n_sample} columns; got {gam2.shape}")
    n_g, n_mod = gam2.shape[0], len(labels)
    adj_t = np.empty((n_g, n_sample, n_mod))
    adj_0 = np.empty((n_sample, n_mod))
    for s0, s1, mu in counterfactual_chunks(fit, [0, j], params=params,
                                            chunk_bytes=chunk_bytes, offsets=offsets,
                                            person=person):
        m0, mt = mu[0], mu[j]
        adj_0[s0:s1] = m0.mean(axis=2) if w is None else m0 @ w
        for g in range(n_g):
            shifted = mt - gam2[g, s0:s1, None, None] * bias[None]
            shifted = np.clip(shifted, lo, hi)
            adj_t[g, s0:s1] = shifted.mean(axis=2) if w is None else shifted @ w
    ok = identified_modalities(design)
    change = {m: adj_t[:, :, k] - adj_0[None, :, k] for k, m in enumerate(labels) if ok[k]}
    level = {m: adj_t[:, :, k] for k, m in enumerate(labels) if ok[k]}
    out = {}
    for a, b in contrast_pairs(labels, contrasts, reference):
        if a in change and b in change:
            out[f"{a} - {b}"] = change[a] - change[b]
    return ConfoundingDraws(gam, change, level, out, int(design.waves[j]))


def _summary(x: np.ndarray, ci_prob: float) -> dict[str, float]:
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    q = np.quantile(x, [lo, hi])
    return {"mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1)),
            "ci_lb": float(q[0]), "ci_ub": float(q[1]), "ci_prob": ci_prob,
            "p_negative": float(np.mean(x < 0))}


def confounding_grid(fit, scores: dict[str, float], strengths=None, *,
                     ci_prob: float = CI_PROB, **kwargs) -> pd.DataFrame:
    """Each modality contrast over a grid of confounding strengths.

    Parameters
    ----------
    fit : Fit
    scores : dict
        Modality scores ``s_a`` (module notes).
    strengths : array (G,), optional
        Grid of ``gamma``; default ``linspace(-0.2, 0.2, 41)`` times the outcome's scale
        (1 for risks, the trials for bounded counts, the observed sd for other outcomes).
    ci_prob : float
    **kwargs
        Passed to :func:`confounding_draws` (``wave``, ``shares``, ``contrasts`` ...).

    Returns
    -------
    DataFrame
        ``outcome, wave, contrast, strength, mean, sd, ci_lb, ci_ub, ci_prob, p_negative,
        scores, assumption``; ``p_negative`` is ``P(contrast < 0)``.
    """
    if strengths is None:
        strengths = np.linspace(-0.2, 0.2, 41) * outcome_scale(fit)
    cd = confounding_draws(fit, scores, np.asarray(strengths, float), **kwargs)
    label = ", ".join(f"{k}={v:g}" for k, v in scores.items())
    rows = []
    for con, draws in cd.contrast.items():
        for g, gamma in enumerate(cd.strength):
            rows.append({"outcome": fit.outcome, "wave": cd.wave, "contrast": con,
                         "strength": float(gamma), **_summary(draws[g], ci_prob),
                         "scores": label, "assumption": CONFOUNDING_ASSUMPTION})
    return pd.DataFrame(rows)


def outcome_scale(fit) -> float:
    """A natural unit of the outcome for default strength grids."""
    kind = fit.model.family_obj.kind
    if kind == "binary":
        return 1.0
    if kind == "bounded_count":
        return float(fit.design.trials)
    return float(np.nanstd(fit.design.y))


def _crossing(x: np.ndarray, y: np.ndarray) -> float:
    """Smallest |x| at which y changes sign (linear interpolation), NaN if it never does."""
    best = np.nan
    for side in (x >= 0, x <= 0):
        xs, ys = x[side], y[side]
        o = np.argsort(np.abs(xs))
        xs, ys = xs[o], ys[o]
        for k in range(1, xs.size):
            if ys[k - 1] == 0:
                cand = xs[k - 1]
            elif np.sign(ys[k]) != np.sign(ys[k - 1]):
                cand = xs[k - 1] - ys[k - 1] * (xs[k] - xs[k - 1]) / (ys[k] - ys[k - 1])
            else:
                continue
            if np.isnan(best) or abs(cand) < abs(best):
                best = float(cand)
            break
    return best


def tipping_points(grid: pd.DataFrame) -> pd.DataFrame:
    """Tipping points of each contrast on a :func:`confounding_grid`.

    Returns
    -------
    DataFrame
        ``outcome, wave, contrast, estimate_at_0, tip_mean`` (the strength of smallest
        magnitude at which the posterior mean crosses 0) and ``tip_interval`` (at which the
        credible interval first reaches 0: the bound nearer 0 at strength 0 crosses it; 0
        when the interval already contains 0). NaN where the grid shows no crossing.
    """
    rows = []
    for (out, wave, con), g in grid.groupby(["outcome", "wave", "contrast"], sort=False):
        x = g["strength"].to_numpy()
        at0 = g.iloc[int(np.argmin(np.abs(x)))]
        if at0["ci_lb"] <= 0 <= at0["ci_ub"]:
            tip_ci = 0.0
        else:
            bound = "ci_lb" if at0["mean"] > 0 else "ci_ub"
            tip_ci = _crossing(x, g[bound].to_numpy())
        rows.append({"outcome": out, "wave": wave, "contrast": con,
                     "estimate_at_0": float(at0["mean"]),
                     "tip_mean": _crossing(x, g["mean"].to_numpy()), "tip_interval": tip_ci})
    return pd.DataFrame(rows)


def bias_prior_contrasts(fit, scores: dict[str, float], prior: tuple[float, float], *,
                         seed: int | None = None, ci_prob: float = CI_PROB,
                         **kwargs) -> pd.DataFrame:
    """Contrasts with the posterior averaged over a bias prior ``gamma ~ N(mean, sd)``.

    Each posterior draw s gets its own ``gamma_s`` drawn from the prior, so the result's
    draws are from ``p(contrast | data) = int p(contrast | data, gamma) p(gamma) dgamma``
    (the strength is not learned from the data: it is not identified).

    Returns
    -------
    DataFrame
        ``outcome, wave, contrast, prior_mean, prior_sd, mean, sd, ci_lb, ci_ub, ci_prob,
        p_negative, scores, assumption``.
    """
    from dtors_bayes.models.sampling import stack_draws

    params = stack_draws(fit.tree)[0]
    n_sample = next(iter(params.values())).shape[0]
    rng = np.random.default_rng(seed)
    gam = rng.normal(prior[0], prior[1], size=(1, n_sample))
    cd = confounding_draws(fit, scores, gam, params=params, **kwargs)
    label = ", ".join(f"{k}={v:g}" for k, v in scores.items())
    return pd.DataFrame([
        {"outcome": fit.outcome, "wave": cd.wave, "contrast": con,
         "prior_mean": float(prior[0]), "prior_sd": float(prior[1]),
         **_summary(d[0], ci_prob), "scores": label,
         "assumption": CONFOUNDING_ASSUMPTION + f"; strength ~ N({prior[0]:g}, {prior[1]:g})"}
        for con, d in cd.contrast.items()])


def benchmark_confounders(model, cohort, blocks: dict[str, list[str]], *,
                          wave: int | None = None,
                          contrasts: str | list[tuple[str, str]] = "pairs",
                          fit=None, ci_prob: float = CI_PROB,
                          **fit_kwargs) -> pd.DataFrame:
    """How far each adjusted contrast moves when a measured confounder block is dropped.

    A yardstick for plausible bias (observed-covariate benchmarking): if dropping, say, the
    primary-drug block moves a contrast by 0.03, an unmeasured confounder "as strong as
    primary drug" would plausibly move it by about as much. Each block is dropped in turn and
    the model refitted (this samples: one fit per block, plus the full one unless ``fit`` is
    given).

    Parameters
    ----------
    model : ChangeModel
        With ``covariates`` a list of column names.
    cohort : Cohort
    blocks : dict
        Block name -> covariate columns dropped together.
    wave : int, optional
        Follow-up wave (default the last).
    fit : Fit, optional
        The full model's fit, if already made.
    **fit_kwargs
        Sampler settings for :meth:`ChangeModel.fit`.

    Returns
    -------
    DataFrame
        ``outcome, wave, contrast, block, dropped, full_mean, reduced_mean, shift``
        (reduced minus full posterior mean) and ``reduced_ci_lb``, ``reduced_ci_ub``.
    """
    from dataclasses import replace

    covs = model.covariates
    if not isinstance(covs, list | tuple):
        raise FitError("benchmark_confounders needs covariates given as a list of columns")
    full = fit if fit is not None else model.fit(cohort, **fit_kwargs)
    full_est = _contrast_rows(full, wave, contrasts, ci_prob)
    rows = []
    for name, cols in blocks.items():
        missing = sorted(set(cols) - set(covs))
        if missing:
            raise FitError(f"block {name!r} names columns not among the covariates: {missing}")
        kept = [c for c in covs if c not in cols]
        reduced = replace(model, covariates=kept or None).fit(cohort, **fit_kwargs)
        red = _contrast_rows(reduced, wave, contrasts, ci_prob)
        both = full_est.merge(red, on=["wave", "contrast"], suffixes=("_full", "_red"))
        for _, r in both.iterrows():
            rows.append({"outcome": full.outcome, "wave": int(r["wave"]),
                         "contrast": r["contrast"], "block": name, "dropped": ", ".join(cols),
                         "full_mean": r["mean_full"], "reduced_mean": r["mean_red"],
                         "shift": r["mean_red"] - r["mean_full"],
                         "reduced_ci_lb": r["ci_lb_red"], "reduced_ci_ub": r["ci_ub_red"]})
    return pd.DataFrame(rows)


def _contrast_rows(fit, wave, contrasts, ci_prob) -> pd.DataFrame:
    est = fit.estimate(contrasts=contrasts, ci_prob=ci_prob)
    est = est[est["estimand"] == "modality_contrast"]
    w = int(fit.design.waves[-1]) if wave is None else int(wave)
    return est[est["wave"] == w][["wave", "contrast", "mean", "ci_lb", "ci_ub"]]
