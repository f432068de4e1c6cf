"""Figures of the causal room: the joint bias-budget surface.

Each function returns a :class:`matplotlib.figure.Figure` made on its own Agg canvas (no
pyplot state, as the report's figures), so callers can save or embed it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _figure(size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def budget_heatmap(budget: pd.DataFrame, contrasts: list[str] | None = None, *,
                   value: str = "p_negative", max_panels: int = 4,
                   annotate: bool = True) -> Figure:
    """Heatmap of ``P(contrast < 0)`` over confounding strength x pattern-mixture delta.

    Parameters
    ----------
    budget : DataFrame
        :func:`dtors_bayes.causal.budget.bias_budget` rows (``contrast, delta, strength``
        and ``value``).
    contrasts : list of str, optional
        Contrasts to draw, one panel each (default the first ``max_panels`` of the table).
    value : str
        Column shown (default ``p_negative``, on a fixed 0-1 diverging scale centred at 0.5).
    annotate : bool
        Write the value in each cell (for grids of at most 12 deltas x 9 strengths).

    Returns
    -------
    Figure
    """
    if budget is None or budget.empty:
        raise FitError("budget_heatmap: the bias budget is empty")
    names = list(dict.fromkeys(budget["contrast"])) if contrasts is None else list(contrasts)
    names = names[:max_panels]
    missing = [c for c in names if c not in set(budget["contrast"])]
    if missing:
        raise FitError(f"budget_heatmap: contrasts not in the budget: {missing}")
    from matplotlib.ticker import MaxNLocator

    n = len(names)
    fig = _figure((min(4.2 * n, 13.0) + 0.8, 3.9))
    axes = [fig.add_subplot(1, n, k + 1) for k in range(n)]
    prob = value == "p_negative"
    im = None
    for ax, con in zip(axes, names, strict=True):
        sel = budget[budget["contrast"] == con]
        surf = sel.pivot_table(index="delta", columns="strength", values=value)
        z = surf.to_numpy(float)
        xs, ys = surf.columns.to_numpy(float), surf.index.to_numpy(float)
        lim = (0.0, 1.0) if prob else (-np.nanmax(np.abs(z)), np.nanmax(np.abs(z)))
        im = ax.imshow(z, origin="lower", aspect="auto", cmap="RdBu_r", vmin=lim[0],
                       vmax=lim[1], extent=_extent(xs, ys), interpolation="nearest")
        if z.shape[0] > 1 and z.shape[1] > 1 and np.nanmin(z) < 0.5 < np.nanmax(z) and prob:
            ax.contour(xs, ys, z, levels=[0.05, 0.5, 0.95], colors=["k", "k", "k"],
                       linestyles=[":", "-", ":"], linewidths=0.9)
        if annotate and z.shape[0] <= 12 and z.shape[1] <= 9:
            for i, yv in enumerate(ys):
                for j, xv in enumerate(xs):
                    if np.isfinite(z[i, j]):
                        ax.text(xv, yv, f"{z[i, j]:.2f}", ha="center", va="center",
                                fontsize=6.5,
                                color="white" if abs(z[i, j] - 0.5) > 0.35 and prob
                                else "black")
        ax.axvline(0, color="grey", lw=0.6, ls="--")
        ax.axhline(0, color="grey", lw=0.6, ls="--")
        ax.set_title(con, fontsize=9)
        ax.set_xlabel("confounding strength (response scale)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    axes[0].set_ylabel("pattern-mixture delta (link scale)", fontsize=8)
    cb = fig.colorbar(im, ax=axes, shrink=0.9)
    cb.set_label("P(contrast < 0)" if prob else value, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return fig


def _extent(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float, float, float]:
    def edges(v):
        if v.size == 1:
            return v[0] - 0.5, v[0] + 0.5
        step = np.diff(v)
        return v[0] - step[0] / 2, v[-1] + step[-1] / 2
    x0, x1 = edges(xs)
    y0, y1 = edges(ys)
    return float(x0), float(x1), float(y0), float(y1)
