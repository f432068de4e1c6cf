r"""The weighted complete-case (design-based) estimator and its linearisation variance.

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

*Estimated weights* (``linearisation="estimated"``). The weights are not known: the
calibration factors are estimated by raking and the propensities
``p_it = expit(x_i' beta_t)`` by a logistic regression fitted on every intake person. Both
estimations lower the variance (Deville and Saerndal 1992; Robins, Rotnitzky and Zhao 1994),
and the fixed-weight formula above ignores it, so it over-states. The linearisation of the
whole chain replaces ``z_i`` by

.. math::

    z_i = \frac{c_i (\phi_i - d_i' \hat B) - \hat h' \hat I^{-1} x_i (r_{it} - p_{it})}
              {\sum_j a_{jt} v^0_j}, \qquad
    \phi_i = \frac{a_{it}}{c_i} (u^0_i - R v^0_i),

with ``u^0, v^0`` the unweighted numerator and denominator terms (``u_i = a_it u^0_i``),
``d_i`` the indicators of the raking categories, ``\hat B`` the ``c``-weighted least-squares
regression of ``phi`` on ``d`` (the GREG residual of a raked estimator),
``\hat h = \sum_j a_{jt} (1 - p_{jt}) (u^0_j - R v^0_j) x_j`` (the derivative of the
estimating equation in ``beta``, since ``d a / d beta = -a (1 - p) x``) and
``\hat I = \sum_j p_{jt} (1 - p_{jt}) x_j x_j'`` the response model's information. At intake
(``a = c``) only the calibration term applies. Trimming is taken as not binding. On the
weighting study's cohorts (``benchmarks/results/cc_propagated_width.md``) it is 0.97 of the
fixed-weight formula at intake, 0.96 at FU1 and 0.92 at FU2 (the propagated weight draws
credit the same reductions, and a little more). It is a first-order result: over 1500
simulated cohorts the fixed-weight formula matched the estimator's actual spread (SE / sd
0.975-1.03 for ``employed``), this one was 3-6% low (0.94-0.975), so the default stays
``"fixed"``; with 15 free raking factors and 13 response coefficients at 500 persons the
in-sample gain over-states the realised one.

The weights are the fixed ones (:func:`dtors_bayes.weighting.response.fixed_weights`),
none, or propagated draws (:func:`dtors_bayes.weighting.draws.weight_draw_arrays`), whose
equal-tailed interval replaces the linearisation.

Contents
--------
CC_ASSUMPTION, CC_UNWEIGHTED
    The assumptions recorded in the estimate tables.
first_stage_cluster
    The cohort's first-stage sampling units.
estimated_weights_se, LINEARISATIONS
    The linearisation with estimated (raked, response-model) weights.
complete_case_estimates
    Complete-case estimates of level, change and ratio by wave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtri

from dtors_bayes.constants import CI_PROB, DEFAULT_SEED
from dtors_bayes.estimands.engine import ESTIMAND_COLUMNS
from dtors_bayes.exceptions import CohortError
from dtors_bayes.weighting.calibration import DEFAULT_TRIM, calibration_problem
from dtors_bayes.weighting.draws import BB_CORRECTIONS, bootstrap_stages, weight_draw_arrays
from dtors_bayes.weighting.response import fixed_weights, response_design

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort

__all__ = [
    "CC_ASSUMPTION",
    "CC_UNWEIGHTED",
    "LINEARISATIONS",
    "complete_case_estimates",
    "estimated_weights_se",
    "first_stage_cluster",
]


CC_ASSUMPTION = ("design-based: respondents weighted by calibration x inverse response "
                 "propensity; response ignorable given the response model's covariates")


CC_UNWEIGHTED = "respondents' unweighted means: response completely at random, sample = target"


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


#: Linearisations of the fixed-weight standard error (``complete_case_estimates``).
LINEARISATIONS = ("fixed", "estimated")


def estimated_weights_se(u0: np.ndarray, v0: np.ndarray, a: np.ndarray, c: np.ndarray,
                         dummies: np.ndarray, cluster: np.ndarray | None = None,
                         p: np.ndarray | None = None, r: np.ndarray | None = None,
                         X: np.ndarray | None = None) -> tuple[float, float]:
    r"""Ratio ``R = sum a u0 / sum a v0`` and its linearisation SE with estimated weights.

    The weights ``a`` are calibration ``c`` (raked to margins whose category indicators are
    the columns of ``dummies``) times, for a follow-up wave, inverse propensities ``p`` of a
    logistic model of ``r`` on ``X`` fitted by maximum likelihood on every person (module
    notes, *Estimated weights*):

    .. math::

        z_i = \frac{c_i (\phi_i - d_i'\hat B) - \hat h'\hat I^{-1} x_i (r_i - p_i)}
                   {\sum_j a_j v^0_j}, \qquad
        \widehat V(R) = \frac{m}{m-1} \sum_{k=1}^m (z_k - \bar z)^2,

    ``z_k`` summed over the persons of primary unit ``k``.

    Parameters
    ----------
    u0, v0 : ndarray (n,)
        Unweighted numerator and denominator terms (0 outside the domain).
    a : ndarray (n,)
        The estimator's weights (0 for non-respondents).
    c : ndarray (n,)
        Calibration weights (positive).
    dummies : ndarray (n, q)
        Indicators of every raking variable's categories.
    cluster : ndarray (n,) of int, optional
        Primary units (default: persons).
    p, r, X : ndarray, optional
        Fitted propensities (n,), response indicators (n,) and the response model's design
        matrix (n, k); all three, or none (intake: calibration only).

    Returns
    -------
    R, se : float
        ``nan`` for an empty domain (``sum a v0 = 0``).
    """
    if (p is None) != (r is None) or (p is None) != (X is None):
        raise ValueError("estimated_weights_se: pass p, r and X together (a follow-up "
                         "wave's response model) or none of them (intake)")
    V = float(a @ v0)
    if not V > 0:  # an empty domain (no respondent): like the fixed-weight formula
        return float("nan"), float("nan")
    R = float(a @ u0) / V
    res = u0 - R * v0
    phi = a * res / c
    gram = (dummies * c[:, None]).T @ dummies  # rank-deficient: one block per variable
    B = np.linalg.pinv(gram) @ (dummies.T @ (c * phi))
    z = c * (phi - dummies @ B)
    if p is not None:
        h = X.T @ (a * (1 - p) * res)
        info = (X * (p * (1 - p))[:, None]).T @ X
        z = z - (X @ (np.linalg.pinv(info) @ h)) * (r - p)
    z = z / V
    if cluster is not None:
        z = np.bincount(cluster, weights=z)
    m = z.size
    return R, float(np.sqrt(m / (m - 1) * np.sum((z - z.mean()) ** 2)))


def complete_case_estimates(cohort: Cohort, outcome: str, *, weights: str = "fixed",
                            ci_prob: float = CI_PROB, trim: float | None = DEFAULT_TRIM,
                            cluster: str | None = "design", n_draws: int = 1000,
                            seed: int | None = DEFAULT_SEED,
                            fixed: pd.DataFrame | None = None,
                            bootstrap: str = "design", linearisation: str = "fixed",
                            correction: str | None = None) -> pd.DataFrame:
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
    linearisation : {"fixed", "estimated"}
        For ``"fixed"`` weights: ``"fixed"`` (default) treats the weights as known;
        ``"estimated"`` linearises the raking and the response model's estimation too
        (:func:`estimated_weights_se`, module notes), which lowers the standard error, most
        at the follow-ups (0.92 of ``"fixed"`` at FU2 on the weighting study's cohorts;
        first order, 3-6% below the actual spread there). ``fixed=`` must then be built
        with the default raking variables and response columns.
    correction : {None, "unbiased"}
        For ``"propagated"``: small-sample correction of the Bayesian bootstrap
        (:func:`dtors_bayes.weighting.draws.bayesian_bootstrap`); ``"unbiased"`` scales the
        draws' variance by ``(J + 1)/(J - 1)`` for ``J`` first-stage units, matching the
        linearisation's ``m/(m-1)``.

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
    if linearisation not in LINEARISATIONS:
        raise ValueError(f"linearisation={linearisation!r}; allowed: 'fixed', 'estimated'")
    if linearisation == "estimated" and weights != "fixed":
        raise ValueError(f"linearisation='estimated' is for weights='fixed' (estimated "
                         f"calibration and response weights); got weights={weights!r}")
    if correction not in BB_CORRECTIONS:
        raise ValueError(f"correction={correction!r}; allowed: None, 'unbiased'")
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
        cal, resp = weight_draw_arrays(cohort.persons, cohort.population, n_draws, seed=seed,
                                       trim=trim, variables=None,
                                       interviewed=cohort.interviewed_matrix(),
                                       bootstrap=bootstrap, correction=correction)
        W = np.concatenate([cal[:, :, None], resp], axis=2)  # (S, n, T)
        pop, att, assume = "target", "mar (inverse response weights)", CC_ASSUMPTION
    else:
        raise ValueError(f"weights={weights!r}; allowed: 'fixed', 'none', 'propagated'")
    terms = _ratio_terms(y, W, waves, modality, labels)
    cluster = first_stage_cluster(cohort.persons) if cluster == "design" else cluster
    clus = None
    if cluster is not None:
        clus, _ = cohort.codes(cluster)
    linear = (_estimated_inputs(cohort, fw, y, waves, modality, labels)
              if linearisation == "estimated" else None)
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
            R, se = (_estimated_se(linear, (est, wl, mod, con), waves, W, clus)
                     if linear is not None else _linearised_se(u, v, clus))
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
    table["subgroup"] = ""
    table = table[ESTIMAND_COLUMNS]
    propagated = weights == "propagated"
    table.attrs.update({"ci_prob": ci_prob, "outcome": outcome,
                        "ci_kind": "equal-tailed (weight draws)" if propagated
                        else "normal (linearisation)",
                        "cluster": None if propagated else (cluster or "person"),
                        "linearisation": None if propagated else linearisation,
                        "correction": correction if propagated else None,
                        "bootstrap": bootstrap_stages(cohort.persons, bootstrap)[2]
                        if propagated else None})
    return table


def _estimated_inputs(cohort: Cohort, fw: pd.DataFrame, y: np.ndarray, waves: list,
                      modality: np.ndarray | None, labels: list[str]) -> dict:
    """What :func:`estimated_weights_se` needs, per wave: unweighted terms, calibration,
    raking indicators, propensities, response indicators and the response design."""
    persons = cohort.persons.reset_index(drop=True)
    X, names = response_design(persons)
    terms_used = fw.attrs.get("response_terms")
    if terms_used is not None and list(terms_used) != names:
        raise ValueError("linearisation='estimated': the fixed weights' response model has "
                         f"terms {list(terms_used)}, the default has {names}; build fixed= "
                         "with fixed_weights(cohort) (default response columns)")
    prob = calibration_problem(persons, cohort.population, None)
    dummies = np.column_stack([np.eye(len(t))[c] for c, t in zip(prob.codes, prob.targets,
                                                                  strict=True)])
    n = y.shape[0]
    ones = _ratio_terms(y, np.ones((n, len(waves))), waves, modality, labels)
    inter = cohort.interviewed_matrix()
    p = {int(w): fw[f"p_wave{w}"].to_numpy(float) for w in waves[1:]}
    return {"terms": ones, "c": fw["calibration"].to_numpy(float), "dummies": dummies,
            "p": p, "r": {int(w): inter[:, j].astype(float) for j, w in enumerate(waves)},
            "X": X}


def _estimated_se(linear: dict, key: tuple, waves: list, W: np.ndarray,
                  clus: np.ndarray | None) -> tuple[float, float]:
    u0, v0, _ = linear["terms"][key]
    wl = key[1]
    j = [int(w) for w in waves].index(wl)
    if j == 0:
        return estimated_weights_se(u0, v0, W[:, 0], linear["c"], linear["dummies"], clus)
    return estimated_weights_se(u0, v0, W[:, j], linear["c"], linear["dummies"], clus,
                                p=linear["p"][wl], r=linear["r"][wl], X=linear["X"])
