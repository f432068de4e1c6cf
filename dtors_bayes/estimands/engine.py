"""Population estimands by g-computation over posterior draws x persons.

The estimand contract (ARCHITECTURE.md):

1. Every estimand is a function of ``mu_it``, the response-scale expectation of person i at
   wave t (at the wave's nominal months), computed from each posterior draw with that
   person's *own* posterior person, site and area effects; transformed draw by draw, then
   averaged (never the inverse link of an average).
2. Averages over persons are weighted explicitly: ``population="sample"`` (equal weights),
   ``"weighted"`` (user-given fixed weights) or ``"target"`` (weights whose draws come with
   the fit, ``weighting="propagated"``). Under propagation draw s uses weight draw s.
3. Adjusted modality estimands set every person's modality to A (then B) and average: the
   contrast ``A - B`` of change from intake is labelled with its assumption (no unmeasured
   confounding given covariates, site and area).
4. ``groups=`` (``estimate(by=column)``): every estimand also over each subgroup's persons,
   from the same ``mu`` draws and weights (``subgroup`` column ``"column=level"``), plus
   draw-by-draw ``subgroup_difference`` rows (:func:`subgroup_differences`; the codes and
   labels: :mod:`dtors_bayes.estimands.subgroups`).
   The table's columns (:data:`ESTIMAND_COLUMNS`) always include ``subgroup`` (``""`` on
   the overall rows).

Memory is bounded: draws are processed in chunks sized so one (draws x persons) array stays
under ``chunk_bytes``; per chunk only per-draw sums are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.weights import WeightSpec

ESTIMAND_COLUMNS = [
    "outcome",
    "estimand",
    "wave",
    "modality",
    "contrast",
    "subgroup",
    "population",
    "weighting",
    "estimator",
    "attrition",
    "mean",
    "sd",
    "ci_lb",
    "ci_ub",
    "ci_prob",
    "p_direction",
    "mcse_mean",
    "ess_bulk",
    "r_hat",
    "n_persons",
    "assumption",
]

ADJUSTED_ASSUMPTION = (
    "no unmeasured confounding of modality given covariates, site and area; "
    "g-computation standardised to the population weights"
)
DESCRIPTIVE = "descriptive: each modality's own persons, not a causal contrast"


def _wmean(mu: np.ndarray, w: np.ndarray | None, mask: np.ndarray | None = None) -> np.ndarray:
    if w is None:
        if mask is None:
            return mu.mean(axis=1)
        return mu[:, mask].mean(axis=1)
    if mask is not None:
        mu, w = mu[:, mask], w[:, mask]
    return (mu * w).sum(axis=1) / w.sum(axis=1)


def draws_of_estimands(
    model,
    design,
    params: dict[str, np.ndarray],
    weights: WeightSpec,
    *,
    contrast_pairs: list[tuple[str, str]],
    chunk_bytes: int = 128 * 2**20,
    offsets: dict[int, np.ndarray] | None = None,
    groups: tuple[str, np.ndarray, list[str]] | None = None,
) -> dict[tuple, np.ndarray]:
    """Per-draw values of every estimand.

    Parameters
    ----------
    groups : (column, codes, labels), optional
        Subgroups (``estimate(by=column)``): each person's code (n_person,) into ``labels``.
        Every estimand is then also computed over each subgroup's persons (the same ``mu``
        draws, weighted by the same weights), keyed with a fifth element
        ``"column=label"``, plus the subgroup differences
        (:func:`dtors_bayes.estimands.subgroups.subgroup_differences`).
    offsets : dict, optional
        Pattern-mixture hook: modelled-wave position -> per-person shift (n_person,) added to
        the main linear predictor ``eta`` at that wave (zero for persons whose outcome was
        observed; see :mod:`dtors_bayes.attrition.pattern_mixture`). Applied in the counterfactual
        (adjusted) predictions too.

    Returns
    -------
    dict
        Key ``(estimand, wave, modality, contrast)`` -> array of shape (n_sample,).
    """
    from dtors_bayes.models.predictor import person_effect, time_effect

    fam = model.family_obj
    basis = model.basis(design)
    n = design.n_person
    n_sample = next(iter(params.values())).shape[0]
    waves = design.waves
    labels = design.modality_labels
    compare_modalities = len(labels) > 1
    n_t = len(waves)
    per_chunk = max(1, int(chunk_bytes // (8 * max(n, 1))))
    persons = np.arange(n)
    cells = {j: design.cells(basis, persons, np.full(n, j)) for j in range(n_t)}
    aux_names = list(fam.aux)

    level = np.zeros((n_sample, n_t))
    own = np.zeros((n_sample, len(labels), n_t))
    adj = np.zeros((n_sample, len(labels), n_t))
    mods = [design.modality == m for m in range(len(labels))]
    n_g = len(groups[2]) if groups is not None else 0
    gmasks = [groups[1] == g for g in range(n_g)] if groups is not None else []
    g_level = np.zeros((n_sample, n_g, n_t))
    g_own = np.zeros((n_sample, n_g, len(labels), n_t))
    g_adj = np.zeros((n_sample, n_g, len(labels), n_t))
    for s0 in range(0, n_sample, per_chunk):
        s1 = min(n_sample, s0 + per_chunk)
        p = {k: v[s0:s1] for k, v in params.items()}
        aux = {k: p[k][:, None] for k in aux_names}
        w = weights.chunk(s0, s1)

        parts = list(zip(fam.parts, ("", "pos_"), strict=False))
        # the person part does not depend on wave or modality: compute it once per chunk
        person = {part: person_effect(p, cells[0], prefix=prefix) for part, prefix in parts}

        def mu_of(d, j, p=p, aux=aux, person=person, parts=parts):
            etas = {part: time_effect(p, d, prefix=prefix, by_time=model.modality_by_time)
                    + person[part] for part, prefix in parts}
            if offsets is not None and j in offsets:
                etas["eta"] = etas["eta"] + offsets[j][None, :]
            return fam.mean(etas, aux, trials=design.trials)

        for j in range(n_t):
            mu = mu_of(cells[j], j)
            level[s0:s1, j] = _wmean(mu, w)
            for g, gm in enumerate(gmasks):
                g_level[s0:s1, g, j] = _wmean(mu, w, gm)
            if compare_modalities:
                for m, mask in enumerate(mods):
                    if mask.any():
                        own[s0:s1, m, j] = _wmean(mu, w, mask)
                    cf = dict(cells[j], modality=np.full(n, m))
                    mu_cf = mu_of(cf, j)
                    adj[s0:s1, m, j] = _wmean(mu_cf, w)
                    for g, gm in enumerate(gmasks):
                        if (mask & gm).any():
                            g_own[s0:s1, g, m, j] = _wmean(mu, w, mask & gm)
                        g_adj[s0:s1, g, m, j] = _wmean(mu_cf, w, gm)

    out = assemble_estimands(model, design, level, own, adj, weights, contrast_pairs)
    if groups is not None:
        out.update(assemble_subgroups(model, design, (g_level, g_own, g_adj), weights,
                                      contrast_pairs, groups[0], groups[2], gmasks,
                                      options=lambda g: {"mask": gmasks[g]}))
    return out


def assemble_subgroups(model, design, arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
                       wspec: WeightSpec, pairs: list[tuple[str, str]], column: str,
                       labels: list[str], masks: list[np.ndarray], *,
                       options=lambda g: {}) -> dict[tuple, np.ndarray]:
    """Every estimand over each subgroup, keyed with ``"column=level"``, plus the
    ``subgroup_difference`` rows (:func:`subgroup_differences`).

    ``arrays`` are the per-group ``(level, own, adj)`` averages, each with the group on axis
    1; ``options(g)`` gives :func:`assemble_estimands`'s keywords for group ``g`` (its
    ``mask`` for person averages; ``present`` and ``modalities`` for MRP cells). Empty
    groups are skipped.
    """
    g_level, g_own, g_adj = arrays
    out, per_group = {}, {}
    for g, lab in enumerate(labels):
        if not masks[g].any():
            continue
        d = assemble_estimands(model, design, g_level[:, g], g_own[:, g], g_adj[:, g],
                               wspec, pairs, **options(g))
        per_group[lab] = d
        out.update({(*k, f"{column}={lab}"): v for k, v in d.items()})
    out.update(subgroup_differences(per_group, column))
    return out


def assemble_estimands(model, design, level: np.ndarray, own: np.ndarray, adj: np.ndarray,
                       wspec: WeightSpec, pairs: list[tuple[str, str]], *,
                       present: list[bool] | None = None,
                       modalities: bool = True,
                       mask: np.ndarray | None = None) -> dict[tuple, np.ndarray]:
    """Estimand draws from per-draw levels: the definitions of every estimand, in one place.

    Every path that averages ``mu`` (g-computation over the modelled persons, pattern-mixture
    shifts, MRP over population cells, the variance decomposition) hands its per-draw
    averages here, so each estimand is defined once:

    - ``level_t`` and, for ``t > 0``, ``change_t = level_t - level_0`` and
      ``ratio_t = level_t / level_0``;
    - ``modality_level`` / ``modality_change``: the same over the units of each modality
      (descriptive), for the modalities ``present`` among the averaged units;
    - ``adjusted_level`` / ``adjusted_change``: everyone given modality ``m``, for the
      modalities with modelled persons (a modality nobody in the model received is
      identified by its prior only, so no adjusted row is reported for it);
    - ``modality_contrast`` ``A - B``: difference of adjusted changes, for the pairs whose
      two modalities both have adjusted rows.

    Parameters
    ----------
    level : array (S, T)
        Weighted mean of mu over all persons at each modelled wave.
    own : array (S, M, T)
        The same over each modality's own persons.
    adj : array (S, M, T)
        The same with everyone given modality m.
    wspec : WeightSpec
        The weights used (for the observed intake mean under ``baseline="covariate"``).
    pairs : list of (A, B)
        Modality contrasts ``A - B``.
    present : list of bool, optional
        Which modalities have units among those averaged (default: modelled persons; MRP
        passes the modalities of its population cells).
    modalities : bool
        ``False``: the overall rows only (MRP with ``modalities=False``).
    mask : array of bool (n_person,), optional
        The persons averaged when they are a subgroup of the modelled persons
        (``estimate(by=)``): modalities are identified, and present, by that subgroup's
        persons, and the observed intake mean (``baseline="covariate"``) is theirs.
    """
    labels = design.modality_labels
    compare = modalities and len(labels) > 1
    mods = [design.modality == m for m in range(len(labels))]
    if mask is not None:
        sel = np.asarray(mask, bool)
        mods = [mk & sel for mk in mods]
    identified = [bool(mk.any()) for mk in mods]
    present = identified if present is None else [bool(x) for x in present]
    n_sample = level.shape[0]
    waves = list(design.waves)
    if model.baseline == "covariate":
        b = design.baseline_values
        wb = wspec.values
        if wb is None:
            wb = np.ones(len(b))
        if mask is not None:
            b, wb = b[sel], (wb[:, sel] if wb.ndim == 2 else wb[sel])
            mods = [mk[sel] for mk in mods]
        wb2 = np.broadcast_to(wb if wb.ndim == 2 else wb[None], (n_sample, len(b)))
        base = (wb2 * b).sum(1) / wb2.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            base_m = [(wb2[:, mk] * b[mk]).sum(1) / wb2[:, mk].sum(1) if mk.any()
                      else np.full(n_sample, np.nan) for mk in mods]
        level = np.column_stack([base, level])
        own = np.concatenate([np.stack(base_m, axis=1)[:, :, None], own], axis=2)
        adj = np.concatenate([np.repeat(base[:, None, None], len(labels), 1), adj], axis=2)
        waves = [min(design.schedule), *waves]
    out: dict[tuple, np.ndarray] = {}
    index = {lab: m for m, lab in enumerate(labels)}
    for j, wl in enumerate(waves):
        wlab = int(wl)
        out[("level", wlab, "", "")] = level[:, j]
        if j > 0:
            out[("change", wlab, "", "")] = level[:, j] - level[:, 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                out[("ratio", wlab, "", "")] = level[:, j] / level[:, 0]
        if not compare:
            continue
        for m, lab in enumerate(labels):
            if present[m]:
                out[("modality_level", wlab, lab, "")] = own[:, m, j]
            if identified[m]:
                out[("adjusted_level", wlab, lab, "")] = adj[:, m, j]
            if j > 0 and present[m]:
                out[("modality_change", wlab, lab, "")] = own[:, m, j] - own[:, m, 0]
            if j > 0 and identified[m]:
                out[("adjusted_change", wlab, lab, "")] = adj[:, m, j] - adj[:, m, 0]
        if j > 0:
            for a, bb in pairs:
                if not (identified[index[a]] and identified[index[bb]]):
                    continue
                ca = adj[:, index[a], j] - adj[:, index[a], 0]
                cb = adj[:, index[bb], j] - adj[:, index[bb], 0]
                out[("modality_contrast", wlab, "", f"{a} - {bb}")] = ca - cb
    return out



#: Estimands whose subgroup differences are reported, and the differences' estimand name.
DIFFERENCED = ("change", "modality_contrast")
SUBGROUP_DIFFERENCE = "subgroup_difference"


def subgroup_differences(per_group: dict[str, dict[tuple, np.ndarray]],
                         column: str) -> dict[tuple, np.ndarray]:
    """Draw-by-draw differences of change and modality contrasts between subgroups.

    Parameters
    ----------
    per_group : dict
        Subgroup label -> its estimand draws (keys ``(estimand, wave, modality, contrast)``),
        in the levels' order.
    column : str
        The subgroup column.

    Returns
    -------
    dict
        ``("subgroup_difference", wave, "" or "A - B", "G - H", column)`` -> draws, for every
        pair ``G`` before ``H`` and every change / modality contrast both subgroups have.
    """
    labels = list(per_group)
    out: dict[tuple, np.ndarray] = {}
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            for key, va in per_group[a].items():
                est, wave, _, con = key
                if est not in DIFFERENCED or key not in per_group[b]:
                    continue
                what = "" if est == "change" else con
                out[(SUBGROUP_DIFFERENCE, wave, what, f"{a} - {b}", column)] = \
                    va - per_group[b][key]
    return out



def summarize_draws(
    draws: dict[tuple, np.ndarray], n_chain: int, n_draw: int, *, ci_prob: float = CI_PROB
) -> pd.DataFrame:
    """Mean, sd, equal-tailed interval, probability of direction, MCSE, ESS and R-hat."""
    import arviz as az
    import xarray as xr

    keys = list(draws)
    arr = np.stack([draws[k] for k in keys]).reshape(len(keys), n_chain, n_draw)
    da = xr.DataArray(arr, dims=("row", "chain", "draw"))
    ds = xr.Dataset({"v": da})
    # constant rows (e.g. the observed intake mean under baseline="covariate") have no
    # sampling variability: ESS and R-hat are undefined there and left as NaN
    finite = np.isfinite(arr).all(axis=(1, 2)) & (np.ptp(arr.reshape(len(keys), -1), axis=1) > 0)
    ess = np.full(len(keys), np.nan)
    rhat = np.full(len(keys), np.nan)
    mcse = np.full(len(keys), np.nan)
    if n_draw >= 4 and finite.any():
        sub = ds.isel(row=np.flatnonzero(finite))
        ess[finite] = np.asarray(az.ess(sub, method="bulk")["v"])
        mcse[finite] = np.asarray(az.mcse(sub, method="mean")["v"])
        if n_chain > 1:
            rhat[finite] = np.asarray(az.rhat(sub)["v"])
    flat = arr.reshape(len(keys), -1)
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    q = np.nanquantile(flat, [lo, hi], axis=1)
    pd_ = np.maximum((flat > 0).mean(axis=1), (flat < 0).mean(axis=1))
    rows = []
    for i, key in enumerate(keys):
        est, wave, mod, con = key[:4]
        rows.append(
            {
                "estimand": est,
                "wave": wave,
                "modality": mod,
                "contrast": con,
                "subgroup": key[4] if len(key) > 4 else "",
                "mean": float(np.nanmean(flat[i])),
                "sd": float(np.nanstd(flat[i], ddof=1)),
                "ci_lb": float(q[0, i]),
                "ci_ub": float(q[1, i]),
                "ci_prob": ci_prob,
                "p_direction": float(pd_[i]),
                "mcse_mean": float(mcse[i]),
                "ess_bulk": float(ess[i]),
                "r_hat": float(rhat[i]),
            }
        )
    return pd.DataFrame(rows)


def contrast_pairs(
    labels: list[str], contrasts: str | list[tuple[str, str]], reference: str | None
) -> list[tuple[str, str]]:
    """Pairs ``(A, B)`` for ``A - B`` contrasts: each vs the reference, or every pair."""
    from dtors_bayes.exceptions import ModelError

    if len(labels) < 2:
        return []
    if not isinstance(contrasts, str):
        bad = [p for p in contrasts if p[0] not in labels or p[1] not in labels]
        if bad:
            raise ModelError(
                f"contrasts {bad} name modalities not in the fit; modalities: {labels}"
            )
        return [tuple(p) for p in contrasts]
    if contrasts == "pairs":
        return [(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]]
    if contrasts == "reference":
        ref = (
            reference
            if reference is not None
            else ("prescribing" if "prescribing" in labels else labels[0])
        )
        if ref not in labels:
            raise ModelError(
                f"reference={ref!r} is not a modality of the fit; modalities: {labels}"
            )
        return [(a, ref) for a in labels if a != ref]
    raise ModelError(f"contrasts={contrasts!r}; allowed: 'reference', 'pairs' or a list of pairs")


ADJUSTED_ESTIMANDS = ("adjusted_level", "adjusted_change", "modality_contrast")
DESCRIPTIVE_ESTIMANDS = ("modality_level", "modality_change")


def estimand_table(draws: dict[tuple, np.ndarray], n_chain: int, n_draw: int, *,
                   ci_prob: float, outcome: str, population: str, weighting: str,
                   attrition: str, n_persons: int, estimator: str = "model",
                   assumption: str = "") -> pd.DataFrame:
    """The tidy estimand table of per-draw estimands: summary plus the fixed label columns.

    The one labeller of every model-based path (:func:`draws_of_estimands`, MRP, the
    sensitivity grid): ``assumption`` is the path's own (empty for plain g-computation),
    joined with :data:`ADJUSTED_ASSUMPTION` on the adjusted rows and :data:`DESCRIPTIVE` on
    the modality rows.

    Returns
    -------
    DataFrame
        :data:`ESTIMAND_COLUMNS`, with ``attrs`` ``ci_prob``, ``ci_kind`` and ``outcome``.
    """
    table = summarize_draws(draws, n_chain, n_draw, ci_prob=ci_prob)
    label_estimands(table, outcome=outcome, population=population, weighting=weighting,
                    attrition=attrition, n_persons=n_persons, estimator=estimator,
                    assumption=assumption)
    table = table[ESTIMAND_COLUMNS]
    table.attrs.update({"ci_prob": ci_prob, "ci_kind": "equal-tailed", "outcome": outcome})
    return table


def label_estimands(table: pd.DataFrame, *, outcome: str, population: str, weighting: str,
                    attrition: str | None, n_persons: int, estimator: str = "model",
                    assumption: str = "") -> None:
    """Fill the fixed label columns of a summarised estimand table in place.

    ``attrition=None`` leaves a per-row ``attrition`` column the caller has set (the
    sensitivity grid labels each row with its delta).
    """
    # rows a caller built itself (the sensitivity grid's) have no subgroup: the overall ones
    table["subgroup"] = table["subgroup"].fillna("") if "subgroup" in table.columns else ""
    table["outcome"] = outcome
    table["population"] = population
    table["weighting"] = weighting
    table["estimator"] = estimator
    if attrition is not None:
        table["attrition"] = attrition
    table["n_persons"] = n_persons

    def joined(extra: str) -> str:
        return f"{assumption}; {extra}" if assumption else extra

    table["assumption"] = assumption
    table.loc[table["estimand"].isin(ADJUSTED_ESTIMANDS), "assumption"] = joined(
        ADJUSTED_ASSUMPTION)
    table.loc[table["estimand"].isin(DESCRIPTIVE_ESTIMANDS), "assumption"] = joined(DESCRIPTIVE)

