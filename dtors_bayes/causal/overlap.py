"""Overlap (positivity) diagnostics from generalised propensities, and extrapolation flags.

With ``e_a(X_i) = P(A_i = a | X_i, site, area)`` from the hierarchical multinomial model
(:class:`dtors_bayes.models.propensity.PropensityModel`), the adjusted estimand "everyone
given modality a" is identified from the data only where ``e_a(X) > 0``; where ``e_a(X)`` is
tiny, ``mu_a(X)`` is the model's extrapolation from other persons. Reported:

- the distribution of each ``e_a`` (quantiles), among everyone and by modality received;
- the share of persons with ``e_a(X_i) < threshold`` for each a, and for *any* a
  (``min_a e_a(X_i) < threshold``);
- covariate balance: for each covariate column x and modality a, the standardised mean
  difference of a's persons against everyone, before and after inverse-propensity weighting
  with ``w_i = 1 / e_{A_i}(X_i)`` (the ATE weights of McCaffrey et al. 2013):

  .. math::

      SMD_a = \\frac{\\bar x_a^{(w)} - \\bar x}{s_x}, \\qquad
      \\bar x_a^{(w)} = \\frac{\\sum_{i: A_i = a} w_i x_i}{\\sum_{i: A_i = a} w_i},

  with ``s_x`` the sd among everyone. ``|SMD| < 0.1`` is the usual rule for balance.

:func:`flag_extrapolation` adds to an estimate table, on the adjusted rows, the share of
persons outside overlap for the modalities the row sets, and a boolean ``extrapolation``
when that share exceeds ``max_share``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
ADJUSTED = ("adjusted_level", "adjusted_change", "modality_contrast")


@dataclass
class OverlapResult:
    """Overlap diagnostics (see the module notes).

    Attributes
    ----------
    distribution : DataFrame
        ``modality, group, min, q01 ... q99, max, mean``: quantiles of ``e_modality`` among
        ``group`` (``"all"`` or the modality received).
    below : DataFrame
        ``modality, threshold, share_below, n_below``; a row ``modality="any"`` for
        ``min_a e_a < threshold``.
    balance : DataFrame
        ``covariate, modality, smd_unweighted, smd_weighted``.
    threshold : float
    propensities : ndarray (n_person, M)
        The propensities used (posterior means when draws were given).
    labels : list of str
    """

    distribution: pd.DataFrame
    below: pd.DataFrame
    balance: pd.DataFrame
    threshold: float
    propensities: np.ndarray
    labels: list[str]

    @property
    def share_below_any(self) -> float:
        """Share of persons with a propensity below the threshold for any modality."""
        return float(self.below.loc[self.below["modality"] == "any", "share_below"].iloc[0])

    def share_outside(self, modalities: list[str]) -> float:
        """Share of persons with ``e_a < threshold`` for any of ``modalities``."""
        idx = [self.labels.index(m) for m in modalities]
        return float((self.propensities[:, idx] < self.threshold).any(axis=1).mean())


def overlap(propensities, modality: np.ndarray | None = None,
            labels: list[str] | None = None, *, X: np.ndarray | None = None,
            covariate_names: list[str] | None = None,
            threshold: float = 0.05) -> OverlapResult:
    """Overlap diagnostics of generalised propensities.

    Parameters
    ----------
    propensities : PropensityFit or array (n, M) or (S, n, M)
        A fitted :class:`~dtors_bayes.models.propensity.PropensityModel` (its design gives
        ``modality``, ``labels``, ``X`` and the names), or propensities (draws are averaged).
    modality : array of int (n,), optional
        Modality received (codes into ``labels``).
    labels : list of str, optional
    X : array (n, p), optional
        Covariate columns for balance (default the propensity model's).
    covariate_names : list of str, optional
    threshold : float
        Propensities below it count as outside overlap. Default 0.05.

    Returns
    -------
    OverlapResult
    """
    if hasattr(propensities, "propensities"):
        d = propensities.design
        modality = d.modality if modality is None else modality
        labels = d.modality_labels if labels is None else labels
        if X is None:
            X, covariate_names = d.X, d.covariate_names
        pi = propensities.propensities()
    else:
        pi = np.asarray(propensities, dtype=float)
        if pi.ndim == 3:
            pi = pi.mean(axis=0)
    if modality is None or labels is None:
        raise FitError("overlap: give modality codes and labels with raw propensities")
    modality = np.asarray(modality, dtype=int)
    labels = list(labels)
    if pi.shape != (modality.size, len(labels)):
        raise FitError(f"propensities must be (persons={modality.size}, "
                       f"modalities={len(labels)}); got {pi.shape}")
    qn = [f"q{round(q * 100):02d}" for q in QUANTILES]
    dist = []
    for k, m in enumerate(labels):
        groups = [("all", np.ones(modality.size, bool))] + [
            (g, modality == j) for j, g in enumerate(labels)]
        for g, mask in groups:
            if not mask.any():
                continue
            v = pi[mask, k]
            dist.append({"modality": m, "group": g, "n": int(mask.sum()), "min": float(v.min()),
                         **dict(zip(qn, map(float, np.quantile(v, QUANTILES)), strict=True)),
                         "max": float(v.max()), "mean": float(v.mean())})
    below = [{"modality": m, "threshold": threshold,
              "share_below": float((pi[:, k] < threshold).mean()),
              "n_below": int((pi[:, k] < threshold).sum())} for k, m in enumerate(labels)]
    anyb = (pi < threshold).any(axis=1)
    below.append({"modality": "any", "threshold": threshold,
                  "share_below": float(anyb.mean()), "n_below": int(anyb.sum())})
    balance = covariate_balance(pi, modality, labels, X, covariate_names)
    return OverlapResult(pd.DataFrame(dist), pd.DataFrame(below), balance, float(threshold),
                         pi, labels)


def covariate_balance(pi: np.ndarray, modality: np.ndarray, labels: list[str],
                      X: np.ndarray | None, names: list[str] | None) -> pd.DataFrame:
    """Standardised mean differences per covariate and modality, raw and IPW-weighted."""
    cols = ["covariate", "modality", "smd_unweighted", "smd_weighted"]
    if X is None or X.shape[1] == 0:
        return pd.DataFrame(columns=cols)
    names = names or [f"x{c}" for c in range(X.shape[1])]
    w = 1.0 / np.clip(pi[np.arange(modality.size), modality], 1e-12, None)
    mean, sd = X.mean(axis=0), X.std(axis=0, ddof=1)
    sd = np.where(sd > 0, sd, np.nan)
    rows = []
    for k, m in enumerate(labels):
        mask = modality == k
        if not mask.any():
            continue
        raw = X[mask].mean(axis=0)
        wm = (w[mask, None] * X[mask]).sum(axis=0) / w[mask].sum()
        for c, name in enumerate(names):
            rows.append({"covariate": name, "modality": m,
                         "smd_unweighted": float((raw[c] - mean[c]) / sd[c]),
                         "smd_weighted": float((wm[c] - mean[c]) / sd[c])})
    return pd.DataFrame(rows, columns=cols)


def _row_modalities(row) -> list[str]:
    if row["estimand"] == "modality_contrast":
        return [p.strip() for p in str(row["contrast"]).split(" - ")]
    return [str(row["modality"])]


def flag_extrapolation(table: pd.DataFrame, result: OverlapResult, *,
                       max_share: float = 0.05) -> pd.DataFrame:
    """The estimate table with ``overlap_share_outside`` and ``extrapolation`` columns.

    On the adjusted rows (``adjusted_level``, ``adjusted_change``, ``modality_contrast``),
    ``overlap_share_outside`` is the share of persons whose propensity is below the
    threshold for a modality the row sets (either side of a contrast), and
    ``extrapolation`` is True when it exceeds ``max_share``: the row rests on the model's
    extrapolation for that many persons. Other rows get NaN and False. A table without an
    ``estimand`` column (the confounding grid) is treated as contrast rows.
    """
    out = table.copy()
    est = out["estimand"] if "estimand" in out else pd.Series("modality_contrast", out.index)
    share = np.full(len(out), np.nan)
    for pos, (idx, e) in enumerate(est.items()):
        if e not in ADJUSTED:
            continue
        row = {"estimand": e, "contrast": out.at[idx, "contrast"] if "contrast" in out else "",
               "modality": out.at[idx, "modality"] if "modality" in out else ""}
        mods = [m for m in _row_modalities(row) if m in result.labels]
        if mods:
            share[pos] = result.share_outside(mods)
    out["overlap_share_outside"] = share
    out["extrapolation"] = np.nan_to_num(share, nan=0.0) > max_share
    return out
