"""Figures of the decision layer: the cost-effectiveness plane, the acceptability curves
(CEAC with the frontier marked) and the EVPI curve.

Each function returns a :class:`matplotlib.figure.Figure` made on its own Agg canvas (no
pyplot state, as the report's figures), so callers can save or embed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dtors_bayes.economics.decision import paired_draws

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


def _figure(size: tuple[float, float] = (6.0, 4.2)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def ce_plane(effects: Any, costs: Any, *, reference: str, wtp: float | None = None,
             options: Sequence[str] | None = None, max_points: int = 2000,
             effect_label: str = "incremental QALYs", currency: str = "GBP") -> Figure:
    """Incremental costs against incremental effects per draw, each option against
    ``reference``, with the quadrant probabilities in the legend and the ``wtp`` line."""
    e, c, labels = paired_draws(effects, costs, options)
    r = labels.index(reference)
    de = (e - e[..., [r]]).reshape(-1, len(labels))
    dc = (c - c[..., [r]]).reshape(-1, len(labels))
    keep = np.linspace(0, len(de) - 1, min(max_points, len(de))).astype(int)
    fig, ax = _figure()
    for j, lab in enumerate(labels):
        if j == r:
            continue
        ne = float(((de[:, j] > 0) & (dc[:, j] > 0)).mean())
        se = float(((de[:, j] > 0) & (dc[:, j] <= 0)).mean())
        ax.scatter(de[keep, j], dc[keep, j], s=4, alpha=0.35,
                   label=f"{lab} (P NE {ne:.2f}, SE {se:.2f})")
        ax.plot(de[:, j].mean(), dc[:, j].mean(), marker="X", color="black", ms=7)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    if wtp is not None:
        lim = np.nanmax(np.abs(de)) * 1.1 or 1.0
        xs = np.array([-lim, lim])
        ax.plot(xs, wtp * xs, "k--", lw=1, label=f"{currency} {wtp:,.0f} per unit")
    ax.set_xlabel(effect_label)
    ax.set_ylabel(f"incremental cost ({currency})")
    ax.set_title(f"Cost-effectiveness plane against {reference}")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def ceac_plot(table: pd.DataFrame, *, currency: str = "GBP") -> Figure:
    """CEAC per option over willingness to pay from a :func:`cea` table; the frontier
    (the option with the largest expected net benefit) drawn as a thick grey line."""
    fig, ax = _figure()
    for lab, g in table.groupby("option", sort=False):
        g = g.sort_values("wtp")
        ax.plot(g["wtp"], g["ceac"], label=str(lab))
    front = table[table["ceaf"] == 1].sort_values("wtp")
    ax.plot(front["wtp"], front["ceaf_prob"], color="grey", lw=4, alpha=0.4,
            label="frontier (CEAF)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"willingness to pay ({currency} per QALY)")
    ax.set_ylabel("probability of being the best option")
    ax.set_title("Cost-effectiveness acceptability")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def evpi_plot(table: pd.DataFrame, *, currency: str = "GBP",
              evppi: pd.DataFrame | None = None) -> Figure:
    """EVPI per person over willingness to pay (a :func:`cea` or :func:`evpi_curve` table),
    with EVPPI curves of input subsets when an :func:`evppi` table is given."""
    fig, ax = _figure()
    t = table.groupby("wtp", sort=True)["evpi"].first()
    ax.plot(t.index, t.to_numpy(), color="black", label="EVPI")
    if evppi is not None:
        for name, g in evppi.groupby("inputs", sort=False):
            g = g.sort_values("wtp")
            ax.plot(g["wtp"], g["evppi"], ls="--", label=f"EVPPI {name}")
    ax.set_xlabel(f"willingness to pay ({currency} per QALY)")
    ax.set_ylabel(f"value of information per person ({currency})")
    ax.set_title("Expected value of (partial) perfect information")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def improvement_plot(curve: pd.DataFrame, *, threshold: float = 30000.0,
                     currency: str = "GBP") -> Figure:
    """The ICER against the spontaneous-improvement share theta (an
    :func:`improvement_curve` table), per perspective, with the threshold line."""
    fig, ax = _figure()
    for persp, g in curve.groupby("perspective", sort=False):
        ax.plot(g["theta"], g["icer"], marker="o", label=str(persp))
    ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"{currency} {threshold:,.0f}")
    ax.set_xlabel("share of the change that would have happened without treatment (theta)")
    ax.set_ylabel(f"ICER ({currency} per QALY)")
    ax.set_title("The counterfactual: ICER over spontaneous improvement")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


__all__ = ["ce_plane", "ceac_plot", "evpi_plot", "improvement_plot"]
