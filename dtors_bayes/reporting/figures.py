"""Figures of estimates: trajectories over waves, modality-contrast forests, sensitivity curves.

Every function takes the tidy estimates table of :meth:`dtors_bayes.models.fit.Fit.estimate` (or
several concatenated) and returns a :class:`matplotlib.figure.Figure` built on the Agg canvas
directly: no ``pyplot`` state and no global backend switch, so it is safe in scripts, servers
and notebooks alike. :func:`figure_to_base64` turns a figure into a PNG for the HTML report.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Columns that tell fits of the same outcome apart (drawn side by side).
VARIANT_COLUMNS = ("analysis", "weighting", "attrition", "estimator")


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (no pyplot)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_to_base64(fig: Figure, *, dpi: int = 110) -> str:
    """The figure as a base64-encoded PNG (for ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def variant_label(row: pd.Series | dict) -> str:
    """Label of a fit variant: ``[analysis] weighting=..., attrition=...`` (estimator when not
    the model's)."""
    parts = [f"weighting={row.get('weighting', '')}", f"attrition={row.get('attrition', '')}"]
    if row.get("analysis"):
        parts.insert(0, str(row["analysis"]))
    if row.get("estimator", "model") not in ("model", "", None):
        parts.append(f"estimator={row['estimator']}")
    return ", ".join(parts)


def _variants(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    cols = [c for c in VARIANT_COLUMNS if c in df.columns]
    if not cols:
        return [("", df)]
    out = []
    for _, sub in df.groupby(cols, sort=False, dropna=False):
        out.append((variant_label(sub.iloc[0]), sub))
    return out


def _errorbars(ax, x: np.ndarray, sub: pd.DataFrame, label: str, **kw) -> None:
    mean = sub["mean"].to_numpy(float)
    lo = mean - sub["ci_lb"].to_numpy(float)
    hi = sub["ci_ub"].to_numpy(float) - mean
    ax.errorbar(x, mean, yerr=np.vstack([lo, hi]), fmt="o", capsize=3, label=label, **kw)


def trajectory_figure(estimates: pd.DataFrame, outcome: str) -> Figure:
    """Population level of one outcome at each wave, with intervals.

    Left: the ``level`` estimand, one series per fit variant (weighting / attrition) side by
    side. Right (when present): ``modality_level``, each modality's own persons
    (descriptive), for the first variant.

    Parameters
    ----------
    estimates : DataFrame
        Estimates table(s) with ``outcome, estimand, wave, modality, mean, ci_lb, ci_ub``.
    outcome : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    df = estimates[estimates["outcome"] == outcome]
    level = df[df["estimand"] == "level"].sort_values("wave")
    by_mod = df[df["estimand"] == "modality_level"]
    two = not by_mod.empty
    fig = new_figure(10.5 if two else 5.5, 3.6)
    axes = fig.subplots(1, 2 if two else 1, squeeze=False)[0]
    ax = axes[0]
    variants = _variants(level)
    width = 0.5 / max(len(variants), 1)
    for k, (label, sub) in enumerate(variants):
        offset = (k - (len(variants) - 1) / 2) * width
        x = sub["wave"].to_numpy(float) + offset
        _errorbars(ax, x, sub, label)
        ax.plot(x, sub["mean"], lw=1, alpha=0.6, color=ax.lines[-1].get_color())
    waves = sorted(level["wave"].unique())
    ax.set_xticks(waves, [f"wave {int(w)}" for w in waves])
    pops = ", ".join(map(str, dict.fromkeys(level["population"]))) if "population" in level \
        else ""
    ax.set_ylabel(f"{outcome}" + (f" (population: {pops})" if pops else ""))
    ax.set_title(f"{outcome}: level by wave")
    if len(variants) > 1:
        ax.legend(fontsize=7, loc="best")
    if two:
        ax2 = axes[1]
        first = _variants(by_mod)[0][1]
        mods = list(dict.fromkeys(first["modality"]))
        width = 0.6 / max(len(mods), 1)
        for k, mod in enumerate(mods):
            sub = first[first["modality"] == mod].sort_values("wave")
            offset = (k - (len(mods) - 1) / 2) * width
            _errorbars(ax2, sub["wave"].to_numpy(float) + offset, sub, mod, ms=4)
        ax2.set_xticks(waves, [f"wave {int(w)}" for w in waves])
        ax2.set_title("by modality (own patients; descriptive)")
        ax2.legend(fontsize=7, loc="best")
    return fig


def contrast_forest(estimates: pd.DataFrame) -> Figure | None:
    """Forest plot of adjusted modality contrasts (``modality_contrast`` rows), per outcome.

    Returns
    -------
    matplotlib.figure.Figure or None
        ``None`` when the table has no contrasts.
    """
    df = estimates[estimates["estimand"] == "modality_contrast"]
    if df.empty:
        return None
    outcomes = list(dict.fromkeys(df["outcome"]))
    heights = [max(1.2, 0.28 * (df["outcome"] == o).sum() + 0.6) for o in outcomes]
    fig = new_figure(8.0, sum(heights) + 0.4)
    axes = fig.subplots(len(outcomes), 1, squeeze=False,
                        gridspec_kw={"height_ratios": heights})[:, 0]
    for ax, out in zip(axes, outcomes, strict=True):
        sub = df[df["outcome"] == out].sort_values(["wave", "contrast"])
        labels = [f"{c} (wave {int(w)})" + (f" [{variant_label(r)}]" if _n_variants(sub) > 1
                                           else "")
                  for c, w, r in zip(sub["contrast"], sub["wave"],
                                     sub.to_dict(orient="records"), strict=True)]
        y = np.arange(len(sub))[::-1]
        mean = sub["mean"].to_numpy(float)
        ax.errorbar(mean, y, xerr=np.vstack([mean - sub["ci_lb"].to_numpy(float),
                                             sub["ci_ub"].to_numpy(float) - mean]),
                    fmt="o", capsize=3)
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, labels, fontsize=7)
        # right-aligned: a centred title runs off the figure beside long contrast labels
        ax.set_title(f"{out}: adjusted change, A - B (difference in change from intake)",
                     fontsize=9, loc="right")
    return fig


def _n_variants(df: pd.DataFrame) -> int:
    cols = [c for c in VARIANT_COLUMNS if c in df.columns]
    return len(df[cols].drop_duplicates()) if cols else 1


def sensitivity_figure(table: pd.DataFrame) -> Figure | None:
    """Estimates against a sensitivity parameter (e.g. pattern-mixture ``delta``).

    Draws ``mean`` with its interval against the first of ``delta``, ``kappa`` found, one
    line per (outcome, wave, and whichever of analysis, estimand, modality, contrast and
    delta group vary), only the ``change`` rows when there are some; ``None`` when the table
    has no such column or no ``mean``/``ci_lb``/``ci_ub``.
    """
    xcol = next((c for c in ("delta", "kappa") if c in table.columns), None)
    if xcol is None or not {"mean", "ci_lb", "ci_ub"} <= set(table.columns) or table.empty:
        return None
    table = table.dropna(subset=[xcol])
    if "estimand" in table.columns and (table["estimand"] == "change").any():
        table = table[table["estimand"] == "change"]
    if table.empty:
        return None
    groups = [c for c in ("analysis", "outcome", "estimand", "wave", "modality", "contrast",
                          "delta_group") if c in table.columns and table[c].nunique() > 1
              or c in ("outcome", "wave")]
    groups = [c for c in groups if c in table.columns]
    fig = new_figure(6.5, 3.8)
    ax = fig.subplots()
    for key, sub in (table.groupby(groups, dropna=False, sort=False) if groups
                     else [("", table)]):
        sub = sub.sort_values(xcol)
        x = sub[xcol].to_numpy(float)
        values = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"wave {v}" if c == "wave" else str(v)
                          for c, v in zip(groups, values, strict=False) if v != "")
        line, = ax.plot(x, sub["mean"], marker="o", ms=3, label=label)
        ax.fill_between(x, sub["ci_lb"], sub["ci_ub"], alpha=0.15, color=line.get_color())
    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(xcol)
    only = table["estimand"].unique() if "estimand" in table.columns else []
    ax.set_ylabel("change from intake" if list(only) == ["change"] else "estimate")
    scale = (f", {table['delta_scale'].iloc[0]} scale" if "delta_scale" in table.columns
             else "")
    ax.set_title(f"Sensitivity to {xcol}" + (f" (shift of the missing interviews{scale})"
                                             if xcol == "delta" else ""), fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="best")
    return fig
