r"""Raking (iterative proportional fitting) of person weights to population margins.

Given persons ``i = 1..n`` with starting weights ``d_i > 0`` and categorical variables
``v = 1..V`` with population margins ``T_{v,c}`` (the population count of category ``c`` of
variable ``v``; every variable's margins sum to the same total ``N``), raking finds weights
``w_i = d_i \prod_v g_{v, c_v(i)}`` such that

.. math::

    \sum_{i: c_v(i) = c} w_i = T_{v,c} \quad \text{for every } v, c,

by cycling over the variables and scaling ``w_i <- w_i T_{v,c} / \hat T_{v,c}`` (Deming and
Stephan 1940). It converges when the margins are attainable (every margin category present
in the sample with a positive target); we stop when the largest relative margin error
``max_{v,c} |\hat T_{v,c} - T_{v,c}| / T_{v,c}`` is below ``tol`` (default 1e-8), else raise
(or warn) with the error achieved. This is the raking estimator of R ``survey::rake`` and
samplics' ``SampleWeight.rake``; it is ~30 lines of numpy, so we do not depend on either.

*Trimming*: with ``trim`` given, weights above ``cap = trim x median(w)`` are capped at the
cap and the result re-raked; the two steps alternate until no weight exceeds the cap by more
than 1%, until a round no longer lowers the largest weight (the cap and the margins are then
incompatible), or until ``max_trim_rounds``. Re-raking may push a capped weight back above
the cap, so the final weights meet the margins exactly and the cap approximately. When the
largest final weight is still above ``1.05 x cap`` the trimming is *not attained*: a
``UserWarning`` names ``trim``, the largest weight over the median achieved and what to do,
and the result records it (``trim_attained=False``, ``trim_message``). The number of persons
capped at least once is reported.

*Trimming per copy* (``multiplier=``, the Bayesian bootstrap). In a bootstrap draw person
``i`` stands for ``m_i`` copies of itself (``m`` the bootstrap multiplier, the analogue of the
number of times it is resampled), and the raked weight ``w_i`` is the total weight of those
copies: each copy carries the design weight ``a_i = w_i / m_i``. The estimator's trimming
rule applies to each copy's design weight, never to the total weight of all copies, so with a
multiplier the cap is on ``a``:

.. math::

    \tilde a = \text{median}_m(a), \qquad w_i \leftarrow m_i \min(a_i,\ \text{trim}\,\tilde a),

then re-rake, with ``median_m`` the ``m``-weighted median (the median over the copies; the
mean of the lower and upper weighted medians, so equal multipliers give ``numpy.median``).
Capping the product ``m_i a_i`` instead would cap about 3% of persons in every draw at
``trim = 5`` through the Exp(1) multipliers alone (``P(E > 5 ln 2) = 0.031``) and truncate
the bootstrap's variation. Without a multiplier (``m = 1``) the two rules coincide.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dtors_bayes.constants import POPULATION_VARIABLES
from dtors_bayes.exceptions import CohortError

__all__ = [
    "Raking",
    "RakingProblem",
    "margins_from_population",
    "rake",
    "raking_problem",
    "raking_variables",
    "weighted_median",
]

#: Trimming counts as attained when the largest (per-copy) weight is at most this factor
#: times the cap; above it :func:`rake` warns and records ``trim_attained=False``.
TRIM_SLACK = 1.05


@dataclass
class Raking:
    """Result of :func:`rake`.

    Attributes
    ----------
    weights : ndarray (n,)
        Calibrated weights; they sum to the population total.
    iterations : int
        Raking sweeps in the last raking run.
    max_error : float
        Largest relative margin error achieved.
    converged : bool
        ``max_error < tol``.
    n_trimmed : int
        Persons whose weight was capped at least once (0 without trimming).
    cap : float or None
        The trimming cap (``trim x median``) of the last round; with a ``multiplier`` it caps
        the per-copy weight ``weights / multiplier``.
    trim_attained : bool
        ``False`` when, after trimming, the largest (per-copy) weight is still above
        ``1.05 x cap`` (the margins and the cap are incompatible); ``True`` otherwise or
        without trimming.
    max_over_median : float or None
        Largest (per-copy) weight over its (``multiplier``-weighted) median, achieved; ``None``
        without trimming.
    trim_message : str or None
        The warning text when ``trim_attained`` is ``False``.
    """

    weights: np.ndarray
    iterations: int
    max_error: float
    converged: bool
    n_trimmed: int = 0
    cap: float | None = None
    trim_attained: bool = True
    max_over_median: float | None = None
    trim_message: str | None = None


@dataclass
class RakingProblem:
    """Integer codes of the raking variables and their target margins.

    ``codes[k]`` are the persons' category codes of ``variables[k]`` and ``targets[k]`` the
    population count of each code (same order as ``labels[k]``).
    """

    variables: list[str]
    labels: list[list[str]]
    codes: list[np.ndarray]
    targets: list[np.ndarray]
    total: float
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of persons."""
        return len(self.codes[0]) if self.codes else 0


def raking_variables(persons: pd.DataFrame, population: pd.DataFrame,
                     variables: Sequence[str] | None = None) -> list[str]:
    """Raking variables: those of ``variables`` (default: the five population variables,
    ``age_group, sex, primary_drug, referral_route, modality``) present in both tables."""
    cand = list(variables) if variables is not None else list(POPULATION_VARIABLES)
    return [v for v in cand if v in persons.columns and v in population.columns]


def margins_from_population(population: pd.DataFrame,
                            variables: Sequence[str]) -> dict[str, pd.Series]:
    """Population margins ``{variable: Series(category -> count)}`` from a cell table.

    Raises
    ------
    CohortError
        If ``count`` is absent, negative or not finite, or a variable is not a column.
    """
    if population is None:
        raise CohortError("weighting needs a population table (cells with a 'count'); the "
                          "cohort has none: pass population= to Cohort.from_frames")
    if "count" not in population.columns:
        raise CohortError("population: no 'count' column; allowed: cells with a count")
    counts = pd.to_numeric(population["count"], errors="coerce")
    if counts.isna().any() or not np.isfinite(counts).all() or (counts < 0).any():
        raise CohortError("population: 'count' must be finite and non-negative in every cell")
    out = {}
    for v in variables:
        if v not in population.columns:
            raise CohortError(f"population: no column '{v}' to rake to; columns: "
                              f"{', '.join(map(str, population.columns))}")
        m = counts.groupby(population[v].astype(str)).sum()
        out[v] = m[m > 0].sort_index()
    return out


def raking_problem(persons: pd.DataFrame, margins: Mapping[str, Mapping[str, float] | pd.Series],
                   *, rtol_total: float = 1e-6) -> RakingProblem:
    """Check the sample against the margins and encode it.

    Raises
    ------
    CohortError
        Naming the variable and category when a person's category has no population count,
        a margin category has no person in the sample (raking cannot reach it), a person's
        value is missing, or the margins of two variables sum to different totals.
    """
    problems: list[str] = []
    variables = list(margins)
    if not variables:
        raise CohortError("raking: no variables in common between the persons and the "
                          "population table")
    totals = {v: float(pd.Series(margins[v], dtype=float).sum()) for v in variables}
    ref_v = variables[0]
    for v in variables[1:]:
        if abs(totals[v] - totals[ref_v]) > rtol_total * max(abs(totals[ref_v]), 1.0):
            problems.append(f"margins of '{v}' sum to {totals[v]:.10g} but those of '{ref_v}' "
                            f"to {totals[ref_v]:.10g}; allowed: every variable's margins sum "
                            "to the same population total")
    codes, targets, labels = [], [], []
    for v in variables:
        if v not in persons.columns:
            problems.append(f"raking variable '{v}' is not a person column")
            continue
        target = pd.Series(margins[v], dtype=float)
        target.index = target.index.astype(str)
        bad = target[(target <= 0) | ~np.isfinite(target)]
        if len(bad):
            problems.append(f"margin of '{v}': categor(y/ies) {list(bad.index)} have a "
                            "non-positive or non-finite count; allowed: positive counts")
        s = persons[v]
        if s.isna().any():
            problems.append(f"'{v}': {int(s.isna().sum())} person(s) have no value; raking "
                            "needs a value for every person")
            continue
        s = s.astype(str)
        seen = set(s.unique())
        absent = [c for c in target.index if c not in seen and target[c] > 0]
        for c in absent:
            problems.append(f"'{v}' = '{c}' has population count {target[c]:.10g} but no "
                            "person in the sample: the margin cannot be reached; collapse "
                            f"'{c}' with a neighbouring category of '{v}' in both tables")
        extra = sorted(c for c in seen if c not in target.index or not target[c] > 0)
        for c in extra:
            problems.append(f"'{v}' = '{c}': {int((s == c).sum())} sample person(s) but no "
                            "population count; allowed: categories with a positive count "
                            f"({', '.join(map(str, target.index))})")
        lab = list(target.index)
        lookup = {c: k for k, c in enumerate(lab)}
        codes.append(np.array([lookup.get(c, -1) for c in s], dtype=np.int64))
        targets.append(target.to_numpy(float))
        labels.append(lab)
    if problems:
        raise CohortError(problems)
    return RakingProblem(variables, labels, codes, targets, totals[ref_v])


def weighted_median(x: np.ndarray, w: np.ndarray | None = None, axis: int = -1) -> np.ndarray:
    r"""Weighted median along ``axis``: the mean of the lower and upper weighted medians.

    With weights ``w_k >= 0`` and ``x`` sorted, the lower median is the smallest ``x_k`` with
    ``sum_{j <= k} w_j >= W / 2`` and the upper the smallest with ``sum_{j <= k} w_j > W / 2``
    (``W = sum_k w_k``); entries of weight 0 never count. Equal weights give
    :func:`numpy.median` (even counts: the mean of the two middle values).

    Parameters
    ----------
    x : ndarray
    w : ndarray, optional
        Non-negative weights of ``x``'s shape (default equal: :func:`numpy.median`).
    axis : int

    Returns
    -------
    ndarray
        ``x`` reduced over ``axis`` (a float for 1-d input).
    """
    x = np.asarray(x, dtype=float)
    if w is None:
        return np.median(x, axis=axis)
    w = np.broadcast_to(np.asarray(w, dtype=float), x.shape)
    x = np.moveaxis(x, axis, -1)
    w = np.moveaxis(w, axis, -1)
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cw = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1)
    half = cw[..., -1:] / 2
    last = x.shape[-1] - 1
    lo = np.minimum((cw < half).sum(axis=-1, keepdims=True), last)
    hi = np.minimum((cw <= half).sum(axis=-1, keepdims=True), last)
    med = 0.5 * (np.take_along_axis(xs, lo, -1) + np.take_along_axis(xs, hi, -1))
    med = med[..., 0]
    return float(med) if med.ndim == 0 else med


def _margin_error(w: np.ndarray, prob: RakingProblem) -> float:
    err = 0.0
    for c, t in zip(prob.codes, prob.targets, strict=True):
        got = np.bincount(c, weights=w, minlength=len(t))
        err = max(err, float(np.max(np.abs(got - t) / t)))
    return err


def _ipf(w: np.ndarray, prob: RakingProblem, tol: float, max_iter: int) -> tuple[np.ndarray,
                                                                                  int, float]:
    w = np.array(w, dtype=float, copy=True)
    err = np.inf
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        for c, t in zip(prob.codes, prob.targets, strict=True):
            got = np.bincount(c, weights=w, minlength=len(t))
            w *= (t / got)[c]
        err = _margin_error(w, prob)
        if err < tol:
            break
    return w, it, err


def rake(prob: RakingProblem, base: np.ndarray | None = None, *,
         multiplier: np.ndarray | None = None, tol: float = 1e-8, max_iter: int = 1000,
         trim: float | None = None, max_trim_rounds: int = 50, on_fail: str = "raise",
         on_trim_fail: str = "warn") -> Raking:
    r"""Rake starting weights to the margins of ``prob``, optionally trimming.

    Raking scales ``w_i = d_i \prod_v g_{v, c_v(i)}`` until ``sum_{i: c_v(i) = c} w_i =
    T_{v,c}`` for every variable ``v`` and category ``c`` (module notes). With ``trim``, the
    cap ``trim x median`` applies to the per-copy weight ``a_i = w_i / m_i`` (``m`` the
    ``multiplier``, default 1): ``w_i <- m_i min(a_i, trim median_m(a))``, then re-rake, until
    ``max_i a_i <= 1.01 cap``, no progress, or ``max_trim_rounds``.

    Parameters
    ----------
    prob : RakingProblem
        From :func:`raking_problem`.
    base : ndarray (n,), optional
        Positive starting weights ``d_i`` (design weights times any bootstrap multiplier);
        default ``multiplier`` when given, else all equal (only the shape matters: they are
        rescaled to the population total ``N`` first).
    multiplier : ndarray (n,), optional
        Bayesian-bootstrap multiplier ``m_i > 0`` of each person (the analogue of the
        number of copies resampled). Trimming then caps each copy's weight ``w_i / m_i`` at
        ``trim x`` its ``m``-weighted median, never the copies' total ``w_i`` (module notes).
    tol : float
        Convergence: largest relative margin error below ``tol``.
    max_iter : int
        Maximum raking sweeps (one sweep scales every variable once).
    trim : float, optional
        Cap weights at ``trim x median`` and re-rake (see the module notes).
    max_trim_rounds : int
        Rounds of cap-and-rake.
    on_fail : {"raise", "warn"}
        What to do when the margins are not met within ``max_iter`` sweeps.
    on_trim_fail : {"warn", "ignore"}
        What to do when trimming is not attained (largest per-copy weight above
        ``1.05 x cap`` after the last round): warn, or only record it in the result
        (``trim_attained``, ``trim_message``; callers that rake many draws aggregate it).

    Returns
    -------
    Raking

    Raises
    ------
    ValueError
        If the margins are not reached (with the error achieved) and ``on_fail="raise"``,
        or the starting weights or multipliers are not positive and finite.
    """
    n = prob.n
    if multiplier is not None:
        multiplier = np.asarray(multiplier, dtype=float)
        if multiplier.shape != (n,) or not np.all(np.isfinite(multiplier)) \
                or np.any(multiplier <= 0):
            raise ValueError(f"rake: the multiplier must be {n} positive finite numbers")
    if base is None:
        base = multiplier if multiplier is not None else np.full(n, prob.total / max(n, 1))
    base = np.asarray(base, dtype=float)
    if base.shape != (n,) or not np.all(np.isfinite(base)) or np.any(base <= 0):
        raise ValueError(f"rake: starting weights must be {n} positive finite numbers")
    if trim is not None and not trim > 1:
        raise ValueError(f"trim={trim!r}; allowed: a number > 1 (cap = trim x median) or None")
    if on_fail not in ("raise", "warn"):
        raise ValueError(f"on_fail={on_fail!r}; allowed: 'raise', 'warn'")
    if on_trim_fail not in ("warn", "ignore"):
        raise ValueError(f"on_trim_fail={on_trim_fail!r}; allowed: 'warn', 'ignore'")
    w, it, err = _ipf(base * (prob.total / base.sum()), prob, tol, max_iter)
    trimmed = np.zeros(n, dtype=bool)
    cap = None
    attained, ratio, message = True, None, None
    if trim is not None:
        m = np.ones(n) if multiplier is None else multiplier
        previous = np.inf
        rounds = 0
        while True:
            a = w / m
            median = weighted_median(a, None if multiplier is None else m)
            cap = float(trim * median)
            worst = float(a.max() / cap)
            if worst <= 1.01 or rounds >= max_trim_rounds or worst >= previous * (1 - 1e-6):
                break
            previous = worst
            trimmed |= a > cap * 1.01
            w, it, err = _ipf(m * np.minimum(a, cap), prob, tol, max_iter)
            rounds += 1
        ratio = worst * trim
        if worst > TRIM_SLACK:
            attained = False
            message = (f"trimming at trim={trim:g} x median not attained: after {rounds} "
                       f"round(s) of cap-and-rake the largest weight is {ratio:.3g} x the "
                       f"median ({worst:.3g} x the cap); the margins need larger weights "
                       "than the cap allows (a sparse category). The weights meet the "
                       "margins, not the cap: raise trim, collapse the sparse categories "
                       "of the raking variables, or pass trim=None")
            if on_trim_fail == "warn":
                warnings.warn(message, UserWarning, stacklevel=2)
    converged = err < tol
    if not converged:
        msg = (f"raking did not converge: largest relative margin error {err:.3g} after "
               f"{it} sweeps (tol {tol:g}); the margins may be incompatible with the sample "
               "(sparse categories, or trimming too tight)")
        if on_fail == "raise":
            raise ValueError(msg)
        warnings.warn(msg, UserWarning, stacklevel=2)
    return Raking(w, it, err, bool(converged), int(trimmed.sum()), cap, attained, ratio,
                  message)
