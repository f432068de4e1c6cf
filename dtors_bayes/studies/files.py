"""TOML study files: a coverage study described in a file (``dtors-bayes study``).

:func:`read_study_file` turns the file into
:func:`~dtors_bayes.studies.coverage.coverage_study` arguments (scenarios, methods, estimand
filters, seed); :func:`run_study_file` runs the study and writes its outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from dtors_bayes.exceptions import SpecError
from dtors_bayes.studies.coverage import coverage_study
from dtors_bayes.studies.design import Method, Scenario

__all__ = ["METHODS", "SCHEMA", "read_study_file", "register_method", "run_study_file",
           "study_file_problems"]


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

    def unknown(where: str, table: Any, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            problems.append(f"[{where}] must be a table; found {type(table).__name__}")
            return
        for key in sorted(set(table) - allowed):
            problems.append(f"[{where or 'top level'}] unknown key {key!r}; allowed: "
                            f"{', '.join(sorted(allowed))}")

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
            problems.append(f"no [[{name}]] table: a study needs at least one")
        for k, row in enumerate(rows, 1):
            unknown(f"{name} #{k}", row, SCHEMA[name])
            if isinstance(row, dict) and name != "estimands" and "name" not in row:
                problems.append(f"[[{name}]] #{k} has no name; add name = \"...\"")
            if isinstance(row, dict) and name == "methods":
                m = row.get("method")
                if m is not None and m not in METHODS:
                    problems.append(f"[[methods]] #{k}: method = {m!r} is not registered; "
                                    f"registered: {', '.join(sorted(METHODS)) or 'none'} "
                                    "(register_method(name, fn) in the script that runs the "
                                    "study; study files never import code)")
    reps = doc.get("study", {}).get("replicates", 10) if isinstance(doc.get("study"), dict) \
        else 10
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        problems.append(f"[study] replicates = {reps!r}; allowed: a whole number >= 1")
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
        raise SpecError(f"{str(path)!r} is not valid TOML: {err}") from None
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
    return res.summary()
