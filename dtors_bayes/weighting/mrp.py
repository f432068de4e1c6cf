r"""Multilevel regression and poststratification (MRP) of a fitted change model.

For population cell ``c`` (a combination of the population variables with count ``N_c``),
wave ``t`` and posterior draw ``s``, the cell mean integrates the random effects over their
fitted distributions (never setting them to zero):

.. math::

    \bar\mu_{ct}^{(s)} = \int g^{-1}\big(f_{z_c}(t) + x_c'\beta + \epsilon\big)\,
        \phi(\epsilon; 0, \tau_{ct}^{(s)2})\, d\epsilon, \qquad
    \tau_{ct}^2 = \sigma_{person}^2 + \sigma_{site}^2 + \sigma_{area}^2
        + (\sigma_{site,change}^2 + \sigma_{area,change}^2)\, h_t^2 ,

because a population person in cell ``c`` has a new person effect, in a site and area drawn
from their fitted distributions (independent normals, so their sum is one normal). The
integral is computed by Gauss-Hermite quadrature (``n_nodes`` nodes, exact for this
one-dimensional normal; hurdle families with two independent predictors use the tensor
grid). The fixed part uses :func:`dtors_bayes.models.predictor.linear_predictor` with a cells
dict, so the math is shared with the model. Population estimands are
``sum_c N_c mu_ct / sum_c N_c``: level at each wave, change from intake and ratio, each
modality's own cells (``modality_level`` / ``modality_change``), every cell given modality A
(``adjusted_*``) and contrasts of adjusted change.

Covariates of a cell: the variables the covariate request names (matched by name, never by
substring, so ``age_group`` does not also pull in ``age``). A population cell
variable (``age_group``, ``sex``, ``primary_drug``, ``referral_route``, ``modality``) takes the
cell's category. ``age`` (numeric in the model, an age group in the population table) takes
the *sample mean age* of the modelled persons in the cell's age group,

.. math::

    \text{age}_c = \frac{1}{|\{i: g_i = g_c\}|} \sum_{i: g_i = g_c} \text{age}_i,

(within-group ages are unknown; the mean is the first-order choice, exact for a model
linear in age up to the Jensen term of the inverse link; a group with no sample person falls
back to its midpoint, 50 for 45+). The cells' design matrix is the fit's own
:class:`~dtors_bayes.models.encoding.CovariateEncoding` (the model's levels, reference
categories, and the persons' means and standard deviations) applied to the cells; the
persons' rows must reproduce the fit's ``X`` (checked). Covariates the population table lacks
are an error.

Subgroups (``by=``, :func:`dtors_bayes.estimands.subgroups.cell_subgroup_codes`): a
population cell variable ``m``; subgroup ``G`` is the cells with ``m = G``, every estimand
is computed again over them, ``sum_{c: m_c = G} N_c mu_ct / sum_{c: m_c = G} N_c``, and the
subgroup differences are taken draw by draw
(:func:`dtors_bayes.estimands.engine.subgroup_differences`), as for g-computation.

Effect modifiers: a model with ``modifiers=[...]`` gives each cell its modifier levels
(each modifier must be a population cell variable, with levels the model knows), so the
cells' trajectories carry the modifier terms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dtors_bayes.constants import AGE_LABELS, CI_PROB
from dtors_bayes.estimands.engine import (
    assemble_estimands,
    assemble_subgroups,
    contrast_pairs,
    estimand_table,
)
from dtors_bayes.estimands.subgroups import cell_subgroup_codes, label_subgroups
from dtors_bayes.estimands.weights import WeightSpec
from dtors_bayes.exceptions import CohortError, FitError, ModelError
from dtors_bayes.models.encoding import CovariateEncoding, covariate_rhs
from dtors_bayes.models.sampling import stack_draws

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.models.fit import Fit

__all__ = ["cell_design", "mrp_draws", "mrp_estimates"]

AGE_MIDPOINTS = {"18-24": 21.5, "25-34": 30.0, "35-44": 40.0, "45+": 50.0}
MRP_ASSUMPTION = ("poststratified to the population cells; person, site and area effects "
                  "integrated over their fitted normal distributions; a cell's age is the "
                  "sample mean age of its age group")


def cell_design(fit: Fit, cells: pd.DataFrame, persons: pd.DataFrame) -> np.ndarray:
    """Covariate matrix of population cells in the fit's encoding.

    Each variable of the covariate request takes the cell's value: its category for a
    population cell variable (``age_group``, ``sex``, ...), the sample mean age of the cell's
    age group for ``age`` (module notes). The cells are encoded by the fit's
    :class:`~dtors_bayes.models.encoding.CovariateEncoding` (kept with the fit; for a fit saved
    before it was kept, fitted again on the persons), the one that made the fit's ``X``: the
    persons' rows must reproduce it (checked).

    Parameters
    ----------
    fit : Fit
    cells : DataFrame
        Population cells (their category columns).
    persons : DataFrame
        The modelled persons, in ``fit.design.person_ids`` order.

    Returns
    -------
    ndarray (n_cells, n_covariate)

    Raises
    ------
    CohortError
        A covariate the population table lacks, or a cell category absent from the
        modelled persons (the model has no coefficient for it).
    FitError
        If the persons' rows do not reproduce the fit's ``X``.
    """
    design = fit.design
    enc = design.encoding
    if enc is None:  # saved before the encoding was kept: the persons give it again
        if covariate_rhs(fit.model.covariates) is None:
            return np.zeros((len(cells), 0))
        try:
            enc = CovariateEncoding.fit(persons, fit.model.covariates)
        except ModelError as err:
            raise FitError(f"the persons' covariates do not give the fit's encoding: {err}"
                           ) from err
    if not enc.names:
        return np.zeros((len(cells), 0))
    cell_frame = pd.DataFrame(index=range(len(cells)))
    problems = []
    for col in enc.variables:
        if col in cells.columns:
            if enc.is_categorical(col):
                vals = cells[col].astype(str).to_numpy()
                for cat in sorted(set(vals) - set(enc.levels(col))):
                    problems.append(f"population cells: '{col}' = '{cat}' has no modelled "
                                    "person, so the model has no coefficient for it; drop or "
                                    "merge the category")
                cell_frame[col] = vals
            else:
                cell_frame[col] = cells[col].astype(float).to_numpy()
        elif col == "age" and "age_group" in cells.columns:
            groups = persons.assign(_g=persons["age_group"].astype(str)).groupby("_g")["age"]
            means = groups.mean().to_dict()
            cell_frame[col] = [means.get(str(g), AGE_MIDPOINTS.get(str(g), np.nan))
                               for g in cells["age_group"]]
            if cell_frame[col].isna().any():
                bad = sorted(set(cells["age_group"][cell_frame[col].isna()].astype(str)))
                problems.append(f"population cells: age_group {bad} unknown; allowed: "
                                f"{', '.join(AGE_LABELS)}")
        else:
            problems.append(f"covariate '{col}' is not a population cell variable: MRP can "
                            "only use covariates the population table has (and age, through "
                            "age_group)")
    if problems:
        raise CohortError(problems)
    base_names = [n for n in design.covariate_names if not n.startswith("baseline_")]
    if enc.names != base_names:
        raise FitError(f"cell covariate columns {enc.names} differ from the fit's {base_names}")
    try:
        X_persons = enc.transform(persons.reset_index(drop=True))
    except ModelError as err:
        raise FitError(f"the persons' covariates do not reproduce the fit's X: {err}") from err
    if not np.allclose(X_persons, design.X[:, : enc.n_columns], atol=1e-8):
        raise FitError("the persons' covariates do not reproduce the fit's X: was the fit made "
                       "from this cohort?")
    return enc.transform(cell_frame)


def _gh(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(Z)], Z ~ N(0, 1)."""
    x, w = np.polynomial.hermite.hermgauss(n_nodes)
    return np.sqrt(2.0) * x, w / np.sqrt(np.pi)


def cell_modifier_codes(fit: Fit, cells: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each cell's level code of each modifier of the model (empty without modifiers).

    Raises
    ------
    CohortError
        A modifier that is not a population cell variable, or a cell level the model has
        no term for.
    """
    design = fit.design
    out, problems = {}, []
    for k, m in enumerate(design.modifier_names):
        if m not in cells.columns:
            problems.append(f"modifier {m!r} is not a population cell variable, so MRP cannot "
                            "give the cells its terms; allowed: modifiers among the cells' "
                            f"columns ({', '.join(c for c in cells.columns if c != 'count')})")
            continue
        lookup = {lab: j for j, lab in enumerate(design.modifier_labels[k])}
        vals = cells[m].astype(str).to_numpy()
        bad = sorted(set(vals) - set(lookup))
        if bad:
            problems.append(f"population cells: modifier {m!r} = {bad} has no modelled person, "
                            f"so the model has no term for it; allowed: "
                            f"{', '.join(design.modifier_labels[k])}")
            continue
        out[m] = np.array([lookup[v] for v in vals], dtype=int)
    if problems:
        raise CohortError(problems)
    return out


def mrp_draws(fit: Fit, cells: pd.DataFrame, X_cells: np.ndarray, *, n_nodes: int = 30,
              modalities: bool = True, contrast_list: list[tuple[str, str]] | None = None,
              chunk_bytes: int = 64 * 2**20,
              groups: tuple[str, np.ndarray, list[str]] | None = None
              ) -> dict[tuple, np.ndarray]:
    """Per-draw poststratified estimands (same keys as :func:`draws_of_estimands`).

    ``groups = (column, codes, labels)``: each cell's subgroup code (n_cell,) into
    ``labels``; every estimand is then also computed over each subgroup's cells (keys with a
    fifth element ``"column=label"``), plus the subgroup differences.
    """
    from dtors_bayes.models.predictor import linear_predictor

    model, design = fit.model, fit.design
    fam = model.family_obj
    basis = model.basis(design)
    params, _, _ = stack_draws(fit.tree)
    n_sample = next(iter(params.values())).shape[0]
    counts = cells["count"].to_numpy(float)
    C = len(cells)
    labels = design.modality_labels
    if "modality" in cells.columns and len(labels) > 1:
        lookup = {m: k for k, m in enumerate(labels)}
        bad = sorted(set(cells["modality"].astype(str)) - set(lookup))
        if bad:
            raise CohortError(f"population cells: modality {bad} not in the fit "
                              f"({', '.join(labels)})")
        mod = np.array([lookup[str(m)] for m in cells["modality"]])
    elif len(labels) > 1:
        raise CohortError("MRP of a model with modalities needs a 'modality' column in the "
                          "population cells")
    else:
        mod = np.zeros(C, dtype=int)
    compare = modalities and len(labels) > 1
    parts = list(zip(fam.parts, ("", "pos_"), strict=False))
    x, wq = _gh(n_nodes)
    if len(parts) == 2:
        xs = [np.repeat(x, n_nodes), np.tile(x, n_nodes)]
        wg = np.repeat(wq, n_nodes) * np.tile(wq, n_nodes)
    else:
        xs, wg = [x], wq
    K = wg.size
    waves = design.waves
    n_t = len(waves)
    # the random effects (z_person, z_site, ...) are integrated out; the modifiers' zero-sum
    # terms (z_<m>, z_<m>_modality) are fixed parts of a cell's trajectory
    terms = {f"z_{m}{end}" for m in design.modifier_names for end in ("", "_modality")}
    fixed = {k: v for k, v in params.items()
             if not k.split("pos_")[-1].startswith("z_") or k.split("pos_")[-1] in terms}
    per_chunk = max(1, int(chunk_bytes // (8 * C * K * 2)))

    modifier_codes = cell_modifier_codes(fit, cells)

    def cell_dict(j, m):
        wave = np.full(C, j)
        months = np.full(C, float(design.schedule[waves[j]]))
        d = {"person": np.arange(C), "basis": basis.matrix(wave, months),
             "change": basis.change_indicator(wave, months), "modality": m, "X": X_cells}
        if modifier_codes:
            d["modifiers"] = modifier_codes
        return d

    def mean_mu(p, d):
        etas, S = {}, None
        for (part, prefix), node in zip(parts, xs, strict=True):
            eta = linear_predictor(p, d, prefix=prefix, by_time=model.modality_by_time)
            S = eta.shape[0]
            var = np.zeros(S)
            for name in ("sigma_person", "sigma_site", "sigma_area"):
                if prefix + name in p and prefix + "z_" + name[6:] in params:
                    var = var + p[prefix + name] ** 2
            var = var[:, None] + np.zeros((1, C))
            for name in ("sigma_site_change", "sigma_area_change"):
                if prefix + name in p:
                    var = var + p[prefix + name][:, None] ** 2 * d["change"][None, :] ** 2
            etas[part] = eta[:, :, None] + np.sqrt(var)[:, :, None] * node[None, None, :]
        aux = {k: p[k][:, None, None] for k in fam.aux}
        mu = fam.mean(etas, aux, trials=design.trials)
        return (mu * wg).sum(axis=-1)  # (S, C)

    def post(mu, sel=None):
        if sel is None:
            return mu @ counts / counts.sum()
        return mu[:, sel] @ counts[sel] / counts[sel].sum()

    level = np.zeros((n_sample, n_t))
    own = np.zeros((n_sample, len(labels), n_t))
    adj = np.zeros((n_sample, len(labels), n_t))
    present = [bool((mod == m).any()) for m in range(len(labels))]
    n_g = len(groups[2]) if groups is not None else 0
    gmasks = [np.asarray(groups[1]) == g for g in range(n_g)] if groups is not None else []
    g_level = np.zeros((n_sample, n_g, n_t))
    g_own = np.zeros((n_sample, n_g, len(labels), n_t))
    g_adj = np.zeros((n_sample, n_g, len(labels), n_t))
    for s0 in range(0, n_sample, per_chunk):
        s1 = min(n_sample, s0 + per_chunk)
        p = {k: v[s0:s1] for k, v in fixed.items()}
        for j in range(n_t):
            mu = mean_mu(p, cell_dict(j, mod))
            level[s0:s1, j] = post(mu)
            for g, gm in enumerate(gmasks):
                g_level[s0:s1, g, j] = post(mu, gm)
            if compare:
                for m in range(len(labels)):
                    if present[m]:
                        own[s0:s1, m, j] = post(mu, mod == m)
                    mu_cf = mean_mu(p, cell_dict(j, np.full(C, m)))
                    adj[s0:s1, m, j] = post(mu_cf)
                    for g, gm in enumerate(gmasks):
                        if (gm & (mod == m)).any():
                            g_own[s0:s1, g, m, j] = post(mu, gm & (mod == m))
                        g_adj[s0:s1, g, m, j] = post(mu_cf, gm)
    no_weights = WeightSpec(None, "mrp", "target")  # baseline="covariate" is refused above
    out = assemble_estimands(model, design, level, own, adj, no_weights, contrast_list or [],
                             present=present, modalities=compare)
    if groups is not None:
        out.update(assemble_subgroups(
            model, design, (g_level, g_own, g_adj), no_weights, contrast_list or [],
            groups[0], groups[2], gmasks,
            options=lambda g: {"present": [bool((gmasks[g] & (mod == m)).any())
                                           for m in range(len(labels))],
                               "modalities": compare}))
    return out


def mrp_estimates(fit: Fit, population: pd.DataFrame | None = None, *, cohort=None,
                  n_nodes: int = 30, modalities: bool = True,
                  contrasts: str | list[tuple[str, str]] = "reference",
                  reference: str | None = None, ci_prob: float = CI_PROB,
                  by: str | None = None) -> pd.DataFrame:
    """Population estimands by poststratifying the fit's predictions to population cells.

    Parameters
    ----------
    fit : Fit
    population : DataFrame, optional
        Cells with ``count`` (default the cohort's population table).
    cohort : Cohort, optional
        Default ``fit.cohort`` (needed for the persons' covariates).
    n_nodes : int
        Gauss-Hermite nodes per predictor. Default 30.
    modalities : bool
        Also the modality estimands (descriptive, adjusted, contrasts).
    contrasts, reference
        As in :meth:`Fit.estimate`.
    ci_prob : float
        Interval probability. Default 0.90.
    by : str, optional
        A population cell variable (e.g. ``"referral_route"``): every estimand also over the
        cells of each of its levels (``subgroup = "referral_route=criminal_justice"``) and
        ``subgroup_difference`` rows between levels (module notes). ``n_persons`` of a
        subgroup row is the modelled persons with that level (when the persons have the
        column); ``table.attrs["n_cells_by"]`` gives its cells.

    Returns
    -------
    DataFrame
        :data:`~dtors_bayes.estimands.engine.ESTIMAND_COLUMNS`, ``weighting="mrp"``,
        ``population="target"``, ``estimator="model"``.

    Raises
    ------
    FitError
        ``by`` not a population cell variable (the message names them), or with one level.
    """
    cohort = cohort if cohort is not None else fit.cohort
    if cohort is None:
        raise FitError("MRP needs the cohort (persons' covariates): pass cohort=")
    if fit.model.baseline == "covariate":
        raise FitError("MRP is not available with baseline='covariate': the population cells "
                       "carry no intake outcome to condition on; use baseline='outcome'")
    cells = cohort.population if population is None else population
    if cells is None or "count" not in cells.columns:
        raise CohortError("MRP needs population cells with a 'count' column")
    cells = cells[cells["count"] > 0].reset_index(drop=True)
    idx = pd.Index(cohort.persons["person_id"]).get_indexer(pd.Index(fit.design.person_ids))
    if (idx < 0).any():
        raise FitError("the fit's persons are not all in this cohort")
    persons = cohort.persons.iloc[idx].reset_index(drop=True)
    groups = cell_subgroup_codes(cells, by, fit) if by is not None else None
    X_cells = cell_design(fit, cells, persons)
    pairs = contrast_pairs(fit.design.modality_labels, contrasts, reference) if modalities \
        else []
    draws = mrp_draws(fit, cells, X_cells, n_nodes=n_nodes, modalities=modalities,
                      contrast_list=pairs,
                      groups=None if groups is None else (by, *groups[:2]))
    post = fit.tree["posterior"]
    table = estimand_table(draws, int(post.sizes["chain"]), int(post.sizes["draw"]),
                           ci_prob=ci_prob, outcome=fit.outcome, population="target",
                           weighting="mrp", attrition=fit.model.attrition_label,
                           n_persons=fit.design.n_person, assumption=MRP_ASSUMPTION)
    table.attrs["n_cells"] = len(cells)
    if groups is not None:
        codes, labels, modelled = groups
        if by in persons.columns:  # the modelled persons of each level, for n_persons
            lookup = {lab: g for g, lab in enumerate(labels)}
            person_codes = np.array([lookup.get(str(v), -1) for v in persons[by]])
        else:
            person_codes = np.full(len(persons), -1)
        label_subgroups(table, by, person_codes, labels, modelled)
        table.attrs["n_cells_by"] = {lab: int((codes == g).sum())
                                     for g, lab in enumerate(labels)}
    return table
