"""Running NUTS on a built PyMC model, and the posterior as arrays.

``sample_model`` is the one place that calls the sampler (nutpie by default, with the
house target acceptance); ``stack_draws`` gives every consumer (estimands, propensities,
checks) the posterior with one chain-major sample axis."""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from dtors_bayes.constants import TARGET_ACCEPT
from dtors_bayes.exceptions import FitError


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


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, so containers and ``taskset`` count).

    PyMC's own default (``cores=None``) assumes half of ``multiprocessing.cpu_count()`` are
    hyper-threads, which on a 2-CPU machine means one core: every chain then ran after the
    other (measured: 4 x 500 draws, 37.0 s wall for 37.1 s CPU; 22.6 s with ``cores=2``).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_cores(cores: int | None, chains: int) -> int:
    """``cores`` if given, else one core per chain up to :func:`available_cores`."""
    if cores is not None:
        if int(cores) < 1:
            raise FitError(f"cores={cores!r}; allowed: a positive integer or None (all "
                           "available, one per chain)")
        return int(cores)
    return max(1, min(int(chains), available_cores()))


def sample_model(model, *, draws: int, tune: int, chains: int, random_seed: int,
                 sampler: str = "nutpie", progressbar: bool = True,
                 target_accept: float | None = None, cores: int | None = None,
                 nuts: dict | None = None, backend: str = "numba",
                 reuse_compiled: bool | None = None):
    """Run NUTS on a PyMC model; return (DataTree, seconds).

    ``nuts`` passes sampler options through (for nutpie e.g. ``{"adaptation": "low_rank"}``).
    ``target_accept`` defaults to :data:`~dtors_bayes.constants.TARGET_ACCEPT` (0.9).
    ``cores=None`` runs one chain per available CPU (:func:`default_cores`), not PyMC's
    half-the-CPUs guess.
    ``backend`` is nutpie's compiler: ``"numba"`` (default, no extra dependency) or ``"jax"``
    (the ``jax`` extra; compiles a small model in seconds rather than tens of seconds, which
    dominates the many small fits of coverage studies).
    ``reuse_compiled`` (nutpie with numba only; default on, ``DTORS_REUSE_COMPILED=0`` in the
    environment turns the default off): the model's data are lifted out of its graph and the
    compiled model is reused by later fits of the same structure in this process
    (:mod:`dtors_bayes.models.compiled`); off, ``pm.sample`` compiles the model with its data
    as constants (the behaviour before session 11).
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
    if reuse_compiled is None:
        reuse_compiled = os.environ.get("DTORS_REUSE_COMPILED", "1") != "0"
    t0 = time.perf_counter()
    if reuse_compiled and sampler == "nutpie" and backend == "numba":
        tree = _sample_nutpie_reused(model, draws=draws, tune=tune, chains=chains,
                                     seed=random_seed, progressbar=progressbar,
                                     cores=default_cores(cores, chains), nuts=nuts)
        return tree, time.perf_counter() - t0
    with model, warnings.catch_warnings():
        # PyMC repeats convergence warnings that Fit.warn_if_trouble states in our words.
        warnings.filterwarnings("ignore", message=".*(R-hat|rhat|effective sample size|"
                                "divergen).*")
        tree = pm.sample(draws, tune=tune, chains=chains, random_seed=random_seed,
                         nuts_sampler=sampler, progressbar=progressbar,
                         cores=default_cores(cores, chains),
                         compute_convergence_checks=False, **kwargs)
    return tree, time.perf_counter() - t0


def _sample_nutpie_reused(model, *, draws: int, tune: int, chains: int, seed: int,
                          progressbar: bool, cores: int, nuts: dict):
    """What ``pm.sample(nuts_sampler="nutpie")`` does, on the compiled model of
    :func:`dtors_bayes.models.compiled.compiled_nutpie` (lifted data, reused compilation)."""
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    from dtors_bayes.models.compiled import compiled_nutpie

    nuts = dict(nuts)
    if "max_treedepth" in nuts:  # pm.sample's name for it
        nuts["maxdepth"] = nuts.pop("max_treedepth")
    with compiled_nutpie(model) as compiled:
        t0 = time.time()
        tree = nutpie.sample(compiled, draws=draws, tune=max(int(tune), 1), chains=chains,
                             cores=cores, seed=int(seed), save_warmup=False,
                             store_unconstrained=False, progress_bar=progressbar, **nuts)
        patch_nutpie_idata(tree, model, sampling_time=time.time() - t0)
    return tree


def stack_draws(tree, names: Iterable[str] | None = None) -> tuple[dict[str, np.ndarray], int, int]:
    """Posterior variables as arrays with one leading sample axis (chain-major)."""
    post = tree["posterior"].to_dataset()
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    out = {}
    for name in names or post.data_vars:
        v = np.asarray(post[name].values)
        out[name] = v.reshape((n_chain * n_draw, *v.shape[2:]))
    return out, n_chain, n_draw


def prior_draw(pm_model, *, seed) -> dict[str, np.ndarray]:
    """One joint draw of a PyMC model's free variables and deterministics (e.g. ``beta_time``),
    by variable name without a sample axis: the truth of one simulation-based-calibration
    replicate."""
    import pymc as pm

    named = [*pm_model.free_RVs, *pm_model.deterministics]
    drawn = pm.draw([pm_model[v.name] for v in named], random_seed=seed)
    return {v.name: np.asarray(val) for v, val in zip(named, drawn, strict=True)}


def pointwise_log_likelihood(fit) -> xr.DataArray:
    """Pointwise log-likelihood of every observed outcome cell, dims (chain, draw, obs).

    Hurdle families add the positive part's log density to the non-zero cells, so one value
    per observed cell is returned.
    """
    from dataclasses import replace

    import pymc as pm

    # the conditional likelihood given the person effects: a quadrature fit's z_person are
    # drawn into its posterior, so it is scored by the same model with them sampled
    model = replace(fit.model, person_effect="sampled").build(fit.design)
    post = fit.tree["posterior"].to_dataset()
    free = [v.name for v in model.free_RVs]
    sub = xr.DataTree.from_dict({"posterior": post[[v for v in free if v in post]]})
    ll = pm.compute_log_likelihood(sub, model=model, extend_inferencedata=False,
                                   progressbar=False)
    ds = ll["log_likelihood"].to_dataset() if hasattr(ll, "children") else ll
    if "y" in ds:
        arr = ds["y"].values
    else:
        arr = ds["y_nonzero"].values.copy()
        y = fit.design.y[fit.design.observed_cells()]
        value = 1.0 - y if fit.model.family == "eq5d" else y
        idx = np.flatnonzero(value > 0)
        arr[:, :, idx] += ds["y_positive"].values
    return xr.DataArray(arr, dims=("chain", "draw", "obs"))
