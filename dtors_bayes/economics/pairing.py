r"""How the draws of two separately fitted outcomes are paired (utility and offending).

QALYs come from an EQ-5D utility fit and crime costs from an offending fit. The two are
separate models, so their posteriors carry no correlation between them, although a person's
utility and offending are correlated (in the simulator through a shared severity; in DTORS,
presumably, through everything that makes a person improve). What the decision needs is the
joint uncertainty of the two *population* quantities, e.g. the treated population's QALY gain
:math:`\Delta Q` and offending months avoided :math:`\Delta O`, because the societal
incremental net benefit at willingness to pay :math:`\lambda` and unit cost :math:`k`,

.. math::

    \mathrm{INB} = \lambda\,\Delta Q + k\,\Delta O - \Delta C_{treat}, \qquad
    \mathrm{Var}(\mathrm{INB}) = \lambda^2 \mathrm{Var}(\Delta Q) + k^2 \mathrm{Var}(\Delta O)
        + 2 \lambda k\, \mathrm{Cov}(\Delta Q, \Delta O) + \dots,

has a covariance term that index pairing (draw ``s`` of one fit with draw ``s`` of the
other) sets to zero in expectation.

What that covariance should be. For means of ``n`` independent persons' pairs
:math:`(a_i, b_i)`, :math:`\mathrm{corr}(\bar a, \bar b) = \mathrm{corr}(a_i, b_i)`: the
sampling correlation of two population means is the person-level correlation, and by the
Bernstein-von Mises argument a joint model's posterior correlation of the two means would be
about the same. :func:`pairing_correlation` estimates it from the two fits' data: the
correlation, over the persons interviewed at every wave in both fits, of each person's
area under the change from intake of utility and of offending avoided (the same trapezoid as
the QALYs, at the waves' nominal months). It is a complete-case, unadjusted approximation
(covariates, weights and attrition ignored), meant to set the scale of a sensitivity
analysis, not to replace a joint model.

Rank coupling. :func:`couple_draws` reorders the second fit's draws *as whole draws* (every
option, wave, modality share and pattern-mixture delta of a draw move together, so each fit's
own joint posterior is untouched and every marginal summary is unchanged) so that their
ranks follow a Gaussian copula with correlation :math:`\rho` against the first fit's ranks
(the reordering of Iman & Conover 1982): with :math:`z^a_s = \Phi^{-1}((r^a_s + 1/2)/S)`
the normal scores of the first key's ranks and
:math:`z^b_s = \rho z^a_s + \sqrt{1 - \rho^2}\,\epsilon_s`, the draw of the second fit
whose key has rank :math:`\mathrm{rank}(z^b_s)` is placed at position ``s``.
:math:`\rho = 1` is the comonotone (largest concordant) coupling, :math:`\rho = -1` the
antitone one, :math:`\rho = 0` a random (independent) pairing. The keys are the treated
population's QALY gain and offending months avoided (:func:`pairing_keys`), so
:math:`\rho > 0` means "the draws where treatment did more for utility are those where it did
more for offending".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata, spearmanr

from dtors_bayes.exceptions import SpecError

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.economics.paths import Paths

INDEX = "index"


def couple_draws(key_a: np.ndarray, key_b: np.ndarray, rank_correlation: float,
                 seed: int | None = 0) -> np.ndarray:
    r"""Permutation of the second set of draws that gives the requested rank coupling.

    Parameters
    ----------
    key_a, key_b : ndarray (S,)
        One summary per draw of each fit (e.g. :func:`pairing_keys`).
    rank_correlation : float
        :math:`\rho \in [-1, 1]` of the Gaussian copula (module notes).
    seed : int, optional
        Seed of :math:`\epsilon`.

    Returns
    -------
    ndarray of int (S,)
        ``perm`` such that draw ``perm[s]`` of the second fit is paired with draw ``s`` of
        the first.
    """
    a, b = np.asarray(key_a, float), np.asarray(key_b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise SpecError(f"pairing keys must be two vectors of equal length; got {a.shape} "
                        f"and {b.shape}")
    rho = float(rank_correlation)
    if not -1.0 <= rho <= 1.0:
        raise SpecError(f"pairing: rank correlation must be in [-1, 1]; got {rho}")
    n = a.size
    za = ndtri((rankdata(a, method="ordinal") - 0.5) / n)
    eps = np.random.default_rng(seed).normal(size=n)
    zb = rho * za + np.sqrt(max(0.0, 1.0 - rho * rho)) * eps
    target_rank = rankdata(zb, method="ordinal").astype(int) - 1
    return np.argsort(b, kind="stable")[target_rank]


def _change_area(values: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Trapezoid area (years) of ``values - values[..., :1]`` over ``months``."""
    d = values - values[..., :1]
    return (np.diff(months) * (d[..., 1:] + d[..., :-1]) / 2).sum(axis=-1) / 12.0


def pairing_keys(utility: Paths, crime: Paths) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw keys of the coupling: the treated population's QALY gain over carried-on
    (area under the utility change from intake, years) and offending months avoided
    (``-12`` times the area under the offending-probability change), over the waves."""
    u = _change_area(utility.option("treated"), utility.months)
    c = -12.0 * _change_area(crime.option("treated"), crime.months)
    return u, c


def coupled(utility: Paths, crime: Paths, pairing: Any, seed: int | None
            ) -> tuple[Paths, str, float]:
    """The crime paths reordered by ``pairing``, a description, and the achieved Spearman
    correlation of the keys (:func:`pairing_keys`).

    ``pairing`` is ``"index"`` (draw s with draw s: the posteriors treated as independent)
    or a rank correlation in [-1, 1] (:func:`couple_draws`)."""
    ku, kc = pairing_keys(utility, crime)
    if isinstance(pairing, str):
        if pairing != INDEX:
            raise SpecError(f"pairing={pairing!r}; allowed: 'index' or a rank correlation in "
                            "[-1, 1] (e.g. pairing_correlation(...)['r'])")
        achieved = float(spearmanr(ku, kc).statistic) if np.ptp(ku) and np.ptp(kc) else 0.0
        return crime, ("utility and crime draws paired by index: the two fits' posteriors "
                       "treated as independent (within-person correlation of utility and "
                       f"offending not carried; key rank correlation {achieved:+.2f})"), achieved
    try:
        rho = float(pairing)
    except (TypeError, ValueError) as err:
        raise SpecError(f"pairing={pairing!r}; allowed: 'index' or a number in [-1, 1]"
                        ) from err
    perm = couple_draws(ku, kc, rho, seed)
    out = crime.take(perm)
    achieved = float(spearmanr(ku, kc[perm]).statistic) if np.ptp(ku) and np.ptp(kc) else 0.0
    return out, (f"utility and crime draws rank-coupled (Gaussian copula rho = {rho:+.2f}, "
                 f"achieved rank correlation {achieved:+.2f}) on the treated QALY gain and "
                 "offending months avoided"), achieved


def pairing_correlation(utility_fit, crime_fit, *, ci_prob: float = 0.9) -> dict[str, float]:
    r"""Person-level correlation of the utility gain and offending avoided (the scale of
    the coupling; module notes).

    For every person interviewed, with both outcomes recorded, at every wave of both fits,
    :math:`a_i` is the trapezoid area (years) under :math:`y^{u}_i(t) - y^{u}_i(0)` and
    :math:`b_i` minus 12 times that under :math:`y^{c}_i(t) - y^{c}_i(0)`, at the waves'
    nominal months; ``r`` is their Pearson correlation, with a Fisher-z interval
    :math:`\tanh(\operatorname{atanh} r \pm z_{(1+p)/2} / \sqrt{n - 3})`.

    Parameters
    ----------
    utility_fit, crime_fit : Fit
        The two fits (their designs: persons, waves, outcomes and interviews).
    ci_prob : float
        Probability of the interval.

    Returns
    -------
    dict
        ``r``, ``ci_lb``, ``ci_ub``, ``n_persons``.

    Raises
    ------
    SpecError
        When the fits share no waves or fewer than 4 complete persons.
    """
    from scipy.stats import norm

    du, dc = utility_fit.design, crime_fit.design
    waves = [w for w in du.waves if w in dc.waves]
    if len(waves) < 2 or waves[0] != du.waves[0]:
        raise SpecError("pairing_correlation: the fits need the intake and at least one "
                        "follow-up wave in common")
    months = np.array([du.schedule[w] for w in waves], float)
    ids = np.intersect1d(du.person_ids, dc.person_ids)
    iu = np.searchsorted(du.person_ids, ids) if np.all(np.diff(du.person_ids) > 0) else \
        np.array([int(np.flatnonzero(du.person_ids == i)[0]) for i in ids])
    ic = np.searchsorted(dc.person_ids, ids) if np.all(np.diff(dc.person_ids) > 0) else \
        np.array([int(np.flatnonzero(dc.person_ids == i)[0]) for i in ids])
    cu = [list(du.waves).index(w) for w in waves]
    cc = [list(dc.waves).index(w) for w in waves]
    yu, yc = du.y[iu][:, cu], dc.y[ic][:, cc]
    ok = np.isfinite(yu).all(axis=1) & np.isfinite(yc).all(axis=1)
    n = int(ok.sum())
    if n < 4:
        raise SpecError(f"pairing_correlation: {n} persons have both outcomes at every wave; "
                        "need at least 4")
    a = _change_area(yu[ok], months)
    b = -12.0 * _change_area(yc[ok], months)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"r": 0.0, "ci_lb": np.nan, "ci_ub": np.nan, "n_persons": n}
    r = float(np.corrcoef(a, b)[0, 1])
    if abs(r) > 1 - 1e-12:   # a perfect correlation: its Fisher-z interval is the point
        return {"r": r, "ci_lb": r, "ci_ub": r, "n_persons": n}
    half = norm.ppf((1 + ci_prob) / 2) / np.sqrt(max(n - 3, 1))
    z = np.arctanh(r)
    return {"r": r, "ci_lb": float(np.tanh(z - half)), "ci_ub": float(np.tanh(z + half)),
            "n_persons": n}


__all__ = ["INDEX", "couple_draws", "coupled", "pairing_correlation", "pairing_keys"]
