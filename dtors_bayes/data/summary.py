"""Aggregate description of a :class:`~dtors_bayes.data.cohort.Cohort`: tidy tables, no person rows.

:class:`CohortSummary` holds counts by wave, missingness patterns across waves, response by
modality / site / area, the sample against the population and item missingness of each
outcome, plus the cohort's exclusions. It renders as Markdown or plain HTML and writes
``summary.md``, ``summary.html`` and one CSV per table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dtors_bayes._format import html_table, markdown_table

if TYPE_CHECKING:
    from dtors_bayes.data.cohort import Cohort

TITLES = {
    "counts_by_wave": "Interviews by wave",
    "patterns": "Response patterns across waves (1 = interviewed)",
    "response_by_modality": "Response by modality",
    "response_by_site": "Response by site",
    "response_by_area": "Response by area",
    "sample_vs_population": "Sample against population",
    "outcome_missingness": "Outcome missingness",
    "exclusions": "Rows added, excluded or derived",
}


def _response_by(cohort: Cohort, column: str, name: str) -> pd.DataFrame | None:
    if column not in cohort.persons.columns:
        return None
    iv = cohort.interviews[["person_id", "wave", "interviewed"]].merge(
        cohort.persons[["person_id", column]], on="person_id", how="left")
    g = iv.groupby([column, "wave"], dropna=False)["interviewed"]
    out = pd.DataFrame({"n": g.size(), "n_interviewed": g.sum()}).reset_index()
    out = out.rename(columns={column: name})
    out["n_interviewed"] = out["n_interviewed"].astype("int64")
    out["rate"] = out["n_interviewed"] / out["n"]
    return out


@dataclass
class CohortSummary:
    """Tidy aggregate tables describing a cohort.

    Attributes
    ----------
    counts_by_wave : pandas.DataFrame
        ``wave``, ``n_scheduled``, ``n_interviewed``, ``response_rate``, ``median_months``.
    patterns : pandas.DataFrame
        ``pattern`` (e.g. ``"1 1 0"``, one digit per wave), ``n``, ``share``.
    response_by_modality, response_by_site, response_by_area : pandas.DataFrame or None
        ``modality``/``site_id``/``area_id``, ``wave``, ``n``, ``n_interviewed``, ``rate``;
        ``None`` when the cohort lacks the column.
    sample_vs_population : pandas.DataFrame or None
        ``variable``, ``category``, ``sample_n``, ``sample_share``, ``population_share``;
        ``None`` without a population.
    outcome_missingness : pandas.DataFrame
        ``outcome``, ``wave``, ``n_interviewed``, ``n_observed``, ``n_item_missing``.
    exclusions : pandas.DataFrame
        The cohort's ``exclusions`` table.
    """

    counts_by_wave: pd.DataFrame
    patterns: pd.DataFrame
    response_by_modality: pd.DataFrame | None
    response_by_site: pd.DataFrame | None
    response_by_area: pd.DataFrame | None
    sample_vs_population: pd.DataFrame | None
    outcome_missingness: pd.DataFrame
    exclusions: pd.DataFrame

    @classmethod
    def from_cohort(cls, cohort: Cohort) -> CohortSummary:
        """Compute every table from a cohort.

        Parameters
        ----------
        cohort : Cohort

        Returns
        -------
        CohortSummary
        """
        iv = cohort.interviews
        yes = iv["interviewed"].to_numpy(bool)
        g = iv.groupby("wave")
        counts = pd.DataFrame({
            "wave": cohort.waves,
            "n_scheduled": g.size().reindex(cohort.waves).to_numpy(),
            "n_interviewed": g["interviewed"].sum().reindex(cohort.waves).to_numpy(),
        })
        counts["n_interviewed"] = counts["n_interviewed"].astype("int64")
        counts["response_rate"] = counts["n_interviewed"] / counts["n_scheduled"]
        med = iv.loc[yes].groupby("wave")["months"].median()
        counts["median_months"] = med.reindex(cohort.waves).to_numpy(float)

        m = cohort.interviewed_matrix().astype(int)
        strings = pd.Series([" ".join(map(str, r)) for r in m], dtype="str")
        pat = strings.value_counts().rename_axis("pattern").reset_index(name="n")
        pat = pat.sort_values(["n", "pattern"], ascending=[False, False], kind="stable")
        pat["share"] = pat["n"] / cohort.n_persons
        pat = pat.reset_index(drop=True)

        rows = []
        for out in cohort.outcomes:
            for w in cohort.waves:
                at = (iv["wave"] == w).to_numpy() & yes
                n_obs = int(iv.loc[at, out].notna().sum())
                rows.append({"outcome": out, "wave": w, "n_interviewed": int(at.sum()),
                             "n_observed": n_obs, "n_item_missing": int(at.sum()) - n_obs})
        miss = pd.DataFrame(rows, columns=["outcome", "wave", "n_interviewed", "n_observed",
                                           "n_item_missing"])
        return cls(
            counts_by_wave=counts,
            patterns=pat,
            response_by_modality=_response_by(cohort, "modality", "modality"),
            response_by_site=_response_by(cohort, "site_id", "site_id"),
            response_by_area=_response_by(cohort, "area_id", "area_id"),
            sample_vs_population=_sample_vs_population(cohort),
            outcome_missingness=miss,
            exclusions=cohort.exclusions.copy(),
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables present, by name (``None`` ones left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}

    def to_markdown(self) -> str:
        """All tables as Markdown, each under a heading."""
        parts = ["# Cohort summary"]
        for name, df in self.tables().items():
            parts += [f"## {TITLES[name]}", markdown_table(df, floatfmt=".4g")]
        return "\n\n".join(parts) + "\n"

    def to_html(self) -> str:
        """All tables as one plain HTML page, each under a heading."""
        body = "\n".join(f"<h2>{html.escape(TITLES[n])}</h2>\n"
                         + html_table(df, floatfmt=".4g") for n, df in self.tables().items())
        return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Cohort summary"
                f"</title></head>\n<body>\n<h1>Cohort summary</h1>\n{body}\n</body></html>\n")

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``summary.md``, ``summary.html`` and ``<table>.csv`` files.

        Parameters
        ----------
        directory : str or Path
            Created if absent.

        Returns
        -------
        list of Path
            The files written.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        written = [d / "summary.md", d / "summary.html"]
        written[0].write_text(self.to_markdown(), encoding="utf-8")
        written[1].write_text(self.to_html(), encoding="utf-8")
        for name, df in self.tables().items():
            path = d / f"{name}.csv"
            df.to_csv(path, index=False)
            written.append(path)
        return written


def _sample_vs_population(cohort: Cohort) -> pd.DataFrame | None:
    pop = cohort.population
    if pop is None:
        return None
    rows = []
    total = float(pop["count"].sum())
    for var in [c for c in pop.columns if c != "count"]:
        sample = cohort.persons[var].value_counts(dropna=False)
        popn = pop.groupby(var)["count"].sum()
        cats = sorted(set(map(str, sample.index.dropna())) | set(map(str, popn.index)))
        for cat in cats:
            n = int(sample.get(cat, 0))
            rows.append({"variable": var, "category": cat, "sample_n": n,
                         "sample_share": n / cohort.n_persons,
                         "population_share": float(popn.get(cat, 0.0)) / total})
        n_na = int(cohort.persons[var].isna().sum())
        if n_na:
            rows.append({"variable": var, "category": "(missing)", "sample_n": n_na,
                         "sample_share": n_na / cohort.n_persons, "population_share": 0.0})
    return pd.DataFrame(rows, columns=["variable", "category", "sample_n", "sample_share",
                                       "population_share"])
