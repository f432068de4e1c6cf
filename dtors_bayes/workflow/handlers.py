"""The handlers of the ``dtors-bayes`` commands and what they share.

:func:`dtors_bayes.workflow.cli.build_parser` binds each ``cmd_*`` here to its subcommand
(``simulate``, ``validate``, ``fit``, ``estimate``, ``report``, ``economics``, ``causal``,
``study``; ``demo`` is :mod:`dtors_bayes.workflow.demo`). Each takes the parsed arguments,
prints its results, writes its files and returns the exit status; errors are ``DtorsError``s
or ``OSError``s, which :func:`dtors_bayes.workflow.cli.main` turns into one line on stderr
(exit status 1).

Shared by the handlers and the demo: :func:`load_data` (a cohort from a folder or a long
file), :func:`estimate_table` (a fit's estimates under its spec's ``[estimate]`` settings,
overridden by the command-line options), :func:`extra_tables` (sensitivity and weight
tables for a report), :func:`one_line` and the small helpers :func:`say`, :func:`progress`,
:func:`check_file`, :func:`resolve_spec`, :func:`spec_of_fit`. ``estimate --by COLUMN``
(subgroup estimands, overriding the spec's ``[estimate] by``) is checked by
:func:`check_by` under the spec's rules, its errors naming ``--by``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from dtors_bayes.exceptions import CohortError, DtorsError, FitError, SpecError
from dtors_bayes.workflow.outputs import resolve_named

PROG = "dtors-bayes"
#: The bundled analysis specs (package data; the repository's ``models/`` links to it).
MODELS_DIR = Path(str(files("dtors_bayes.workflow") / "specs"))


def one_line(err: BaseException) -> str:
    """An error message folded onto one line (listings joined with ``; ``)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if not lines:
        return type(err).__name__
    rest = [ln[2:] if ln.startswith("- ") else ln for ln in lines[1:]]
    return lines[0] + (" " + "; ".join(rest) if rest else "")


def say(msg: str) -> None:
    print(msg, flush=True)


def progress(iterable, *, total: int | None = None, desc: str = "", enabled: bool = True):
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


def check_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} {str(p)!r}: no such file")
    return p


def resolve_spec(name_or_path: str) -> Path:
    """A spec path, or the name of a bundled spec in ``models/`` (``employed``)."""
    return resolve_named(name_or_path, MODELS_DIR, "spec")


def spec_of_fit(fit):
    from dtors_bayes.workflow.spec import load_spec

    raw = fit.tree.attrs.get("analysis_spec")
    if not raw:
        return None
    try:
        return load_spec(json.loads(raw))
    except (DtorsError, ValueError):
        return None


def estimate_table(fit, cohort, args_or_none=None, spec=None):
    """Estimates of a fit: its spec's [estimate] settings, overridden by the CLI options
    (``weighting``, ``contrasts``, ``reference``, ``ci_prob``, ``by``; those the command
    lacks, or leaves unset, keep the spec's value)."""
    from dtors_bayes.workflow.spec import ESTIMATE_DEFAULTS, estimate_fit

    overrides = {k: getattr(args_or_none, k, None)
                 for k in ("weighting", "contrasts", "reference", "ci_prob", "by")}
    if spec is not None:
        return spec.estimate(fit, cohort=cohort, **overrides)
    settings = dict(ESTIMATE_DEFAULTS)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    table = estimate_fit(fit, cohort=cohort, **settings)
    table.insert(0, "analysis", f"{fit.outcome} ({fit.model.attrition_label})")
    return table


def check_by(by: str, fit, cohort, *, weighting: str) -> None:
    """Check ``--by`` before estimating: the rules of the spec's ``[estimate] by``
    (:mod:`dtors_bayes.workflow.spec`: a person-level categorical column, not the outcome; a
    population cell variable with MRP) and, for a column that is no modifier of the model,
    that ``--data`` was given to read it from.

    Raises
    ------
    SpecError
        One line naming ``--by``, the value found and what is allowed.
    """
    from dtors_bayes.workflow.spec import _by, _by_problems

    problem = _by(by)
    if problem is None:
        data = {"estimate": {"by": by, "weighting": weighting},
                "model": {"outcome": fit.outcome}}
        problem = next((p.removeprefix("[estimate] by: ") for p in _by_problems(data)), None)
    if problem is not None:
        raise SpecError(f"--by: {problem}")
    modifiers = list(fit.design.modifier_names)
    if cohort is None and by not in modifiers:
        raise SpecError(f"--by {by!r}: not a modifier of the model (modifiers: "
                        f"{', '.join(modifiers) or 'none'}), so it is read from the data, and "
                        "no --data was given; allowed: a modifier, or any person-level "
                        "categorical column with --data")


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
    say(f"simulated {len(sim.persons)} persons (seed {args.seed}, attrition {args.attrition}) "
         f"in {time.perf_counter() - t0:.1f} s; wrote {len(paths)} files to {args.out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        cohort = load_data(args.data)
    except CohortError as err:
        say(str(err))  # the full listing, one problem per line
        raise
    summary = cohort.summary()
    say(repr(cohort))
    say(summary.to_markdown())
    if args.out:
        summary.write(args.out)
        say(f"wrote the cohort summary to {args.out}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from dtors_bayes.workflow.spec import load_spec

    spec = load_spec(resolve_spec(args.spec))
    cohort = load_data(args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fit = spec.fit(cohort, draws=args.draws, tune=args.tune, chains=args.chains,
                   random_seed=args.seed, target_accept=args.target_accept,
                   progressbar=args.progress and sys.stderr.isatty())
    fit.save(out)
    say(f"{fit!r}\nsampled in {time.perf_counter() - t0:.1f} s; saved to {out}")
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from dtors_bayes.models.io import load_fit
    from dtors_bayes.reporting.report import write_estimates

    check_file(args.fit, "fit")
    cohort = load_data(args.data) if args.data else None
    fit = load_fit(args.fit, cohort)
    spec = spec_of_fit(fit)
    if args.by is None:
        table = estimate_table(fit, cohort, args, spec)
    else:
        check_by(args.by, fit, cohort, weighting=args.weighting or (
            spec.estimate_args.get("weighting") if spec is not None else None) or "none")
        try:
            table = estimate_table(fit, cohort, args, spec)
        except FitError as err:  # the engine names its argument by=; the user gave --by
            head = f"by={args.by!r}"
            if not str(err).startswith(head):
                raise
            raise FitError(f"--by {args.by!r}{str(err)[len(head):]}") from None
    try:
        path = write_estimates(table, args.out)
    except ValueError as err:
        raise FitError(str(err)) from err
    say(f"{len(table)} estimates of {fit.outcome} written to {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dtors_bayes.models.io import load_fit
    from dtors_bayes.reporting.report import write_report

    for f in args.fits:
        check_file(f, "fit")
    cohort = load_data(args.data)
    fits, specs, tables = [], [], []
    for f in progress(args.fits, desc="estimating", enabled=args.progress):
        fit = load_fit(f, cohort)
        spec = spec_of_fit(fit)
        fits.append(fit)
        specs.append(spec)
        tables.append(estimate_table(fit, cohort, args, spec))
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
    say(f"report written to {index}")
    return 0


def cmd_economics(args: argparse.Namespace) -> int:
    from dtors_bayes.workflow.economics_command import cmd_economics as run

    return run(args, load_data=load_data, say=say,
               estimate=lambda fit, cohort: estimate_table(fit, cohort, None, spec_of_fit(fit)))


def cmd_causal(args: argparse.Namespace) -> int:
    from dtors_bayes.workflow.causal_command import cmd_causal as run

    return run(args, load_data=load_data, say=say,
               estimate=lambda fit, cohort: estimate_table(fit, cohort, None, spec_of_fit(fit)))


def cmd_study(args: argparse.Namespace) -> int:
    from dtors_bayes.studies.files import run_study_file

    check_file(args.file, "study file")
    # every task failing raises StudyFailed (a DtorsError: one message, exit status 1)
    run_study_file(args.file, args.out, scheduler=args.scheduler, n_workers=args.workers,
                   progress=args.progress)
    say(f"study written to {args.out}")
    return 0
