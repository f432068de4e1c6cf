"""Reporting: figures and the self-contained HTML report with its CSV/Markdown/LaTeX tables.

- :mod:`~dtors_bayes.reporting.figures`: trajectories, contrast forests, sensitivity curves;
- :mod:`~dtors_bayes.reporting.causal_section`: :class:`CausalResults` and the "Causal
  comparisons" section (plain tables and figures handed in by the workflow);
- :mod:`~dtors_bayes.reporting.tables`: the table writers (CSV, Markdown, LaTeX, HTML), the
  counts, exclusions, diagnostics and provenance tables, the template's view of a table;
- :mod:`~dtors_bayes.reporting.report`: :func:`write_report`, the page assembly (aggregates
  only: no person-level rows leave the package through a report); it re-exports the table
  writers.

May import: the core modules, ``models``, ``data``, ``estimands`` and ``simulation``; never
attrition, weighting or comparison (the workflow hands their tables in).
"""

from dtors_bayes.reporting.causal_section import CausalResults
from dtors_bayes.reporting.report import write_estimates, write_report, write_table

__all__ = ["CausalResults", "write_estimates", "write_report", "write_table"]
