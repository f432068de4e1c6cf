r"""Fixed (DTORS-style) weights: calibration times inverse response propensity.

The classical baseline. At follow-up wave ``t`` the response propensity
``p_it = P(r_it = 1 | x_i)`` comes from a maximum-likelihood logistic regression
(Newton/IRLS in numpy, :func:`fit_logistic`) of being interviewed at ``t`` on the baseline
covariates and modality (:func:`response_design`), fitted on every intake person (so it is
the marginal response propensity of the wave, whatever the path to it). The response
weight is ``a_it = r_it c_i / p_it`` with ``c_i`` the calibration weight
(:mod:`dtors_bayes.weighting.calibration`), trimmed at ``trim x median`` over respondents
and scaled so that ``sum_i a_it = N``.

Contents
--------
response_design
    Design matrix (intercept first) of the response model.
fit_logistic
    Maximum-likelihood (optionally case-weighted) logistic regression by IRLS.
fixed_weights
    Calibration and per-wave response weights of a cohort.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit

from dtors_bayes.models.encoding import MISSING_LEVEL, CovariateEncoding
from dtors_bayes.weighting.calibration import DEFAULT_TRIM, _persons, calibration_problem
from dtors_bayes.weighting.raking import rake

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort

__all__ = [
    "fit_logistic",
    "fixed_weights",
    "response_design",
]


def response_design(persons: pd.DataFrame, columns: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, list[str]]:
    """Design matrix (intercept first) of the response model.

    Numeric columns are standardised (a missing value gets the mean and a ``_missing``
    indicator); categorical columns become indicators of every category but the first
    (sorted), with missing values as their own category ``"missing"``. Constant columns are
    dropped. Default columns: every baseline covariate column (``age``, ``sex``,
    ``primary_drug``, ``referral_route``, extras) and ``modality``.

    The encoding is :class:`~dtors_bayes.models.encoding.CovariateEncoding` (the change
    model's and MRP's) with ``missing="indicator"`` and ``scaling="response"``; booleans and
    other non-numeric columns enter as the categories of their text.
    """
    if columns is None:
        skip = {"person_id", "site_id", "area_id", "age_group"}
        columns = [c for c in persons.columns if c not in skip]
    columns = list(columns)
    frame = {}
    for c in dict.fromkeys(columns):
        s = persons[c].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            frame[c] = s
        else:  # categories are the values' text (booleans too), sorted as text
            frame[c] = s.astype(object).where(s.notna(), MISSING_LEVEL).astype(str)
    frame = pd.DataFrame(frame, index=range(len(persons)))
    enc = CovariateEncoding.fit(frame, columns, missing="indicator", scaling="response")
    X = enc.transform(frame, missing="indicator")
    return np.column_stack([np.ones(len(persons)), X]), ["Intercept", *enc.names]


def fit_logistic(X: np.ndarray, y: np.ndarray, case_weights: np.ndarray | None = None, *,
                 beta0: np.ndarray | None = None, ridge: float = 1e-8, max_iter: int = 100,
                 tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    r"""Maximum-likelihood logistic regression by Newton-Raphson (IRLS) with step halving.

    Maximises ``sum_i g_i [y_i eta_i - log(1 + e^{eta_i})] - ridge/2 |beta|^2`` with
    ``eta = X beta`` and case weights ``g`` (default 1). The tiny default ridge only keeps
    the Newton system solvable under (quasi-)separation; it does not move a regular ML fit.

    Returns
    -------
    beta : ndarray (p,)
    cov : ndarray (p, p)
        Inverse observed information ``(X' diag(g p (1-p)) X + ridge I)^{-1}``.
    """
    n, p = X.shape
    g = np.ones(n) if case_weights is None else np.asarray(case_weights, float)
    beta = np.zeros(p) if beta0 is None else np.array(beta0, float)

    def loglik(b):
        eta = X @ b
        return float(np.sum(g * (y * eta - np.logaddexp(0.0, eta))) - 0.5 * ridge * b @ b)

    ll = loglik(beta)
    converged = False
    for _ in range(max_iter):
        mu = expit(X @ beta)
        grad = X.T @ (g * (y - mu)) - ridge * beta
        info = (X * (g * mu * (1 - mu))[:, None]).T @ X + ridge * np.eye(p)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        t = 1.0
        while True:
            new = beta + t * step
            ll_new = loglik(new)
            if ll_new >= ll - 1e-12 or t < 1e-6:
                break
            t /= 2
        beta, ll_old, ll = new, ll, ll_new
        if np.max(np.abs(t * step)) < tol or abs(ll - ll_old) < tol * (1 + abs(ll)):
            converged = True
            break
    if not converged:
        warnings.warn("response model: logistic regression did not converge (separation?); "
                      "propensities near 0 or 1 are capped by trimming", UserWarning,
                      stacklevel=2)
    mu = expit(X @ beta)
    info = (X * (g * mu * (1 - mu))[:, None]).T @ X + ridge * np.eye(p)
    return beta, np.linalg.pinv(info)


def _trim_scale(a: np.ndarray, trim: float | None, total: float) -> tuple[np.ndarray, int]:
    """Cap positive entries of ``a`` (last axis) at trim x median, rescale to ``total``."""
    a = np.array(a, dtype=float, copy=True)
    n_trim = 0
    if trim is not None:
        pos = np.where(a > 0, a, np.nan)
        cap = trim * np.nanmedian(pos, axis=-1, keepdims=True)
        over = a > cap
        n_trim = int(over.sum())
        a = np.where(over, cap, a)
    return a * (total / a.sum(axis=-1, keepdims=True)), n_trim


def fixed_weights(cohort: Cohort, *, trim: float | None = DEFAULT_TRIM,
                  variables: Sequence[str] | None = None,
                  response_columns: Sequence[str] | None = None,
                  person_ids: Sequence | None = None) -> pd.DataFrame:
    """DTORS-style fixed weights: calibration, then inverse response propensity per wave.

    Parameters
    ----------
    cohort : Cohort
    trim : float or None
        Trimming factor (cap at ``trim x median``) for the calibration weights (then
        re-raked) and for each wave's response weights (then rescaled to the population
        total). Default 5.
    variables : sequence of str, optional
        Raking variables.
    response_columns : sequence of str, optional
        Person columns of the response model (default: baseline covariates and modality,
        see :func:`response_design`).
    person_ids : sequence, optional
        Weight only these persons (e.g. a fit's modelled persons).

    Returns
    -------
    DataFrame
        ``person_id``, ``calibration`` (sums to the population total), and per follow-up wave
        ``w``: ``p_wave{w}`` (estimated response propensity) and ``weight_wave{w}`` (0 for
        non-respondents; respondents sum to the population total). ``attrs`` holds the
        raking diagnostics (``iterations``, ``max_error``, ``n_trimmed``, whether the
        trimming cap was attained and the largest weight over the median achieved) and the
        number of response weights trimmed per wave.
    """
    persons = _persons(cohort, person_ids)
    cal = rake(calibration_problem(persons, cohort.population, variables), trim=trim)
    out = pd.DataFrame({"person_id": persons["person_id"].to_numpy(),
                        "calibration": cal.weights})
    resp = _interviewed(cohort, persons)
    X, names = response_design(persons, response_columns)
    info: dict[str, Any] = {"raking_iterations": cal.iterations,
                            "raking_max_error": cal.max_error,
                            "calibration_n_trimmed": cal.n_trimmed,
                            "calibration_trim_attained": cal.trim_attained,
                            "calibration_max_over_median": cal.max_over_median,
                            "response_terms": names, "response_n_trimmed": {}}
    for j, w in enumerate(cohort.waves[1:], start=1):
        r = resp[:, j]
        beta, _ = fit_logistic(X, r.astype(float))
        p = np.clip(expit(X @ beta), 1e-6, 1.0)
        a, n_trim = _trim_scale(np.where(r, cal.weights / p, 0.0), trim, cal.weights.sum())
        out[f"p_wave{w}"] = p
        out[f"weight_wave{w}"] = a
        info["response_n_trimmed"][int(w)] = n_trim
    out.attrs.update(info)
    return out


def _interviewed(cohort: Cohort, persons: pd.DataFrame) -> np.ndarray:
    idx = pd.Index(cohort.persons["person_id"]).get_indexer(persons["person_id"])
    return cohort.interviewed_matrix()[idx]
