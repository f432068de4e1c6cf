r"""Pattern-mixture sensitivity analysis and imputation of missing outcomes, from one fit.

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

Tipping points
--------------
A conclusion such as ``("change", 2, "<", 0, 0.95)`` -- "the population level at wave 2 is
below intake with posterior probability >= 0.95" -- is evaluated at each delta of the grid.
Starting from the grid value nearest 0 and moving outwards, the tipping point is the first
delta where it stops holding, linearly interpolated in ``P(estimand op value) - prob``
between the two grid points that bracket the change; ``+inf`` / ``-inf`` when it holds over
the whole grid on that side; NaN when it does not hold at delta = 0.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.shifts import shifted_levels
from dtors_bayes.estimands.weights import person_weights
from dtors_bayes.exceptions import FitError

LINK_LIMIT = 10.0  # |delta| beyond this on a logit or log scale is almost surely a mistake
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


# ---------------------------------------------------------------------------- conclusions
@dataclass(frozen=True)
class Conclusion:
    """A stated conclusion: ``P(estimand op value) >= prob``.

    Parameters
    ----------
    estimand : str
        An ``estimand`` of :meth:`Fit.estimate` (``level``, ``change``, ``modality_contrast``
        ...).
    wave : int
        Wave label.
    op : {"<", "<=", ">", ">="}
    value : float
    prob : float
        Posterior probability the conclusion needs. Defaults to 0.95.
    modality, contrast : str
        Row selectors for modality estimands (``"residential"``) and contrasts
        (``"residential - prescribing"``).
    """

    estimand: str
    wave: int
    op: str
    value: float = 0.0
    prob: float = 0.95
    modality: str = ""
    contrast: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise FitError(f"conclusion op={self.op!r}; allowed: {', '.join(_OPS)}")
        if not 0 < self.prob < 1:
            raise FitError(f"conclusion prob={self.prob!r} must be in (0, 1)")

    @property
    def key(self) -> tuple:
        """The estimand key ``(estimand, wave, modality, contrast)``."""
        return (self.estimand, int(self.wave), self.modality, self.contrast)

    def __str__(self) -> str:
        sel = self.contrast or self.modality
        return (f"P({self.estimand}[wave {self.wave}{', ' + sel if sel else ''}] {self.op} "
                f"{self.value:g}) >= {self.prob:g}")

    @classmethod
    def parse(cls, c: Any) -> Conclusion:
        """From a Conclusion, a dict of its fields, or a tuple
        ``(estimand, wave, op, value[, prob[, modality_or_contrast]])``."""
        if isinstance(c, Conclusion):
            return c
        if isinstance(c, dict):
            return cls(**c)
        c = tuple(c)
        if not 4 <= len(c) <= 6:
            raise FitError(f"conclusion {c!r}: expected (estimand, wave, op, value[, prob[, "
                           "modality or contrast]])")
        kw: dict[str, Any] = {"estimand": c[0], "wave": int(c[1]), "op": c[2],
                              "value": float(c[3])}
        if len(c) > 4:
            kw["prob"] = float(c[4])
        if len(c) > 5:
            kw["contrast" if c[0] == "modality_contrast" else "modality"] = str(c[5])
        return cls(**kw)


# ---------------------------------------------------------------------------- result
@dataclass
class SensitivityResult:
    """Estimates over a delta grid (or a delta prior) and the tipping points.

    Attributes
    ----------
    table : DataFrame
        :meth:`Fit.estimate` columns plus ``delta``, ``delta_by``, ``delta_group``,
        ``delta_scale`` (one row per estimand, group and delta; ``delta`` NaN under a prior).
    tipping_points : DataFrame
        One row per conclusion and group: ``conclusion, delta_group, prob_at_zero,
        holds_at_zero, tipping_lower, tipping_upper, tipping`` (the one nearest 0).
    probabilities : DataFrame
        ``P(estimand op value)`` of every conclusion at every delta and group.
    """

    table: pd.DataFrame
    tipping_points: pd.DataFrame
    probabilities: pd.DataFrame
    conclusions: list[Conclusion] = field(default_factory=list)
    scale: str = "logit"
    seconds: float = 0.0

    def plot(self, conclusion: int | Conclusion | None = None, ax=None):
        """Estimate (mean and interval) against delta, the conclusion's threshold and its
        tipping points. Returns the matplotlib Figure."""
        import matplotlib

        if ax is None:
            matplotlib.use(matplotlib.get_backend())
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
        if isinstance(conclusion, int):
            c = self.conclusions[conclusion]
        elif conclusion is None and self.conclusions:
            c = self.conclusions[0]
        else:
            c = conclusion
        t = self.table.dropna(subset=["delta"])
        if c is None:
            last = int(t.loc[t.estimand == "change", "wave"].max())
            key = ("change", last, "", "")
        else:
            key = c.key
        rows = t[(t.estimand == key[0]) & (t.wave == key[1]) & (t.modality == key[2])
                 & (t.contrast == key[3])]
        for grp, r in rows.groupby("delta_group", sort=False):
            r = r.sort_values("delta")
            lab = None if grp == "all" else str(grp)
            line = ax.plot(r["delta"], r["mean"], label=lab)[0]
            ax.fill_between(r["delta"], r["ci_lb"], r["ci_ub"], alpha=0.2,
                            color=line.get_color())
            if c is not None:
                tp = self.tipping_points
                tp = tp[(tp.conclusion == str(c)) & (tp.delta_group == grp)]
                for v in tp[["tipping_lower", "tipping_upper"]].to_numpy().ravel():
                    if np.isfinite(v):
                        ax.axvline(v, color=line.get_color(), ls="--", lw=1)
        if c is not None:
            ax.axhline(c.value, color="grey", lw=0.8)
            ax.set_title(f"{c}\n(dashed: tipping points)", fontsize=9)
        ax.axvline(0, color="black", lw=0.5, ls=":")
        ax.set_xlabel(f"delta ({self.scale} scale, non-responders)")
        ax.set_ylabel(f"{key[0]} wave {key[1]}")
        if rows["delta_group"].nunique() > 1:
            ax.legend(fontsize=8)
        return fig


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


def tipping_point(deltas: np.ndarray, prob: np.ndarray, need: float) -> tuple[float, float]:
    """Lower and upper tipping points of a conclusion on a sorted grid (module docstring).

    Parameters
    ----------
    deltas : array (K,)
        Sorted grid.
    prob : array (K,)
        ``P(conclusion)`` at each delta.
    need : float
        Probability the conclusion needs.

    Returns
    -------
    (lower, upper) : floats; ``-inf`` / ``+inf`` if it never stops holding on that side,
    both NaN if it does not hold at the grid value nearest 0.
    """
    deltas, f = np.asarray(deltas, float), np.asarray(prob, float) - need
    k0 = int(np.argmin(np.abs(deltas)))
    if f[k0] < 0:
        return math.nan, math.nan

    def walk(step):
        k = k0
        while 0 <= k + step < deltas.size:
            nxt = k + step
            if f[nxt] < 0:
                frac = f[k] / (f[k] - f[nxt])
                return float(deltas[k] + frac * (deltas[nxt] - deltas[k]))
            k = nxt
        return math.inf * step

    return walk(-1), walk(1)


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
        ADJUSTED_ASSUMPTION,
        DESCRIPTIVE,
        ESTIMAND_COLUMNS,
        assemble_estimands,
        contrast_pairs,
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
    table["outcome"] = fit.outcome
    table["population"] = wspec.population
    table["weighting"] = wspec.weighting
    table["estimator"] = "model"
    table["n_persons"] = fit.design.n_person
    table["assumption"] = ""
    adjusted = table["estimand"].isin(["adjusted_level", "adjusted_change", "modality_contrast"])
    table.loc[adjusted, "assumption"] = ADJUSTED_ASSUMPTION
    table.loc[table["estimand"].isin(["modality_level", "modality_change"]),
              "assumption"] = DESCRIPTIVE
    table = table[[*ESTIMAND_COLUMNS, "delta", "delta_by", "delta_group", "delta_scale"]]
    table.attrs.update({"ci_prob": ci_prob, "ci_kind": "equal-tailed", "outcome": fit.outcome,
                        "delta_scale": link})
    # Conclusions: probability at each delta and tipping points.
    prow, trow = [], []
    for c in conclusions:
        for g, grp in enumerate(groups):
            probs = np.array([float(np.mean(_OPS[c.op](
                all_draws[(c.key[0], c.key[1], c.key[2], (c.key[3], g, k))], c.value)))
                for k in range(len(grid))])
            for d, pr in zip(grid, probs, strict=True):
                prow.append({"conclusion": str(c), "delta_group": grp, "delta": d,
                             "probability": pr, "holds": pr >= c.prob})
            if prior is None:
                lo, hi = tipping_point(grid, probs, c.prob)
                k0 = int(np.argmin(np.abs(grid)))
                near = lo if abs(lo) < abs(hi) else hi
                trow.append({"conclusion": str(c), "delta_group": grp,
                             "prob_at_zero": probs[k0], "holds_at_zero": probs[k0] >= c.prob,
                             "tipping_lower": lo, "tipping_upper": hi,
                             "tipping": near if np.isfinite(lo) or np.isfinite(hi) else
                             (math.nan if math.isnan(lo) else math.inf)})
    tp = pd.DataFrame(trow, columns=["conclusion", "delta_group", "prob_at_zero",
                                     "holds_at_zero", "tipping_lower", "tipping_upper",
                                     "tipping"])
    return SensitivityResult(table=table, tipping_points=tp, probabilities=pd.DataFrame(prow),
                             conclusions=conclusions, scale=link,
                             seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------- imputation
def impute(fit, n: int = 20, *, delta: float = 0.0, random_seed: int | None = 0,
           include_item_missing: bool = True) -> pd.DataFrame:
    r"""Posterior predictive draws of the missing outcome values, for reports.

    For ``n`` posterior draws (evenly spaced over chain x draw) and every person x wave cell
    whose outcome is missing, draws ``y ~ family(eta + delta 1[not interviewed], aux)`` with
    :meth:`Family.simulate` (the model's own parameterisation). Under a selection fit of a
    discrete family, the attempted non-responders' values are drawn from
    ``p(y | eta) P(r = 0 | y) / sum_v ...`` (the conditional the model implies); of a
    continuous family, from the latent ``y_missing`` draws.

    Returns
    -------
    DataFrame
        Long table ``person_id, wave, draw, value, interviewed`` (``draw`` = position in
        chain x draw).
    """
    from scipy.special import expit, logsumexp

    from dtors_bayes.models.predictor import linear_predictor
    from dtors_bayes.models.sampling import stack_draws
    from dtors_bayes.models.selection import SELECTION_FAMILIES, Selection, response_layout

    if n < 1:
        raise FitError("impute: n must be >= 1")
    model, design = fit.model, fit.design
    fam = model.family_obj
    params, n_chain, n_draw = stack_draws(fit.tree)
    total = n_chain * n_draw
    pick = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(int))
    p = {k: v[pick] for k, v in params.items()}
    miss = np.isnan(design.y)
    if not include_item_missing:
        miss &= ~design.interviewed.astype(bool)
    pp, tt = np.nonzero(miss)
    basis = model.basis(design)
    cells = design.cells(basis, pp, tt, design.months[pp, tt])
    etas = {part: linear_predictor(p, cells, prefix=pre, by_time=model.modality_by_time)
            for part, pre in zip(fam.parts, ("", "pos_"), strict=False)}
    shift = np.where(design.interviewed[pp, tt], 0.0, float(delta))
    etas["eta"] = etas["eta"] + shift[None, :]
    rng = np.random.default_rng(random_seed)
    aux = {k: p[k][:, None] for k in fam.aux}
    values = fam.simulate(rng, etas, aux, trials=design.trials)
    att = model.attrition
    if isinstance(att, Selection) and delta == 0.0:
        lay = response_layout(design, model.family, att.response.attempted)
        from dtors_bayes.models.selection import response_linear_predictor

        lin = response_linear_predictor(p, lay, design)
        kap = att.cell_kappa_numpy(p, lay, design)
        pos = {(a, b): i for i, (a, b) in enumerate(zip(pp, tt, strict=True))}
        lay_m = np.flatnonzero(np.isnan(lay.y))
        # a late stage's missing value is the outcome at the late months, not the wave's
        # (on-time) value imputed here: those cells are skipped below
        late_stage = np.asarray(lay.stage_late, bool)[lay.stage]
        if SELECTION_FAMILIES[model.family] == "discrete":
            nv = 1 if model.family == "bernoulli" else design.trials
            v = np.arange(nv + 1, dtype=float)
            for c in lay_m:
                i = pos.get((lay.person[c], lay.wave[c]))
                if i is None or late_stage[c]:
                    continue
                e = etas["eta"][:, i][:, None]
                lp = _discrete_logp_np(model.family, e, v[None], nv,
                                       p.get("phi", np.ones(len(pick)))[:, None])
                x = lin[:, c][:, None] + kap[:, c][:, None] * lay.g(v)[None]
                sgn = 1.0 if lay.r[c] else -1.0
                lw = lp + np.log(expit(sgn * x))
                prob = np.exp(lw - logsumexp(lw, axis=1, keepdims=True))
                u = rng.random(len(pick))[:, None]
                values[:, i] = (u > np.cumsum(prob, axis=1)).sum(axis=1)
        elif "y_missing" in p:
            for slot, c in enumerate(lay_m):
                i = pos.get((lay.person[c], lay.wave[c]))
                if i is not None and not late_stage[c]:
                    values[:, i] = p["y_missing"][:, slot]
    out = pd.DataFrame({
        "person_id": np.tile(design.person_ids[pp], len(pick)),
        "wave": np.tile(np.asarray(design.waves)[tt], len(pick)),
        "draw": np.repeat(pick, pp.size),
        "value": values.ravel(),
        "interviewed": np.tile(design.interviewed[pp, tt].astype(bool), len(pick)),
    })
    out.attrs.update({"outcome": fit.outcome, "delta": float(delta),
                      "attrition": model.attrition_label})
    return out


def _discrete_logp_np(family: str, eta, v, n: int, phi):
    from scipy.special import betaln, gammaln, log_expit

    lp1, lp0 = log_expit(eta), log_expit(-eta)
    if family == "bernoulli":
        return v * lp1 + (1 - v) * lp0
    logc = gammaln(n + 1.0) - gammaln(v + 1.0) - gammaln(n - v + 1.0)
    if family == "binomial":
        return logc + v * lp1 + (n - v) * lp0
    pr = 1 / (1 + np.exp(-eta))
    a, b = pr * phi, (1 - pr) * phi
    return logc + betaln(v + a, n - v + b) - betaln(a, b)


__all__ = ["Conclusion", "SensitivityResult", "check_deltas", "impute", "sensitivity",
           "tipping_point"]


def run_from_cli(argv: list[str]) -> int:
    """``dtors-bayes sensitivity FIT.nc --deltas ... [--conclusion ...] [--out T.csv]``.

    Prints the tipping points and writes the estimates over the delta grid (``.csv`` or
    ``.md``) and, with ``--plot``, the estimate-vs-delta figure. Errors are ``DtorsError``s,
    which the command line turns into one-line messages.
    """
    import argparse
    from pathlib import Path

    from dtors_bayes.models.io import load_fit

    ap = argparse.ArgumentParser(
        prog="dtors-bayes sensitivity",
        description="Pattern-mixture sensitivity of a saved fit, without refitting: shift the "
                    "link-scale predictions of people not interviewed by each delta and find "
                    "the tipping point where a stated conclusion stops holding.")
    ap.add_argument("fit", type=Path, help="a saved fit (.nc)")
    grid = ap.add_mutually_exclusive_group()
    grid.add_argument("--deltas", type=float, nargs="+", help="the delta grid")
    grid.add_argument("--grid", type=float, nargs=3, metavar=("FROM", "TO", "N"),
                      help="an evenly spaced grid (default -2 2 41)")
    grid.add_argument("--prior", type=float, nargs=2, metavar=("MEAN", "SD"),
                      help="a normal prior on delta instead of a grid")
    ap.add_argument("--by", default=None, help="delta by 'wave', 'modality' or a column")
    ap.add_argument("--conclusion", action="append", default=[],
                    help="ESTIMAND,WAVE,OP,VALUE[,PROB[,MODALITY_OR_CONTRAST]], e.g. "
                         "'change,2,<,0,0.95' (repeatable)")
    ap.add_argument("--out", type=Path, default=None, help="write the table (.csv or .md)")
    ap.add_argument("--plot", type=Path, default=None, help="write the figure (.png)")
    args = ap.parse_args(argv)
    fit = load_fit(args.fit)
    conclusions = [tuple(c.split(",")) for c in args.conclusion] or None
    if args.prior is not None:
        res = sensitivity(fit, prior=tuple(args.prior), by=args.by, conclusion=conclusions)
    else:
        deltas = args.deltas if args.deltas is not None else np.linspace(
            *(args.grid[:2] if args.grid else (-2.0, 2.0)),
            int(args.grid[2]) if args.grid else 41)
        res = sensitivity(fit, deltas, by=args.by, conclusion=conclusions)
    if len(res.tipping_points):
        print(res.tipping_points.to_string(index=False))
    print(f"{len(res.table)} rows in {res.seconds:.1f} s")
    if args.out is not None:
        if args.out.suffix == ".md":
            from dtors_bayes.data.summary import markdown_table

            args.out.write_text(markdown_table(res.table) + "\n")
        else:
            res.table.to_csv(args.out, index=False)
    if args.plot is not None:
        res.plot().savefig(args.plot, dpi=120)
    return 0
