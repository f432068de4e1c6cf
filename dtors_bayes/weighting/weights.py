r"""Survey weights: fixed (DTORS-style), propagated (one weight draw per posterior draw), and
their diagnostics. MRP lives in :mod:`dtors_bayes.weighting.mrp`, the raking itself in
:mod:`dtors_bayes.weighting.raking`.

Fixed weights (the classical baseline)
--------------------------------------
1. *Calibration* ``c_i``: the intake sample raked to the population margins of the
   variables present in both the persons and the population table (``age_group, sex,
   primary_drug, referral_route, modality``), trimmed at ``trim x median`` and re-raked;
   ``sum_i c_i = N`` (the population total).
2. *Response* at follow-up wave ``t``: ``p_it = P(r_it = 1 | x_i)`` from a maximum-likelihood
   logistic regression (Newton/IRLS in numpy) of being interviewed at ``t`` on the baseline
   covariates and modality, fitted on every intake person (so it is the marginal response
   propensity of the wave, whatever the path to it). The response weight is
   ``a_it = r_it c_i / p_it``, trimmed at ``trim x median`` over respondents and scaled so
   that ``sum_i a_it = N``.

The *weighted complete-case* estimator (Hajek) of a wave's level is
``sum_i a_it y_it / sum_i a_it`` over respondents with the outcome observed (intake uses
``c_i``); change from intake is the same ratio over respondents with both values observed,
of ``y_it - y_i0``, with weight ``a_it``; the ratio to intake is
``sum a_it y_it / sum a_it y_i0`` over the same pairs. Every one is a ratio
``R = sum_i u_i / sum_i v_i``; its linearisation (Taylor) variance, treating weights as fixed
and the ``cluster`` units as with-replacement primary units (default ``"design"``: the
cohort's first-stage clusters, areas, else sites, else persons: the ultimate-cluster
variance of a multi-stage design), is

.. math::

    \widehat{V}(R) = \frac{m}{m - 1} \sum_{k=1}^{m} (z_k - \bar z)^2, \qquad
    z_k = \sum_{i \in k} \frac{u_i - R v_i}{\sum_j v_j},

with ``m`` primary units; domains (a wave's respondents, a modality) keep ``z = 0`` outside
the domain, as in R ``survey`` and samplics. Persons as units (``cluster=None``, the previous
default) ignore the clustering of recruitment in areas and of the outcomes' area and
site effects; with few areas the clustered variance has few degrees of freedom (``m - 1``).

Propagated weights
------------------
Weight draw ``s`` is built from

(a) a Bayesian-bootstrap multiplier ``g_s`` (Rubin 1981): the sampling uncertainty. Its
    stages follow the design (``bootstrap=``, :func:`bootstrap_stages`,
    :func:`bayesian_bootstrap`):

    - ``"design"`` (default): ``g_si = A D_{s,a(i)}``, ``D_s ~ Dirichlet(1_A)`` over the
      ``A`` sampled areas (the first-stage clusters; sites when the cohort has no
      ``area_id``, persons when it has neither), every person sharing its area's
      multiplier: the ultimate-cluster bootstrap, the Bayesian analogue of the
      linearisation with areas as primary units (``complete_case_estimates``'s default
      ``cluster="design"``);
    - ``"multistage"``: the product of Dirichlet multipliers normalised to mean 1 over the
      areas, the sites within each area and the persons within each site, rescaled to mean
      1 (:func:`bayesian_bootstrap`);
    - ``"persons"``: ``g_s = n D_s``, ``D_s ~ Dirichlet(1_n)``, persons as i.i.d. units.

    Why not ``"multistage"`` by default: when the first stage is sampled with replacement
    or with a small sampling fraction, the spread of the first-stage totals already
    carries the variance of every later stage; resampling sites and persons within the
    resampled areas as well counts that within-area variance a second time (Davison and
    Hinkley 1997, section 3.8; Rao and Wu 1988). On the weighting study's cohorts
    (``benchmarks/results/cc_propagated_width.md``) its intervals are 1.4-1.8 x the
    linearisation's and cover 0.96-1.00 at 90%. The ultimate cluster ignores the
    first-stage finite-population correction (conservative by about ``f`` x the
    between-area component at sampling fraction ``f``), as the linearisation does.
(b) calibration of ``g_s`` to the population margins: raking starting from ``g_s`` with the
    same trimming, applied *per copy* (:func:`~dtors_bayes.weighting.raking.rake` with
    ``multiplier=g_s``): person ``i`` stands for ``g_si`` copies, each with design weight
    ``a_si = w_si / g_si``, and the cap is ``a_si <= trim x median_g(a_s)`` (the
    ``g``-weighted median, the median over copies), then re-rake: ``c_s``. Capping the
    product ``g_si a_si`` instead would cap about 3% of persons in every draw through the
    Exp(1) multipliers alone at ``trim = 5`` and truncate the bootstrap's variation
    (stat review B1);
(c) for the complete-case estimator only, division by a response-propensity draw ``p_s``:
    by default the *weighted likelihood bootstrap* (Newton and Raftery 1994): the logistic
    response model refitted by maximum likelihood with case weights ``g_s``, the same
    multiplier that drives (a), so sampling and response-model uncertainty are drawn
    jointly; ``response="normal"`` draws the coefficients from the ML asymptotic normal
    ``N(beta_hat, (X'WX)^{-1})`` instead; ``response_draws=`` takes propensity draws from a
    Bayesian response model (one per draw). The response weight is trimmed per copy too:
    ``b_si = r_it c_si / (g_si p_sit)`` is capped at ``trim x`` its ``g_s``-weighted
    median over respondents, and ``g_si b_si`` is scaled to the population total.

The *model-based* estimator (g-computation over every intake person, :meth:`Fit.estimate`)
uses (a)+(b) only: the outcome model already accounts for who was not interviewed
(DESIGN.md section 5). Draw ``s`` of the weights goes with posterior draw ``s`` (chain-major,
as :func:`dtors_bayes.models.sampling.stack_draws`).

Bayesian bootstrap of a mean (the known case of the tests): for fixed ``y`` and
``D ~ Dirichlet(1_n)``, ``E[D'y] = ybar`` and, since ``Var(D_i) = (n-1)/(n^2 (n+1))`` and
``Cov(D_i, D_j) = -1/(n^2 (n+1))``, ``Var(D'y) = sum_i (y_i - ybar)^2 / (n (n+1))
= s^2 (n-1) / (n (n+1))`` with ``s^2`` the sample variance (denominator ``n-1``).

Variance decomposition
----------------------
:func:`variance_decomposition` uses a two-level design: ``S`` posterior draws ``theta_s``,
each with ``M`` independent weight draws ``w_sm``; ``g_sm`` the estimand. By the law of total
variance ``Var(g) = E_theta[Var_w(g | theta)] + Var_theta(E_w[g | theta])``; the first term
(weights) is estimated by the mean within-draw variance ``W`` and the second (model
parameters) by the between-draw variance of the draw means minus ``W / M`` (one-way ANOVA,
unbiased), truncated at zero.

Two further sources are added the same way, each as a within-``theta`` variance over ``M``
draws of that source alone (weights held at draw ``w_s1``): *imputation*, the variance the
completed-data estimator ``sum_i w_i y~_it / sum_i w_i`` (observed values, and
posterior-predictive draws ``y~ ~ p(y | theta_s)`` for the missing cells) carries beyond the
g-computation one, ``sum_{i missing} w_i^2 Var(y_it | theta_s) / (sum w)^2`` (levels and
changes; ``Var(y | theta)`` estimated from ``M`` simulated values per cell); and *MNAR*, the
variance over a normal prior on the pattern-mixture shift ``delta`` of the non-responders'
link-scale predictions (:func:`dtors_bayes.attrition.sensitivity.sensitivity`), when ``mnar_prior``
is
given. Sources are treated as additive (no interaction terms): shares are each component
over the sum of the components.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, ndtri

from dtors_bayes.constants import CI_PROB, DEFAULT_SEED
from dtors_bayes.estimands.engine import ESTIMAND_COLUMNS
from dtors_bayes.exceptions import CohortError, FitError
from dtors_bayes.weighting.raking import (
    Raking,
    RakingProblem,
    margins_from_population,
    rake,
    raking_problem,
    raking_variables,
    weighted_median,
)

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort
    from dtors_bayes.models.fit import Fit

__all__ = [
    "attach_weights",
    "bayesian_bootstrap",
    "bootstrap_stages",
    "calibration_weights",
    "complete_case_estimates",
    "first_stage_cluster",
    "fit_logistic",
    "fixed_weights",
    "kish_ess",
    "largest_weights",
    "plot_variance_decomposition",
    "propagated_weights_for_fit",
    "response_design",
    "variance_decomposition",
    "weight_draws",
    "weight_summary",
]

DEFAULT_TRIM = 5.0
CC_ASSUMPTION = ("design-based: respondents weighted by calibration x inverse response "
                 "propensity; response ignorable given the response model's covariates")
CC_UNWEIGHTED = "respondents' unweighted means: response completely at random, sample = target"


# ============================================================================ calibration
def _persons(cohort: Cohort, person_ids: Sequence | None = None) -> pd.DataFrame:
    persons = cohort.persons
    if person_ids is None:
        return persons.reset_index(drop=True)
    idx = pd.Index(persons["person_id"]).get_indexer(pd.Index(person_ids))
    if (idx < 0).any():
        raise CohortError(f"{int((idx < 0).sum())} person id(s) are not in the cohort")
    return persons.iloc[idx].reset_index(drop=True)


def calibration_problem(persons: pd.DataFrame, population: pd.DataFrame | None,
                        variables: Sequence[str] | None = None) -> RakingProblem:
    """Raking problem of ``persons`` against the margins of a population cell table."""
    if population is None:
        raise CohortError("weighting needs a population table (cells with a 'count'); the "
                          "cohort has none: pass population= to Cohort.from_frames")
    vars_ = raking_variables(persons, population, variables)
    return raking_problem(persons, margins_from_population(population, vars_))


def calibration_weights(cohort: Cohort, *, trim: float | None = DEFAULT_TRIM,
                        variables: Sequence[str] | None = None,
                        person_ids: Sequence | None = None,
                        population: pd.DataFrame | None = None) -> Raking:
    """Calibration (raking) weights of the intake sample, trimmed and re-raked.

    Parameters
    ----------
    cohort : Cohort
    trim : float or None
        Cap at ``trim x median`` then re-rake; ``None`` for no trimming. Default 5.
    variables : sequence of str, optional
        Raking variables (default: the population variables present in both tables).
    person_ids : sequence, optional
        Rake only these persons (e.g. a fit's modelled persons).
    population : DataFrame, optional
        Cell table with ``count`` (default ``cohort.population``).

    Returns
    -------
    Raking
        ``weights`` in the order of ``person_ids`` (or ``cohort.persons``), summing to the
        population total, with convergence and trimming information.
    """
    persons = _persons(cohort, person_ids)
    pop = cohort.population if population is None else population
    return rake(calibration_problem(persons, pop, variables), trim=trim)


# ============================================================================ response model
def response_design(persons: pd.DataFrame, columns: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, list[str]]:
    """Design matrix (intercept first) of the response model.

    Numeric columns are standardised (a missing value gets the mean and a ``_missing``
    indicator); categorical columns become indicators of every category but the first
    (sorted), with missing values as their own category ``"missing"``. Constant columns are
    dropped. Default columns: every baseline covariate column (``age``, ``sex``,
    ``primary_drug``, ``referral_route``, extras) and ``modality``.
    """
    if columns is None:
        skip = {"person_id", "site_id", "area_id", "age_group"}
        columns = [c for c in persons.columns if c not in skip]
    cols: list[np.ndarray] = [np.ones(len(persons))]
    names = ["Intercept"]
    for c in columns:
        s = persons[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            v = s.to_numpy(float)
            miss = np.isnan(v)
            mean = np.nanmean(v) if (~miss).any() else 0.0
            v = np.where(miss, mean, v)
            sd = v.std()
            if sd > 0:
                cols.append((v - mean) / sd)
                names.append(c)
            if miss.any():
                cols.append(miss.astype(float))
                names.append(f"{c}_missing")
        else:
            lab = s.astype(object).where(s.notna(), "missing").astype(str)
            cats = sorted(lab.unique())
            for cat in cats[1:]:
                cols.append((lab == cat).to_numpy(float))
                names.append(f"{c}[{cat}]")
    return np.column_stack(cols), names


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


# ============================================================================ weight draws
#: Bayesian-bootstrap designs of the propagated weights (see :func:`bootstrap_stages`).
BOOTSTRAPS = ("design", "multistage", "persons")


def bayesian_bootstrap(n: int, n_draws: int, rng: np.random.Generator,
                       stages: Sequence[np.ndarray] | None = None, *,
                       persons: bool = True) -> np.ndarray:
    r"""``n_draws`` Bayesian-bootstrap multipliers of ``n`` persons, each row summing to ``n``.

    Without ``stages``: ``g = n D`` with ``D ~ Dirichlet(1_n)`` (Rubin 1981; normalised
    standard exponentials), the analogue of resampling persons with replacement.

    With nested ``stages`` (integer codes of each person's unit at stage ``k = 1..K``,
    outermost first, e.g. area then site): at every stage the units of each parent unit
    ``p`` (the whole sample for ``k = 1``; units are the distinct (parent, code) pairs, so
    codes need not be unique across parents) get a Dirichlet draw, normalised to mean 1,

    .. math::

        G^{(k)}_u = J_p D^{(k)}_{p,u}, \qquad (D^{(k)}_{p,u})_{u \in p}
            \sim \text{Dirichlet}(1_{J_p}),

    with ``J_p`` the number of units in ``p``; with ``persons=True`` the persons of each
    innermost unit form a last stage the same way. Stages are independent, so
    ``E[G^{(k)}_u] = 1`` and the multiplier

    .. math::

        g_i = n \frac{\prod_k G^{(k)}_{u_k(i)}}{\sum_j \prod_k G^{(k)}_{u_k(j)}}

    has mean about 1 for every person: the Bayesian analogue of the multi-stage bootstrap
    that resamples areas, then sites within each resampled area, then persons within each
    resampled site (each stage's ``J_p D`` mimics the multinomial resampling counts
    ``Mult(J_p, 1/J_p)``). ``persons=False`` with one stage is the ultimate-cluster
    bootstrap: every person of a cluster shares its cluster's multiplier.

    Parameters
    ----------
    n : int
        Persons.
    n_draws : int
    rng : numpy.random.Generator
    stages : sequence of ndarray (n,), optional
        Nested unit codes, outermost first.
    persons : bool
        Whether persons within the innermost unit are a last Dirichlet stage.

    Returns
    -------
    ndarray (n_draws, n)
        Positive multipliers; every row sums to ``n``.
    """
    stages = [] if stages is None else list(stages)
    if not stages and persons:
        e = rng.standard_exponential((n_draws, n))
        return n * e / e.sum(axis=1, keepdims=True)
    if not stages:
        return np.ones((n_draws, n))
    g = np.ones((n_draws, n))
    parent = np.zeros(n, dtype=np.int64)
    levels = [np.asarray(c) for c in stages]
    if persons:
        levels.append(np.arange(n))
    for codes in levels:
        if codes.shape != (n,):
            raise ValueError(f"bayesian_bootstrap: every stage needs {n} codes")
        pairs = pd.MultiIndex.from_arrays([parent, pd.factorize(codes)[0]])
        unit, uniq = pd.factorize(pairs)
        unit_parent = np.asarray(uniq.get_level_values(0), dtype=np.int64)
        n_parent = int(unit_parent.max()) + 1
        size = np.bincount(unit_parent, minlength=n_parent).astype(float)
        e = rng.standard_exponential((n_draws, unit_parent.size))
        onehot = np.zeros((unit_parent.size, n_parent))
        onehot[np.arange(unit_parent.size), unit_parent] = 1.0
        G = e * size[unit_parent] / (e @ onehot)[:, unit_parent]
        g *= G[:, unit]
        parent = unit
    return n * g / g.sum(axis=1, keepdims=True)


def bootstrap_stages(persons: pd.DataFrame, bootstrap: str = "design"
                     ) -> tuple[list[np.ndarray], bool, str]:
    """Stages of the Bayesian bootstrap that follow a cohort's design.

    Parameters
    ----------
    persons : DataFrame
        Person rows, with ``area_id`` and ``site_id`` when the cohort has them.
    bootstrap : {"design", "multistage", "persons"}
        ``"design"`` (default): Dirichlet over the cohort's first-stage clusters, the
        sampled areas (sites when it has no ``area_id``; persons when it has neither), every
        person sharing its cluster's multiplier: the ultimate-cluster bootstrap, the
        Bayesian analogue of the linearisation with the same clusters as primary units
        (``complete_case_estimates(cluster="design")``). ``"multistage"``: Dirichlet over the
        areas, then over the sites within each area, then over the persons within each site
        (the stages the cohort has). ``"persons"``: persons as i.i.d. units.

    Returns
    -------
    stages : list of ndarray
        Unit codes per stage, outermost first (see :func:`bayesian_bootstrap`).
    persons_stage : bool
        Whether persons form the last stage.
    label : str
        The stages in words, e.g. ``"area > site > person"``.
    """
    if bootstrap not in BOOTSTRAPS:
        raise ValueError(f"bootstrap={bootstrap!r}; allowed: {', '.join(map(repr, BOOTSTRAPS))}")
    have = [(name, col) for name, col in (("area", "area_id"), ("site", "site_id"))
            if col in persons.columns and persons[col].notna().any()]
    for _, col in have:
        if persons[col].isna().any():
            raise CohortError(f"bootstrap={bootstrap!r}: '{col}' is missing for "
                              f"{int(persons[col].isna().sum())} person(s); allowed: a value "
                              "for every person, or bootstrap='persons'")
    if bootstrap == "persons" or not have:
        return [], True, "person"
    codes = [pd.factorize(persons[col].astype(str))[0] for _, col in have]
    if bootstrap == "design":
        return codes[:1], False, have[0][0]
    return codes, True, " > ".join([name for name, _ in have] + ["person"])


def _draws(persons: pd.DataFrame, population: pd.DataFrame | None, n_draws: int, *,
           seed: int | None, trim: float | None, variables: Sequence[str] | None,
           interviewed: np.ndarray | None = None, response: str = "bootstrap",
           response_draws: np.ndarray | None = None,
           response_columns: Sequence[str] | None = None, bootstrap: str = "design"
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Calibration draws (S, n) and, with ``interviewed``, response weights (S, n, T-1).

    Draw ``s``: multiplier ``g_s`` (:func:`bayesian_bootstrap` with the stages of
    ``bootstrap``), raked from ``g_s`` with trimming per copy
    (:func:`~dtors_bayes.weighting.raking.rake`
    with ``multiplier=g_s``): ``c_s``. Response weight of wave ``t``: per-copy weight
    ``b_i = r_it c_si / (g_si p_sit)``, capped at ``trim x`` its ``g_s``-weighted median over
    respondents, then ``g_si b_i`` scaled to the population total.
    """
    rng = np.random.default_rng(seed)
    prob = calibration_problem(persons, population, variables)
    n = prob.n
    stages, persons_stage, _ = bootstrap_stages(persons, bootstrap)
    g = bayesian_bootstrap(n, n_draws, rng, stages, persons=persons_stage)
    cal = np.empty((n_draws, n))
    missed: list[float] = []
    for s in range(n_draws):
        res = rake(prob, g[s], multiplier=g[s], trim=trim, on_fail="warn",
                   on_trim_fail="ignore")
        cal[s] = res.weights
        if not res.trim_attained:
            missed.append(float(res.max_over_median))
    if missed:
        warnings.warn(f"{len(missed)} of {n_draws} weight draws: trimming at trim={trim:g} x "
                      "median not attained (largest per-copy weight up to "
                      f"{max(missed):.3g} x the median); those draws meet the margins, not "
                      "the cap: raise trim, collapse sparse categories of the raking "
                      "variables, or pass trim=None", UserWarning, stacklevel=3)
    if interviewed is None:
        return cal, None
    n_fu = interviewed.shape[1] - 1
    if response_draws is not None:
        p = np.asarray(response_draws, float)
        if p.ndim == 2:
            p = p[:, :, None]
        if p.shape != (n_draws, n, n_fu):
            raise ValueError(f"response_draws: expected shape ({n_draws}, {n}, {n_fu}) "
                             f"(draws, persons, follow-up waves); got {p.shape}")
    else:
        if response not in ("bootstrap", "normal"):
            raise ValueError(f"response={response!r}; allowed: 'bootstrap', 'normal'")
        X, _ = response_design(persons, response_columns)
        p = np.empty((n_draws, n, n_fu))
        for j in range(n_fu):
            r = interviewed[:, j + 1].astype(float)
            beta_hat, cov = fit_logistic(X, r)
            if response == "normal":
                betas = rng.multivariate_normal(beta_hat, cov, size=n_draws,
                                                method="eigh")
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    betas = np.stack([fit_logistic(X, r, g[s], beta0=beta_hat)[0]
                                      for s in range(n_draws)])
            p[:, :, j] = expit(betas @ X.T)
    p = np.clip(p, 1e-6, 1.0)
    total = cal.sum(axis=1, keepdims=True)
    resp = np.empty_like(p)
    for j in range(n_fu):
        seen = interviewed[:, j + 1].astype(bool)
        raw = np.where(seen[None, :], cal / p[:, :, j], 0.0)
        if trim is not None:
            per_copy = raw / g
            cap = trim * weighted_median(per_copy, np.where(seen[None, :], g, 0.0))
            raw = g * np.minimum(per_copy, cap[:, None])
        resp[:, :, j] = raw * (total / raw.sum(axis=1, keepdims=True))
    return cal, resp


def weight_draws(cohort: Cohort, n_draws: int, *, seed: int | None = DEFAULT_SEED,
                 wave: int | None = None, response_draws: np.ndarray | None = None,
                 response: str = "bootstrap", trim: float | None = DEFAULT_TRIM,
                 variables: Sequence[str] | None = None,
                 person_ids: Sequence | None = None,
                 bootstrap: str = "design") -> np.ndarray:
    """Draws of the weights: Bayesian bootstrap, raked, and (for a wave) inverse response.

    Draw ``s`` starts from the multiplier ``g_s`` of :func:`bayesian_bootstrap` (stages from
    ``bootstrap``, :func:`bootstrap_stages`), rakes it to the margins with trimming *per
    copy* (the cap applies to ``w / g_s``, :func:`~dtors_bayes.weighting.raking.rake`), and for a
    wave
    divides by a response-propensity draw, trimmed per copy again (module notes).

    Parameters
    ----------
    cohort : Cohort
    n_draws : int
    seed : int, optional
    wave : int, optional
        ``None`` (default): calibration draws, for the model-based estimator. A follow-up
        wave label: calibration x inverse response-propensity draw for that wave (0 for
        its non-respondents), for the complete-case estimator.
    response_draws : ndarray (n_draws, n_person), optional
        Propensity draws for ``wave`` from a Bayesian response model; default: see
        ``response``.
    response : {"bootstrap", "normal"}
        Without ``response_draws``: refit the ML logistic model with the Bayesian-bootstrap
        case weights of the same draw (weighted likelihood bootstrap; default), or draw the
        coefficients from the ML asymptotic normal.
    trim : float or None
        Trimming factor, applied to every draw per copy: each person's weight over its
        bootstrap multiplier is capped at ``trim x`` its multiplier-weighted median.
    variables, person_ids
        As in :func:`calibration_weights`.
    bootstrap : {"design", "multistage", "persons"}
        Stages of the Bayesian bootstrap (:func:`bootstrap_stages`): the first-stage
        clusters (areas, else sites; persons for a cohort without ``site_id``/``area_id``;
        default), areas then sites then persons, or persons as i.i.d. units.

    Returns
    -------
    ndarray (n_draws, n_person)
        Each row sums to the population total.
    """
    persons = _persons(cohort, person_ids)
    if wave is None:
        return _draws(persons, cohort.population, n_draws, seed=seed, trim=trim,
                      variables=variables, bootstrap=bootstrap)[0]
    waves = list(cohort.waves)
    if wave not in waves[1:]:
        raise ValueError(f"wave={wave!r}; allowed: a follow-up wave {waves[1:]} or None")
    j = waves.index(wave)
    inter = _interviewed(cohort, persons)[:, [0, j]]
    rd = None if response_draws is None else np.asarray(response_draws, float)
    return _draws(persons, cohort.population, n_draws, seed=seed, trim=trim,
                  variables=variables, interviewed=inter, response=response,
                  response_draws=rd, bootstrap=bootstrap)[1][:, :, 0]


def propagated_weights_for_fit(fit: Fit, cohort: Cohort | None = None, *,
                               seed: int | None = DEFAULT_SEED,
                               trim: float | None = DEFAULT_TRIM,
                               variables: Sequence[str] | None = None,
                               bootstrap: str = "design") -> np.ndarray:
    """Calibration weight draws for a fit's model-based estimator, one per posterior draw.

    Calibration only (Bayesian bootstrap + raking of the modelled persons, trimmed per
    copy; :func:`weight_draws` with ``wave=None``): the outcome model accounts for
    attrition. Rows are chain-major (``chain * n_draw + draw``), columns in
    ``fit.design.person_ids`` order: pass to ``fit.estimate(weighting="propagated",
    weights=...)`` or store with :func:`attach_weights`.

    Parameters
    ----------
    fit : Fit
    cohort : Cohort, optional
        Default ``fit.cohort``.
    seed : int, optional
    trim : float or None
        Trimming factor (per copy).
    variables : sequence of str, optional
        Raking variables.
    bootstrap : {"design", "multistage", "persons"}
        Stages of the Bayesian bootstrap (:func:`bootstrap_stages`).

    Returns
    -------
    ndarray (n_chain * n_draw, n_person)
    """
    cohort = cohort if cohort is not None else fit.cohort
    if cohort is None:
        raise FitError("propagated weights need the cohort: pass cohort= (a loaded fit does "
                       "not keep it)")
    post = fit.tree["posterior"]
    n = int(post.sizes["chain"]) * int(post.sizes["draw"])
    return weight_draws(cohort, n, seed=seed, trim=trim, variables=variables,
                        person_ids=fit.design.person_ids, bootstrap=bootstrap)


def attach_weights(fit: Fit, draws: np.ndarray, *, description: str = "") -> Fit:
    """Store weight draws as the fit's ``weights`` group (``sample`` x ``person``).

    ``fit.estimate(weighting="propagated")`` then uses them without ``weights=``; they are
    saved with the fit.
    """
    draws = np.asarray(draws, dtype=float)
    post = fit.tree["posterior"]
    n = int(post.sizes["chain"]) * int(post.sizes["draw"])
    if draws.shape != (n, fit.design.n_person):
        raise FitError(f"weight draws must be ({n} draws, {fit.design.n_person} persons); got "
                       f"{draws.shape}")
    ds = xr.Dataset({"weight": (("sample", "person"), draws)},
                    coords={"person": np.asarray(fit.design.person_ids).astype(str)})
    ds.attrs["description"] = description or (
        "Bayesian bootstrap (Dirichlet multipliers of the modelled persons) raked to the "
        "population margins, trimmed per copy; row s goes with posterior draw s "
        "(chain-major)")
    fit.tree["weights"] = xr.DataTree(ds)
    return fit


# ============================================================================ complete case
def _ratio_terms(y: np.ndarray, w: np.ndarray, cohort_waves: list[int],
                 modality: np.ndarray | None, labels: list[str]):
    """Numerator/denominator vectors ``(u, v)`` (n,) of every complete-case estimand.

    ``y`` (n, T) with NaN; ``w`` (..., n, T) weights (wave 0 calibration, wave t response).
    Returns keys -> (u, v, used) with u, v of shape (..., n) and ``used`` the persons
    (n,) who enter the estimand.
    """
    obs = ~np.isnan(y)
    y0 = np.nan_to_num(y)
    domains: list[tuple[str, np.ndarray | None]] = [("", None)]
    if modality is not None and len(labels) > 1:
        domains += [(lab, modality == m) for m, lab in enumerate(labels)]
    out: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for lab, dom in domains:
        d = np.ones(y.shape[0], bool) if dom is None else dom
        lev, chg = ("level", "change") if dom is None else ("modality_level", "modality_change")
        for j, wl in enumerate(cohort_waves):
            m = obs[:, j] & d
            wj = w[..., j] * m
            out[(lev, int(wl), lab, "")] = (wj * y0[:, j], wj, m)
            if j == 0:
                continue
            pair = obs[:, 0] & m
            wp = w[..., j] * pair
            out[(chg, int(wl), lab, "")] = (wp * (y0[:, j] - y0[:, 0]), wp, pair)
            if dom is None:
                out[("ratio", int(wl), "", "")] = (wp * y0[:, j], wp * y0[:, 0], pair)
    return out


def first_stage_cluster(persons: pd.DataFrame) -> str | None:
    """The cohort's first-stage sampling units: ``"area_id"`` when the persons have it, else
    ``"site_id"``, else ``None`` (persons)."""
    for col in ("area_id", "site_id"):
        if col in persons.columns and persons[col].notna().any():
            return col
    return None


def _linearised_se(u: np.ndarray, v: np.ndarray, cluster: np.ndarray | None) -> tuple[float,
                                                                                         float]:
    R = u.sum() / v.sum()
    z = (u - R * v) / v.sum()
    if cluster is not None:
        z = np.bincount(cluster, weights=z)
    m = z.size
    return float(R), float(np.sqrt(m / (m - 1) * np.sum((z - z.mean()) ** 2)))


def complete_case_estimates(cohort: Cohort, outcome: str, *, weights: str = "fixed",
                            ci_prob: float = CI_PROB, trim: float | None = DEFAULT_TRIM,
                            cluster: str | None = "design", n_draws: int = 1000,
                            seed: int | None = DEFAULT_SEED,
                            fixed: pd.DataFrame | None = None,
                            bootstrap: str = "design") -> pd.DataFrame:
    """Weighted complete-case (design-based) estimates of level, change and ratio by wave.

    Parameters
    ----------
    cohort : Cohort
    outcome : str
    weights : {"fixed", "none", "propagated"}
        ``"fixed"``: :func:`fixed_weights` with a linearisation standard error and a normal
        interval; ``"none"``: respondents' unweighted means (same variance formula);
        ``"propagated"``: ``n_draws`` weight draws (Bayesian bootstrap + raking + weighted-
        likelihood-bootstrap response model, trimmed per copy), percentile interval of the
        draws.
    ci_prob : float
        Interval probability. Default 0.90.
    trim : float or None
        Trimming factor of the weights.
    cluster : str or None
        Primary sampling units of the linearisation variance (``"fixed"``, ``"none"``).
        ``"design"`` (default): the cohort's first-stage clusters, ``area_id`` when the
        cohort has it, else ``site_id``, else persons (the ultimate-cluster variance of a
        multi-stage design, with replacement at the first stage); a person column name
        (e.g. ``"site_id"``); ``None``: persons.
    n_draws, seed
        For ``"propagated"``.
    fixed : DataFrame, optional
        Precomputed :func:`fixed_weights` (saves refitting).
    bootstrap : {"design", "multistage", "persons"}
        For ``"propagated"``: stages of the Bayesian bootstrap (:func:`bootstrap_stages`).

    Returns
    -------
    DataFrame
        Columns of :data:`dtors_bayes.estimands.engine.ESTIMAND_COLUMNS`, ``estimator =
        "complete_case"``; ``sd`` is the standard error (fixed / none) or the sd of the
        draws (propagated); ``n_persons`` the respondents used. ``attrs`` records
        ``ci_kind``, ``cluster`` (the linearisation's units) and ``bootstrap`` (the
        bootstrap's stages, propagated only).
    """
    if outcome not in cohort.outcomes:
        raise CohortError(f"outcome {outcome!r} is not an outcome of the cohort; outcomes: "
                          f"{', '.join(cohort.outcomes)}")
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1); got {ci_prob!r}")
    y = cohort.matrix(outcome)
    n, T = y.shape
    waves = list(cohort.waves)
    modality, labels = (cohort.codes("modality") if "modality" in cohort.persons.columns
                        else (None, []))
    labels = [str(x) for x in labels]
    z = float(ndtri(0.5 + ci_prob / 2))
    if weights == "none":
        W = np.ones((n, T))
        pop, att, assume = "sample", "mcar (complete case)", CC_UNWEIGHTED
    elif weights == "fixed":
        fw = fixed if fixed is not None else fixed_weights(cohort, trim=trim)
        fw = fw.set_index("person_id").reindex(cohort.persons["person_id"])
        W = np.column_stack([fw["calibration"].to_numpy()]
                            + [fw[f"weight_wave{w}"].to_numpy() for w in waves[1:]])
        pop, att, assume = "weighted", "mar (inverse response weights)", CC_ASSUMPTION
    elif weights == "propagated":
        cal, resp = _draws(cohort.persons, cohort.population, n_draws, seed=seed, trim=trim,
                           variables=None, interviewed=cohort.interviewed_matrix(),
                           bootstrap=bootstrap)
        W = np.concatenate([cal[:, :, None], resp], axis=2)  # (S, n, T)
        pop, att, assume = "target", "mar (inverse response weights)", CC_ASSUMPTION
    else:
        raise ValueError(f"weights={weights!r}; allowed: 'fixed', 'none', 'propagated'")
    terms = _ratio_terms(y, W, waves, modality, labels)
    cluster = first_stage_cluster(cohort.persons) if cluster == "design" else cluster
    clus = None
    if cluster is not None:
        clus, _ = cohort.codes(cluster)
    rows = []
    for (est, wl, mod, con), (u, v, used) in terms.items():
        n_used = int(used.sum())
        row = {"estimand": est, "wave": wl, "modality": mod, "contrast": con}
        if weights == "propagated":
            draws = u.sum(axis=1) / v.sum(axis=1)
            lo, hi = np.quantile(draws, [(1 - ci_prob) / 2, (1 + ci_prob) / 2])
            row.update(mean=float(draws.mean()), sd=float(draws.std(ddof=1)),
                       ci_lb=float(lo), ci_ub=float(hi),
                       p_direction=float(max((draws > 0).mean(), (draws < 0).mean())))
        else:
            R, se = _linearised_se(u, v, clus)
            row.update(mean=R, sd=se, ci_lb=R - z * se, ci_ub=R + z * se,
                       p_direction=np.nan)
        row["n_persons"] = n_used
        rows.append(row)
    table = pd.DataFrame(rows)
    table["outcome"] = outcome
    table["population"] = pop
    table["weighting"] = weights
    table["estimator"] = "complete_case"
    table["attrition"] = att
    table["ci_prob"] = ci_prob
    for c in ("mcse_mean", "ess_bulk", "r_hat"):
        table[c] = np.nan
    table["assumption"] = assume
    table = table[ESTIMAND_COLUMNS]
    propagated = weights == "propagated"
    table.attrs.update({"ci_prob": ci_prob, "outcome": outcome,
                        "ci_kind": "equal-tailed (weight draws)" if propagated
                        else "normal (linearisation)",
                        "cluster": None if propagated else (cluster or "person"),
                        "bootstrap": bootstrap_stages(cohort.persons, bootstrap)[2]
                        if propagated else None})
    return table


# ============================================================================ diagnostics
def kish_ess(w: np.ndarray) -> float | np.ndarray:
    """Kish effective sample size ``(sum w)^2 / sum w^2`` (over the last axis)."""
    w = np.asarray(w, dtype=float)
    return (w.sum(axis=-1) ** 2) / (w**2).sum(axis=-1)


def weight_summary(w: np.ndarray) -> pd.Series:
    """Distribution of positive weights: n, sum, quantiles, max/median, CV, Kish ESS, deff.

    ``deff = n / ESS = 1 + CV^2`` (Kish's design effect from unequal weighting, CV with
    denominator n).
    """
    w = np.asarray(w, dtype=float)
    w = w[w > 0]
    q = np.quantile(w, [0.0, 0.05, 0.5, 0.95, 1.0])
    ess = float(kish_ess(w))
    return pd.Series({"n": w.size, "sum": w.sum(), "min": q[0], "p05": q[1], "median": q[2],
                      "p95": q[3], "max": q[4], "max_over_median": q[4] / q[2],
                      "cv": w.std() / w.mean(), "kish_ess": ess, "deff": w.size / ess})


def largest_weights(persons: pd.DataFrame, w: np.ndarray, k: int = 10,
                    variables: Sequence[str] | None = None) -> pd.DataFrame:
    """Cells (raking-variable combinations) holding the ``k`` largest weights, aggregated.

    No person is listed: one row per cell with ``n_sample`` (persons of the sample in the
    cell), ``n_top`` (how many of the k largest weights it holds), ``max_weight``,
    ``mean_weight`` and ``weight_share`` (its share of the total weight).
    """
    w = np.asarray(w, dtype=float)
    if variables is None:
        variables = [c for c in ("age_group", "sex", "primary_drug", "referral_route",
                                 "modality") if c in persons.columns]
    df = persons[list(variables)].astype(str).assign(_w=w)
    top = np.zeros(len(w), dtype=bool)
    top[np.argsort(-w, kind="stable")[:k]] = True
    df["_top"] = top
    agg = df.groupby(list(variables), observed=True).agg(
        n_sample=("_w", "size"), n_top=("_top", "sum"), max_weight=("_w", "max"),
        mean_weight=("_w", "mean"), weight_sum=("_w", "sum")).reset_index()
    agg["weight_share"] = agg.pop("weight_sum") / w.sum()
    agg = agg[agg["n_top"] > 0].sort_values("max_weight", ascending=False)
    return agg.reset_index(drop=True)


def variance_decomposition(fit: Fit, cohort: Cohort | None = None, *, n_param_draws: int = 100,
                           n_weight_draws: int = 8, seed: int | None = DEFAULT_SEED,
                           trim: float | None = DEFAULT_TRIM, imputation: bool = True,
                           mnar_prior: tuple[float, float] | None = None,
                           bootstrap: str = "design") -> pd.DataFrame:
    """Share of each estimand's posterior variance from model parameters, weights,
    imputation of missing interviews and (optionally) the MNAR assumption.

    Two-level design (module notes): ``n_param_draws`` posterior draws, each combined with
    ``n_weight_draws`` draws of each other source; one-way ANOVA by the law of total variance.

    Parameters
    ----------
    fit : Fit
    cohort : Cohort, optional
        Defaults to ``fit.cohort``.
    n_param_draws, n_weight_draws : int
        ``S`` posterior draws and ``M >= 2`` draws of each source per posterior draw.
    seed : int, optional
    trim : float, optional
        Weight trimming, as :func:`weight_draws`.
    imputation : bool
        Add the imputation component (levels and changes; NaN for other estimands).
    mnar_prior : (mean, sd), optional
        Normal prior of the pattern-mixture shift ``delta`` (link scale) of the predictions
        for persons not interviewed; adds the MNAR component.
    bootstrap : {"design", "multistage", "persons"}
        Stages of the Bayesian bootstrap of the weight draws, as :func:`weight_draws`.

    Returns
    -------
    DataFrame
        ``estimand, wave, modality, contrast, var_total, var_model, var_weights,
        var_imputation, var_mnar, share_model, share_weights, share_imputation, share_mnar``
        (``var_total``: the variance of the weights design's draws; shares over the sum of
        the components present; absent components are 0).
    """
    from dtors_bayes.estimands.engine import assemble_estimands, draws_of_estimands
    from dtors_bayes.estimands.weights import WeightSpec
    from dtors_bayes.models.sampling import stack_draws

    cohort = cohort if cohort is not None else fit.cohort
    if cohort is None:
        raise FitError("variance_decomposition needs the cohort: pass cohort=")
    params, n_chain, n_draw = stack_draws(fit.tree)
    total = n_chain * n_draw
    rng = np.random.default_rng(seed)
    S = min(n_param_draws, total)
    M = int(n_weight_draws)
    if M < 2:
        raise ValueError("n_weight_draws must be at least 2")
    if mnar_prior is not None:
        try:
            d_mean, d_sd = (float(v) for v in mnar_prior)
        except (TypeError, ValueError):
            raise FitError(f"mnar_prior={mnar_prior!r}: expected (mean, sd) of a normal "
                           "delta on the link scale") from None
        if d_sd < 0:
            raise FitError(f"mnar_prior sd must be >= 0; got {d_sd}")
    pick = np.sort(rng.choice(total, S, replace=False))
    rep = {k: np.repeat(v[pick], M, axis=0) for k, v in params.items()}
    W = weight_draws(cohort, S * M, seed=int(rng.integers(2**31)), trim=trim,
                     person_ids=fit.design.person_ids, bootstrap=bootstrap)
    spec = WeightSpec(W, "propagated", "target")
    draws = draws_of_estimands(fit.model, fit.design, rep, spec, contrast_pairs=[])
    W1 = np.repeat(W[::M], M, axis=0)  # weights held at the first draw of each theta
    extra: dict[str, dict] = {}
    if mnar_prior is not None:
        from dtors_bayes.estimands.shifts import shifted_levels

        spec1 = WeightSpec(W1, "propagated", "target")
        shift = rng.normal(d_mean, d_sd, size=S * M)
        _, _, level, own, adj = shifted_levels(fit, rep, spec1, [shift], None, 128 * 2**20)
        extra["mnar"] = {k: np.asarray(v).reshape(S, M).var(axis=1, ddof=1).mean()
                         for k, v in assemble_estimands(fit.model, fit.design, level[0, 0],
                                                        own[0, 0], adj[0, 0], spec1,
                                                        []).items()}
    if imputation:
        extra["imputation"] = _imputation_variance(fit, {k: v[pick] for k, v in params.items()},
                                                   W[::M], M, rng)
    rows = []
    for key, g in draws.items():
        est, wl, mod, con = key
        g = np.asarray(g).reshape(S, M)
        if not np.isfinite(g).all():
            continue
        within = float(g.var(axis=1, ddof=1).mean())
        between = float(max(g.mean(axis=1).var(ddof=1) - within / M, 0.0))
        comp = {"model": between, "weights": within}
        for name in ("imputation", "mnar"):
            v = extra.get(name, {}).get(key, 0.0 if name not in extra else np.nan)
            comp[name] = float(v)
        tot = sum(v for v in comp.values() if np.isfinite(v))
        rec = {"estimand": est, "wave": wl, "modality": mod, "contrast": con,
               "var_total": float(g.var(ddof=1))}
        rec.update({f"var_{k}": v for k, v in comp.items()})
        rec.update({f"share_{k}": (v / tot if tot > 0 and np.isfinite(v) else np.nan)
                    for k, v in comp.items()})
        rows.append(rec)
    out = pd.DataFrame(rows)
    out.attrs.update({"n_param_draws": S, "n_weight_draws": M, "outcome": fit.outcome,
                      "mnar_prior": None if mnar_prior is None else [d_mean, d_sd],
                      "bootstrap": bootstrap,
                      "method": "two-level design, law of total variance (one-way ANOVA)"})
    return out


def _imputation_variance(fit: Fit, params: dict, weights: np.ndarray, k: int,
                         rng: np.random.Generator) -> dict:
    """``E_theta[sum_{i mis} w_i^2 Var(y_it | theta)] / (sum w)^2`` for levels and changes."""
    from dtors_bayes.models.predictor import linear_predictor

    model, design = fit.model, fit.design
    fam = model.family_obj
    y = design.y
    mis = np.isnan(y)
    basis = model.basis(design)
    n_t = y.shape[1]
    var_t = np.zeros(n_t)
    for j in range(n_t):
        p_idx = np.flatnonzero(mis[:, j])
        if not p_idx.size:
            continue
        cells = design.cells(basis, p_idx, np.full(p_idx.size, j))
        etas = {part: linear_predictor(params, cells, prefix=pre,
                                       by_time=model.modality_by_time)
                for part, pre in zip(fam.parts, ("", "pos_"), strict=False)}
        aux = {a: params[a][:, None] for a in fam.aux}
        sims = np.stack([fam.simulate(rng, etas, aux, design.trials) for _ in range(k)])
        v_cell = sims.var(axis=0, ddof=1)  # (S, n_mis)
        w = weights[:, p_idx]
        var_t[j] = float(((w**2 * v_cell).sum(axis=1) / weights.sum(axis=1) ** 2).mean())
    out = {}
    for j, wl in enumerate(design.waves):
        out[("level", int(wl), "", "")] = var_t[j]
        if j > 0:
            out[("change", int(wl), "", "")] = var_t[j] + var_t[0]
    return out


def plot_variance_decomposition(table: pd.DataFrame, ax: Any = None, *,
                                estimands: Sequence[str] = ("level", "change")):
    """Horizontal stacked bars: share of variance from each source (model parameters, weights,
    imputation, MNAR assumption; components absent from ``table`` are skipped)."""
    import matplotlib.pyplot as plt

    t = table[table["estimand"].isin(estimands) & (table["modality"] == "")]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(t) + 1.6))
    labels = [f"{e} wave {w}" for e, w in zip(t["estimand"], t["wave"], strict=True)]
    y = np.arange(len(t))
    left = np.zeros(len(t))
    for col, colour, label in (("share_model", "#4c72b0", "model parameters"),
                               ("share_weights", "#dd8452", "weights"),
                               ("share_imputation", "#55a868", "imputation"),
                               ("share_mnar", "#c44e52", "MNAR assumption")):
        if col not in t or not np.nansum(t[col]):
            continue
        v = np.nan_to_num(t[col].to_numpy(dtype=float))
        ax.barh(y, v, left=left, color=colour, label=label)
        left = left + v
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of posterior variance")
    ax.set_title(f"{table.attrs.get('outcome', '')}: variance decomposition")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, fontsize="small",
              frameon=False)
    return ax
