"""SBC rank arithmetic: rank statistics, randomised PIT values and their uniformity.

If the software is calibrated, each rank is uniform on ``0..L``. Ranks are turned into
randomised PIT values ``(rank + V) / (L + 1)``, ``V ~ U(0, 1)``, exactly uniform whatever
``L`` each simulation kept (:func:`pit_values`); uniformity is judged with a chi-square test
over bins (:func:`uniformity_test`) and an ECDF-difference plot with simultaneous 95% bands
(:func:`ecdf_difference`, Säilynoja et al. 2022, from ``arviz_stats``);
:func:`summarize_ranks` does both per quantity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ecdf_difference", "pit_values", "rank_statistic", "summarize_ranks",
           "uniformity_test"]


# ---------------------------------------------------------------------------- rank arithmetic
def rank_statistic(prior_value: float, draws: np.ndarray) -> int:
    """Number of posterior draws strictly below the prior draw (ties split at random upstream)."""
    return int(np.sum(np.asarray(draws) < prior_value))


def pit_values(ranks: np.ndarray, n_ranked: np.ndarray | int,
               rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Randomised PIT ``(rank + V) / (L + 1)`` with ``V ~ U(0, 1)``.

    Uniform on (0, 1) when ``rank`` is uniform on ``0..L`` (any ``L`` per simulation).
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    ranks = np.asarray(ranks, dtype=float)
    n_ranked = np.broadcast_to(np.asarray(n_ranked, dtype=float), ranks.shape)
    return (ranks + rng.uniform(size=ranks.shape)) / (n_ranked + 1.0)


def uniformity_test(u: np.ndarray, n_bins: int | None = None) -> dict[str, float]:
    """Chi-square test that values in [0, 1] are uniform.

    Parameters
    ----------
    u : array
        PIT values (:func:`pit_values`).
    n_bins : int, optional
        Equal-width bins; defaults to ``max(2, min(20, n // 5))`` (>= 5 expected per bin).

    Returns
    -------
    dict
        ``chi2, df, p_value, n_bins, n``.
    """
    u = np.asarray(u, dtype=float)
    u = u[np.isfinite(u)]
    n = u.size
    if n_bins is None:
        n_bins = max(2, min(20, n // 5))
    if n < 2:
        return {"chi2": np.nan, "df": np.nan, "p_value": np.nan, "n_bins": n_bins, "n": n}
    counts = np.histogram(np.clip(u, 0, 1), bins=n_bins, range=(0, 1))[0]
    expected = n / n_bins
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = n_bins - 1
    return {"chi2": chi2, "df": df, "p_value": float(stats.chi2.sf(chi2, df)),
            "n_bins": n_bins, "n": n}


def ecdf_difference(u: np.ndarray, ci_prob: float = 0.95, n_simulations: int = 1000,
                    seed: int = 214) -> pd.DataFrame:
    """ECDF minus the uniform CDF, with simultaneous ``ci_prob`` bands.

    Uses ``arviz_stats.ecdf_utils.ecdf_pit`` (the simulation method of Säilynoja, Bürkner
    and Vehtari 2022): the band holds the whole ECDF with probability ``ci_prob`` under
    uniformity.

    Returns
    -------
    DataFrame
        ``x, diff, lower, upper`` (differences from ``x``).
    """
    from arviz_stats.ecdf_utils import ecdf_pit

    u = np.asarray(u, dtype=float)
    u = u[np.isfinite(u)]
    x, ecdf, lo, hi = ecdf_pit(u, ci_prob, n_simulations, rng=np.random.default_rng(seed))
    return pd.DataFrame({"x": x, "diff": ecdf - x, "lower": lo - x, "upper": hi - x})


def summarize_ranks(ranks: pd.DataFrame, n_bins: int | None = None) -> pd.DataFrame:
    """Per (family, quantity): chi-square uniformity test and ECDF band check of the PIT.

    Returns
    -------
    DataFrame
        ``family, quantity, n_sims, chi2, df, p_value, mean_pit, sd_pit`` (uniform: 0.5 and
        0.289), ``max_abs_ecdf_diff``, ``outside_95_band`` (the ECDF leaves the simultaneous
        95% band), ``ess_bulk_median``, ``n_ranked_median``, ``n_divergent_sims``,
        ``share_divergent`` (share of simulations whose refit had divergences),
        ``share_r_hat_over_1_01`` (share whose R-hat of this quantity exceeds 1.01) and
        ``share_any_r_hat_over_1_01`` (share whose largest R-hat over all ranked quantities
        exceeds 1.01); the R-hat shares are NaN for simulations cached without R-hat.
    """
    rows = []
    keys = [k for k in ("family", "quantity") if k in ranks]
    for key, g in ranks.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        u = g["pit"].to_numpy(dtype=float)
        test = uniformity_test(u, n_bins)
        rec = dict(zip(keys, key, strict=True))
        rec.update({"n_sims": test["n"], "chi2": test["chi2"], "df": test["df"],
                    "p_value": test["p_value"], "mean_pit": float(np.nanmean(u)),
                    "sd_pit": float(np.nanstd(u, ddof=1)) if len(u) > 1 else np.nan})
        if test["n"] >= 2:
            e = ecdf_difference(u)
            rec["max_abs_ecdf_diff"] = float(np.abs(e["diff"]).max())
            rec["outside_95_band"] = bool(((e["diff"] < e["lower"] - 1e-12)
                                           | (e["diff"] > e["upper"] + 1e-12)).any())
        else:
            rec["max_abs_ecdf_diff"], rec["outside_95_band"] = np.nan, False
        for col, name in (("ess_bulk", "ess_bulk_median"), ("n_ranked", "n_ranked_median")):
            rec[name] = float(g[col].median()) if col in g else np.nan
        rec["n_divergent_sims"] = int(g.drop_duplicates("sim")["divergences"].gt(0).sum()) \
            if "divergences" in g and "sim" in g else 0
        rec["share_divergent"] = rec["n_divergent_sims"] / len(g) if len(g) else np.nan
        for col, name in (("r_hat", "share_r_hat_over_1_01"),
                          ("r_hat_max", "share_any_r_hat_over_1_01")):
            v = g[col].to_numpy(dtype=float) if col in g else np.array([])
            v = v[np.isfinite(v)]
            rec[name] = float(np.mean(v > 1.01)) if v.size else np.nan
        rows.append(rec)
    return pd.DataFrame(rows)
