"""Wall time, peak memory and ESS/s of the change model as the cohort grows.

For each cohort size a *fresh subprocess* simulates a DTORS-shaped cohort (bernoulli
``acquisitive_crime``, MAR attrition; sites and areas as DTORS, response counts scaled),
fits ``ChangeModel(time="months", levels=("site", "area"))`` and saves the fit; a second
fresh subprocess loads it and computes the estimands. Peak memory is each subprocess's
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (native memory included, which tracemalloc
misses). Growth exponents are log-log least-squares slopes over the sizes run.

Writes ``benchmarks/results/scaling.md`` and ``scaling.json`` and prints the table.

Usage::

    python benchmarks/scaling.py                       # 1796 and 10k (the default --run)
    python benchmarks/scaling.py --run 1796 10000 50000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results"
SIZES = (1796, 10_000, 50_000, 100_000)
OUTCOME = "acquisitive_crime"


def _maxrss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2**20


def stage_fit(n: int, path: Path, draws: int, tune: int, chains: int, seed: int,
              cores: int = 2) -> dict:
    """Simulate and fit one cohort size; save the fit (runs in a fresh subprocess)."""
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.simulation.generate import simulate_cohort
    from dtors_bayes.studies.design import cohort_kwargs

    t0 = time.perf_counter()
    sim = simulate_cohort(seed, **cohort_kwargs(n, n_sites=342, n_areas=94, attrition="mar",
                                                outcomes=[OUTCOME]))
    cohort = sim.cohort
    t1 = time.perf_counter()
    model = ChangeModel(OUTCOME, "bernoulli", time="months", levels=("site", "area"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(cohort, draws=draws, tune=tune, chains=chains, random_seed=seed,
                        progressbar=False, cores=cores)
    t2 = time.perf_counter()
    diag = fit.diagnostics().set_index("check")["value"]
    fit.save(path)
    sampling = float(fit.provenance["sampling_seconds"])
    ess = float(diag.get("ess_bulk", np.nan))
    return {"n_persons": n, "n_observed": int(fit.provenance["n_observed"]),
            "simulate_s": t1 - t0, "fit_wall_s": t2 - t1, "sampling_s": sampling,
            "ess_bulk_min": ess, "ess_per_s": ess / sampling, "r_hat_max":
            float(diag.get("r_hat", np.nan)), "divergences": float(diag.get("divergences", 0)),
            "fit_maxrss_mb": _maxrss_mb()}


def stage_estimands(path: Path) -> dict:
    """Load a saved fit and compute its estimands (runs in a fresh subprocess)."""
    from dtors_bayes.models.io import load_fit

    rss0 = _maxrss_mb()
    t0 = time.perf_counter()
    fit = load_fit(path)
    t1 = time.perf_counter()
    est = fit.estimate()
    t2 = time.perf_counter()
    ess = float(np.nanmin(est["ess_bulk"])) if len(est) else np.nan
    return {"load_s": t1 - t0, "estimands_s": t2 - t1, "n_estimands": len(est),
            "estimands_ess_bulk_min": ess, "estimands_ess_per_s": ess / (t2 - t1),
            "estimands_maxrss_mb": _maxrss_mb(), "estimands_baseline_rss_mb": rss0}


def run_size(n: int, args: argparse.Namespace, tmp: Path) -> dict:
    """Both stages of one size, each in a fresh interpreter."""
    path = tmp / f"fit_{n}.nc"
    common = [sys.executable, __file__, "--one", str(n), "--fit-path", str(path),
              "--draws", str(args.draws), "--tune", str(args.tune), "--chains",
              str(args.chains), "--seed", str(args.seed), "--cores", str(args.cores)]
    out: dict = {"n_persons": n}
    for stage in ("fit", "estimands"):
        t0 = time.perf_counter()
        proc = subprocess.run([*common, "--stage", stage], capture_output=True, text=True,
                              timeout=args.timeout)
        if proc.returncode != 0:
            out["error"] = f"{stage}: " + proc.stderr.strip().splitlines()[-1][:200]
            return out
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        out[f"{stage}_process_s"] = time.perf_counter() - t0
    path.unlink(missing_ok=True)
    return out


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x (growth exponent); NaN with < 2 points."""
    x, y = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.polyfit(x[ok], y[ok], 1)[0]) if ok.sum() >= 2 else float("nan")


COLUMNS = [("n_persons", "persons", "{:.0f}"), ("n_observed", "observed", "{:.0f}"),
           ("simulate_s", "simulate s", "{:.1f}"), ("sampling_s", "sampling s", "{:.1f}"),
           ("fit_wall_s", "fit wall s", "{:.1f}"), ("ess_bulk_min", "min ESS", "{:.0f}"),
           ("ess_per_s", "ESS/s (fit)", "{:.2f}"), ("r_hat_max", "max R-hat", "{:.3f}"),
           ("fit_maxrss_mb", "fit peak MB", "{:.0f}"), ("estimands_s", "estimands s", "{:.2f}"),
           ("estimands_ess_per_s", "ESS/s (estimands)", "{:.0f}"),
           ("estimands_maxrss_mb", "estimands peak MB", "{:.0f}")]


def render(results: list[dict], args: argparse.Namespace, not_run: list[int]) -> str:
    """The Markdown report."""
    head = "| " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = ["# Scaling of the change model", "",
             f"bernoulli `{OUTCOME}`, MAR attrition, `ChangeModel(time='months', levels=('site',"
             f" 'area'))`; nutpie, {args.chains} chains on "
             f"`cores={args.cores}` (2: the chains run in parallel), "
             f"{args.tune} tune + {args.draws} draws; 342 sites, 94 areas at every size. "
             "Each stage in a fresh subprocess; peak memory = `ru_maxrss`. ESS/s (fit) = min "
             "bulk ESS of the structural parameters / sampling seconds (compilation "
             "included); ESS/s (estimands) = min bulk ESS of the estimands / seconds of the "
             "estimands step.",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"load average at start {args.load_start:.1f} (shared machine: timings are noisy)."
             , "", head, "|" + "---|" * len(COLUMNS)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['n_persons']} | failed: {r['error']} |")
            continue
        lines.append("| " + " | ".join(fmt.format(r.get(k, float('nan')))
                                       for k, _, fmt in COLUMNS) + " |")
    for n in not_run:
        lines.append(f"| {n} | not run: over this session's time box (on a shared 2-core "
                     "machine); run the command below |")
    ok = [r for r in results if "error" not in r]
    ns = [r["n_persons"] for r in ok]
    lines += ["", "Growth exponents (log-log slope over the sizes run; 1 = linear):", ""]
    for key, label in (("sampling_s", "sampling time"), ("fit_wall_s", "fit wall time"),
                       ("fit_maxrss_mb", "fit peak memory"),
                       ("estimands_s", "estimands time"),
                       ("estimands_maxrss_mb", "estimands peak memory")):
        lines.append(f"- {label}: {slope(ns, [r[key] for r in ok]):.2f}")
    big = [r for r in ok if r["n_persons"] == max(SIZES)]
    if big:
        r = big[0]
        total = r["fit_wall_s"] + r["estimands_s"]
        peak = max(r["fit_maxrss_mb"], r["estimands_maxrss_mb"]) / 1024
        lines += ["", f"Target at {r['n_persons']:,} persons (fit + estimands < 15 min, peak "
                  f"< 8 GiB on 2 cores): {total / 60:.1f} min, peak {peak:.2f} GiB -> "
                  f"{'met' if total < 900 and peak < 8 else 'NOT met'} for wall time and "
                  f"memory. Min bulk ESS of the structural parameters {r['ess_bulk_min']:.0f} "
                  f"(max R-hat {r['r_hat_max']:.3f}) at {args.chains} x {args.draws} draws: "
                  "the group-level sigmas mix slowly, so longer chains (and proportionally "
                  "more time) are needed before their intervals are trusted; the estimands' "
                  f"min ESS is {r['estimands_ess_bulk_min']:.0f}."]
    if not_run:
        lines += ["", "To run the remaining sizes:", "",
                  f"    python benchmarks/scaling.py --run {' '.join(map(str, not_run))} "
                  "--merge"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--run", type=int, nargs="+", default=[1796, 10_000],
                    help="sizes to run now (others are listed as not run)")
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cores", type=int, default=2, help="chains run in parallel on this many")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per stage")
    ap.add_argument("--merge", action="store_true",
                    help="keep earlier results of sizes not run now (from scaling.json)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--stage", choices=["fit", "estimands"], help=argparse.SUPPRESS)
    ap.add_argument("--fit-path", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        if args.stage == "fit":
            res = stage_fit(args.one, args.fit_path, args.draws, args.tune, args.chains,
                            args.seed, args.cores)
        else:
            res = stage_estimands(args.fit_path)
        print(json.dumps(res))
        return
    args.load_start = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    jpath = args.out / "scaling.json"
    earlier = {r["n_persons"]: r for r in json.loads(jpath.read_text())["results"]} \
        if args.merge and jpath.exists() else {}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            if n in args.run:
                r = run_size(n, args, Path(tmp))
                print(json.dumps(r), flush=True)
                results.append(r)
            elif n in earlier:
                results.append(earlier[n])
    not_run = [n for n in args.sizes if n not in {r["n_persons"] for r in results}]
    jpath.write_text(json.dumps({"settings": {k: v for k, v in vars(args).items()
                                              if k not in ("out", "fit_path")},
                                 "results": results}, indent=1, default=str))
    text = render(results, args, not_run)
    (args.out / "scaling.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
