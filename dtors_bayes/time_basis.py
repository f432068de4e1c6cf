"""Time trajectories f_z(t) of the change model, as basis matrices.

A trajectory is ``f_z(t) = sum_b B_b(t) * theta_{z,b}``: one row of the basis matrix ``B`` per
interview. Three bases:

``wave``
    one indicator per wave (cell means by modality and wave);
``linear``
    ``[1, m / span]``: an intercept and one slope in months, scaled by the study span (the
    last scheduled month) so the slope prior reads as "change over the whole study";
``months``
    ``[1, m / span, max(m - k_1, 0) / span, ...]``: piecewise-linear in months with hinges at
    the knots ``k_j`` (default: the nominal months of every follow-up wave but the last), so
    irregular interview times are used as they are.

The same basis rows serve the PyMC model (observed interviews) and the estimands (the
nominal months of each wave), which is what keeps the two consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

TimeKind = Literal["wave", "linear", "months"]
TIME_KINDS: tuple[str, ...] = ("wave", "linear", "months")


@dataclass(frozen=True)
class TimeBasis:
    """A time basis.

    Parameters
    ----------
    kind : {"wave", "linear", "months"}
        Trajectory form (see module docstring).
    waves : tuple of int
        Wave labels of the cohort, intake first.
    span : float
        Months used to scale slopes (the last nominal month). Defaults to 1 for ``wave``.
    knots : tuple of float
        Hinge positions for ``months``; empty otherwise.
    """

    kind: str
    waves: tuple[int, ...]
    span: float = 1.0
    knots: tuple[float, ...] = field(default_factory=tuple)

    @classmethod
    def build(
        cls,
        kind: str,
        waves: list[int] | tuple[int, ...],
        schedule: dict[int, float],
        knots: tuple[float, ...] | list[float] | None = None,
    ) -> TimeBasis:
        """Make the basis for a cohort's waves and schedule."""
        waves = tuple(int(w) for w in waves)
        span = float(max(schedule[w] for w in waves)) or 1.0
        if kind == "months":
            if knots is None:
                knots = tuple(float(schedule[w]) for w in waves[1:-1])
            return cls("months", waves, span, tuple(float(k) for k in knots))
        if kind == "linear":
            return cls("linear", waves, span, ())
        return cls("wave", waves, 1.0, ())

    @property
    def names(self) -> list[str]:
        """Coordinate labels of the ``time_basis`` dimension."""
        if self.kind == "wave":
            return [f"wave_{w}" for w in self.waves]
        out = ["intercept", "slope"]
        out += [f"hinge_{k:g}" for k in self.knots]
        return out

    @property
    def n(self) -> int:
        """Number of basis functions."""
        return len(self.names)

    def matrix(self, wave_index: np.ndarray, months: np.ndarray) -> np.ndarray:
        """Basis rows for interviews at ``wave_index`` (positions in ``waves``) and ``months``."""
        wave_index = np.asarray(wave_index, dtype=int)
        months = np.asarray(months, dtype=float)
        if self.kind == "wave":
            out = np.zeros((wave_index.size, len(self.waves)))
            out[np.arange(wave_index.size), wave_index] = 1.0
            return out
        cols = [np.ones_like(months), months / self.span]
        cols += [np.maximum(months - k, 0.0) / self.span for k in self.knots]
        return np.column_stack(cols)

    def change_indicator(self, wave_index: np.ndarray, months: np.ndarray) -> np.ndarray:
        """Regressor of a random change term: 1[follow-up] for waves, months/span otherwise."""
        if self.kind == "wave":
            return (np.asarray(wave_index) > 0).astype(float)
        return np.asarray(months, dtype=float) / self.span

    def to_dict(self) -> dict:
        """JSON-able description (saved in the fit's attributes)."""
        return {
            "kind": self.kind,
            "waves": list(self.waves),
            "span": self.span,
            "knots": list(self.knots),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TimeBasis:
        """Inverse of :meth:`to_dict`."""
        return cls(d["kind"], tuple(d["waves"]), float(d["span"]), tuple(d["knots"]))
