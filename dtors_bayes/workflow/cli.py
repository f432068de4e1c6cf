"""The ``dtors-bayes`` command line, thin over the library.

Subcommands: ``simulate``, ``validate``, ``fit``, ``estimate``, ``report``, ``demo``, and
``sensitivity``, ``compare`` (:mod:`dtors_bayes.workflow.commands`), ``economics``
(:mod:`dtors_bayes.workflow.economics_command`), ``causal``
(:mod:`dtors_bayes.workflow.causal_command`) and ``study``
(:func:`dtors_bayes.studies.files.run_study_file`).

Exit codes: 0 success; 1 bad input (data, spec, model, fit, a missing file), reported as
*one line* on stderr, never a traceback (``--traceback`` shows one, for debugging);
2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from dtors_bayes.constants import DEFAULT_SEED
from dtors_bayes.exceptions import CohortError, DtorsError, FitError
from dtors_bayes.workflow.outputs import resolve_named

PROG = "dtors-bayes"
#: Specs the demo fits (from ``models/``), in report order.
DEMO_SPECS = ("acquisitive_crime_mar", "employed", "mental_health", "drug_spend_hurdle")
#: Pattern-mixture offsets of the demo report's sensitivity section.
DEMO_DELTAS = (-1.0, -0.5, 0.0, 0.5, 1.0)
MODELS_DIR = Path(str(files("dtors_bayes.workflow") / "specs"))
FORWARDED = {"sensitivity": "sensitivity", "compare": "compare"}


class UsageError(Exception):
    """A command that cannot run as asked in this version (exit status 2)."""


# ---------------------------------------------------------------------- helpers
def one_line(err: BaseException) -> str:
    """An error message folded onto one line (listings joined with ``; ``)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if not lines:
        return type(err).__name__
    rest = [ln[2:] if ln.startswith("- ") else ln for ln in lines[1:]]
    return lines[0] + (" " + "; ".join(rest) if rest else "")


def _say(msg: str) -> None:
    print(msg, flush=True)


def _progress(iterable, *, total: int | None = None, desc: str = "", enabled: bool = True):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def load_data(path: str | Path):
    """Read a cohort from a folder or a file.

    A folder holds ``persons`` and ``interviews`` (and optionally ``population``) as
    ``.csv`` or ``.parquet``; a ``cohort.json`` written by :func:`dtors_bayes.simulation.bundle.
    write_bundle` supplies outcome families, schedule and trials. A file is one long table
    (CSV or Parquet) with person columns repeated on every interview row.

    Returns
    -------
    Cohort

    Raises
    ------
    CohortError
        Missing files, unreadable files, or data that break the contract.
    """
    from dtors_bayes.data.cohort import Cohort

    p = Path(path)
    if not p.exists():
        raise CohortError(f"{p}: no such file or folder")
    try:
        if p.is_file():
            return Cohort.from_paths(p)
        files = {}
        for name in ("persons", "interviews", "population"):
            found = [p / f"{name}{ext}" for ext in (".csv", ".parquet", ".pq")
                     if (p / f"{name}{ext}").exists()]
            files[name] = found[0] if found else None
        missing = [n for n in ("persons", "interviews") if files[n] is None]
        if missing:
            raise CohortError(f"{p}: no {' or '.join(m + '.csv' for m in missing)} in the "
                              "folder (a data folder holds persons.csv, interviews.csv and "
                              "optionally population.csv; or pass one long CSV/Parquet file)")
        kwargs: dict[str, Any] = {}
        config = p / "cohort.json"
        if config.exists():
            cfg = json.loads(config.read_text(encoding="utf-8"))
            if "outcomes" in cfg:
                kwargs["outcomes"] = dict(cfg["outcomes"])
            if "schedule" in cfg:
                kwargs["schedule"] = {int(t): float(m) for t, m in cfg["schedule"].items()}
            if "trials" in cfg:
                kwargs["trials"] = dict(cfg["trials"])
        return Cohort.from_paths(files["persons"], files["interviews"], files["population"],
                                 **kwargs)
    except DtorsError:
        raise
    except Exception as err:  # pandas/pyarrow/json parse errors of user files
        raise CohortError(f"{p}: cannot read the data: {type(err).__name__}: {err}") from err


def _check_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {str(p)!r}: no such file")
    return p


def _resolve_spec(name_or_path: str) -> Path:
    """A spec path, or the name of a bundled spec in ``models/`` (``employed``)."""
    return resolve_named(name_or_path, MODELS_DIR, "spec")


def _spec_of_fit(fit):
    from dtors_bayes.workflow.spec import load_spec

    raw = fit.tree.attrs.get("analysis_spec")
    if not raw:
        return None
    try:
        return load_spec(json.loads(raw))
    except (DtorsError, ValueError):
        return None


def _estimate(fit, cohort, args_or_none=None, spec=None):
    """Estimates of a fit: its spec's [estimate] settings, overridden by the CLI options."""
    from dtors_bayes.workflow.spec import ESTIMATE_DEFAULTS, estimate_fit

    overrides = {k: getattr(args_or_none, k, None)
                 for k in ("weighting", "contrasts", "reference", "ci_prob")}
    if spec is not None:
        return spec.estimate(fit, cohort=cohort, **overrides)
    settings = dict(ESTIMATE_DEFAULTS)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    table = estimate_fit(fit, cohort=cohort, **settings)
    table.insert(0, "analysis", f"{fit.outcome} ({fit.model.attrition_label})")
    return table


def extra_tables(fits: Sequence, specs: Sequence, cohort, *, deltas: Sequence[float] | None = None
                 ) -> dict:
    """Sensitivity and weight tables for a report.

    Sensitivity: the pattern-mixture delta grid
    (:func:`dtors_bayes.attrition.pattern_mixture.sensitivity`) for every fit whose spec has a
    ``[sensitivity]`` section (or for every fit with ``deltas`` given); the ``change`` and
    ``modality_contrast`` rows go to ``"sensitivity"``, tipping points (when computed) to
    ``"sensitivity_tipping_points"``. Weights:
    :func:`dtors_bayes.weighting.diagnostics.weight_summary` of the fixed weights, when the
    cohort has a population table. Missing pieces are skipped with a note on stderr.
    """
    import pandas as pd

    from dtors_bayes.attrition.pattern_mixture import sensitivity
    from dtors_bayes.weighting.diagnostics import weight_summary
    from dtors_bayes.weighting.response import fixed_weights

    out: dict[str, pd.DataFrame] = {}
    sens, tips = [], []
    for fit, spec in zip(fits, specs, strict=True):
        grid = (spec.sensitivity or {}).get("deltas") if spec is not None else None
        grid = grid or (list(deltas) if deltas is not None else None)
        if not grid:
            continue
        name = spec.name if spec is not None else fit.outcome
        try:
            res = sensitivity(fit, deltas=list(grid))
        except (DtorsError, ValueError) as err:
            print(f"{PROG}: note: sensitivity of {name} skipped: {one_line(err)}",
                  file=sys.stderr)
            continue
        table = res.table[res.table["estimand"].isin(["change", "modality_contrast"])].copy()
        table.insert(0, "analysis", name)
        sens.append(table)
        if not res.tipping_points.empty:
            tp = res.tipping_points.copy()
            tp.insert(0, "analysis", name)
            tips.append(tp)
    if sens:
        out["sensitivity"] = pd.concat(sens, ignore_index=True)
    if tips:
        out["sensitivity_tipping_points"] = pd.concat(tips, ignore_index=True)
    if cohort is not None and cohort.population is not None:
        try:
            w = fixed_weights(cohort)
            rows = []
            for col in [c for c in w.columns if c == "calibration" or c.startswith("weight_")]:
                vals = w[col].to_numpy(float)
                vals = vals[vals > 0]
                s = pd.Series(weight_summary(vals))
                rows.append({"weights": col, **s.to_dict()})
            out["weights"] = pd.DataFrame(rows)
        except (DtorsError, ValueError) as err:
            print(f"{PROG}: note: weight diagnostics skipped: {one_line(err)}", file=sys.stderr)
    return out


# ---------------------------------------------------------------------- commands
def cmd_simulate(args: argparse.Namespace) -> int:
    from dtors_bayes.simulation.bundle import write_bundle
    from dtors_bayes.simulation.generate import simulate_cohort

    kwargs: dict[str, Any] = {"attrition": args.attrition, "strength": args.strength}
    if args.n_persons is not None:
        n = args.n_persons
        scale = n / 1796
        n_areas = args.n_areas or max(2, min(94, round(94 * scale)))
        kwargs.update(
            n_persons=n, n_areas=n_areas,
            n_sites=args.n_sites or max(n_areas, min(342, round(342 * scale))),
            response_counts=(max(2, round(886 * scale)), max(1, round(504 * scale)),
                             max(1, round(245 * scale))))
    else:
        if args.n_sites is not None:
            kwargs["n_sites"] = args.n_sites
        if args.n_areas is not None:
            kwargs["n_areas"] = args.n_areas
    t0 = time.perf_counter()
    sim = simulate_cohort(args.seed, **kwargs)
    paths = write_bundle(sim, args.out)
    _say(f"simulated {len(sim.persons)} persons (seed {args.seed}, attrition {args.attrition}) "
         f"in {time.perf_counter() - t0:.1f} s; wrote {len(paths)} files to {args.out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        cohort = load_data(args.data)
    except CohortError as err:
        _say(str(err))  # the full listing, one problem per line
        raise
    summary = cohort.summary()
    _say(repr(cohort))
    _say(summary.to_markdown())
    if args.out:
        summary.write(args.out)
        _say(f"wrote the cohort summary to {args.out}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from dtors_bayes.workflow.spec import load_spec

    spec = load_spec(_resolve_spec(args.spec))
    cohort = load_data(args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fit = spec.fit(cohort, draws=args.draws, tune=args.tune, chains=args.chains,
                   random_seed=args.seed, target_accept=args.target_accept,
                   progressbar=args.progress and sys.stderr.isatty())
    fit.save(out)
    _say(f"{fit!r}\nsampled in {time.perf_counter() - t0:.1f} s; saved to {out}")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from dtors_bayes.models.io import load_fit
    from dtors_bayes.reporting.report import write_estimates

    _check_file(args.fit, "fit")
    cohort = load_data(args.data) if args.data else None
    fit = load_fit(args.fit, cohort)
    table = _estimate(fit, cohort, args, _spec_of_fit(fit))
    try:
        path = write_estimates(table, args.out)
    except ValueError as err:
        raise FitError(str(err)) from err
    _say(f"{len(table)} estimates of {fit.outcome} written to {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dtors_bayes.models.io import load_fit
    from dtors_bayes.reporting.report import write_report

    for f in args.fits:
        _check_file(f, "fit")
    cohort = load_data(args.data)
    fits, specs, tables = [], [], []
    for f in _progress(args.fits, desc="estimating", enabled=args.progress):
        fit = load_fit(f, cohort)
        spec = _spec_of_fit(fit)
        fits.append(fit)
        specs.append(spec)
        tables.append(_estimate(fit, cohort, args, spec))
    extras = extra_tables(fits, specs, cohort)
    economics = causal = None
    if args.economics:
        from dtors_bayes.workflow.economics_command import load_results

        economics = load_results(args.economics)
    if args.causal:
        from dtors_bayes.workflow.causal_command import load_results as load_causal

        causal = load_causal(args.causal)
    index = write_report(args.out, cohort=cohort, fits=fits, estimates=tables,
                         extra_tables=extras, economics=economics, causal=causal)
    _say(f"report written to {index}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from dtors_bayes.reporting.report import write_report
    from dtors_bayes.simulation.bundle import load_example
    from dtors_bayes.workflow.spec import load_spec

    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cohort = load_example()
    _say(f"data: {cohort!r}")
    cohort.summary().write(out / "cohort")
    specs = [load_spec(MODELS_DIR / f"{name}.toml") for name in args.specs]
    fits, tables = [], []
    (out / "fits").mkdir(exist_ok=True)
    bar = _progress(specs, desc="fitting", enabled=args.progress)
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
    _say(f"report written to {index}")
    _say(f"demo wall time: {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_economics(args: argparse.Namespace) -> int:
    from dtors_bayes.workflow.economics_command import cmd_economics as run

    return run(args, load_data=load_data, say=_say,
               estimate=lambda fit, cohort: _estimate(fit, cohort, None, _spec_of_fit(fit)))


def cmd_causal(args: argparse.Namespace) -> int:
    from dtors_bayes.workflow.causal_command import cmd_causal as run

    return run(args, load_data=load_data, say=_say,
               estimate=lambda fit, cohort: _estimate(fit, cohort, None, _spec_of_fit(fit)))


def cmd_study(args: argparse.Namespace) -> int:
    from dtors_bayes.studies.files import run_study_file

    _check_file(args.file, "study file")
    # every task failing raises StudyFailed (a DtorsError: one message, exit status 1)
    run_study_file(args.file, args.out, scheduler=args.scheduler, n_workers=args.workers,
                   progress=args.progress)
    _say(f"study written to {args.out}")
    return 0


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
