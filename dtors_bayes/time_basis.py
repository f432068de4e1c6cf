"""Time trajectories f_z(t) of the change model, as basis matrices.

A trajectory is ``f_z(t) = sum_b B_b(t) * theta_{z,b}``: one row of the basis matrix ``B`` per
interview. Three bases:

``wave``
    one indicator per wave (cell means by modality and wave);
``linear``
    a straight line in months, parameterised by its values at intake (month ``k_0``) and at
    the last scheduled month ``k_J``: ``f(m) = theta_0 (1 - m/span) + theta_J m/span``;
``months``
    piecewise-linear in months through the knots ``k_0 < k_1 < ... < k_J`` (default: the
    nominal months of every wave), parameterised by its *values at the knots* (hat-function
    basis), so irregular interview times are used as they are. Beyond the last knot the last
    segment is extended.

Parameterising lines by their values at the knots (rather than intercept and slopes) keeps
the priors on the same scale as the wave model's (a level per knot), so a steep early fall
(DTORS: crime 40% -> 21% in four months) is not shrunk by a prior on "slope per study".

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
        Knots of ``linear`` (first and last month) and ``months`` (all); empty for waves.
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
        start = float(schedule[waves[0]])
        if kind == "months":
            inner = [float(schedule[w]) for w in waves[1:-1]] if knots is None else \
                [float(k) for k in knots]
            inner = sorted(k for k in set(inner) if start < k < span)
            return cls("months", waves, span, (start, *inner, span))
        if kind == "linear":
            return cls("linear", waves, span, (start, span))
        return cls("wave", waves, 1.0, ())

    @property
    def names(self) -> list[str]:
        """Coordinate labels of the ``time_basis`` dimension."""
        if self.kind == "wave":
            return [f"wave_{w}" for w in self.waves]
        return [f"month_{k:g}" for k in self.knots]

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
        k = np.asarray(self.knots)
        # segment of each month: the last segment also takes months beyond the last knot
        seg = np.clip(np.searchsorted(k, months, side="right") - 1, 0, k.size - 2)
        lam = (months - k[seg]) / (k[seg + 1] - k[seg])
        out = np.zeros((months.size, k.size))
        rows = np.arange(months.size)
        out[rows, seg] = 1.0 - lam
        out[rows, seg + 1] = lam
        return out

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
