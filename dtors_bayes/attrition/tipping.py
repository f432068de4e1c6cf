r"""Stated conclusions, their tipping points, and the result of a sensitivity analysis.

A conclusion such as ``("change", 2, "<", 0, 0.95)`` -- "the population level at wave 2 is
below intake with posterior probability >= 0.95" -- is evaluated at each delta of the
pattern-mixture grid (:func:`dtors_bayes.attrition.pattern_mixture.sensitivity`). With
``theta^(s)(delta)`` the estimand's draw ``s`` (of ``S``) under the shift ``delta``, ``v`` the
conclusion's ``value`` and ``pi`` its ``prob``,

.. math::

    p(\delta) = \frac{1}{S} \sum_{s=1}^{S} 1\big[\theta^{(s)}(\delta)\ \mathrm{op}\ v\big],
    \qquad \text{the conclusion holds at } \delta \iff p(\delta) \ge \pi .

Tipping points
--------------
Starting from the grid value nearest 0 and moving outwards, the tipping point is the first
delta where it stops holding, linearly interpolated in ``P(estimand op value) - prob``
between the two grid points that bracket the change:

.. math::

    \delta^* = \delta_k + \frac{f_k}{f_k - f_{k \pm 1}} (\delta_{k \pm 1} - \delta_k),
    \qquad f_k = p(\delta_k) - \pi ,

``+inf`` / ``-inf`` when it holds over the whole grid on that side; NaN when it does not hold
at delta = 0.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError

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


def conclusion_probabilities(conclusions: list[Conclusion], draws: dict, groups, grid,
                             *, tipping: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``P(estimand op value)`` of each conclusion at each delta and group, and tipping points.

    Parameters
    ----------
    conclusions : list of Conclusion
    draws : dict
        Draws of every estimand over the grid, keyed ``(estimand, wave, modality,
        (contrast, g, k))`` for delta group ``g`` and grid position ``k`` (as
        :func:`~dtors_bayes.attrition.pattern_mixture.sensitivity` assembles them).
    groups : sequence
        Labels of the delta groups (``delta_group``), in the order of ``g``.
    grid : array (K,)
        The sorted delta grid (one NaN under a delta prior).
    tipping : bool
        Compute tipping points (:func:`tipping_point`); False under a delta prior, where the
        tipping table is empty.

    Returns
    -------
    probabilities : DataFrame
        ``conclusion, delta_group, delta, probability, holds``.
    tipping_points : DataFrame
        ``conclusion, delta_group, prob_at_zero, holds_at_zero, tipping_lower,
        tipping_upper, tipping`` (the one nearest 0).
    """
    prow, trow = [], []
    for c in conclusions:
        for g, grp in enumerate(groups):
            probs = np.array([float(np.mean(_OPS[c.op](
                draws[(c.key[0], c.key[1], c.key[2], (c.key[3], g, k))], c.value)))
                for k in range(len(grid))])
            for d, pr in zip(grid, probs, strict=True):
                prow.append({"conclusion": str(c), "delta_group": grp, "delta": d,
                             "probability": pr, "holds": pr >= c.prob})
            if tipping:
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
    return pd.DataFrame(prow), tp


__all__ = ["Conclusion", "SensitivityResult", "conclusion_probabilities", "tipping_point"]
