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

The weights are the fixed ones (:func:`dtors_bayes.weighting.response.fixed_weights`),
none, or propagated draws (:func:`dtors_bayes.weighting.draws.weight_draw_arrays`), whose
equal-tailed interval replaces the linearisation.

Contents
--------
CC_ASSUMPTION, CC_UNWEIGHTED
    The assumptions recorded in the estimate tables.
first_stage_cluster
    The cohort's first-stage sampling units.
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
from dtors_bayes.weighting.calibration import DEFAULT_TRIM
from dtors_bayes.weighting.draws import bootstrap_stages, weight_draw_arrays
from dtors_bayes.weighting.response import fixed_weights

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort

__all__ = [
    "CC_ASSUMPTION",
    "CC_UNWEIGHTED",
    "complete_case_estimates",
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
        cal, resp = weight_draw_arrays(cohort.persons, cohort.population, n_draws, seed=seed,
                                       trim=trim, variables=None,
                                       interviewed=cohort.interviewed_matrix(),
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
    table["subgroup"] = ""
    table = table[ESTIMAND_COLUMNS]
    propagated = weights == "propagated"
    table.attrs.update({"ci_prob": ci_prob, "outcome": outcome,
                        "ci_kind": "equal-tailed (weight draws)" if propagated
                        else "normal (linearisation)",
                        "cluster": None if propagated else (cluster or "person"),
                        "bootstrap": bootstrap_stages(cohort.persons, bootstrap)[2]
                        if propagated else None})
    return table
