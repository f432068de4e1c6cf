"""Command-line options shared by the coverage-study scripts (attrition, weighting)."""

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
    ap.add_argument("--draws", type=int, default=150)
    ap.add_argument("--tune", type=int, default=150)
    ap.add_argument("--backend", default="jax", choices=["jax", "numba"],
                    help="nutpie compiler; jax (the jax extra) compiles these small models "
                         "~10x faster than numba, and compilation dominates each task")
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
