r"""EVPPI by nonparametric regression of net benefit on chosen inputs.

Strong, Oakley & Brennan (2014, *Med Decis Making* 34:311-326). For a subset of inputs
:math:`\phi` (model parameters, or sensitivity parameters such as the MNAR delta, the
counterfactual's spontaneous improvement or a unit crime cost) drawn jointly with the net
benefits, the conditional expectation :math:`g_d(\phi) = E[NB_d \mid \phi]` is estimated by
regressing the draws :math:`NB_{sd}` on :math:`\phi_s`, and

.. math::

    \mathrm{EVPPI}(\phi) = \frac1S \sum_s \max_d \hat g_d(\phi_s)
                           - \max_d \frac1S\sum_s \hat g_d(\phi_s).

As in Strong et al. (and BCEA's and dampack's ``evppi``), the regression is done on the
incremental net benefit against the first option, :math:`INB_d = NB_d - NB_1` (which leaves the
EVPPI unchanged, since :math:`E[NB_1 \mid \phi]` is common to every option, and saves one fit).

The smoother is a penalised regression spline (a P-spline, Eilers & Marx 1996: cubic
B-splines on equally spaced knots over each input's range with a second-order difference
penalty), the GAM of Strong et al. with the smoothing parameter chosen by generalised
cross-validation (GCV, as ``mgcv::gam`` does by default for Gaussian responses). One input:
12 basis functions; two or three: the tensor product of 8 or 5 per input (``te()`` in mgcv,
one smoothing parameter); more: an additive model with 8 per input. Basis sizes are capped
so that there are at least 10 draws per coefficient (dampack issue #111: a metamodel with as
many coefficients as draws interpolates the noise and inflates the EVPPI). The B-splines come
from :class:`scipy.interpolate.BSpline` and the fit is numpy least squares, so no GAM
dependency is needed.

EVPPI estimated this way is biased upwards by the noise the smoother leaves in
:math:`\hat g` (small when ``edf`` is small against ``S``) and is reported with the fit's
``r2`` and effective degrees of freedom per option. Negative estimates (possible when the
true EVPPI is 0) are kept, not clipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.economics.decision import paired_draws
from dtors_bayes.exceptions import SpecError

#: Marginal B-spline basis size by the number of inputs (tensor product up to 3).
MARGINAL_SIZE = {1: 12, 2: 8, 3: 5}
ADDITIVE_SIZE = 8
LAMBDAS = 10.0 ** np.arange(-6.0, 8.01, 0.5)


def bspline_basis(x: np.ndarray, n_basis: int, degree: int = 3) -> np.ndarray:
    """Cubic B-spline basis (``len(x)`` x ``n_basis``) on equally spaced knots over x's range."""
    from scipy.interpolate import BSpline

    x = np.asarray(x, dtype=float)
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        raise SpecError("evppi: an input is constant over the draws; it carries no "
                        "information (drop it)")
    n_inner = n_basis - degree + 1
    step = (hi - lo) / (n_inner - 1)
    ext = step * np.arange(1, degree + 1)
    knots = np.concatenate([lo - ext[::-1], np.linspace(lo, hi, n_inner), hi + ext])
    b = BSpline.design_matrix(np.clip(x, lo, hi), knots, degree, extrapolate=False)
    return np.asarray(b.todense())


def _difference_penalty(m: int, order: int = 2) -> np.ndarray:
    d = np.diff(np.eye(m), n=order, axis=0)
    return d.T @ d


def design(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Basis matrix, penalty and a label for inputs ``phi`` (S x p)."""
    n, p = phi.shape
    if p <= 3:
        m = MARGINAL_SIZE[p]
        while m > 4 and m**p > n / 10:
            m -= 1
        bases = [bspline_basis(phi[:, j], m) for j in range(p)]
        b = bases[0]
        for bj in bases[1:]:
            b = (b[:, :, None] * bj[:, None, :]).reshape(n, -1)
        pen = np.zeros((m**p, m**p))
        for j in range(p):
            mats = [_difference_penalty(m) if i == j else np.eye(m) for i in range(p)]
            kron = mats[0]
            for mm in mats[1:]:
                kron = np.kron(kron, mm)
            pen += kron
        return b, pen, f"tensor P-spline {'x'.join([str(m)] * p)}"
    m = ADDITIVE_SIZE
    while m > 4 and m * p > n / 10:
        m -= 1
    b = np.hstack([bspline_basis(phi[:, j], m) for j in range(p)])
    pen = np.zeros((m * p, m * p))
    for j in range(p):
        pen[j * m:(j + 1) * m, j * m:(j + 1) * m] = _difference_penalty(m)
    return b, pen, f"additive P-spline {p}x{m}"


def smooth_fit(phi: np.ndarray, y: np.ndarray, lambdas: np.ndarray = LAMBDAS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    r"""Penalised least squares of each column of ``y`` on a spline basis of ``phi``, GCV.

    Minimises :math:`\|y - B\beta\|^2 + \lambda \beta' P \beta` for each column with
    :math:`\lambda` minimising :math:`GCV = S\,RSS / (S - \mathrm{tr}\,H)^2`.

    Returns
    -------
    fitted (S, m), edf (m,), lambda (m,), basis label
    """
    b, pen, label = design(phi)
    n, q = b.shape
    if q >= n / 2:
        raise SpecError(f"evppi: {q} spline coefficients for {n} draws; need more draws or "
                        "fewer inputs (a metamodel with about as many coefficients as draws "
                        "interpolates noise)")
    btb = b.T @ b
    ridge = 1e-9 * np.trace(btb) / q
    chol = np.linalg.cholesky(btb + ridge * np.eye(q))
    linv = np.linalg.inv(chol)
    s, u = np.linalg.eigh(linv @ pen @ linv.T)
    s = np.clip(s, 0.0, None)
    g = u.T @ linv @ btb @ linv.T @ u
    gdiag = np.diag(g)
    z = u.T @ linv @ (b.T @ y)                        # (q, m)
    back = linv.T @ u                                 # beta = back @ (z / (1 + lam s))
    best = np.full(y.shape[1], np.inf)
    fitted = np.zeros_like(y)
    edf = np.zeros(y.shape[1])
    lam_best = np.zeros(y.shape[1])
    for lam in lambdas:
        shrink = 1.0 / (1.0 + lam * s)
        tr = float(gdiag @ shrink)
        f = b @ (back @ (z * shrink[:, None]))
        rss = ((y - f) ** 2).sum(axis=0)
        gcv = n * rss / max(n - tr, 1.0) ** 2
        better = gcv < best
        best[better] = gcv[better]
        fitted[:, better] = f[:, better]
        edf[better] = tr
        lam_best[better] = lam
    return fitted, edf, lam_best, label


def _inputs(params: Any, n: int) -> tuple[np.ndarray, list[str]]:
    if isinstance(params, pd.DataFrame):
        names, arr = [str(c) for c in params.columns], params.to_numpy(dtype=float)
    elif isinstance(params, Mapping):
        names = [str(k) for k in params]
        arr = np.column_stack([np.asarray(v, dtype=float).reshape(-1) for v in params.values()])
    else:
        arr = np.asarray(params, dtype=float)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr.reshape(arr.shape[0], -1)
        names = [f"input_{j}" for j in range(arr.shape[1])]
    if arr.shape[0] != n:
        raise SpecError(f"evppi: inputs have {arr.shape[0]} draws, the net benefits {n}; "
                        "they must be the same joint draws")
    if not np.all(np.isfinite(arr)):
        raise SpecError("evppi: inputs have non-finite draws")
    return arr, names


def evppi_from_nb(nb: np.ndarray, params: Any) -> dict[str, Any]:
    """EVPPI of inputs ``params`` from net-benefit draws ``nb`` (S x O) at one wtp.

    Returns a dict with ``evppi``, ``evpi``, ``r2`` and ``edf`` (per option, against the first),
    ``lambda`` and the ``basis`` label.
    """
    nb = np.asarray(nb, dtype=float)
    phi, _ = _inputs(params, nb.shape[0])
    inb = nb[:, 1:] - nb[:, [0]]
    fitted, edf, lam, label = smooth_fit(phi, inb)
    g = np.column_stack([np.zeros(len(nb)), fitted])
    evppi = float(g.max(axis=1).mean() - max(0.0, *g[:, 1:].mean(axis=0)))
    evpi = float(nb.max(axis=1).mean() - nb.mean(axis=0).max())
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - ((inb - fitted) ** 2).sum(0) / ((inb - inb.mean(0)) ** 2).sum(0)
    return {"evppi": evppi, "evpi": evpi, "r2": r2, "edf": edf, "lambda": lam,
            "basis": label}


def evppi(effects: Any, costs: Any, params: Any, *, wtp: float | Sequence[float],
          options: Sequence[str] | None = None, groups: Mapping[str, Sequence[str]] | None
          = None) -> pd.DataFrame:
    r"""EVPPI of chosen inputs by nonparametric regression (Strong, Oakley & Brennan 2014).

    Parameters
    ----------
    effects, costs : draws per option
        As :func:`dtors_bayes.economics.decision.cea` (chains are flattened).
    params : DataFrame, dict of arrays or array
        The inputs' draws, jointly with the net benefits (row s = draw s).
    wtp : float or sequence
        Willingness to pay per unit of effect.
    groups : dict of name -> list of input names, optional
        Input subsets whose EVPPI is wanted (each jointly). Default: each input alone, and
        all inputs together when there are two or three.

    Returns
    -------
    DataFrame
        ``inputs`` (the subset, names joined by ``+``), ``wtp``, ``evppi``, ``evpi``,
        ``evppi_share`` (``evppi / evpi``), ``r2_min`` and ``edf_max`` over options, ``basis``.
    """
    e, c, labels = paired_draws(effects, costs, options)
    ee, cc = e.reshape(-1, len(labels)), c.reshape(-1, len(labels))
    phi, names = _inputs(params, ee.shape[0])
    frame = pd.DataFrame(phi, columns=names)
    if groups is None:
        groups = {n: [n] for n in names}
        if 2 <= len(names) <= 3 and 10 * 4 ** len(names) <= ee.shape[0]:
            groups["+".join(names)] = list(names)
    rows = []
    for k in np.atleast_1d(np.asarray(wtp, dtype=float)):
        nb = k * ee - cc
        for gname, cols in groups.items():
            unknown = [col for col in cols if col not in names]
            if unknown:
                raise SpecError(f"evppi: group {gname!r} names unknown inputs {unknown}; "
                                f"inputs: {names}")
            r = evppi_from_nb(nb, frame[list(cols)])
            rows.append({"inputs": gname, "wtp": float(k), "evppi": r["evppi"],
                         "evpi": r["evpi"],
                         "evppi_share": r["evppi"] / r["evpi"] if r["evpi"] > 0 else np.nan,
                         "r2_min": float(np.nanmin(r["r2"])), "edf_max": float(r["edf"].max()),
                         "basis": r["basis"]})
    return pd.DataFrame(rows)


__all__ = ["bspline_basis", "evppi", "evppi_from_nb", "smooth_fit"]
