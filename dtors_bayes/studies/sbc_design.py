"""What an SBC simulation is made of: its fixed design, frozen priors, ranked quantities and
one simulated data set.

Every simulation of a family reuses one simulated cohort's design (:data:`SBC_OUTCOMES`)
and the model with its data-dependent prior settings frozen at that design's values
(:func:`frozen_priors`; a selection model's response-intercept centres too,
:func:`frozen_response_centres`, on the :func:`selection_template` design). A data set is a
joint prior draw and outcomes (and, for a selection model, an interview mask) simulated from
it (:func:`simulate_dataset`); :func:`ranked_names` and ``_scalar_quantities`` say which
scalars are ranked.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import numpy as np

from dtors_bayes.studies.design import cohort_kwargs

__all__ = ["LEVEL_LAST", "SBC_OUTCOMES", "SBC_VERSION", "frozen_priors",
           "frozen_response_centres", "ranked_names", "selection_template",
           "simulate_dataset"]

#: Simulated outcome used as the design of each family's SBC (support must fit the family).
SBC_OUTCOMES = {
    "bernoulli": "acquisitive_crime", "binomial": "days_heroin",
    "beta_binomial": "days_heroin", "negative_binomial": "days_heroin",
    "gaussian": "mental_health", "student_t": "mental_health",
    "hurdle_lognormal": "drug_spend", "hurdle_gamma": "drug_spend", "eq5d": "eq5d",
}
#: Bumped when the model or the ranked quantities change (2: hierarchical wave-centred
#: levels, ranks of mu_time, sigma_modality(_time) and follow-up beta_time cells).
SBC_VERSION = 2
#: Name of the population quantity added to the structural parameters.
LEVEL_LAST = "level_last_wave"


# ---------------------------------------------------------------------------- model pieces
def frozen_priors(model, design) -> dict[str, float | dict[int, float]]:
    """The model's prior settings for ``design`` as explicit ``priors=`` overrides.

    The level centres (``level_loc``: one per modelled wave, from that wave's observed
    outcomes) and the default scales of identity/log links (``sd_y``) depend on the outcome;
    SBC must refit with the prior it drew from, so these are fixed at the original design's
    values. ``level_loc`` is returned as the per-wave table ``{wave: m_t}``, which
    :meth:`~dtors_bayes.models.change_model.ChangeModel.prior_scales` reads back unchanged (knot
    centres are interpolated from it, as for the defaults).
    """
    from dtors_bayes.models.priors import aux_defaults

    out: dict[str, float | dict[int, float]] = {}
    for prefix, scales in model.prior_scales(design).items():
        for k, v in scales.items():
            out[prefix + k] = ({int(w): float(c) for w, c in v.items()}
                               if isinstance(v, dict) else float(v))
    aux = aux_defaults(model.family, design.y)
    aux.update({k: v for k, v in model.priors.items() if k in aux})
    out.update({k: float(v) for k, v in aux.items() if k in model.family_obj.aux})
    return out


def _follow_up_basis(model, design) -> np.ndarray:
    """Boolean per basis function: at a follow-up (a wave or knot after the intake month)."""
    basis = model.basis(design)
    start = min(float(m) for m in design.schedule.values())
    months = [float(design.schedule[w]) for w in basis.waves] if basis.kind == "wave" \
        else [float(k) for k in basis.knots]
    return np.array([m > start for m in months])


def ranked_names(model, design, names) -> list[str]:
    """Variables whose scalars SBC ranks, among ``names`` (free variables and deterministics).

    Everything but the standardised offsets ``z_*`` and ``r_z_*`` (many, individually
    uninteresting), the selection model's latent missing outcomes ``y_missing`` (continuous
    families; their number follows the simulated data) and ``beta_time`` where it is a copy of
    ``mu_time`` (``modality_by_time=False`` or one modality). So the ranked trajectory
    quantities are ``mu_time`` (every basis function), the hierarchical scales
    ``sigma_modality`` / ``sigma_modality_time``, and the follow-up cells of ``beta_time``
    (see :func:`_scalar_quantities`); a selection model adds ``kappa`` and the response
    parameters ``r_*``.
    """
    copy = not model.modality_by_time or len(design.modality_labels) < 2
    out = []
    for name in names:
        base = name.removeprefix("pos_")
        if base.startswith(("z_", "r_z_")) or base == "y_missing" or \
                (base == "beta_time" and copy):
            continue
        out.append(name)
    return out


def _population_level(model, design, params: dict[str, np.ndarray]) -> np.ndarray:
    """Mean of ``mu`` over the design's persons at the last wave, per draw (leading axis)."""
    from dtors_bayes.models.predictor import linear_predictor

    fam = model.family_obj
    basis = model.basis(design)
    n = design.n_person
    d = design.cells(basis, np.arange(n), np.full(n, len(design.waves) - 1))
    etas = {part: linear_predictor(params, d, prefix=prefix, by_time=model.modality_by_time)
            for part, prefix in zip(fam.parts, ("", "pos_"), strict=False)}
    aux = {k: params[k][:, None] for k in fam.aux}
    return fam.mean(etas, aux, trials=design.trials).mean(axis=1)


def _scalar_quantities(model, design, params: dict[str, np.ndarray], coords: dict,
                       dims: dict) -> dict[str, np.ndarray]:
    """Ranked parameters flattened to scalars (name[label, ...]) plus the population level.

    ``params`` values have a leading sample axis and hold the free variables and the
    ``beta_time`` deterministic. Variables are chosen by :func:`ranked_names`; of
    ``beta_time`` only the follow-up cells are ranked (the intake cells are the best-identified
    and add little beyond ``mu_time``). The population level is computed from every variable.
    """
    out: dict[str, np.ndarray] = {}
    follow = _follow_up_basis(model, design)
    for name in ranked_names(model, design, params):
        v = np.asarray(params[name])
        if v.ndim == 1:
            out[name] = v
            continue
        names = dims.get(name, ())
        for idx in np.ndindex(*v.shape[1:]):
            if name.removeprefix("pos_") == "beta_time" and "time_basis" in names and \
                    not follow[idx[list(names).index("time_basis")]]:
                continue
            labels = [str(coords[dn][i]) if dn in coords else str(i)
                      for dn, i in zip(names, idx, strict=False)]
            out[f"{name}[{', '.join(labels)}]"] = v[(slice(None), *idx)]
    out[LEVEL_LAST] = _population_level(model, design, params)
    return out


def selection_template(design):
    """The selection-model SBC design: the parameter set of every refit.

    ``design`` with no late interviews (``late=None``; every cell at its wave's nominal
    months, so late single follow-ups count at their wave and the response model has one
    stage per follow-up wave), intake interviews for everyone, a monotone interview pattern
    (a follow-up only after an interview at the previous wave: the pattern
    :meth:`~dtors_bayes.models.selection.Selection.simulate_response` draws) and no item-missing
    values: an interviewed cell whose value is missing gets the median value observed at its
    wave (``method="nearest"``, a value of the outcome's support). So no previous value is
    missing at an attempted cell, and neither the template nor a simulated data set has
    ``r_rho_prev_missing`` or late stages.

    Parameters
    ----------
    design : Design
        A ``baseline="outcome"`` design (intake is its first wave).

    Returns
    -------
    Design
    """
    if design.baseline_values is not None:
        raise ValueError("selection SBC needs baseline='outcome' (intake as a design wave)")
    y = np.array(design.y, dtype=float)
    it = np.asarray(design.interviewed, bool).copy()
    it[:, 0] = True
    for t in range(1, it.shape[1]):
        it[:, t] &= it[:, t - 1]
    for t in range(y.shape[1]):
        seen = it[:, t] & ~np.isnan(y[:, t])
        fill = it[:, t] & np.isnan(y[:, t])
        if fill.any():
            if not seen.any():
                raise ValueError(f"selection_template: no observed value at wave "
                                 f"{design.waves[t]} to fill item-missing values with")
            y[fill, t] = np.quantile(y[seen, t], 0.5, method="nearest")
    y[~it] = np.nan
    nominal = np.array([float(design.schedule[w]) for w in design.waves])
    months = np.broadcast_to(nominal, y.shape).copy()
    return dataclasses.replace(design, y=y, interviewed=it, months=months, late=None)


def frozen_response_centres(design, family: str) -> tuple[float, ...]:
    """Prior centres of the response intercepts at ``design``'s own response rates.

    The default of :class:`~dtors_bayes.models.response.ResponseModel`: the logit of each stage's
    observed response rate among its attempted persons (rates clipped to [0.02, 0.98]; 0.5
    for a stage nobody was attempted at), here as explicit ``intercept_loc`` values so that
    the prior stays put when the interview pattern is simulated.

    Parameters
    ----------
    design : Design
        The template (:func:`selection_template`).
    family : str
        Outcome family (the response layout standardises non-binary outcomes).

    Returns
    -------
    tuple of float
        One centre per response stage, in the layout's stage order.
    """
    from dtors_bayes.models.response import response_layout, response_rate_centres

    layout = response_layout(design, family, "auto")
    return tuple(float(v) for v in response_rate_centres(layout))


@functools.lru_cache(maxsize=4)
def _design_for(family: str, n_persons: int, design_seed: int, model_json: str,
                selection: tuple[float, float] | None = None):
    """The fixed SBC design and model (cached per worker process).

    ``model_json`` is the JSON of the ``ChangeModel`` arguments (hashable, also when they
    hold a ``priors`` table such as a per-wave ``level_loc``). ``selection``: the kappa prior
    ``(mean, sd)`` of a selection model (the design is then :func:`selection_template` and
    the response-intercept centres are frozen at its rates).
    """
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.simulation.generate import simulate_cohort

    outcome = SBC_OUTCOMES[family]
    sim = simulate_cohort(design_seed, **cohort_kwargs(n_persons, outcomes=[outcome],
                                                       attrition="mcar"))
    kwargs = json.loads(model_json)
    model = ChangeModel(outcome, family, **kwargs)
    design = model.design(sim.cohort)
    if selection is not None:
        from dtors_bayes.models.response import ResponseModel
        from dtors_bayes.models.selection import Selection

        design = selection_template(design)
        response = ResponseModel(intercept_loc=frozen_response_centres(design, family))
        model = dataclasses.replace(model, attrition=Selection(
            kappa=(float(selection[0]), float(selection[1])), response=response))
    # frozen_priors already carries the user's overrides (prior_scales applies them); merging
    # the user's table again would replace a frozen per-wave level_loc by a partial one
    model = dataclasses.replace(model, priors=frozen_priors(model, design))
    return model, design


def simulate_dataset(model, design, prior_model, *, prior_seed: int, data_seed: int,
                     mask_seed: int | None = None) -> tuple[dict[str, np.ndarray], Any]:
    """One SBC data set: a joint prior draw and the design holding data simulated from it.

    Parameters
    ----------
    model : ChangeModel
        The model with frozen priors (from :func:`_design_for`).
    design : Design
        The SBC design (for a selection model the :func:`selection_template`).
    prior_model : pm.Model
        ``model.build(design)``; its free variables and deterministics are drawn jointly.
    prior_seed, data_seed : int
        Seeds of the prior draw and of the outcomes.
    mask_seed : int, optional
        Seed of the interview mask (selection models only).

    Returns
    -------
    truth : dict
        The prior draw, by variable name (no sample axis).
    sim_design : Design
        ``design`` with the simulated outcome: masked to the design's interview pattern, or,
        for a selection model, to the interview mask
        :meth:`~dtors_bayes.models.selection.Selection.simulate_response` draws from the complete
        outcomes (``interviewed`` replaced by it).
    """
    from dtors_bayes.models.sampling import prior_draw
    from dtors_bayes.models.selection import Selection

    truth = prior_draw(prior_model, seed=prior_seed)
    y = model.simulate(design, truth, seed=data_seed)
    if isinstance(model.attrition, Selection):
        seen = model.attrition.simulate_response(design, truth, y, model.family,
                                                 seed=mask_seed)
        y[~seen] = np.nan
        return truth, dataclasses.replace(design, y=y, interviewed=seen)
    y[np.isnan(design.y)] = np.nan
    return truth, dataclasses.replace(design, y=y)


def _free_names(model) -> set[str]:
    """Names of a PyMC model's free variables but ``y_missing`` (data-sized latent values)."""
    return {v.name for v in model.free_RVs} - {"y_missing"}
