"""Commands of the ``dtors-bayes`` command line that front the analysis rooms.

Each ``cmd_*`` takes the command's own arguments (``argv``, after the command name), prints
its results, writes the files asked for and returns the exit status. Errors are
``DtorsError``s, which :func:`dtors_bayes.workflow.cli.main` turns into one-line messages
(exit status 1); argparse's usage errors exit with status 2.

- :func:`cmd_sensitivity`: ``dtors-bayes sensitivity``, pattern-mixture sensitivity of a saved
  fit (:func:`dtors_bayes.attrition.pattern_mixture.sensitivity`).
- :func:`cmd_compare`: ``dtors-bayes compare``, PSIS-LOO comparison of saved fits
  (:func:`dtors_bayes.comparison.compare.compare`) and posterior predictive checks
  (:func:`dtors_bayes.comparison.ppc.posterior_predictive_check`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dtors_bayes._format import markdown_table
from dtors_bayes.attrition.pattern_mixture import sensitivity
from dtors_bayes.comparison.compare import compare
from dtors_bayes.comparison.ppc import posterior_predictive_check
from dtors_bayes.models.io import load_fit


def cmd_sensitivity(argv: list[str]) -> int:
    """``dtors-bayes sensitivity FIT.nc --deltas ... [--conclusion ...] [--out T.csv]``.

    Prints the tipping points and writes the estimates over the delta grid (``.csv`` or
    ``.md``) and, with ``--plot``, the estimate-vs-delta figure.
    """
    ap = argparse.ArgumentParser(
        prog="dtors-bayes sensitivity",
        description="Pattern-mixture sensitivity of a saved fit, without refitting: shift the "
                    "link-scale predictions of people not interviewed by each delta and find "
                    "the tipping point where a stated conclusion stops holding.")
    ap.add_argument("fit", type=Path, help="a saved fit (.nc)")
    grid = ap.add_mutually_exclusive_group()
    grid.add_argument("--deltas", type=float, nargs="+", help="the delta grid")
    grid.add_argument("--grid", type=float, nargs=3, metavar=("FROM", "TO", "N"),
                      help="an evenly spaced grid (default -2 2 41)")
    grid.add_argument("--prior", type=float, nargs=2, metavar=("MEAN", "SD"),
                      help="a normal prior on delta instead of a grid")
    ap.add_argument("--by", default=None, help="delta by 'wave', 'modality' or a column")
    ap.add_argument("--conclusion", action="append", default=[],
                    help="ESTIMAND,WAVE,OP,VALUE[,PROB[,MODALITY_OR_CONTRAST]], e.g. "
                         "'change,2,<,0,0.95' (repeatable)")
    ap.add_argument("--out", type=Path, default=None, help="write the table (.csv or .md)")
    ap.add_argument("--plot", type=Path, default=None, help="write the figure (.png)")
    args = ap.parse_args(argv)
    fit = load_fit(args.fit)
    conclusions = [tuple(c.split(",")) for c in args.conclusion] or None
    if args.prior is not None:
        res = sensitivity(fit, prior=tuple(args.prior), by=args.by, conclusion=conclusions)
    else:
        deltas = args.deltas if args.deltas is not None else np.linspace(
            *(args.grid[:2] if args.grid else (-2.0, 2.0)),
            int(args.grid[2]) if args.grid else 41)
        res = sensitivity(fit, deltas, by=args.by, conclusion=conclusions)
    if len(res.tipping_points):
        print(res.tipping_points.to_string(index=False))
    print(f"{len(res.table)} rows in {res.seconds:.1f} s")
    if args.out is not None:
        if args.out.suffix == ".md":
            args.out.write_text(markdown_table(res.table, ".4g") + "\n")
        else:
            res.table.to_csv(args.out, index=False)
    if args.plot is not None:
        res.plot().savefig(args.plot, dpi=120)
    return 0


def cmd_compare(argv: list[str]) -> int:
    """``dtors-bayes compare FIT.nc FIT.nc ... [--group site] [--ppc wave] [--out T.csv]``.

    Prints the comparison table and its notes (always the MAR/MNAR caveat); with ``--ppc``
    also the posterior predictive check of each fit.
    """
    ap = argparse.ArgumentParser(
        prog="dtors-bayes compare",
        description="Compare saved fits of one outcome by PSIS-LOO (or leave-one-group-out) "
                    "with stacking weights and Pareto-k diagnostics; optionally posterior "
                    "predictive checks. MAR and MNAR fits cannot be ranked this way: see "
                    "`dtors-bayes sensitivity`.")
    ap.add_argument("fits", nargs="+", help="saved fits (.nc); the file stem names each model")
    ap.add_argument("--group", choices=["person", "site", "area"], default=None,
                    help="leave one group out instead of one observation")
    ap.add_argument("--ppc", choices=["wave", "modality", "site"], default=None,
                    help="also print posterior predictive checks by this grouping")
    ap.add_argument("--out", type=Path, default=None, help="write the table (.csv or .md)")
    args = ap.parse_args(argv)
    fits = {}
    for f in args.fits:
        path = Path(f)
        fits[path.stem] = load_fit(path)
    res = compare(fits, group=args.group)
    print(res)
    if args.ppc:
        for name, fit in fits.items():
            print(f"\nPosterior predictive check of {name} by {args.ppc}:")
            print(posterior_predictive_check(fit, by=args.ppc).round(3).to_string(index=False))
    if args.out is not None:
        table = res.table.reset_index(names="model")
        if args.out.suffix == ".md":
            args.out.write_text(markdown_table(table, ".4g") + "\n\n" + "\n".join(res.notes) + "\n")
        else:
            table.to_csv(args.out, index=False)
    return 0
