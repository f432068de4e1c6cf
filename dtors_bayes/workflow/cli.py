"""The ``dtors-bayes`` command line, thin over the library.

Subcommands: ``simulate``, ``validate``, ``fit``, ``estimate``, ``report``, ``demo``, and
``sensitivity``, ``compare`` (:mod:`dtors_bayes.workflow.commands`), ``economics``
(:mod:`dtors_bayes.workflow.economics_command`), ``causal``
(:mod:`dtors_bayes.workflow.causal_command`) and ``study``
(:func:`dtors_bayes.studies.files.run_study_file`).

This module holds the parser (:func:`build_parser`, the help texts :data:`HELP`) and the entry
point (:func:`main`); the commands' handlers are :mod:`dtors_bayes.workflow.handlers` (with
the helpers they share, :func:`load_data` and :func:`extra_tables` among them, re-exported
here) and :mod:`dtors_bayes.workflow.demo`.

Exit codes: 0 success; 1 bad input (data, spec, model, fit, a missing file), reported as
*one line* on stderr, never a traceback (``--traceback`` shows one, for debugging);
2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from dtors_bayes.constants import DEFAULT_SEED
from dtors_bayes.exceptions import DtorsError
from dtors_bayes.workflow.demo import DEMO_DELTAS, DEMO_SPECS, cmd_demo
from dtors_bayes.workflow.demo import add_arguments as demo_arguments
from dtors_bayes.workflow.handlers import (
    MODELS_DIR,
    PROG,
    cmd_causal,
    cmd_economics,
    cmd_estimate,
    cmd_fit,
    cmd_report,
    cmd_simulate,
    cmd_study,
    cmd_validate,
    extra_tables,
    load_data,
    one_line,
)

__all__ = ["DEMO_DELTAS", "DEMO_SPECS", "ECONOMICS_HELP", "FORWARDED", "HELP", "MODELS_DIR",
           "PROG", "UsageError", "build_parser", "cmd_causal", "cmd_demo", "cmd_economics",
           "cmd_estimate", "cmd_fit", "cmd_report", "cmd_simulate", "cmd_study",
           "cmd_validate", "extra_tables", "load_data", "main", "one_line", "run_forwarded"]
FORWARDED = {"sensitivity": "sensitivity", "compare": "compare"}


class UsageError(Exception):
    """A command that cannot run as asked in this version (exit status 2)."""


# ---------------------------------------------------------------------- dispatch
def run_forwarded(command: str, argv: list[str]) -> int:
    """Run ``sensitivity`` / ``compare``: :func:`~dtors_bayes.workflow.commands.cmd_sensitivity`
    / :func:`~dtors_bayes.workflow.commands.cmd_compare` on the command's own ``argv``."""
    from dtors_bayes.workflow.commands import cmd_compare, cmd_sensitivity

    run = cmd_sensitivity if command == "sensitivity" else cmd_compare
    return int(run(list(argv)) or 0)


# ---------------------------------------------------------------------- parser
ECONOMICS_HELP = ("Cost-effectiveness of saved fits (QALYs from a utility fit, crime costs from "
                  "an offending fit) under an economics settings file: CEA, frontier, summary "
                  "and EVPPI tables (CSV), CE plane, CEAC and EVPI figures (PNG), optionally "
                  "an HTML report. Bundled illustrative settings: dtors_illustrative.")
HELP = {
    "simulate": "Simulate a DTORS-shaped cohort with known truth and write its data bundle "
                "(persons.csv, interviews.csv, population.csv, truth.json, cohort.json, "
                "data_dictionary.md). The default seed reproduces data/ byte for byte.",
    "validate": "Check a cohort against the data contract and print its summary (counts by "
                "wave, response patterns, response by modality, missingness). Exits 1 with "
                "every problem listed when the data break the contract.",
    "fit": "Fit the model of an analysis spec (models/*.toml, or a bundled spec's name) to a "
           "cohort and save the fit as netCDF (data, never code).",
    "estimate": "Population estimands of a saved fit as a table: .csv, .md, .tex or .html by "
                "the --out suffix. Settings default to the fit's spec [estimate] section.",
    "report": "A self-contained HTML report (plus CSV/Markdown/LaTeX tables) of saved fits.",
    "demo": "The whole workflow on the bundled cohort: validate, summarise, fit the core "
            "analyses, estimate, and write an HTML report.",
    "sensitivity": "Pattern-mixture / selection sensitivity analysis of a fit (delta grid, "
                   "tipping point): dtors_bayes.workflow.commands.cmd_sensitivity over "
                   "dtors_bayes.attrition.pattern_mixture.",
    "compare": "Compare fits (PSIS-LOO, grouped CV, posterior predictive checks): "
               "dtors_bayes.workflow.commands.cmd_compare over dtors_bayes.comparison.",
    "economics": ECONOMICS_HELP,
    "causal": "What the adjusted modality contrasts of a saved fit assume and what would "
              "overturn them, no refit: E-values, confounding grid and tipping points, the "
              "bias budget over confounding x pattern-mixture delta (CSV, PNG), optionally a "
              "report.",
    "study": "Run a simulation study (SBC, coverage) described by a TOML file, on Dask.",
}


def _short(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dtors-bayes``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Bayesian within-person change models for observational treatment "
                    "cohorts (DTORS-shaped): simulate, validate, fit, estimate, report.",
        epilog="Exit status: 0 ok, 1 bad input (one line on stderr), 2 usage. Data stay "
               "local: no network calls.")
    parser.add_argument("--traceback", action="store_true",
                        help="show Python tracebacks for errors (debugging)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func, **kw) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=_short(HELP[name]), description=HELP[name], **kw)
        p.set_defaults(func=func)
        return p

    def progress(p: argparse.ArgumentParser) -> None:
        p.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bars")

    p = add("simulate", cmd_simulate)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED,
                   help="random seed (default: %(default)s, the bundled data/)")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--attrition", choices=("mcar", "mar", "mnar"), default="mnar",
                   help="response process of the follow-ups (default: %(default)s)")
    p.add_argument("--strength", type=float, default=1.0,
                   help="multiplier of the outcome-dependent response terms (default: %(default)s)")
    p.add_argument("--n-persons", type=int, default=None,
                   help="cohort size (default 1796; sites, areas and response counts scale "
                        "with it)")
    p.add_argument("--n-sites", type=int, default=None, help="treatment sites")
    p.add_argument("--n-areas", type=int, default=None, help="areas")

    p = add("validate", cmd_validate)
    p.add_argument("data", metavar="DATA",
                   help="folder with persons.csv, interviews.csv [, population.csv], or one "
                        "long CSV/Parquet file")
    p.add_argument("--out", default=None, help="also write the summary tables to this folder")

    p = add("fit", cmd_fit)
    p.add_argument("spec", metavar="SPEC", help="analysis spec (TOML) or a bundled spec name")
    p.add_argument("--data", required=True, help="data folder or long file (see validate)")
    p.add_argument("--out", required=True, help="fit file to write (netCDF, e.g. fit.nc)")
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default: spec)")
    p.add_argument("--tune", type=int, default=None, help="tuning steps (default: spec)")
    p.add_argument("--chains", type=int, default=None, help="chains (default: spec)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: spec)")
    p.add_argument("--target-accept", type=float, default=None,
                   help="NUTS target acceptance (default: spec)")
    progress(p)

    def estimate_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--weighting", choices=("none", "fixed", "propagated", "mrp"),
                       default=None, help="weighting mode (default: the fit's spec, else none)")
        p.add_argument("--contrasts", choices=("reference", "pairs"), default=None,
                       help="modality contrasts (default: the fit's spec)")
        p.add_argument("--reference", default=None, help="reference modality")
        p.add_argument("--ci-prob", dest="ci_prob", type=float, default=None,
                       help="equal-tailed interval probability (default 0.90)")

    p = add("estimate", cmd_estimate)
    p.add_argument("fit", metavar="FIT", help="a saved fit (.nc)")
    p.add_argument("--data", default=None,
                   help="the data the fit was made from (checked by hash; needed by weighting)")
    p.add_argument("--out", required=True, help="table to write: .csv, .md, .tex or .html")
    estimate_options(p)
    p.add_argument("--by", default=None, metavar="COLUMN",
                   help="also subgroup estimands by this person-level categorical column "
                        "(e.g. referral_route; needs --data unless it is a modifier of the "
                        "model; default: the fit's spec)")

    p = add("report", cmd_report)
    p.add_argument("--fits", nargs="+", required=True, metavar="FIT", help="saved fits (.nc)")
    p.add_argument("--data", required=True, help="the data the fits were made from")
    p.add_argument("--out", required=True, help="report folder (index.html, tables/, figures/)")
    p.add_argument("--economics", default=None, metavar="DIR",
                   help="add the cost-effectiveness section from a `dtors-bayes economics` "
                        "output folder")
    p.add_argument("--causal", default=None, metavar="DIR",
                   help="add the causal section from a `dtors-bayes causal` output folder")
    estimate_options(p)
    progress(p)

    p = add("demo", cmd_demo)
    demo_arguments(p)
    progress(p)

    for name in FORWARDED:
        p = sub.add_parser(name, help=_short(HELP[name]), description=HELP[name],
                           add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER, help="options of the analysis")

    p = add("economics", cmd_economics)
    from dtors_bayes.workflow.economics_command import add_arguments

    add_arguments(p)

    p = add("causal", cmd_causal)
    from dtors_bayes.workflow.causal_command import add_arguments as causal_arguments

    causal_arguments(p)

    p = add("study", cmd_study)
    p.add_argument("file", metavar="FILE", help="study description (TOML)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster workers")
    progress(p)
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dtors-bayes``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in argv[:1]
    rest = argv[1:] if show_tb else argv
    warnings.formatwarning = _format_warning
    try:
        if rest and rest[0] in FORWARDED:
            return run_forwarded(rest[0], rest[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except UsageError as err:
        if show_tb:
            raise
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    except (DtorsError, OSError) as err:
        if show_tb:
            raise
        print(f"{PROG}: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
