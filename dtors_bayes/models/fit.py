"""A fitted change model: the DataTree, its provenance, estimates, and save/load.

Layout of ``fit.tree`` (an ``xarray.DataTree``):

- ``posterior``, ``sample_stats``: from the sampler (chain, draw, ...);
- ``constant_data``: the :class:`~dtors_bayes.models.design.Design` (codes, covariates, outcome
  matrix, months, interview mask), enough to compute every estimand without the cohort;
- ``weights`` (optional): weight draws (``sample``, ``person``), chain-major, for
  propagated weighting (:func:`dtors_bayes.weighting.weights.attach_weights`);
- attributes (JSON strings): ``spec`` (the model), ``provenance`` (data hash, seeds,
  sampler settings, versions, timings), ``exclusions`` (persons excluded and why).

Saved as netCDF4 (h5netcdf) with JSON attributes: data, never code, so opening a fit
received from elsewhere runs nothing.
"""

from __future__ import annotations

import json
import platform
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dtors_bayes.constants import CI_PROB, TARGET_ACCEPT
from dtors_bayes.estimands.engine import (
    ADJUSTED_ASSUMPTION,
    DESCRIPTIVE,
    ESTIMAND_COLUMNS,
    WeightSpec,
    contrast_pairs,
    draws_of_estimands,
    stack_draws,
    summarize_draws,
)
from dtors_bayes.exceptions import FitError
from dtors_bayes.models.design import Design
from dtors_bayes.models.diagnostics import diagnose, is_offset, trouble

FORMAT_VERSION = 1


def versions() -> dict[str, str]:
    """Versions of the libraries a fit depends on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("dtors-bayes", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas",
                "xarray"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def effective_target_accept(target_accept: float | None, nuts: dict | None) -> float:
    """The NUTS target acceptance a fit runs with: the argument, else ``nuts["target_accept"]``,
    else :data:`~dtors_bayes.constants.TARGET_ACCEPT`."""
    if target_accept is not None:
        return float(target_accept)
    return float((nuts or {}).get("target_accept", TARGET_ACCEPT))


def sample_model(model, *, draws: int, tune: int, chains: int, random_seed: int,
                 sampler: str = "nutpie", progressbar: bool = True,
                 target_accept: float | None = None, cores: int | None = None,
                 nuts: dict | None = None, backend: str = "numba"):
    """Run NUTS on a PyMC model; return (DataTree, seconds).

    ``nuts`` passes sampler options through (for nutpie e.g. ``{"adaptation": "low_rank"}``).
    ``target_accept`` defaults to :data:`~dtors_bayes.constants.TARGET_ACCEPT` (0.9).
    ``backend`` is nutpie's compiler: ``"numba"`` (default, no extra dependency) or ``"jax"``
    (the ``jax`` extra; compiles a small model in seconds rather than tens of seconds, which
    dominates the many small fits of coverage studies).
    """
    import pymc as pm

    if sampler not in ("nutpie", "pymc", "numpyro"):
        raise FitError(f"sampler={sampler!r}; allowed: 'nutpie', 'pymc', 'numpyro'")
    if backend not in ("numba", "jax"):
        raise FitError(f"backend={backend!r}; allowed: 'numba', 'jax'")
    kwargs: dict[str, Any] = {}
    if backend == "jax":
        if sampler != "nutpie":
            raise FitError(f"backend='jax' selects nutpie's compiler; sampler={sampler!r} "
                           "(numpyro always uses JAX; use sampler='nutpie')")
        try:
            import jax  # noqa: F401
        except ImportError:
            raise FitError("backend='jax' needs the jax extra: pip install -e '.[jax]'") \
                from None
        kwargs["compile_kwargs"] = {"mode": "JAX", "gradient_backend": "jax"}
    nuts = dict(nuts or {})
    nuts["target_accept"] = effective_target_accept(target_accept, nuts)
    if nuts:
        kwargs["nuts"] = nuts
    t0 = time.perf_counter()
    with model, warnings.catch_warnings():
        # PyMC repeats convergence warnings that Fit.warn_if_trouble states in our words.
        warnings.filterwarnings("ignore", message=".*(R-hat|rhat|effective sample size|"
                                "divergen).*")
        tree = pm.sample(draws, tune=tune, chains=chains, random_seed=random_seed,
                         nuts_sampler=sampler, progressbar=progressbar, cores=cores,
                         compute_convergence_checks=False, **kwargs)
    return tree, time.perf_counter() - t0


class Fit:
    """A fitted :class:`~dtors_bayes.models.change_model.ChangeModel`.

    Use :meth:`estimate` for population estimands, :meth:`diagnostics` for convergence,
    :meth:`save` / :func:`load_fit` to keep it.
    """

    def __init__(self, model, design: Design, tree: xr.DataTree, provenance: dict):
        self.model = model
        self.design = design
        self.tree = tree
        self.provenance = provenance
        self.data_hash_mismatch = False
        #: the cohort the fit was made from (kept in memory only; pass cohort= after loading)
        self.cohort = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sampling(cls, model, design: Design, tree: xr.DataTree, *, cohort, seconds: float,
                      settings: dict) -> Fit:
        """Assemble a fit from a sampled DataTree (adds constant data and provenance)."""
        tree = tree.copy()
        tree["constant_data"] = xr.DataTree(design.to_dataset())
        cohort_excl = getattr(cohort, "exclusions", None)
        prov = {
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_hash": cohort.data_hash() if hasattr(cohort, "data_hash") else None,
            "sampler": settings,
            "sampling_seconds": round(float(seconds), 3),
            "versions": versions(),
            "n_persons_cohort": int(getattr(cohort, "n_persons", design.n_person)),
            "n_persons_model": int(design.n_person),
            "n_observed": int((~np.isnan(design.y)).sum()),
            "model_exclusions": design.exclusions.to_dict(orient="records"),
            "cohort_exclusions": (cohort_excl.to_dict(orient="records")
                                  if isinstance(cohort_excl, pd.DataFrame) else []),
        }
        fit = cls(model, design, tree, prov)
        fit.cohort = cohort
        fit._write_attrs()
        return fit

    def _write_attrs(self) -> None:
        self.tree.attrs["spec"] = json.dumps(self.model.spec(), default=_json_default)
        self.tree.attrs["provenance"] = json.dumps(self.provenance, default=_json_default)
        self.tree.attrs["dtors_bayes_format"] = FORMAT_VERSION

    # ------------------------------------------------------------------ views
    @property
    def outcome(self) -> str:
        """The modelled outcome."""
        return self.model.outcome

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset."""
        return self.tree["posterior"].to_dataset()

    def diagnostics(self) -> pd.DataFrame:
        """Convergence table (see :func:`dtors_bayes.models.diagnostics.diagnose`)."""
        return diagnose(self.tree)

    def problems(self) -> list[str]:
        """Failed convergence checks in plain words; empty when all pass."""
        return trouble(self.diagnostics())

    def warn_if_trouble(self) -> None:
        """Issue one ``UserWarning`` per failed convergence check."""
        for msg in self.problems():
            warnings.warn(f"{self.outcome}: {msg}", UserWarning, stacklevel=3)

    def summary(self, var_names: list[str] | None = None) -> pd.DataFrame:
        """ArviZ summary of the structural parameters (not the z offsets)."""
        import arviz as az

        post = self.posterior
        names = var_names or [v for v in post.data_vars if not is_offset(v)]
        return az.summary(post[names], ci_prob=CI_PROB, ci_kind="eti")

    def __repr__(self) -> str:
        s = self.provenance.get("sampler", {})
        return (f"Fit({self.outcome}, {self.model.family}, persons={self.design.n_person}, "
                f"chains={s.get('chains')}, draws={s.get('draws')}, "
                f"attrition={self.model.attrition_label})")

    # ------------------------------------------------------------------ estimands
    def estimate(self, weighting: str = "none", *, weights: Any = None, cohort=None,
                 contrasts: str | list[tuple[str, str]] = "reference",
                 reference: str | None = None, ci_prob: float = CI_PROB,
                 chunk_bytes: int = 128 * 2**20, seed: int | None = None) -> pd.DataFrame:
        """Posterior population estimands as a tidy table.

        Parameters
        ----------
        weighting : {"none", "fixed", "propagated", "mrp"}
            ``"none"``: equal weights over the modelled persons (``population="sample"``).
            ``"fixed"``: one weight per person: the ``weights`` given
            (``population="weighted"``), or else the cohort's DTORS-style calibration
            (raking) weights to its population table (``population="target"``).
            ``"propagated"``: one weight draw per posterior draw (``population="target"``),
            from ``weights`` given as a (chain*draw, person) array, the fit's ``weights``
            group, or else drawn now (Bayesian bootstrap + raking,
            :func:`dtors_bayes.weighting.weights.propagated_weights_for_fit`).
            ``"mrp"``: poststratification of the model's predictions to the population
            cells (:func:`dtors_bayes.weighting.mrp.mrp_estimates`); ``weights`` may be a population
            table to use instead of the cohort's.
        weights : array, Series or DataFrame, optional
            Fixed weights (aligned by ``person_id`` when a Series) or weight draws.
        cohort : Cohort, optional
            Needed for computed weights and MRP after :func:`load_fit` (defaults to the cohort
            the fit was made from, when in memory).
        seed : int, optional
            Seed of weight draws made here; defaults to the fit's sampler seed.
        contrasts : {"reference", "pairs"} or list of (A, B)
            Modality contrasts ``A - B``: each against ``reference`` (default), every pair, or
            the pairs given.
        reference : str, optional
            Reference modality; defaults to ``"prescribing"`` when present, else the first.
        ci_prob : float
            Equal-tailed interval probability. Defaults to 0.90.
        chunk_bytes : int
            Memory budget of one draws x persons array (peak memory ~ 4x this).

        Returns
        -------
        DataFrame
            One row per estimand with columns ``outcome, estimand, wave, modality, contrast,
            population, weighting, estimator, attrition, mean, sd, ci_lb, ci_ub, ci_prob,
            p_direction, mcse_mean, ess_bulk, r_hat, n_persons, assumption``. ``estimand`` is
            one of ``level``, ``change`` (difference from intake), ``ratio`` (to intake),
            ``modality_level`` / ``modality_change`` (each modality's own persons;
            descriptive), ``adjusted_level`` / ``adjusted_change`` (everyone given the
            modality) and ``modality_contrast`` (difference in adjusted change, ``A - B``).
        """
        if not 0 < ci_prob < 1:
            raise FitError(f"ci_prob must be in (0, 1); got {ci_prob!r}"
                           + (f". Did you mean {ci_prob / 100}?" if 1 < ci_prob < 100 else ""))
        cohort = cohort if cohort is not None else self.cohort
        if weighting == "mrp":
            from dtors_bayes.weighting.mrp import mrp_estimates

            population = weights if isinstance(weights, pd.DataFrame) else None
            if cohort is None and population is None:
                raise FitError("weighting='mrp' needs the population: pass cohort= (with a "
                               "population table) or weights=<population DataFrame>")
            return mrp_estimates(self, population=population, cohort=cohort,
                                 contrasts=contrasts, reference=reference, ci_prob=ci_prob)
        computed = weights is None and weighting in ("fixed", "propagated")
        if computed:
            weights = self._computed_weights(weighting, cohort, seed)
        spec = self._weights(weighting, weights)
        if computed:  # calibrated to the cohort's population table
            spec.population = "target"
        params, n_chain, n_draw = stack_draws(self.tree)
        if spec.values is not None and spec.values.ndim == 2 and \
                spec.values.shape[0] != n_chain * n_draw:
            raise FitError(f"weight draws have {spec.values.shape[0]} rows; the posterior has "
                           f"{n_chain * n_draw} draws (chain x draw): one weight draw per draw")
        pairs = contrast_pairs(self.design.modality_labels, contrasts, reference)
        draws = draws_of_estimands(self.model, self.design, params, spec,
                                   contrast_pairs=pairs, chunk_bytes=chunk_bytes)
        table = summarize_draws(draws, n_chain, n_draw, ci_prob=ci_prob)
        table["outcome"] = self.outcome
        table["population"] = spec.population
        table["weighting"] = spec.weighting
        table["estimator"] = "model"
        table["attrition"] = self.model.attrition_label
        table["n_persons"] = self.design.n_person
        table["assumption"] = ""
        adjusted = table["estimand"].isin(["adjusted_level", "adjusted_change",
                                           "modality_contrast"])
        table.loc[adjusted, "assumption"] = ADJUSTED_ASSUMPTION
        table.loc[table["estimand"].isin(["modality_level", "modality_change"]),
                  "assumption"] = DESCRIPTIVE
        table = table[ESTIMAND_COLUMNS]
        table.attrs.update({"ci_prob": ci_prob, "ci_kind": "equal-tailed",
                            "outcome": self.outcome})
        return table

    def _computed_weights(self, weighting: str, cohort, seed: int | None):
        """Weights from the cohort when none are given (None when none can be made)."""
        if weighting == "propagated" and "weights" in self.tree.children:
            return None  # read from the fit's weights group by _weights
        if cohort is None or getattr(cohort, "population", None) is None:
            raise FitError(f"weighting={weighting!r} without weights= needs a cohort with a "
                           "population table (pass cohort=, or weights=)")
        from dtors_bayes.weighting import weights as wmod
        if weighting == "fixed":
            return wmod.calibration_weights(cohort, person_ids=self.design.person_ids).weights
        if seed is None:
            seed = self.provenance.get("sampler", {}).get("random_seed")
        return wmod.propagated_weights_for_fit(self, cohort, seed=seed)

    def _weights(self, weighting: str, weights: Any) -> WeightSpec:
        allowed = ("none", "fixed", "propagated", "mrp")
        if weighting not in allowed:
            raise FitError(f"weighting={weighting!r}; allowed: {', '.join(allowed)}")
        ids = self.design.person_ids
        if weighting == "none":
            if weights is not None:
                raise FitError("weights were given with weighting='none'; use weighting='fixed'")
            return WeightSpec(None, "none", "sample")
        if weighting == "propagated":
            if weights is None and "weights" in self.tree.children:
                weights = self.tree["weights"].to_dataset()["weight"].values
            if weights is None:
                raise FitError("weighting='propagated' needs weight draws: pass weights= as a "
                               "(draws, persons) array or fit with weight draws")
            w = np.asarray(weights, dtype=float)
            if w.ndim != 2 or w.shape[1] != len(ids):
                raise FitError(f"propagated weights must be (draws, {len(ids)} persons); "
                               f"got shape {w.shape}")
            _check_positive(w)
            return WeightSpec(w, "propagated", "target")
        if weights is None:
            raise FitError("weighting='fixed' needs weights=: one weight per person "
                           "(a Series indexed by person_id, or an array in the fit's order)")
        if isinstance(weights, pd.Series):
            aligned = weights.reindex(pd.Index(ids))
            if aligned.isna().any():
                miss = aligned.index[aligned.isna()][:5].tolist()
                raise FitError(f"weights: {int(aligned.isna().sum())} person(s) of the fit have "
                               f"no weight; first ids: {miss}")
            w = aligned.to_numpy(dtype=float)
        else:
            w = np.asarray(weights, dtype=float)
            if w.shape != (len(ids),):
                raise FitError(f"weights: expected {len(ids)} values (one per modelled person); "
                               f"got shape {w.shape}")
        _check_positive(w)
        return WeightSpec(w, "fixed", "weighted")

    # ------------------------------------------------------------------ attrition
    def sensitivity(self, deltas=None, **kwargs):
        """Pattern-mixture sensitivity from this fit, no refit.

        Delegates to :func:`dtors_bayes.attrition.sensitivity.sensitivity` (delta grid or prior, by
        wave/modality/subgroup, tipping points for stated conclusions).
        """
        from dtors_bayes.attrition.sensitivity import sensitivity

        return sensitivity(self, deltas, **kwargs)

    def impute(self, n: int = 20, **kwargs) -> pd.DataFrame:
        """Posterior predictive draws of the missing outcomes, for reports.

        Delegates to :func:`dtors_bayes.attrition.sensitivity.impute`.
        """
        from dtors_bayes.attrition.sensitivity import impute

        return impute(self, n, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to a netCDF file (h5netcdf engine); returns the path."""
        path = Path(path)
        self._write_attrs()
        tmp = path.with_suffix(path.suffix + ".tmp")
        self.tree.to_netcdf(tmp, engine="h5netcdf")
        tmp.replace(path)
        return path


def load_fit(path: str | Path, cohort=None, *, strict: bool = False) -> Fit:
    """Read a fit written by :meth:`Fit.save`.

    Parameters
    ----------
    path : str or Path
    cohort : Cohort, optional
        When given, its data hash is compared with the one the fit was made from; a mismatch
        warns (or raises ``FitError`` with ``strict=True``) and sets ``fit.data_hash_mismatch``.
    """
    from dtors_bayes.models.change_model import ChangeModel

    path = Path(path)
    if not path.exists():
        raise FitError(f"no fit at {str(path)!r}")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as err:
        raise FitError(f"{str(path)!r} is not a readable dtors_bayes fit: {err}") from err
    for key in ("spec", "provenance"):
        if key not in tree.attrs:
            raise FitError(f"{str(path)!r} has no {key!r} attribute: not a dtors_bayes fit")
    model = ChangeModel.from_spec(json.loads(tree.attrs["spec"]))
    design = Design.from_dataset(tree["constant_data"].to_dataset())
    fit = Fit(model, design, tree, json.loads(tree.attrs["provenance"]))
    if cohort is not None:
        have, want = cohort.data_hash(), fit.provenance.get("data_hash")
        if have != want:
            fit.data_hash_mismatch = True
            msg = (f"data hash mismatch: the fit in {str(path)!r} was made from data {want}, "
                   f"this cohort is {have}")
            if strict:
                raise FitError(msg)
            warnings.warn(msg, UserWarning, stacklevel=2)
    return fit


def _check_positive(w: np.ndarray) -> None:
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w.sum(axis=-1) <= 0):
        raise FitError("weights must be finite, non-negative and not all zero; "
                       f"found min {np.nanmin(w):.3g}, {int((~np.isfinite(w)).sum())} non-finite")


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    return str(o)
