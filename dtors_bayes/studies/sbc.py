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

Simulations run as Dask tasks through :func:`dtors_bayes.studies.execute.execute` and are
cached per simulation, like coverage studies. The rank arithmetic is in
:mod:`~dtors_bayes.studies.sbc_ranks`, the design, priors and simulated data sets in
:mod:`~dtors_bayes.studies.sbc_design`.

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
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes._format import safe_name
from dtors_bayes.studies.coverage import write_study_outputs
from dtors_bayes.studies.execute import Task, execute
from dtors_bayes.studies.sbc_design import (
    SBC_OUTCOMES,
    SBC_VERSION,
    _design_for,
    _free_names,
    _scalar_quantities,
    simulate_dataset,
)
from dtors_bayes.studies.sbc_ranks import (
    ecdf_difference,
    pit_values,
    rank_statistic,
    summarize_ranks,
)
from dtors_bayes.studies.seeds import name_key, settings_hash

__all__ = ["SBCResult", "sbc_study"]

































def _sbc_task(family: str, sim_index: int, seed: int, settings: dict) -> pd.DataFrame:
    """One SBC simulation: prior draw, simulate, refit, ranks (runs on a worker)."""
    from dtors_bayes.models.sampling import sample_model

    t0 = time.perf_counter()
    sel = settings.get("selection_kappa")
    model, design = _design_for(family, settings["n_persons"], settings["design_seed"],
                                json.dumps(settings["model"], sort_keys=True),
                                tuple(sel) if sel is not None else None)
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(name_key(family),
                                                              int(sim_index)))
    # the first four words are those of generate_state(4): MAR results are unchanged
    prior_seed, data_seed, fit_seed, pit_seed, mask_seed = (
        int(s) for s in ss.generate_state(5, dtype=np.uint32))
    # the truth is drawn with the person effects sampled (a quadrature model integrates them
    # out of its likelihood, so its graph has no z_person to draw)
    prior_model = dataclasses.replace(model, person_effect="sampled").build(design)
    truth, sim_design = simulate_dataset(model, design, prior_model, prior_seed=prior_seed,
                                         data_seed=data_seed, mask_seed=mask_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_model = model.build(sim_design)
        person = {"z_person", "pos_z_person"}
        if sel is not None and _free_names(fit_model) - person != \
                _free_names(prior_model) - person:
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
        path = cache / f"{safe_name(tag)}__{i:04d}__{h}.parquet" if cache is not None else None
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
