r"""Per-draw population paths of an outcome over the waves, per option, from one fit.

The economic quantities are areas under population curves, so they need, for every
posterior draw ``s``, the weighted mean over persons of ``mu_it`` at each wave's nominal
months for

- ``"treated"``: every person with their own modality (the estimand engine's ``level``: what
  the cohort's treatment mix achieved), and
- each modality ``m``: everyone given ``m`` (``adjusted_level``; g-computation, assumption of
  no unmeasured confounding given covariates, site and area).

They are computed by the estimand engine itself (ARCHITECTURE.md, "the estimand rule"):
:func:`dtors_bayes.estimands.shifts.shifted_levels` averages ``mu`` draw by draw with the
weights of ``weighting`` (weight draw ``s`` with posterior draw ``s`` when propagated) and
the pattern-mixture shift ``delta`` of the cells not interviewed (a fixed value, or one
draw per posterior draw from a normal prior: the MNAR uncertainty is then inside the same
draws), and :func:`dtors_bayes.estimands.engine.assemble_estimands` labels them (so
``baseline="covariate"`` fits get their observed intake mean). At ``delta = 0`` the paths are
exactly the ``level`` / ``adjusted_level`` draws of ``fit.estimate()``.

``weighting="mrp"`` (:func:`mrp_paths`) takes the same two estimands from the engine's MRP
path instead (:func:`dtors_bayes.weighting.mrp.mrp_draws`: population cells, random effects
integrated out), so QALYs and costs are for the poststratified population; the cells'
modality mix replaces the persons' shares. The pattern-mixture ``delta`` is refused there
(population cells have no interview pattern).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dtors_bayes.exceptions import FitError, SpecError

TREATED = "treated"


@dataclass
class Paths:
    """Population means of one outcome per draw, option and wave.

    Attributes
    ----------
    outcome : str
    options : list of str
        ``"treated"`` then the modalities with modelled persons.
    months : ndarray (T,)
        Nominal months of the waves (intake first).
    values : ndarray (S, O, T)
        Weighted mean of ``mu`` per draw, option and wave.
    shares : ndarray (S, M)
        Weighted share of each modality among the persons (per draw), for mixing costs.
    modalities : list of str
        Modality labels of ``shares``' columns.
    n_chain, n_draw : int
    delta : ndarray (S,) or None
        The pattern-mixture shift of each draw (None: no shift, i.e. the fit's own
        attrition assumption).
    labels : dict
        ``weighting``, ``population``, ``attrition`` (the fit's label plus the delta).
    """

    outcome: str
    options: list[str]
    months: np.ndarray
    values: np.ndarray
    shares: np.ndarray
    modalities: list[str]
    n_chain: int
    n_draw: int
    delta: np.ndarray | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def n_sample(self) -> int:
        """Number of draws (chain x draw)."""
        return self.n_chain * self.n_draw

    def take(self, index: np.ndarray) -> Paths:
        """The same paths with the draws reordered by ``index``: every option, wave,
        share and delta of a draw move together (the coupling of
        :mod:`dtors_bayes.economics.pairing`). The chain structure is kept only in shape."""
        idx = np.asarray(index, dtype=int)
        if idx.shape != (self.n_sample,):
            raise SpecError(f"take: need {self.n_sample} draw indices; got {idx.shape}")
        return Paths(outcome=self.outcome, options=list(self.options), months=self.months,
                     values=self.values[idx], shares=self.shares[idx],
                     modalities=list(self.modalities), n_chain=self.n_chain,
                     n_draw=self.n_draw, delta=None if self.delta is None else self.delta[idx],
                     labels=dict(self.labels))

    def option(self, name: str) -> np.ndarray:
        """The (S, T) draws of one option."""
        if name not in self.options:
            raise SpecError(f"{self.outcome}: no option {name!r}; options: {self.options}")
        return self.values[:, self.options.index(name)]


def weight_spec(fit, weighting: str, weights: Any, cohort, seed: int | None):
    """The person weights of ``weighting`` for a fit (none, fixed or propagated).

    As :meth:`Fit.estimate`: without ``weights``, ``"fixed"`` rakes the cohort to its
    population table and ``"propagated"`` uses the fit's weight draws or draws them now.
    """
    from dtors_bayes.estimands.weights import person_weights

    if weighting == "mrp":
        raise SpecError("weight_spec: weighting='mrp' has no person weights; outcome_paths "
                        "poststratifies (mrp_paths)")
    computed = weights is None and weighting in ("fixed", "propagated") and not (
        weighting == "propagated" and "weights" in fit.tree.children)
    if computed:
        cohort = cohort if cohort is not None else fit.cohort
        if cohort is None or getattr(cohort, "population", None) is None:
            raise FitError(f"weighting={weighting!r} without weights= needs a cohort with a "
                           "population table (pass cohort=, or weights=)")
        if weighting == "fixed":
            from dtors_bayes.weighting.calibration import calibration_weights

            weights = calibration_weights(cohort, person_ids=fit.design.person_ids).weights
        else:
            from dtors_bayes.weighting.draws import propagated_weights_for_fit

            if seed is None:
                seed = fit.provenance.get("sampler", {}).get("random_seed")
            weights = propagated_weights_for_fit(fit, cohort, seed=seed)
    spec = person_weights(fit, weighting, weights)
    if computed:
        spec.population = "target"
    return spec


def delta_draws(delta: Any, n: int, seed: int | None) -> np.ndarray | None:
    """Per-draw shifts: None, a number, (mean, sd) of a normal prior, or an array of n."""
    if delta is None:
        return None
    if isinstance(delta, tuple) and len(delta) == 2:
        m, s = (float(v) for v in delta)
        if s < 0:
            raise SpecError("delta prior sd must be >= 0")
        return np.random.default_rng(seed).normal(m, s, n)
    arr = np.asarray(delta, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise SpecError(f"delta: {arr.size} draws given, the posterior has {n}")
    return arr


def _from_draws(draws: dict, design, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Options, (S, O, T) values and months from the engine's ``level`` and
    ``adjusted_level`` draws."""
    waves = sorted({k[1] for k in draws if k[0] == "level"})
    labels = design.modality_labels
    mods = [m for m in labels
            if all(("adjusted_level", w, m, "") in draws for w in waves)] if len(labels) > 1 \
        else []
    values = np.stack([np.column_stack([draws[("level", w, "", "")] for w in waves])]
                      + [np.column_stack([draws[("adjusted_level", w, m, "")] for w in waves])
                         for m in mods], axis=1)
    months = np.array([design.schedule[w] for w in waves], dtype=float)
    return [TREATED, *mods], values, months


def mrp_paths(fit, *, population: Any = None, cohort=None, n_nodes: int = 30,
              chunk_bytes: int = 64 * 2**20) -> Paths:
    r"""Paths poststratified to population cells (MRP), draw by draw.

    For cell ``c`` with count ``N_c`` the cell mean :math:`\bar\mu^{(s)}_{ct}` integrates
    the person, site and area effects over their fitted distributions
    (:func:`dtors_bayes.weighting.mrp.mrp_draws`, the estimand engine's MRP path), and

    .. math::

        u^{(s)}_{treated}(t) = \frac{\sum_c N_c \bar\mu^{(s)}_{c t}}{\sum_c N_c},
        \qquad u^{(s)}_m(t) = \frac{\sum_c N_c \bar\mu^{(s)}_{c t}(z = m)}{\sum_c N_c},

        \pi_m = \frac{\sum_{c: z_c = m} N_c}{\sum_c N_c}

    (the treated population's modality mix, for the treatment cost, is the cells'). So
    QALYs and costs are for the population the cells describe (the cohort's population
    table by default: the NDTMS-like treated population).

    Parameters
    ----------
    fit : Fit
    population : DataFrame, optional
        Population cells with ``count`` and the model's cell variables (``modality`` when
        the model has modalities); default the cohort's population table.
    cohort : Cohort, optional
        Default ``fit.cohort``: the persons' covariates (the cells' design).
    n_nodes : int
        Gauss-Hermite nodes per predictor.
    chunk_bytes : int
        Memory budget of one draws x cells x nodes array.

    Returns
    -------
    Paths
        ``labels``: ``weighting="mrp"``, ``population="target"``; ``delta`` None.

    Raises
    ------
    FitError
        Without a cohort, with ``baseline="covariate"`` or persons not in the cohort.
    CohortError
        Cells without ``count``, or without a variable the model needs.
    """
    import pandas as pd

    from dtors_bayes.exceptions import CohortError
    from dtors_bayes.models.sampling import stack_draws
    from dtors_bayes.weighting.mrp import cell_design, mrp_draws

    cohort = cohort if cohort is not None else fit.cohort
    if cohort is None:
        raise FitError("outcome_paths(weighting='mrp') needs the cohort (the persons' "
                       "covariates give the cells' design): pass cohort=")
    if fit.model.baseline == "covariate":
        raise FitError("outcome_paths(weighting='mrp') is not available with "
                       "baseline='covariate': population cells carry no intake outcome; use "
                       "baseline='outcome' or another weighting")
    if population is not None and not isinstance(population, pd.DataFrame):
        raise SpecError("outcome_paths(weighting='mrp'): weights= must be a population "
                        f"DataFrame of cells with 'count' (or None); got "
                        f"{type(population).__name__}")
    cells = getattr(cohort, "population", None) if population is None else population
    if cells is None or "count" not in cells.columns:
        raise CohortError("outcome_paths(weighting='mrp') needs population cells with a "
                          "'count' column (the cohort's population table, or weights=)")
    cells = cells[cells["count"] > 0].reset_index(drop=True)
    design = fit.design
    idx = pd.Index(cohort.persons["person_id"]).get_indexer(pd.Index(design.person_ids))
    if (idx < 0).any():
        raise FitError("outcome_paths(weighting='mrp'): the fit's persons are not all in this "
                       "cohort")
    persons = cohort.persons.iloc[idx].reset_index(drop=True)
    draws = mrp_draws(fit, cells, cell_design(fit, cells, persons), n_nodes=n_nodes,
                      modalities=True, contrast_list=[], chunk_bytes=chunk_bytes)
    _, n_chain, n_draw = stack_draws(fit.tree)
    n = n_chain * n_draw
    options, values, months = _from_draws(draws, design, n)
    labels = list(design.modality_labels)
    counts = cells["count"].to_numpy(float)
    if "modality" in cells.columns and len(labels) > 1:
        cm = cells["modality"].astype(str).to_numpy()
        share = np.array([counts[cm == m].sum() for m in labels]) / counts.sum()
    else:
        share = np.ones(len(labels)) / len(labels)   # one modality (mrp_draws checks)
    return Paths(outcome=fit.outcome, options=options, months=months, values=values,
                 shares=np.broadcast_to(share, (n, len(labels))).copy(), modalities=labels,
                 n_chain=n_chain, n_draw=n_draw, delta=None,
                 labels={"weighting": "mrp", "population": "target",
                         "attrition": fit.model.attrition_label})


def outcome_paths(fit, *, weighting: str = "none", weights: Any = None, cohort=None,
                  delta: Any = None, seed: int | None = 0,
                  chunk_bytes: int = 128 * 2**20, n_nodes: int = 30) -> Paths:
    r"""Draws of the population mean of ``mu`` at each wave, treated and per modality.

    Parameters
    ----------
    fit : Fit
        A fitted change model (any family; eq5d utility for QALYs, a binary offending
        outcome for crime costs).
    weighting : {"none", "fixed", "propagated", "mrp"}
        Person weights, as :meth:`Fit.estimate` (``weights``, ``cohort`` likewise);
        ``"mrp"`` poststratifies to population cells instead (:func:`mrp_paths`; ``weights``
        may then be a population DataFrame used instead of the cohort's table).
    delta : None, float, (mean, sd) or array of S draws
        Pattern-mixture shift (link scale) of the cells not interviewed
        (:mod:`dtors_bayes.attrition.pattern_mixture`); ``(mean, sd)`` draws one shift per
        posterior draw from a normal prior (seeded by ``seed``). Not with ``"mrp"``.
    seed : int, optional
        Seed of the delta draws and of propagated weight draws made here.
    n_nodes : int
        Gauss-Hermite nodes of MRP's integral over the random effects (``"mrp"`` only).

    Returns
    -------
    Paths

    Raises
    ------
    SpecError
        ``delta=`` with ``weighting="mrp"``: the pattern-mixture shift moves the modelled
        persons' cells that were not interviewed, and MRP averages population cells, which
        have no interview pattern.
    """
    if weighting == "mrp":
        if delta is not None:
            raise SpecError("outcome_paths: delta= is not available with weighting='mrp': the "
                            "pattern-mixture shift moves the modelled persons' cells not "
                            "interviewed, and MRP averages population cells (no interview "
                            "pattern); drop delta= or use weighting 'none', 'fixed' or "
                            "'propagated'")
        return mrp_paths(fit, population=weights, cohort=cohort, n_nodes=n_nodes,
                         chunk_bytes=min(chunk_bytes, 64 * 2**20))
    from dtors_bayes.estimands.engine import assemble_estimands
    from dtors_bayes.estimands.shifts import shifted_levels
    from dtors_bayes.models.sampling import stack_draws

    spec = weight_spec(fit, weighting, weights, cohort, seed)
    params, n_chain, n_draw = stack_draws(fit.tree)
    n = n_chain * n_draw
    if spec.values is not None and spec.values.ndim == 2 and spec.values.shape[0] != n:
        raise FitError(f"weight draws have {spec.values.shape[0]} rows; the posterior has {n}")
    d = delta_draws(delta, n, seed)
    if d is not None:
        from dtors_bayes.attrition.pattern_mixture import check_deltas

        check_deltas([d.min(), d.max()], fit.model.family_obj.link, "link", fit.design.y)
    shift = 0.0 if d is None else (float(d[0]) if np.ptp(d) == 0 else d)
    _, _, level, own, adj = shifted_levels(fit, params, spec, [shift], None, chunk_bytes)
    draws = assemble_estimands(fit.model, fit.design, level[0, 0], own[0, 0], adj[0, 0],
                               spec, [])
    design = fit.design
    labels = design.modality_labels
    options, values, months = _from_draws(draws, design, n)
    onehot = (design.modality[:, None] == np.arange(len(labels))[None]).astype(float)
    w = spec.values
    if w is None:
        shares = np.broadcast_to(onehot.mean(axis=0), (n, len(labels))).copy()
    else:
        w2 = np.broadcast_to(w if w.ndim == 2 else w[None], (n, design.n_person))
        shares = (w2 @ onehot) / w2.sum(axis=1, keepdims=True)
    att = fit.model.attrition_label
    if d is not None:
        dl = (f"delta~N({delta[0]:g},{delta[1]:g})" if isinstance(delta, tuple)
              else f"delta={float(d[0]):g}" if np.ptp(d) == 0 else "delta draws")
        att = dl if att == "mar" else f"{att}; {dl}"
    return Paths(outcome=fit.outcome, options=options, months=months, values=values,
                 shares=shares, modalities=list(labels), n_chain=n_chain, n_draw=n_draw,
                 delta=d, labels={"weighting": spec.weighting, "population": spec.population,
                                  "attrition": att})


__all__ = ["TREATED", "Paths", "delta_draws", "mrp_paths", "outcome_paths", "weight_spec"]
