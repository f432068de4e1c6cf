"""TOML study files: a coverage study described in a file (``dtors-bayes study``).

:func:`read_study_file` turns the file into
:func:`~dtors_bayes.studies.coverage.coverage_study` arguments (scenarios, methods, estimand
filters, seed); :func:`run_study_file` runs the study and writes its outputs.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from dtors_bayes.exceptions import DtorsError, SpecError
from dtors_bayes.studies.coverage import coverage_study
from dtors_bayes.studies.design import Method, Scenario

__all__ = ["METHODS", "SCHEMA", "StudyFailed", "read_study_file", "register_method",
           "run_study_file", "study_file_problems"]


class StudyFailed(DtorsError, RuntimeError):
    """Every task of a study failed: there is nothing to summarise.

    The message summarises the failures (each distinct error once, with its count and the
    first task keys) so the cause is seen without reading the task log.
    """


# ---------------------------------------------------------------------------- TOML study files
#: Methods a study file may name with ``method = "<name>"``: study files are data, so they
#: never import code; a script registers its functions here (:func:`register_method`).
METHODS: dict[str, Callable[..., Any]] = {}

#: Allowed keys of each table of a study file (anything else is reported as unknown).
SCHEMA = {
    "": {"study", "sampler", "scenarios", "methods", "estimands"},
    "study": {"name", "replicates", "seed", "population"},
    "sampler": {"draws", "tune", "chains", "sampler", "target_accept", "backend", "cores"},
    "scenarios": {"name", "simulate"},
    "methods": {"name", "model", "estimate", "sampler", "method"},
    "estimands": {"outcome", "estimand", "wave", "modality", "contrast"},
}


def register_method(name: str, fn: Callable[..., Any]) -> None:
    """Let study files name ``fn`` as ``method = name`` (``fn(cohort, seed, sim,
    model_kwargs, sampler_kwargs) -> DataFrame``, as :class:`Method`'s ``method_fn``)."""
    if not callable(fn):
        raise TypeError(f"register_method({name!r}, ...): expected a callable, got {fn!r}")
    METHODS[name] = fn


def study_file_problems(doc: dict[str, Any]) -> list[str]:
    """Every problem of a parsed study file, as lines that say what to change."""
    problems = []

    def close(key: str, allowed: set[str]) -> str:
        near = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        if near:
            return f" (did you mean {near[0]!r}?)"
        for table, keys in SCHEMA.items():
            if table and key in keys:
                return f" (it belongs in [{table}])" if table in ("study", "sampler") \
                    else f" (it belongs in [[{table}]])"
        for table, fn in (("scenarios.simulate", _simulate_fn()), ("methods.model", _model_fn()),
                          ("methods.estimate", _estimate_fn())):
            if fn is not None and key in inspect.signature(fn).parameters:
                return f" (it belongs in [{table}])"
        return ""

    def label(where: str) -> str:
        return where if where.startswith("[") else f"[{where or 'top level'}]"

    def unknown(where: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            problems.append(f"{label(where)} must be a table; found {type(table).__name__}; "
                            "fix: write it as a [table] header followed by key = value lines")
            return
        for key in sorted(set(table) - allowed):
            problems.append(f"{label(where)} unknown key {key!r}{close(key, allowed)}; "
                            f"allowed: {', '.join(sorted(allowed))}")

    def arguments(where: str, table: Any, fn: Callable | None, skip: set[str]) -> None:
        """Keys of a keyword table (``[methods.model]`` ...) must be ``fn``'s arguments."""
        if table is None or fn is None:
            return
        if not isinstance(table, dict):
            problems.append(f"{where} must be a table of keyword arguments; found "
                            f"{type(table).__name__}; fix: write it as a [table] header "
                            "followed by key = value lines")
            return
        params = inspect.signature(fn).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        allowed = {k for k in params if k not in skip}
        for key in sorted(set(table) - allowed):
            problems.append(f"{where} unknown key {key!r}{close(key, allowed)}; allowed: "
                            f"{', '.join(sorted(allowed))} (the arguments of "
                            f"{getattr(fn, '__qualname__', fn)})")

    unknown("", doc, SCHEMA[""])
    for name in ("study", "sampler"):
        if name in doc:
            unknown(name, doc[name], SCHEMA[name])
    for name, need in (("scenarios", True), ("methods", True), ("estimands", False)):
        rows = doc.get(name, [])
        if not isinstance(rows, list):
            problems.append(f"{name} must be an array of tables ([[{name}]]); found "
                            f"{type(rows).__name__}")
            continue
        if need and not rows:
            example = ('name = "mcar" and a [scenarios.simulate] table (n_persons = 300, '
                       'attrition = "mcar", ...)' if name == "scenarios" else
                       'name = "mar" and a [methods.model] table (outcome = '
                       '"acquisitive_crime", family = "bernoulli", ...)')
            problems.append(f"no [[{name}]] table: a study needs at least one; fix: add a "
                            f"[[{name}]] table with {example}")
        for k, row in enumerate(rows, 1):
            unknown(f"[[{name}]] #{k}", row, SCHEMA[name])
            if isinstance(row, dict) and name != "estimands" and "name" not in row:
                problems.append(f"[[{name}]] #{k} has no name; add name = \"...\"")
            if isinstance(row, dict) and name == "scenarios":
                arguments(f"[scenarios.simulate] of [[scenarios]] #{k}", row.get("simulate"),
                          _simulate_fn(), {"seed"})
            if isinstance(row, dict) and name == "methods":
                if "method" not in row:
                    arguments(f"[methods.model] of [[methods]] #{k}", row.get("model"),
                              _model_fn(), {"self"})
                    arguments(f"[methods.estimate] of [[methods]] #{k}", row.get("estimate"),
                              _estimate_fn(), {"fit", "ci_prob"})
                if "sampler" in row:
                    unknown(f"[methods.sampler] of [[methods]] #{k}", row["sampler"],
                            SCHEMA["sampler"])
                m = row.get("method")
                if m is not None and m not in METHODS:
                    problems.append(f"[[methods]] #{k}: method = {m!r} is not registered; "
                                    f"registered: {', '.join(sorted(METHODS)) or 'none'} "
                                    "(register_method(name, fn) in the script that runs the "
                                    "study; study files never import code)")
    reps = doc.get("study", {}).get("replicates", 10) if isinstance(doc.get("study"), dict) \
        else 10
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        problems.append(f"[study] replicates = {reps!r}; allowed: a whole number >= 1; fix: "
                        "e.g. replicates = 10")
    return problems


def read_study_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML study description into
    :func:`~dtors_bayes.studies.coverage.coverage_study` arguments.

    Layout::

        [study]            # name, replicates, seed, population ("sample" | "target")
        [sampler]          # defaults for every method: draws, tune, chains, sampler
        [[scenarios]]      # name, and [scenarios.simulate] = simulate_cohort kwargs
        [[methods]]        # name, [methods.model] (ChangeModel kwargs), [methods.estimate],
                           # [methods.sampler] overrides, or method = "<registered name>"
        [[estimands]]      # filters: outcome, estimand, wave, modality, contrast

    Raises
    ------
    SpecError
        Listing every problem at once (unreadable TOML, unknown keys, missing names or
        tables, unregistered methods), each with what to change.
    """
    import tomllib

    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{str(path)!r} is not valid TOML: {err}; fix: correct the file "
                        "there (tables are [name] or [[name]], values key = value, strings "
                        "quoted); benchmarks/studies/change_model_mar.toml is a working "
                        "example") from None
    problems = study_file_problems(doc)
    if problems:
        raise SpecError(f"{str(path)!r}: {len(problems)} problem(s) in the study file:\n  "
                         + "\n  ".join(problems))
    study = doc.get("study", {})
    sampler = doc.get("sampler", {})
    scenarios = [Scenario(s["name"], dict(s.get("simulate", {})))
                 for s in doc.get("scenarios", [])]
    methods = [Method(m["name"], dict(m.get("model", {})), dict(m.get("estimate", {})),
                      {**sampler, **m.get("sampler", {})},
                      METHODS[m["method"]] if "method" in m else None)
               for m in doc.get("methods", [])]
    return {"scenarios": scenarios, "methods": methods,
            "replicates": int(study.get("replicates", 10)),
            "estimands": doc.get("estimands") or None,
            "population": study.get("population", "sample"),
            "seed": int(study.get("seed", 0)), "name": study.get("name", Path(path).stem)}


def run_study_file(path: str | Path, out_dir: str | Path, *, scheduler: Any = None,
                   n_workers: int | None = None, progress: bool = True,
                   cache_dir: str | Path | None = None) -> pd.DataFrame:
    """Run the coverage study described by a TOML file and write its results.

    Parameters
    ----------
    path : str or Path
        TOML study description (see :func:`read_study_file`; example:
        ``benchmarks/studies/change_model_mar.toml``).
    out_dir : str or Path
        Receives ``table.csv``, ``summary.csv``, ``summary.md``, ``coverage.png``; the cache
        defaults to ``out_dir/cache`` (rerunning resumes).
    scheduler, n_workers, progress
        See :func:`~dtors_bayes.studies.coverage.coverage_study`.

    Returns
    -------
    DataFrame
        The summary (:meth:`~dtors_bayes.studies.coverage.StudyResult.summary`).
    """
    args = read_study_file(path)
    out = Path(out_dir)
    res = coverage_study(**args, cache_dir=cache_dir or out / "cache", scheduler=scheduler,
                         n_workers=n_workers, progress=progress)
    res.write(out)
    if res.failures and res.n_computed + res.n_cached == 0:
        raise StudyFailed(f"{str(path)!r}: all {len(res.failures)} task(s) of the study "
                          f"failed; nothing to summarise:\n"
                          + "\n".join(f"- {line}" for line in failure_summary(res.failures))
                          + "\nfix: correct the study file (the arguments named above), "
                          "then rerun (failed tasks are not cached)")
    if res.failures:
        warnings.warn(f"{len(res.failures)} task(s) of the study failed (the summary leaves "
                      "them out; rerun to retry them): "
                      + "; ".join(failure_summary(res.failures)), UserWarning, stacklevel=2)
    return res.summary()


def failure_summary(failures: list[tuple[str, str]], k: int = 3) -> list[str]:
    """Each distinct error of ``failures`` (``(task key, error)``) once, most frequent first.

    Returns
    -------
    list of str
        ``"<n> task(s): <error> (first: <keys>)"``.
    """
    failures = [(key, " ".join(ln.strip().removeprefix("- ") for ln in str(err).splitlines()
                               if ln.strip())) for key, err in failures]
    counts = Counter(err for _, err in failures)
    out = []
    for err, n in counts.most_common():
        keys = [key for key, e in failures if e == err][:k]
        out.append(f"{n} task(s): {err} (first: {', '.join(keys)})")
    return out


def _model_fn() -> Callable | None:
    from dtors_bayes.models.change_model import ChangeModel

    return ChangeModel.__init__


def _simulate_fn() -> Callable | None:
    from dtors_bayes.simulation.generate import simulate_cohort

    return simulate_cohort


def _estimate_fn() -> Callable | None:
    from dtors_bayes.models.fit import Fit

    return getattr(Fit, "estimate", None)  # bound by dtors_bayes/__init__ (workflow.analyses)
