"""Command-line options and the round runner shared by the coverage-study scripts."""

from __future__ import annotations

import argparse
from pathlib import Path


def study_parser(description: str, *, persons: int, out: Path, cache: Path
                 ) -> argparse.ArgumentParser:
    """Replicates, rounds, cohort size, sampler, Dask and output options of a study script."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--step", type=int, default=5, help="replicates added per round")
    ap.add_argument("--persons", type=int, default=persons)
    ap.add_argument("--draws", type=int, default=1500)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4,
                    help="4 chains make R-hat <= 1.01 a meaningful check (2 chains x 1000 "
                         "draws converged in a third to a half of the fits)")
    ap.add_argument("--target-accept", type=float, default=0.9)
    ap.add_argument("--backend", default="numba", choices=["jax", "numba"],
                    help="nutpie compiler; numba compiled and sampled the 300-person models "
                         "faster than jax here (7 s against 13 s to compile the MAR model)")
    ap.add_argument("--person-effect", default="sampled", choices=["sampled", "quadrature"],
                    help="the person intercept of the selection fits: sampled, or integrated "
                         "out by Gauss-Hermite quadrature (ChangeModel(person_effect=...))")
    ap.add_argument("--methods", default=None,
                    help="comma-separated method names to run (default: all)")
    ap.add_argument("--scenarios", default=None,
                    help="comma-separated scenario names to run (default: all)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--minutes", type=float, default=None,
                    help="start no new round after this many minutes")
    ap.add_argument("--cached-only", action="store_true",
                    help="no new fits: summarise the tasks cached so far")
    ap.add_argument("--out", type=Path, default=out)
    ap.add_argument("--cache", type=Path, default=cache)
    ap.add_argument("--seed", type=int, default=0)
    return ap


def sampler_kwargs(args: argparse.Namespace) -> dict:
    """The sampler settings of one fit, from the parsed options."""
    return {"draws": args.draws, "tune": args.tune, "chains": args.chains,
            "target_accept": args.target_accept, "backend": args.backend}


def _select(items: list, option: str | list[str] | None, flag: str) -> list:
    """The items (with a ``name``) that a comma-separated option (or a parsed list) names,
    all when it is not given; unknown names fail with the allowed ones."""
    if not option:
        return items
    names = option.split(",") if isinstance(option, str) else option
    wanted = [m.strip() for m in names if m.strip()]
    known = {m.name for m in items}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise SystemExit(f"{flag}: unknown {unknown}; allowed: {sorted(known)}")
    return [m for m in items if m.name in wanted]


def select_methods(methods: list, args: argparse.Namespace) -> list:
    """The methods named by ``--methods`` (all when it is not given); unknown names fail."""
    return _select(methods, args.methods, "--methods")


def run_rounds(scenarios: list, methods: list, args: argparse.Namespace, *, name: str,
               estimands: list, **kwargs):
    """The scenarios ``--scenarios`` and methods ``--methods`` name, run in rounds of
    ``--step`` replicates on Dask with the script's round, scheduler, worker, cache and seed
    options
    (:func:`dtors_bayes.studies.coverage.coverage_study_in_rounds`); ``kwargs`` go through."""
    from dtors_bayes.studies.coverage import coverage_study_in_rounds

    scenarios = _select(scenarios, getattr(args, "scenarios", None), "--scenarios")
    return coverage_study_in_rounds(
        scenarios, select_methods(methods, args), args.replicates, step=args.step,
        minutes=args.minutes, scheduler=args.scheduler, n_workers=args.workers,
        only_cached=args.cached_only, estimands=estimands, cache_dir=args.cache,
        seed=args.seed, name=name, **kwargs)
