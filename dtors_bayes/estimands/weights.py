"""Who is averaged, with which weights: the person weights of every estimand.

``WeightSpec`` carries none, one fixed weight per person, or one weight draw per posterior
draw; :func:`person_weights` checks what a user passed and builds it. The estimand engine
(:mod:`dtors_bayes.estimands.engine`) only reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError


@dataclass
class WeightSpec:
    """Weights for averaging persons: (n_person,) fixed or (n_sample, n_person) draws."""

    values: np.ndarray | None
    weighting: str
    population: str

    def chunk(self, s0: int, s1: int) -> np.ndarray | None:
        """Weights for draws s0..s1 (broadcastable to (S, N)); None means equal weights."""
        if self.values is None:
            return None
        if self.values.ndim == 1:
            return self.values[None, :]
        return self.values[s0:s1]


def person_weights(fit, weighting: str, weights: Any) -> WeightSpec:
    """The checked person weights of ``weighting`` for a fit (``weights`` as the user gave them).

    ``"none"``: equal weights; ``"fixed"``: one weight per modelled person (a Series aligned
    by ``person_id`` or an array in the fit's order); ``"propagated"``: a (draws, persons)
    array, or the fit's own ``weights`` group. Raises :class:`FitError` naming what was found.
    """
    allowed = ("none", "fixed", "propagated", "mrp")
    if weighting not in allowed:
        raise FitError(f"weighting={weighting!r}; allowed: {', '.join(allowed)}")
    ids = fit.design.person_ids
    if weighting == "none":
        if weights is not None:
            raise FitError("weights were given with weighting='none'; use weighting='fixed'")
        return WeightSpec(None, "none", "sample")
    if weighting == "propagated":
        if weights is None and "weights" in fit.tree.children:
            weights = fit.tree["weights"].to_dataset()["weight"].values
        if weights is None:
            raise FitError("weighting='propagated' needs weight draws: pass weights= as a "
                           "(draws, persons) array or fit with weight draws")
        w = np.asarray(weights, dtype=float)
        if w.ndim != 2 or w.shape[1] != len(ids):
            raise FitError(f"propagated weights must be (draws, {len(ids)} persons); "
                           f"got shape {w.shape}")
        check_positive(w)
        return WeightSpec(w, "propagated", "target")
    if weights is None:
        raise FitError("weighting='fixed' needs weights=: one weight per person "
                       "(a Series indexed by person_id, or an array in the fit's order)")
    if isinstance(weights, pd.Series):
        aligned = weights.reindex(pd.Index(ids))
        if aligned.isna().any():
            miss = aligned.index[aligned.isna()][:5].tolist()
            raise FitError(f"weights: {int(aligned.isna().sum())} person(s) of the fit have "
                           f"no weight; first ids: {miss}")
        w = aligned.to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(ids),):
            raise FitError(f"weights: expected {len(ids)} values (one per modelled person); "
                           f"got shape {w.shape}")
    check_positive(w)
    return WeightSpec(w, "fixed", "weighted")

# ------------------------------------------------------------------ attrition


def check_positive(w: np.ndarray) -> None:
    """Weights must be finite, non-negative and not all zero (per draw)."""
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w.sum(axis=-1) <= 0):
        raise FitError("weights must be finite, non-negative and not all zero; "
                       f"found min {np.nanmin(w):.3g}, {int((~np.isfinite(w)).sum())} non-finite")
