"""Weight diagnostics: effective sample size, distribution, and the cells of the largest.

Contents
--------
kish_ess
    Kish effective sample size ``(sum w)^2 / sum w^2``.
weight_summary
    Distribution of positive weights (quantiles, max/median, CV, ESS, design effect).
largest_weights
    The raking cells holding the largest weights, aggregated (no person listed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "kish_ess",
    "largest_weights",
    "weight_summary",
]


def kish_ess(w: np.ndarray) -> float | np.ndarray:
    """Kish effective sample size ``(sum w)^2 / sum w^2`` (over the last axis)."""
    w = np.asarray(w, dtype=float)
    return (w.sum(axis=-1) ** 2) / (w**2).sum(axis=-1)


def weight_summary(w: np.ndarray) -> pd.Series:
    """Distribution of positive weights: n, sum, quantiles, max/median, CV, Kish ESS, deff.

    ``deff = n / ESS = 1 + CV^2`` (Kish's design effect from unequal weighting, CV with
    denominator n).
    """
    w = np.asarray(w, dtype=float)
    w = w[w > 0]
    q = np.quantile(w, [0.0, 0.05, 0.5, 0.95, 1.0])
    ess = float(kish_ess(w))
    return pd.Series({"n": w.size, "sum": w.sum(), "min": q[0], "p05": q[1], "median": q[2],
                      "p95": q[3], "max": q[4], "max_over_median": q[4] / q[2],
                      "cv": w.std() / w.mean(), "kish_ess": ess, "deff": w.size / ess})


def largest_weights(persons: pd.DataFrame, w: np.ndarray, k: int = 10,
                    variables: Sequence[str] | None = None) -> pd.DataFrame:
    """Cells (raking-variable combinations) holding the ``k`` largest weights, aggregated.

    No person is listed: one row per cell with ``n_sample`` (persons of the sample in the
    cell), ``n_top`` (how many of the k largest weights it holds), ``max_weight``,
    ``mean_weight`` and ``weight_share`` (its share of the total weight).
    """
    w = np.asarray(w, dtype=float)
    if variables is None:
        variables = [c for c in ("age_group", "sex", "primary_drug", "referral_route",
                                 "modality") if c in persons.columns]
    df = persons[list(variables)].astype(str).assign(_w=w)
    top = np.zeros(len(w), dtype=bool)
    top[np.argsort(-w, kind="stable")[:k]] = True
    df["_top"] = top
    agg = df.groupby(list(variables), observed=True).agg(
        n_sample=("_w", "size"), n_top=("_top", "sum"), max_weight=("_w", "max"),
        mean_weight=("_w", "mean"), weight_sum=("_w", "sum")).reset_index()
    agg["weight_share"] = agg.pop("weight_sum") / w.sum()
    agg = agg[agg["n_top"] > 0].sort_values("max_weight", ascending=False)
    return agg.reset_index(drop=True)
