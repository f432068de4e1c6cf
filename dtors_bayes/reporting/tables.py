"""The report's tables: the writers (CSV, Markdown, LaTeX, HTML), the per-fit tables of the
counts, exclusions, diagnostics and provenance sections, and the template's view of a table.

:func:`write_table` writes ``name.csv`` (full precision), ``.md`` and ``.tex``;
:func:`write_estimates` one estimates table in the format its suffix names. The section
tables (:func:`counts_table`, :func:`exclusions_table`, :func:`diagnostics_table`,
:func:`provenance_table`) hold aggregates only: person ids are dropped from exclusion
listings. :func:`table_block` is what ``templates/report.html.j2`` shows of a table
(formatted cells, long cells cut, long tables collapsed). :mod:`dtors_bayes.reporting.report`
assembles the page from them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dtors_bayes._format import display_frame, html_table, latex_table, markdown_table

#: Tables longer than this are collapsed into a ``<details>`` section.
OPEN_MAX_ROWS = 12
#: Text cells longer than this are cut with an ellipsis in the HTML (full text in the CSV).
LONG_CELL = 40


def write_table(df: pd.DataFrame, directory: str | Path, name: str,
                caption: str | None = None) -> list[Path]:
    """Write ``name.csv`` (full precision), ``name.md`` and ``name.tex`` into ``directory``.

    Returns
    -------
    list of Path
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / f"{name}.csv", d / f"{name}.md", d / f"{name}.tex"]
    df.to_csv(paths[0], index=False, lineterminator="\n")
    paths[1].write_text(markdown_table(df) + "\n", encoding="utf-8")
    paths[2].write_text(latex_table(df, caption=caption, label=f"tab:{name}"), encoding="utf-8")
    return paths


def write_estimates(table: pd.DataFrame, path: str | Path) -> Path:
    """Write an estimates table in the format its suffix names.

    ``.csv`` (full precision), ``.md``, ``.tex`` or ``.html``.

    Raises
    ------
    ValueError
        For another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        table.to_csv(path, index=False, lineterminator="\n")
    elif suffix == ".md":
        path.write_text(markdown_table(table) + "\n", encoding="utf-8")
    elif suffix == ".tex":
        path.write_text(latex_table(table, caption="Posterior estimates"), encoding="utf-8")
    elif suffix in (".html", ".htm"):
        path.write_text(html_table(table), encoding="utf-8")
    else:
        raise ValueError(f"{path}: unknown table format {suffix!r}; allowed: .csv, .md, .tex, "
                         ".html")
    return path


# ---------------------------------------------------------------------- section tables
def no_personal_rows(name: str, df: pd.DataFrame) -> None:
    if "person_id" in df.columns or "person" in df.columns:
        raise ValueError(f"extra table {name!r} has a person column: reports hold aggregates "
                         "only, never personal rows")


def _aggregate_exclusions(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in ("first_ids",) if c in df.columns]).copy()


def units_summary(df: pd.DataFrame | None, unit: str) -> pd.DataFrame | None:
    if df is None or df.empty:
        return None
    g = df.groupby("wave")
    return pd.DataFrame({
        "level": unit, "wave": list(g.groups),
        "n_units": g.size().to_numpy(),
        "min_rate": g["rate"].min().to_numpy(), "median_rate": g["rate"].median().to_numpy(),
        "max_rate": g["rate"].max().to_numpy(), "median_n": g["n"].median().to_numpy(),
    })


def counts_table(cohort, fits: Sequence) -> pd.DataFrame:
    """Counts per fit that reconcile the model's data with the input.

    Columns: ``analysis``, ``outcome``, ``persons_input``, ``persons_excluded``,
    ``persons_modelled``, ``interviews_scheduled``, ``interviewed``, ``item_missing``,
    ``outcome_values_used``, ``reconciles`` (persons modelled + excluded = input, and
    interviewed - item missing = values used).
    """
    rows = []
    for i, fit in enumerate(fits):
        d = fit.design
        prov = fit.provenance
        n_in = int(prov.get("n_persons_cohort", cohort.n_persons if cohort else d.n_person))
        interviewed = int(np.asarray(d.interviewed).sum())
        used = int((~np.isnan(d.y)).sum())
        item_missing = int((np.asarray(d.interviewed) & np.isnan(d.y)).sum())
        excluded = n_in - d.n_person
        rows.append({
            "analysis": analysis_name(fit, i), "outcome": fit.outcome,
            "persons_input": n_in, "persons_excluded": excluded,
            "persons_modelled": int(d.n_person),
            "interviews_scheduled": int(d.y.size), "interviewed": interviewed,
            "item_missing": item_missing, "outcome_values_used": used,
            "reconciles": bool(excluded >= 0 and interviewed - item_missing == used
                               and used == int(prov.get("n_observed", used))),
        })
    return pd.DataFrame(rows)


def exclusions_table(cohort, fits: Sequence) -> pd.DataFrame:
    """Every row added or excluded (cohort stage and each model), counts only."""
    parts = []
    if cohort is not None and getattr(cohort, "exclusions", None) is not None:
        c = _aggregate_exclusions(cohort.exclusions)
        c.insert(0, "analysis", "(cohort)")
        parts.append(c)
    for i, fit in enumerate(fits):
        ex = pd.DataFrame(fit.provenance.get("model_exclusions", []),
                          columns=["stage", "reason", "n_rows", "first_ids"])
        ex = _aggregate_exclusions(ex)
        ex.insert(0, "analysis", analysis_name(fit, i))
        parts.append(ex)
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["analysis", "stage", "reason", "n_rows"])
    return pd.concat(parts, ignore_index=True)


def diagnostics_table(fits: Sequence) -> pd.DataFrame:
    """``fit.diagnostics()`` of every fit, stacked, with the analysis and outcome."""
    parts = []
    for i, fit in enumerate(fits):
        d = fit.diagnostics().copy()
        d.insert(0, "outcome", fit.outcome)
        d.insert(0, "analysis", analysis_name(fit, i))
        parts.append(d)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def provenance_table(fits: Sequence) -> pd.DataFrame:
    """Sampler settings, timings, data hash and library versions of each fit."""
    rows = []
    for i, fit in enumerate(fits):
        p = fit.provenance
        s = p.get("sampler", {})
        v = p.get("versions", {})
        rows.append({
            "analysis": analysis_name(fit, i), "outcome": fit.outcome,
            "family": fit.model.family, "attrition": fit.model.attrition_label,
            "sampler": s.get("sampler"), "chains": s.get("chains"), "draws": s.get("draws"),
            "tune": s.get("tune"), "random_seed": s.get("random_seed"),
            "sampling_seconds": p.get("sampling_seconds"),
            "data_hash": str(p.get("data_hash") or "")[:12],
            "created": p.get("created"), "pymc": v.get("pymc"), "arviz": v.get("arviz"),
            "dtors_bayes": v.get("dtors-bayes"),
        })
    return pd.DataFrame(rows)


def analysis_name(fit, i: int) -> str:
    """The name of the ``i``-th fit: its spec's ``[analysis] name``, else ``outcome
    (attrition)``."""
    raw = fit.tree.attrs.get("analysis_spec")
    if raw:
        try:
            return str(json.loads(raw)["analysis"]["name"])
        except (ValueError, KeyError, TypeError):
            pass
    return f"{fit.outcome} ({fit.model.attrition_label})"


# ---------------------------------------------------------------------- the template's view
def table_block(df: pd.DataFrame, name: str, caption: str, *, max_rows: int | None = None,
                collapsed: bool | None = None) -> dict:
    """The template's view of a table: header, formatted cells, collapsed or not.

    Cells are formatted by :func:`dtors_bayes._format.display_frame`; text cells longer than
    :data:`LONG_CELL` characters are marked ``long`` (shown on one line, cut with an
    ellipsis, the full text as the cell's tooltip and in the CSV) so that one long cell
    never stretches a row. Tables of more than :data:`OPEN_MAX_ROWS` rows are collapsed
    unless ``collapsed`` says otherwise.
    """
    shown = display_frame(df if max_rows is None else df.head(max_rows))
    rows = [[{"text": "" if pd.isna(v) else str(v),
              "long": isinstance(v, str) and len(v) > LONG_CELL} for v in r]
            for r in shown.itertuples(index=False, name=None)]
    return {"kind": "table", "name": name, "caption": caption,
            "columns": [str(c) for c in df.columns], "rows": rows, "n_rows": len(df),
            "truncated": max_rows is not None and len(df) > max_rows,
            "collapsed": len(df) > OPEN_MAX_ROWS if collapsed is None else collapsed}
