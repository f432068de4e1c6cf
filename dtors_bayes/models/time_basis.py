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

*Late interviews under the wave basis.* A follow-up interview flagged late (after its wave's
on-time window; DTORS's single follow-ups at 6-12 months, recorded as wave 1) does not sit at
its wave's level: its row interpolates linearly in months between the wave's level and the
next wave's, ``B(m) = (1 - lam) e_t + lam e_{t+1}`` with
``lam = clip((m - k_t) / (k_{t+1} - k_t), 0, 1)`` and ``k`` the nominal months, so the wave's
level stays the level at its nominal months. The months and linear bases use months as they
are and need no flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    nominal : tuple of float
        Nominal months of each of ``waves`` (late interviews under the wave basis are placed
        between them); empty: late rows are treated as on time.
    intake : int, optional
        Wave label of intake (the reference of the random-change regressor). Under
        ``baseline="covariate"`` intake is not among ``waves``; defaults to ``waves[0]``.
    """

    kind: str
    waves: tuple[int, ...]
    span: float = 1.0
    knots: tuple[float, ...] = field(default_factory=tuple)
    nominal: tuple[float, ...] = field(default_factory=tuple)
    intake: int | None = None

    @classmethod
    def build(
        cls,
        kind: str,
        waves: list[int] | tuple[int, ...],
        schedule: dict[int, float],
        knots: tuple[float, ...] | list[float] | None = None,
    ) -> TimeBasis:
        """Make the basis for a cohort's waves and schedule.

        ``schedule`` maps every wave label of the cohort (intake included, also when intake
        is not a modelled wave) to its nominal months.
        """
        waves = tuple(int(w) for w in waves)
        intake = int(min(schedule, key=lambda w: (schedule[w], w)))
        nominal = tuple(float(schedule[w]) for w in waves)
        span = float(max(schedule[w] for w in waves)) or 1.0
        start = float(schedule[waves[0]])
        if kind == "months":
            inner = [float(schedule[w]) for w in waves[1:-1]] if knots is None else \
                [float(k) for k in knots]
            inner = sorted(k for k in set(inner) if start < k < span)
            return cls("months", waves, span, (start, *inner, span), nominal, intake)
        if kind == "linear":
            return cls("linear", waves, span, (start, span), nominal, intake)
        return cls("wave", waves, 1.0, (), nominal, intake)

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

    def matrix(self, wave_index: np.ndarray, months: np.ndarray,
               late: np.ndarray | None = None) -> np.ndarray:
        """Basis rows for interviews at ``wave_index`` (positions in ``waves``) and ``months``.

        ``late`` flags late interviews (wave basis only; see the module docstring).
        """
        wave_index = np.asarray(wave_index, dtype=int)
        months = np.asarray(months, dtype=float)
        if self.kind == "wave":
            rows = np.arange(wave_index.size)
            out = np.zeros((wave_index.size, len(self.waves)))
            lam = self._late_lambda(wave_index, months, late)
            out[rows, wave_index] = 1.0 - lam
            nxt = np.minimum(wave_index + 1, len(self.waves) - 1)
            out[rows, nxt] += lam
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

    def _late_lambda(self, wave_index: np.ndarray, months: np.ndarray,
                     late: np.ndarray | None) -> np.ndarray:
        """Interpolation weight towards the next wave of late rows (0 for on-time rows)."""
        lam = np.zeros(wave_index.size)
        if late is None or not self.nominal:
            return lam
        late = np.asarray(late, dtype=bool) & (wave_index < len(self.waves) - 1)
        if late.any():
            k = np.asarray(self.nominal)
            w = wave_index[late]
            lam[late] = np.clip((months[late] - k[w]) / (k[w + 1] - k[w]), 0.0, 1.0)
        return lam

    def change_indicator(self, wave_index: np.ndarray, months: np.ndarray) -> np.ndarray:
        """Regressor of a random change term: 1[follow-up] for waves, months/span otherwise.

        Follow-up means "not intake" by wave *label*: under ``baseline="covariate"`` the
        first modelled wave is already a follow-up and gets 1.
        """
        if self.kind == "wave":
            intake = self.waves[0] if self.intake is None else self.intake
            labels = np.asarray(self.waves)[np.asarray(wave_index, dtype=int)]
            return (labels != intake).astype(float)
        return np.asarray(months, dtype=float) / self.span
