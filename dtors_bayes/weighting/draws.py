r"""Propagated weights: one weight draw per posterior draw.

Weight draw ``s`` is built from

(a) a Bayesian-bootstrap multiplier ``g_s`` (Rubin 1981): the sampling uncertainty. Its
    stages follow the design (``bootstrap=``, :func:`bootstrap_stages`,
    :func:`bayesian_bootstrap`):

    - ``"design"`` (default): ``g_si = A D_{s,a(i)}``, ``D_s ~ Dirichlet(1_A)`` over the
      ``A`` sampled areas (the first-stage clusters; sites when the cohort has no
      ``area_id``, persons when it has neither), every person sharing its area's
      multiplier: the ultimate-cluster bootstrap, the Bayesian analogue of the
      linearisation with areas as primary units
      (:func:`dtors_bayes.weighting.complete_case.complete_case_estimates`'s default
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

*Few clusters* (``correction="unbiased"``). With ``J`` first-stage units and unit totals
``e_k`` (the estimator linearised as ``sum_k G_k e_k / J``), ``D ~ Dirichlet(alpha 1_J)``
gives ``Var(D'e) = sum_k (e_k - ebar)^2 / (J (J alpha + 1))``. The Bayesian bootstrap
(``alpha = 1``) is therefore ``(J - 1)/(J + 1)`` times the unbiased with-replacement variance
``sum_k (e_k - ebar)^2 / (J (J - 1))`` that the linearisation uses (its ``m/(m-1)``
factor): 0.926 at the weighting study's 26 areas (sd 0.962), 0.996 at 500 persons. It is
the BB's known small-sample property (Rubin 1981), not a coding error. ``"unbiased"`` uses
``alpha = (J - 2)/J`` (``J >= 3``), the concentration at which ``J alpha + 1 = J - 1``, so
the draws' variance of any linear statistic equals the unbiased estimator exactly (the
Bayesian analogue of the ``m/(m-1)`` factor and of Rao and Wu's (1988) ``m - 1`` rescaling);
each multiplier stays positive, so raking and trimming are unchanged. For non-linear
statistics it holds to first order.

Contents
--------
BOOTSTRAPS
    The Bayesian-bootstrap designs.
bayesian_bootstrap, bootstrap_stages
    Multipliers, and the stages that follow a cohort's design.
weight_draw_arrays
    Calibration and response weight draws of a person table (the engine of the others).
weight_draws, propagated_weights_for_fit
    Weight draws of a cohort, and of a fit's modelled persons (one per posterior draw).
attach_weights
    Store weight draws in a fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit

from dtors_bayes.constants import DEFAULT_SEED
from dtors_bayes.exceptions import CohortError, FitError
from dtors_bayes.weighting.calibration import DEFAULT_TRIM, _persons, calibration_problem
from dtors_bayes.weighting.raking import rake, weighted_median
from dtors_bayes.weighting.response import _interviewed, fit_logistic, response_design

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort
    from dtors_bayes.models.fit import Fit

__all__ = [
    "BB_CORRECTIONS",
    "BOOTSTRAPS",
    "attach_weights",
    "bayesian_bootstrap",
    "bootstrap_stages",
    "propagated_weights_for_fit",
    "weight_draw_arrays",
    "weight_draws",
]


#: Bayesian-bootstrap designs of the propagated weights (see :func:`bootstrap_stages`).
BOOTSTRAPS = ("design", "multistage", "persons")

#: Small-sample corrections of the Bayesian bootstrap (module notes, *Few clusters*).
BB_CORRECTIONS = (None, "unbiased")


def _dirichlet(rng: np.random.Generator, n_draws: int, size: int,
               correction: str | None) -> np.ndarray:
    """Unnormalised Dirichlet draws (n_draws, size): Exp(1), or Gamma((J-2)/J) when
    ``correction="unbiased"`` (module notes)."""
    if correction is None:
        return rng.standard_exponential((n_draws, size))
    if size < 3:
        raise ValueError(f"correction={correction!r} needs at least 3 units in the Dirichlet "
                         f"stage (alpha = (J - 2)/J); got J = {size}: pass correction=None")
    e = rng.standard_gamma((size - 2) / size, (n_draws, size))
    return np.maximum(e, np.finfo(float).tiny)


def _check_correction(correction: str | None) -> None:
    if correction not in BB_CORRECTIONS:
        raise ValueError(f"correction={correction!r}; allowed: None, 'unbiased'")


def bayesian_bootstrap(n: int, n_draws: int, rng: np.random.Generator,
                       stages: Sequence[np.ndarray] | None = None, *,
                       persons: bool = True, correction: str | None = None) -> np.ndarray:
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
    correction : {None, "unbiased"}
        ``"unbiased"``: ``Dirichlet(alpha 1_J)`` with ``alpha = (J - 2)/J`` instead of
        ``Dirichlet(1_J)``, so that the draws' variance of a linear statistic is the
        unbiased with-replacement variance of the ``J`` units (module notes, *Few
        clusters*). Only for one Dirichlet stage (persons, or one cluster stage without
        persons): with several stages the later ones would need the first stage's
        finite-population information.

    Returns
    -------
    ndarray (n_draws, n)
        Positive multipliers; every row sums to ``n``.

    Raises
    ------
    ValueError
        For an unknown ``correction``, ``"unbiased"`` with several Dirichlet stages or
        fewer than 3 units, or stage codes of the wrong length.
    """
    _check_correction(correction)
    stages = [] if stages is None else list(stages)
    if correction is not None and len(stages) + bool(persons) > 1:
        raise ValueError(f"correction={correction!r} applies to a one-stage Bayesian "
                         "bootstrap (bootstrap='design' or 'persons'); got "
                         f"{len(stages) + bool(persons)} Dirichlet stages: pass "
                         "correction=None")
    if not stages and persons:
        e = _dirichlet(rng, n_draws, n, correction)
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
        e = _dirichlet(rng, n_draws, unit_parent.size, correction)
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


def weight_draw_arrays(persons: pd.DataFrame, population: pd.DataFrame | None, n_draws: int,
                       *, seed: int | None, trim: float | None,
                       variables: Sequence[str] | None,
                       interviewed: np.ndarray | None = None, response: str = "bootstrap",
                       response_draws: np.ndarray | None = None,
                       response_columns: Sequence[str] | None = None,
                       bootstrap: str = "design", correction: str | None = None
                       ) -> tuple[np.ndarray, np.ndarray | None]:
    """Calibration draws (S, n) and, with ``interviewed``, response weights (S, n, T-1).

    Draw ``s``: multiplier ``g_s`` (:func:`bayesian_bootstrap` with the stages of
    ``bootstrap``), raked from ``g_s`` with trimming per copy
    (:func:`~dtors_bayes.weighting.raking.rake`
    with ``multiplier=g_s``): ``c_s``. Response weight of wave ``t``: per-copy weight
    ``b_i = r_it c_si / (g_si p_sit)``, capped at ``trim x`` its ``g_s``-weighted median over
    respondents, then ``g_si b_i`` scaled to the population total. ``correction`` as in
    :func:`bayesian_bootstrap`.
    """
    _check_correction(correction)
    rng = np.random.default_rng(seed)
    prob = calibration_problem(persons, population, variables)
    n = prob.n
    stages, persons_stage, _ = bootstrap_stages(persons, bootstrap)
    g = bayesian_bootstrap(n, n_draws, rng, stages, persons=persons_stage,
                           correction=correction)
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
                 bootstrap: str = "design", correction: str | None = None) -> np.ndarray:
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
    correction : {None, "unbiased"}
        Small-sample correction of a one-stage bootstrap (:func:`bayesian_bootstrap`):
        ``"unbiased"`` matches the unbiased with-replacement variance of the ``J`` units,
        ``(J + 1)/(J - 1)`` times the plain Bayesian bootstrap's (1.08 at 26 areas).

    Returns
    -------
    ndarray (n_draws, n_person)
        Each row sums to the population total.
    """
    persons = _persons(cohort, person_ids)
    if wave is None:
        return weight_draw_arrays(persons, cohort.population, n_draws, seed=seed, trim=trim,
                                  variables=variables, bootstrap=bootstrap,
                                  correction=correction)[0]
    waves = list(cohort.waves)
    if wave not in waves[1:]:
        raise ValueError(f"wave={wave!r}; allowed: a follow-up wave {waves[1:]} or None")
    j = waves.index(wave)
    inter = _interviewed(cohort, persons)[:, [0, j]]
    rd = None if response_draws is None else np.asarray(response_draws, float)
    return weight_draw_arrays(persons, cohort.population, n_draws, seed=seed, trim=trim,
                              variables=variables, interviewed=inter, response=response,
                              response_draws=rd, bootstrap=bootstrap,
                              correction=correction)[1][:, :, 0]


def propagated_weights_for_fit(fit: Fit, cohort: Cohort | None = None, *,
                               seed: int | None = DEFAULT_SEED,
                               trim: float | None = DEFAULT_TRIM,
                               variables: Sequence[str] | None = None,
                               bootstrap: str = "design",
                               correction: str | None = None) -> np.ndarray:
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
    correction : {None, "unbiased"}
        Small-sample correction (:func:`bayesian_bootstrap`).

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
                        person_ids=fit.design.person_ids, bootstrap=bootstrap,
                        correction=correction)


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
