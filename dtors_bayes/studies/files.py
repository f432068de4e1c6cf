"""TOML study files: a coverage study described in a file (``dtors-bayes study``).

:func:`read_study_file` turns the file into
:func:`~dtors_bayes.studies.coverage.coverage_study` arguments (scenarios, methods, estimand
filters, seed); :func:`run_study_file` runs the study and writes its outputs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from dtors_bayes.studies.coverage import coverage_study
from dtors_bayes.studies.design import Method, Scenario

__all__ = ["read_study_file", "run_study_file"]


# ---------------------------------------------------------------------------- TOML study files
def _import_callable(path: str) -> Callable[..., Any]:
    module, _, attr = path.partition(":")
    if not attr:
        module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def read_study_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML study description into
    :func:`~dtors_bayes.studies.coverage.coverage_study` arguments.

    Layout::

        [study]            # name, replicates, seed, population ("sample" | "target")
        [sampler]          # defaults for every method: draws, tune, chains, sampler
        [[scenarios]]      # name, and [scenarios.simulate] = simulate_cohort kwargs
        [[methods]]        # name, [methods.model] (ChangeModel kwargs), [methods.estimate],
                           # [methods.sampler] overrides, or fn = "module:function"
        [[estimands]]      # filters: outcome, estimand, wave, modality, contrast
    """
    import tomllib

    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    study = doc.get("study", {})
    sampler = doc.get("sampler", {})
    scenarios = [Scenario(s["name"], dict(s.get("simulate", {})))
                 for s in doc.get("scenarios", [])]
    methods = []
    for m in doc.get("methods", []):
        fn = _import_callable(m["fn"]) if "fn" in m else None
        methods.append(Method(m["name"], dict(m.get("model", {})), dict(m.get("estimate", {})),
                              {**sampler, **m.get("sampler", {})}, fn))
    if not scenarios or not methods:
        raise ValueError(f"{str(path)!r}: a study needs at least one [[scenarios]] and one "
                         "[[methods]] table")
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
