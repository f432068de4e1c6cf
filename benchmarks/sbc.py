"""Simulation-based calibration of the change model per outcome family.

Writes ``{family}_ranks.csv``, ``{family}_summary.csv``, ``{family}_summary.md`` and
``{family}_ecdf.png`` under ``benchmarks/results/sbc/`` and prints each summary. Each
simulation is cached (``benchmarks/cache/sbc``, git-ignored), so an interrupted run resumes, and
``--cached-only`` rebuilds the outputs from the simulations cached so far (no new fits).

Usage::

    python benchmarks/sbc.py --family bernoulli gaussian --sims 100 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from pathlib import Path

from dtors_bayes.sbc import sbc_study
from dtors_bayes.studies import dask_client

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "sbc"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", nargs="+", default=["bernoulli", "gaussian"])
    ap.add_argument("--sims", type=int, default=100)
    ap.add_argument("--persons", type=int, default=150)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--sampler", default="nutpie")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cached-only", action="store_true",
                    help="no new fits: summarise the simulations cached so far")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    cache = HERE / "cache" / "sbc"
    cluster = contextlib.nullcontext("sync") if args.cached_only else \
        dask_client(args.scheduler, args.workers)
    with cluster as client:
        for fam in args.family:
            t0 = time.perf_counter()
            res = sbc_study(fam, args.sims, n_persons=args.persons, draws=args.draws,
                            tune=args.tune, chains=args.chains, sampler=args.sampler,
                            cache_dir=cache, scheduler=client, seed=args.seed,
                            only_cached=args.cached_only)
            n = res.settings["n_sims"]
            wall = time.perf_counter() - t0
            res.write(args.out)
            s = res.summary()
            per_sim = res.ranks.drop_duplicates("sim")["seconds"]
            print(f"\n== SBC {fam}: {n} simulations, {args.persons} persons, draws {args.draws} "
                  f"tune {args.tune} chains {args.chains} ({args.sampler}); computed "
                  f"{res.n_computed}, cached {res.n_cached}, failed {len(res.failures)}; "
                  f"wall {wall:.0f} s; median task {per_sim.median():.1f} s")
            cols = ["quantity", "n_sims", "chi2", "df", "p_value", "mean_pit", "sd_pit",
                    "outside_95_band", "ess_bulk_median", "n_divergent_sims"]
            print(s[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
            print(f"quantities with p < 0.01: {int((s['p_value'] < 0.01).sum())} of {len(s)}; "
                  f"outside the 95% simultaneous band: {int(s['outside_95_band'].sum())}")


if __name__ == "__main__":
    main()
