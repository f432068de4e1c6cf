"""``dtors-bayes demo``: the whole workflow on the bundled cohort.

Validate and summarise the bundled synthetic DTORS-shaped cohort
(:func:`dtors_bayes.simulation.bundle.load_example`), fit the core analyses
(:data:`DEMO_SPECS`, bundled specs), estimate, and write an HTML report; unless
``--core-only``, the report adds the headline analysis's pattern-mixture sensitivity over
:data:`DEMO_DELTAS`, its propagated-weighting estimates and the causal section
(:func:`dtors_bayes.workflow.causal_command.demo_results`). Fits go to ``OUT/fits/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dtors_bayes.exceptions import DtorsError
from dtors_bayes.workflow.handlers import (
    MODELS_DIR,
    PROG,
    extra_tables,
    one_line,
    progress,
    say,
)

#: Specs the demo fits (from ``models/``), in report order.
DEMO_SPECS = ("acquisitive_crime_mar", "employed", "mental_health", "drug_spend_hurdle")
#: Pattern-mixture offsets of the demo report's sensitivity section.
DEMO_DELTAS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``dtors-bayes demo`` (the CLI adds ``--no-progress``)."""
    p.add_argument("--out", default="report", help="report folder (default: %(default)s)")
    p.add_argument("--draws", type=int, default=1000,
                   help="draws per chain (default: %(default)s)")
    p.add_argument("--tune", type=int, default=1000,
                   help="tuning steps per chain (default: %(default)s)")
    p.add_argument("--chains", type=int, default=4,
                   help="chains, run in parallel (default: %(default)s)")
    p.add_argument("--specs", nargs="+", default=list(DEMO_SPECS), metavar="NAME",
                   help="bundled specs to fit (default: %(default)s)")
    p.add_argument("--core-only", action="store_true",
                   help="skip the optional weighting and sensitivity extras")


def cmd_demo(args: argparse.Namespace) -> int:
    """Run ``dtors-bayes demo``: fit :data:`DEMO_SPECS` (or ``--specs``) to the bundled cohort,
    estimate and write the report (with the sensitivity, propagated-weighting and causal
    extras unless ``--core-only``)."""
    from dtors_bayes.reporting.report import write_report
    from dtors_bayes.simulation.bundle import load_example
    from dtors_bayes.workflow.spec import load_spec

    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = load_example()
    say(f"data: {cohort!r}")
    cohort.summary().write(out / "cohort")
    specs = [load_spec(MODELS_DIR / f"{name}.toml") for name in args.specs]
    fits, tables = [], []
    (out / "fits").mkdir(exist_ok=True)
    bar = progress(specs, desc="fitting", enabled=args.progress)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        t1 = time.perf_counter()
        fit = spec.fit(cohort, draws=args.draws, tune=args.tune, chains=args.chains)
        fit.save(out / "fits" / f"{spec.name}.nc")
        fits.append(fit)
        tables.append(spec.estimate(fit, cohort=cohort, weighting="none"))
        bar.write(f"  {spec.name}: {time.perf_counter() - t1:.0f} s"
                  + (f" ({len(fit.problems())} sampler warning(s))" if fit.problems() else ""))
    extras: dict = {}
    causal = None
    if not args.core_only:
        from dtors_bayes.workflow.causal_command import demo_results

        causal = demo_results(fits, note=lambda s: print(f"{PROG}: note: {s}", file=sys.stderr))
        extras = extra_tables(fits[:1], specs[:1], cohort, deltas=DEMO_DELTAS)
        # the headline outcome again with propagated weights, side by side, when available
        try:
            tables.append(specs[0].estimate(fits[0], cohort=cohort, weighting="propagated"))
        except DtorsError as err:
            print(f"{PROG}: note: propagated weighting skipped: {one_line(err)}",
                  file=sys.stderr)
    index = write_report(out, cohort=cohort, fits=fits, estimates=tables, extra_tables=extras,
                         causal=causal,
                         title="dtors_bayes demo: the bundled synthetic DTORS-shaped cohort")
    say(f"report written to {index}")
    say(f"demo wall time: {time.perf_counter() - t0:.1f} s")
    return 0
