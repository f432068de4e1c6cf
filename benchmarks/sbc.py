"""Simulation-based calibration of the change model per outcome family.

Writes ``{family}_ranks.csv``, ``{family}_summary.csv``, ``{family}_summary.md`` and
``{family}_ecdf.png`` under ``benchmarks/results/sbc/`` and prints each summary. Each
simulation is cached (``benchmarks/cache/sbc``, git-ignored), so an interrupted run resumes, and
``--cached-only`` rebuilds the outputs from the simulations cached so far (no new fits).

``--selection M S`` calibrates the Diggle-Kenward selection model instead, with kappa ~ N(M,
S) drawn from its prior and the interview pattern simulated from the response model
(``time="wave"``; outputs prefixed ``{family}_selection_``). ``--minutes`` time-boxes a run:
simulations are added ``--step`` at a time and no new round starts after the limit, so the
simulations summarised are always the first ``n`` (never a subset picked by fit time).

Usage::

    python benchmarks/sbc.py --family bernoulli gaussian --sims 100 --workers 2
    python benchmarks/sbc.py --family bernoulli --selection 0 1 --persons 200 --draws 1000 \\
        --tune 1000 --backend jax --workers 1 --sims 200 --step 4 --minutes 35
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from pathlib import Path

from dtors_bayes.studies.execute import dask_client
from dtors_bayes.studies.sbc import sbc_study

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "sbc"


def run_family(fam: str, args: argparse.Namespace, client) -> None:
    """SBC of one family (in rounds when ``--minutes`` is set); write and print the summary."""
    t0 = time.perf_counter()
    kw = {"n_persons": args.persons, "draws": args.draws, "tune": args.tune,
          "chains": args.chains, "sampler": args.sampler, "backend": args.backend,
          "cache_dir": HERE / "cache" / "sbc", "scheduler": client, "seed": args.seed,
          "only_cached": args.cached_only,
          "selection_kappa": tuple(args.selection) if args.selection else None}
    if args.minutes is None or args.cached_only:
        res = sbc_study(fam, args.sims, **kw)
    else:
        n = min(args.step, args.sims)
        while True:
            res = sbc_study(fam, n, **kw)
            elapsed = (time.perf_counter() - t0) / 60
            print(f"[{fam}] {res.settings['n_sims']} simulations after {elapsed:.1f} min",
                  flush=True)
            if n >= args.sims or elapsed >= args.minutes:
                break
            n = min(n + args.step, args.sims)
    n_done = res.settings["n_sims"]
    wall = time.perf_counter() - t0
    paths = res.write(args.out)
    s = res.summary()
    per_sim = res.ranks.drop_duplicates("sim")["seconds"]
    what = f"selection kappa ~ N({args.selection[0]:g}, {args.selection[1]:g})" \
        if args.selection else "MAR"
    print(f"\n== SBC {fam} ({what}): {n_done} simulations, {args.persons} persons, draws "
          f"{args.draws} tune {args.tune} chains {args.chains} ({args.sampler}, "
          f"{args.backend}); computed {res.n_computed}, cached {res.n_cached}, failed "
          f"{len(res.failures)}; wall {wall:.0f} s; median task {per_sim.median():.1f} s")
    cols = ["quantity", "n_sims", "chi2", "df", "p_value", "mean_pit", "sd_pit",
            "outside_95_band", "ess_bulk_median", "share_divergent", "share_r_hat_over_1_01"]
    print(s[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"quantities with p < 0.01: {int((s['p_value'] < 0.01).sum())} of {len(s)}; "
          f"outside the 95% simultaneous band: {int(s['outside_95_band'].sum())}; "
          f"simulations with any ranked R-hat > 1.01: "
          f"{float(s['share_any_r_hat_over_1_01'].iloc[0]):.3f}" if len(s) else "")
    print("wrote " + ", ".join(str(p) for p in paths))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", nargs="+", default=["bernoulli", "gaussian"])
    ap.add_argument("--sims", type=int, default=100)
    ap.add_argument("--persons", type=int, default=150)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--sampler", default="nutpie")
    ap.add_argument("--backend", default="numba", choices=["numba", "jax"],
                    help="nutpie's compiler (jax, the jax extra, compiles much faster)")
    ap.add_argument("--selection", nargs=2, type=float, default=None, metavar=("MEAN", "SD"),
                    help="SBC of the selection model with kappa ~ N(MEAN, SD)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="add --step simulations per round; no new round after this many "
                         "minutes")
    ap.add_argument("--step", type=int, default=4, help="simulations added per round")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cached-only", action="store_true",
                    help="no new fits: summarise the simulations cached so far")
    args = ap.parse_args(argv)
    if args.step < 1:
        ap.error("--step must be >= 1")
    warnings.simplefilter("ignore")
    cluster = contextlib.nullcontext("sync") if args.cached_only else \
        dask_client(args.scheduler, args.workers)
    with cluster as client:
        for fam in args.family:
            run_family(fam, args, client)


if __name__ == "__main__":
    main()
