"""Simulation-based calibration (SBC) of the change model, one outcome family at a time.

Each simulation (Talts et al. 2018; Modrak et al. 2023):

1. draws every parameter from the model's prior (``pm.draw`` on the free random variables
   of the model built for a fixed small simulated cohort design);
2. simulates an outcome matrix from those values with
   :meth:`~dtors_bayes.models.change_model.ChangeModel.simulate` (the likelihood's own
   parameterisation), masked to the design's interview pattern;
3. refits the model on the simulated outcome (same design, same priors: data-dependent
   prior scales are frozen at the original design's values, so prior and refit agree);
4. for each scalar quantity (structural parameters and a population estimand, the mean of
   ``mu`` over persons at the last wave) counts the posterior draws below the prior value,
   after thinning each chain to about the quantity's bulk ESS.

The structural parameters ranked are every free variable but the standardised offsets
``z_*``, plus the follow-up cells of the ``beta_time`` deterministic when it has modality
deviations (:func:`ranked_names`): the trajectory is ranked through ``mu_time`` (each basis
function), ``sigma_modality``, ``sigma_modality_time`` and ``beta_time[z, follow-up]``. The
prior draw is joint over free variables and deterministics, so ``beta_time``'s prior value
is the one the data were simulated from. The data-dependent prior settings (per-wave level
centres, identity/log scales) are frozen at the design's values (:func:`frozen_priors`).

If the software is calibrated, each rank is uniform on ``0..L``. Ranks are turned into
randomised PIT values ``(rank + V) / (L + 1)``, ``V ~ U(0, 1)``, exactly uniform whatever
``L`` each simulation kept; uniformity is judged with a chi-square test over bins and an
ECDF-difference plot with simultaneous 95% bands (Säilynoja et al. 2022, from
``arviz_stats``).

Simulations run as Dask tasks through :func:`dtors_bayes.studies.coverage.execute` and are cached
per
simulation, like coverage studies.

Selection model
---------------
With ``selection_kappa=(m, s)`` the model is the Diggle-Kenward selection model
``ChangeModel(..., time="wave", attrition=Selection(kappa=(m, s), response=ResponseModel(
intercept_loc=...)))`` and the interview pattern is simulated too (:func:`selection_template`,
:func:`simulate_dataset`):

1. the design is a *template* with the parameter set of every refit: no late interviews
   (``late=None``; every cell at its wave's nominal months), no item-missing values
   (interviewed cells with a missing value get a value observed at that wave, so the response
   model has no ``r_rho_prev_missing``) and a monotone interview pattern;
2. the prior draw is joint over the outcome parameters, the response parameters ``r_*`` and
   ``kappa``; complete outcomes are simulated with ``ChangeModel.simulate`` and the interview
   mask with :meth:`~dtors_bayes.models.selection.Selection.simulate_response` (given the complete
   outcomes: response depends on the current, possibly unobserved value); the outcome is set
   to NaN where not interviewed;
3. the response-intercept prior centres, by default the logit of each stage's observed
   response rate (data-dependent), are frozen at the template's rates
   (:func:`frozen_response_centres`);
4. ``kappa``, the response parameters ``r_*`` (not the offsets ``r_z_*``), the trajectory
   quantities and the population level are ranked. Each refit's free variables are checked
   to equal the prior model's.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dtors_bayes.studies.coverage import (
    Task,
    _name_key,
    _safe,
    cohort_kwargs,
    execute,
    settings_hash,
    write_study_outputs,
)

__all__ = [
    "SBC_OUTCOMES",
    "SBCResult",
    "ecdf_difference",
    "frozen_priors",
    "frozen_response_centres",
    "pit_values",
    "rank_statistic",
    "ranked_names",
    "sbc_study",
    "selection_template",
    "simulate_dataset",
    "summarize_ranks",
    "uniformity_test",
]

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


# ---------------------------------------------------------------------------- rank arithmetic
def rank_statistic(prior_value: float, draws: np.ndarray) -> int:
    """Number of posterior draws strictly below the prior draw (ties split at random upstream)."""
    return int(np.sum(np.asarray(draws) < prior_value))


def pit_values(ranks: np.ndarray, n_ranked: np.ndarray | int,
               rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Randomised PIT ``(rank + V) / (L + 1)`` with ``V ~ U(0, 1)``.

    Uniform on (0, 1) when ``rank`` is uniform on ``0..L`` (any ``L`` per simulation).
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    ranks = np.asarray(ranks, dtype=float)
    n_ranked = np.broadcast_to(np.asarray(n_ranked, dtype=float), ranks.shape)
    return (ranks + rng.uniform(size=ranks.shape)) / (n_ranked + 1.0)


def uniformity_test(u: np.ndarray, n_bins: int | None = None) -> dict[str, float]:
    """Chi-square test that values in [0, 1] are uniform.

    Parameters
    ----------
    u : array
        PIT values (:func:`pit_values`).
    n_bins : int, optional
        Equal-width bins; defaults to ``max(2, min(20, n // 5))`` (>= 5 expected per bin).

    Returns
    -------
    dict
        ``chi2, df, p_value, n_bins, n``.
    """
    u = np.asarray(u, dtype=float)
    u = u[np.isfinite(u)]
    n = u.size
    if n_bins is None:
        n_bins = max(2, min(20, n // 5))
    if n < 2:
        return {"chi2": np.nan, "df": np.nan, "p_value": np.nan, "n_bins": n_bins, "n": n}
    counts = np.histogram(np.clip(u, 0, 1), bins=n_bins, range=(0, 1))[0]
    expected = n / n_bins
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = n_bins - 1
    return {"chi2": chi2, "df": df, "p_value": float(stats.chi2.sf(chi2, df)),
            "n_bins": n_bins, "n": n}


def ecdf_difference(u: np.ndarray, ci_prob: float = 0.95, n_simulations: int = 1000,
                    seed: int = 214) -> pd.DataFrame:
    """ECDF minus the uniform CDF, with simultaneous ``ci_prob`` bands.

    Uses ``arviz_stats.ecdf_utils.ecdf_pit`` (the simulation method of Säilynoja, Bürkner
    and Vehtari 2022): the band holds the whole ECDF with probability ``ci_prob`` under
    uniformity.

    Returns
    -------
    DataFrame
        ``x, diff, lower, upper`` (differences from ``x``).
    """
    from arviz_stats.ecdf_utils import ecdf_pit

    u = np.asarray(u, dtype=float)
    u = u[np.isfinite(u)]
    x, ecdf, lo, hi = ecdf_pit(u, ci_prob, n_simulations, rng=np.random.default_rng(seed))
    return pd.DataFrame({"x": x, "diff": ecdf - x, "lower": lo - x, "upper": hi - x})


def summarize_ranks(ranks: pd.DataFrame, n_bins: int | None = None) -> pd.DataFrame:
    """Per (family, quantity): chi-square uniformity test and ECDF band check of the PIT.

    Returns
    -------
    DataFrame
        ``family, quantity, n_sims, chi2, df, p_value, mean_pit, sd_pit`` (uniform: 0.5 and
        0.289), ``max_abs_ecdf_diff``, ``outside_95_band`` (the ECDF leaves the simultaneous
        95% band), ``ess_bulk_median``, ``n_ranked_median``, ``n_divergent_sims``,
        ``share_divergent`` (share of simulations whose refit had divergences),
        ``share_r_hat_over_1_01`` (share whose R-hat of this quantity exceeds 1.01) and
        ``share_any_r_hat_over_1_01`` (share whose largest R-hat over all ranked quantities
        exceeds 1.01); the R-hat shares are NaN for simulations cached without R-hat.
    """
    rows = []
    keys = [k for k in ("family", "quantity") if k in ranks]
    for key, g in ranks.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        u = g["pit"].to_numpy(dtype=float)
        test = uniformity_test(u, n_bins)
        rec = dict(zip(keys, key, strict=True))
        rec.update({"n_sims": test["n"], "chi2": test["chi2"], "df": test["df"],
                    "p_value": test["p_value"], "mean_pit": float(np.nanmean(u)),
                    "sd_pit": float(np.nanstd(u, ddof=1)) if len(u) > 1 else np.nan})
        if test["n"] >= 2:
            e = ecdf_difference(u)
            rec["max_abs_ecdf_diff"] = float(np.abs(e["diff"]).max())
            rec["outside_95_band"] = bool(((e["diff"] < e["lower"] - 1e-12)
                                           | (e["diff"] > e["upper"] + 1e-12)).any())
        else:
            rec["max_abs_ecdf_diff"], rec["outside_95_band"] = np.nan, False
        for col, name in (("ess_bulk", "ess_bulk_median"), ("n_ranked", "n_ranked_median")):
            rec[name] = float(g[col].median()) if col in g else np.nan
        rec["n_divergent_sims"] = int(g.drop_duplicates("sim")["divergences"].gt(0).sum()) \
            if "divergences" in g and "sim" in g else 0
        rec["share_divergent"] = rec["n_divergent_sims"] / len(g) if len(g) else np.nan
        for col, name in (("r_hat", "share_r_hat_over_1_01"),
                          ("r_hat_max", "share_any_r_hat_over_1_01")):
            v = g[col].to_numpy(dtype=float) if col in g else np.array([])
            v = v[np.isfinite(v)]
            rec[name] = float(np.mean(v > 1.01)) if v.size else np.nan
        rows.append(rec)
    return pd.DataFrame(rows)


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

    The default of :class:`~dtors_bayes.models.selection.ResponseModel`: the logit of each stage's
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
    from dtors_bayes.models.selection import response_layout, response_rate_centres

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
        from dtors_bayes.models.selection import ResponseModel, Selection

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


def _sbc_task(family: str, sim_index: int, seed: int, settings: dict) -> pd.DataFrame:
    """One SBC simulation: prior draw, simulate, refit, ranks (runs on a worker)."""
    from dtors_bayes.models.sampling import sample_model

    t0 = time.perf_counter()
    sel = settings.get("selection_kappa")
    model, design = _design_for(family, settings["n_persons"], settings["design_seed"],
                                json.dumps(settings["model"], sort_keys=True),
                                tuple(sel) if sel is not None else None)
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(_name_key(family),
                                                              int(sim_index)))
    # the first four words are those of generate_state(4): MAR results are unchanged
    prior_seed, data_seed, fit_seed, pit_seed, mask_seed = (
        int(s) for s in ss.generate_state(5, dtype=np.uint32))
    prior_model = model.build(design)
    truth, sim_design = simulate_dataset(model, design, prior_model, prior_seed=prior_seed,
                                         data_seed=data_seed, mask_seed=mask_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_model = model.build(sim_design)
        if sel is not None and _free_names(fit_model) != _free_names(prior_model):
            raise RuntimeError(f"SBC: the refit's free variables {sorted(_free_names(fit_model))}"
                               f" differ from the prior model's "
                               f"{sorted(_free_names(prior_model))}")
        tree, seconds = sample_model(fit_model, draws=settings["draws"], tune=settings["tune"],
                                     chains=settings["chains"], random_seed=fit_seed,
                                     sampler=settings["sampler"], progressbar=False, cores=1,
                                     target_accept=settings.get("target_accept"),
                                     backend=settings.get("backend", "numba"))
    post = tree["posterior"].to_dataset()
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    flat = {k: np.asarray(post[k].values).reshape(n_chain * n_draw, *post[k].shape[2:])
            for k in post.data_vars}
    coords = {k: list(v.values) for k, v in post.coords.items()}
    dims = {k: tuple(d for d in post[k].dims if d not in ("chain", "draw"))
            for k in post.data_vars}
    post_q = _scalar_quantities(model, design, flat, coords, dims)
    prior_q = _scalar_quantities(model, design, {k: v[None] for k, v in truth.items()},
                                 coords, dims)
    stats_ds = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
    n_div = int(stats_ds["diverging"].sum()) if stats_ds is not None and \
        "diverging" in stats_ds else 0
    rng = np.random.default_rng(pit_seed)
    rows = []
    for q, draws in post_q.items():
        chains = draws.reshape(n_chain, n_draw)
        ess = _ess_bulk(chains)
        thin = max(1, int(np.ceil(n_chain * n_draw / max(ess, 1.0))))
        kept = chains[:, ::thin].ravel()
        prior_value = float(prior_q[q][0])
        rank = rank_statistic(prior_value, kept)
        rows.append({"family": family, "sim": int(sim_index), "quantity": q,
                     "prior_value": prior_value, "post_mean": float(draws.mean()),
                     "post_sd": float(draws.std(ddof=1)), "rank": rank,
                     "n_ranked": int(kept.size), "thin": thin, "ess_bulk": float(ess),
                     "r_hat": _r_hat(chains),
                     "pit": float(pit_values(np.array([rank]), kept.size, rng)[0]),
                     "divergences": n_div, "sampling_seconds": float(seconds),
                     "seconds": time.perf_counter() - t0})
    out = pd.DataFrame(rows)
    out["r_hat_max"] = float(out["r_hat"].max()) if len(out) else np.nan
    if sel is not None:
        seen = sim_design.interviewed[:, 1:]
        out["response_rate_last"] = float(seen[:, -1].mean())
        out["response_rate_first"] = float(seen[:, 0].mean())
    return out


def _ess_bulk(chains: np.ndarray) -> float:
    """Bulk ESS of a (chain, draw) array (ArviZ)."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(np.asarray(az.ess(chains, method="bulk")))
        except Exception:  # degenerate draws
            return float(chains.size)


def _r_hat(chains: np.ndarray) -> float:
    """Rank-normalised split R-hat of a (chain, draw) array (ArviZ); NaN if degenerate."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(np.asarray(az.rhat(chains)))
        except Exception:  # degenerate draws
            return float("nan")


# ---------------------------------------------------------------------------- result
@dataclass
class SBCResult:
    """Result of :func:`sbc_study`.

    Attributes
    ----------
    ranks : DataFrame
        One row per (simulation, quantity): ``family, sim, quantity, prior_value,
        post_mean, post_sd, rank, n_ranked, thin, ess_bulk, r_hat, pit, divergences,
        sampling_seconds, seconds, r_hat_max`` (the simulation's largest R-hat over its
        ranked quantities); a selection SBC adds ``response_rate_first`` and
        ``response_rate_last`` (share of persons interviewed at the first and last
        follow-up).
    settings : dict
    n_computed, n_cached : int
    failures : list of (key, error)
    """

    ranks: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    n_computed: int = 0
    n_cached: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, n_bins: int | None = None) -> pd.DataFrame:
        """Uniformity per quantity (:func:`summarize_ranks`)."""
        return summarize_ranks(self.ranks, n_bins)

    def plot(self, ci_prob: float = 0.95, max_quantities: int = 48):
        """ECDF-difference plots of the PIT per quantity with simultaneous bands.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from matplotlib.figure import Figure

        groups = list(self.ranks.groupby(["family", "quantity"], sort=False))[:max_quantities]
        ncol = min(4, max(1, len(groups)))
        nrow = max(1, int(np.ceil(len(groups) / ncol)))
        fig = Figure(figsize=(3.2 * ncol, 2.4 * nrow))  # no pyplot state, no backend switch
        axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True)
        for ax, ((fam, q), g) in zip(axes.flat, groups, strict=False):
            e = ecdf_difference(g["pit"].to_numpy(), ci_prob)
            ax.fill_between(e["x"], e["lower"], e["upper"], color="0.85",
                            label=f"{ci_prob:.0%} simultaneous band")
            ax.plot(e["x"], e["diff"], color="C0", lw=1.2)
            ax.axhline(0, color="0.4", lw=0.6)
            ax.set_title(f"{fam}: {q}", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes.flat[len(groups):]:
            ax.set_visible(False)
        n = int(self.ranks["sim"].nunique()) if len(self.ranks) else 0
        fig.suptitle(f"SBC: ECDF(PIT) - uniform, {n} simulations", fontsize=10)
        for ax in axes[-1]:
            ax.set_xlabel("PIT", fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the title
        return fig

    def write(self, out_dir: str | Path, prefix: str | None = None) -> list[Path]:
        """Write ``{prefix}ranks.csv``, ``summary.csv``, ``summary.md`` and ``ecdf.png``.

        The default prefix is the family, plus ``_selection`` for a selection-model SBC.
        """
        fam = "_".join(sorted(self.ranks["family"].unique())) if len(self.ranks) else "sbc"
        st = self.settings
        sel = st.get("selection_kappa")
        pre = prefix if prefix is not None else f"{fam}{'_selection' if sel else ''}_"
        s = self.summary()
        attrition = "" if sel is None else (
            f"; attrition: selection model, kappa ~ N({sel[0]:g}, {sel[1]:g}), interview "
            "pattern simulated from the response model (no late interviews, response-"
            "intercept centres frozen at the template's rates)")
        head = [f"# SBC: {fam}{' selection model' if sel else ''}", "",
                f"{st.get('n_sims')} simulations; design: {st.get('n_persons')} persons "
                f"(simulated cohort, seed {st.get('design_seed')}); model "
                f"{st.get('model')}{attrition}; sampler {st.get('sampler')} "
                f"({st.get('backend')}) draws {st.get('draws')} "
                f"tune {st.get('tune')} chains {st.get('chains')}; ranks after thinning each "
                "quantity to about its bulk ESS; randomised PIT; chi-square over bins; band: "
                "simultaneous 95% ECDF band.",
                f"Tasks computed {self.n_computed}, cached {self.n_cached}, failed "
                f"{len(self.failures)}.", ""]
        return write_study_outputs(out_dir, [f"{pre}{n}" for n in ("ranks.csv", "summary.csv",
                                                                   "summary.md", "ecdf.png")],
                                   self.ranks, s, s, head, [], self.plot)


def sbc_study(
    family: str,
    n_sims: int,
    *,
    n_persons: int = 150,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    sampler: str = "nutpie",
    target_accept: float | None = None,
    backend: str = "numba",
    model_kwargs: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    seed: int = 0,
    design_seed: int = 1,
    progress: bool = True,
    only_cached: bool = False,
    selection_kappa: tuple[float, float] | None = None,
) -> SBCResult:
    """Simulation-based calibration of the change model for one outcome family.

    Parameters
    ----------
    family : str
        Outcome family (:data:`SBC_OUTCOMES` names the simulated outcome used as design).
    n_sims : int
        Simulations (prior draw -> data -> refit).
    n_persons : int
        Size of the fixed simulated cohort whose design (persons, sites, areas, modalities,
        months, interview pattern) every simulation reuses.
    draws, tune, chains, sampler, target_accept
        Sampler settings of each refit (chains run sequentially, ``cores=1``).
    backend : {"numba", "jax"}
        nutpie's compiler (``"jax"`` compiles much faster; see
        :func:`dtors_bayes.models.sampling.sample_model`).
    model_kwargs : dict, optional
        Further ``ChangeModel`` arguments (default ``{"time": "months"}``; with
        ``selection_kappa``, ``{"time": "wave"}``, the only time basis allowed there).
    cache_dir : str or Path, optional
        One Parquet file per simulation; reused on rerun.
    scheduler, n_workers, progress
        See :func:`dtors_bayes.studies.coverage.coverage_study`.
    only_cached : bool
        Fit nothing; summarise the cached simulations among ``0 .. n_sims-1``.
    seed : int
        Seeds each simulation's prior draw, data and sampler
        (``SeedSequence(seed, (family, sim))``).
    design_seed : int
        Seed of the design cohort.
    selection_kappa : (float, float), optional
        SBC of the Diggle-Kenward selection model with ``kappa ~ N(mean, sd)`` (``sd > 0``):
        ``attrition=Selection(kappa=(mean, sd), response=ResponseModel(intercept_loc=...))``,
        the interview pattern simulated from the response model along with the outcome (see
        the module docstring). Families of
        :data:`~dtors_bayes.models.selection.SELECTION_FAMILIES`; ``time="wave"``.

    Returns
    -------
    SBCResult
    """
    if family not in SBC_OUTCOMES:
        raise ValueError(f"family={family!r}; allowed: {', '.join(SBC_OUTCOMES)}")
    default_model = {"time": "months" if selection_kappa is None else "wave"}
    settings = {"v": SBC_VERSION, "family": family, "n_persons": int(n_persons),
                "draws": int(draws), "tune": int(tune), "chains": int(chains),
                "sampler": sampler, "target_accept": target_accept, "backend": backend,
                "model": dict(model_kwargs if model_kwargs is not None else default_model),
                "design_seed": int(design_seed), "seed": int(seed)}
    tag = family
    if selection_kappa is not None:
        settings["selection_kappa"] = _check_selection(family, selection_kappa,
                                                       settings["model"])
        tag = f"{family}_selection"
    cache = Path(cache_dir) if cache_dir is not None else None
    tasks = []
    for i in range(int(n_sims)):
        h = settings_hash({**settings, "sim": i})
        key = f"sbc__{tag}__{i:04d}__{h}"
        path = cache / f"{_safe(tag)}__{i:04d}__{h}.parquet" if cache is not None else None
        tasks.append(Task(key, _sbc_task, (family, i, int(seed), settings), path))
    ex = execute(tasks, scheduler=scheduler, n_workers=n_workers, progress=progress,
                 desc=f"SBC {tag}", only_cached=only_cached)
    frames = [f for f in ex.frames if len(f)]
    ranks = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["family", "sim", "quantity", "rank", "n_ranked", "pit"])
    if len(ranks):
        order = list(dict.fromkeys(ranks.sort_values("sim")["quantity"]))
        ranks["_q"] = ranks["quantity"].map(order.index)
        ranks = ranks.sort_values(["_q", "sim"]).drop(columns="_q").reset_index(drop=True)
    for k, e in ex.failures:
        warnings.warn(f"SBC task failed: {k}: {e}", UserWarning, stacklevel=2)
    n_done = int(ranks["sim"].nunique()) if len(ranks) else 0
    return SBCResult(ranks, {**settings, "n_sims": n_done}, ex.n_computed, ex.n_cached,
                     ex.failures)


def _check_selection(family: str, selection_kappa, model: dict) -> list[float]:
    """Validate the selection-SBC options; return the kappa prior as ``[mean, sd]``."""
    from dtors_bayes.models.selection import SELECTION_FAMILIES

    if family not in SELECTION_FAMILIES:
        raise ValueError(f"selection_kappa: family {family!r} has no selection model; "
                         f"supported: {', '.join(SELECTION_FAMILIES)}")
    try:
        m, sd = (float(v) for v in selection_kappa)
    except (TypeError, ValueError):
        raise ValueError(f"selection_kappa: expected (mean, sd); got {selection_kappa!r}") \
            from None
    if not (np.isfinite(m) and np.isfinite(sd) and sd > 0):
        raise ValueError(f"selection_kappa: need a finite mean and sd > 0 (kappa drawn from "
                         f"its prior); got ({m}, {sd})")
    bad = {k: model[k] for k in ("attrition", "baseline") if k in model}
    if model.get("time", "wave") != "wave" or bad.get("baseline", "outcome") != "outcome" \
            or "attrition" in bad:
        raise ValueError("selection_kappa: the selection SBC uses time='wave' (its template "
                         "puts every cell at its wave's nominal months) and "
                         "baseline='outcome', and sets attrition itself; got model_kwargs "
                         f"{model}")
    return [m, sd]
