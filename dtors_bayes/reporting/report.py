"""A self-contained HTML report of fitted analyses, plus every table as CSV, Markdown and LaTeX.

:func:`write_report` writes ``index.html`` (figures embedded as base64 PNG, no external
files, scripts or links), ``figures/*.png`` and ``tables/<name>.{csv,md,tex}``. Reports hold
aggregates only: counts, rates, posterior summaries and diagnostics, never a person's row
(person ids are dropped from exclusion listings; an extra table with a ``person_id`` column
is refused).

Sections (their headings are :data:`SECTIONS`), in order: the findings in words per outcome
(:mod:`dtors_bayes.reporting.findings`; a banner there when any fit has sampler trouble);
trajectories by wave per outcome (fits of the same outcome that differ in weighting or
attrition side by side); modality contrasts (forest plot); sensitivity (the delta curve) and
weight diagnostics (filled from ``extra_tables``); cost-effectiveness (``economics=``: its
findings and assumptions in words, the CE plane, CEAC and EVPI figures, the tables); causal
comparisons (``causal=``: the assumption, tipping points and E-values in words, the
bias-budget heatmap, E-value, tipping-point and overlap tables; ``causal_section``); counts
reconciled with the input; the cohort and its missingness; estimates; convergence
diagnostics; any other extra table; methods and assumptions; provenance. Each figure comes
with its table; tables longer than :data:`OPEN_MAX_ROWS` rows are collapsed (``<details>``),
every table sits in a box that scrolls sideways (``.table-wrap``, ``overflow-x:auto``) so
nothing runs off a 1280 px page, and long text cells are cut with an ellipsis (full text in
the tooltip and the CSV).

The page is rendered by jinja2 from package data, ``templates/report.html.j2`` and
``templates/report.css`` (shipped in the wheel with the package directory). This module
assembles the page; the tables it shows (the writers, the counts, exclusions, diagnostics and
provenance tables, the template's view of a table) are :mod:`dtors_bayes.reporting.tables`,
re-exported here; table files are written through :mod:`dtors_bayes._format` (CSV,
Markdown, LaTeX).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from dtors_bayes._format import safe_name
from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.engine import ADJUSTED_ASSUMPTION, DESCRIPTIVE
from dtors_bayes.reporting.tables import (
    LONG_CELL,
    OPEN_MAX_ROWS,
    analysis_name,
    counts_table,
    diagnostics_table,
    exclusions_table,
    no_personal_rows,
    provenance_table,
    table_block,
    units_summary,
    write_estimates,
    write_table,
)

#: The page's names and, re-exported from :mod:`dtors_bayes.reporting.tables`, the table
#: writers, the section tables and the template's view of a table.
__all__ = ["EXTRA_MAX_ROWS", "HTML_COLUMNS", "HTML_ESTIMANDS", "LONG_CELL",
           "MAR_MNAR_STATEMENT", "OPEN_MAX_ROWS", "SECTIONS", "TIME_TEXT", "WEIGHTING_TEXT",
           "counts_table", "diagnostics_table", "exclusions_table", "methods_context",
           "methods_text", "provenance_table", "render", "table_block", "write_estimates",
           "write_report", "write_table"]

#: The page's sections in order; the other extra tables (each with its own heading) come
#: before the methods.
SECTIONS: dict[str, str] = {
    "findings": "Findings",
    "trajectories": "Trajectories by wave",
    "contrasts": "Modality contrasts",
    "sensitivity": "Sensitivity to missing-not-at-random attrition",
    "weights": "Weight diagnostics",
    "economics": "Cost-effectiveness",
    "causal": "Causal comparisons",
    "counts": "Counts reconciled with the input",
    "cohort": "Cohort and missingness",
    "estimates": "Estimates",
    "diagnostics": "Convergence diagnostics",
    "methods": "Methods and assumptions",
    "provenance": "Provenance",
}
#: Rows of an extra table shown in the HTML (every row is in its CSV).
EXTRA_MAX_ROWS = 60
#: Estimands shown in the HTML estimates table (every estimand is in the CSV).
HTML_ESTIMANDS = ("level", "change", "modality_change", "modality_contrast")
HTML_COLUMNS = ["analysis", "outcome", "estimand", "wave", "modality", "contrast", "weighting",
                "attrition", "mean", "ci_lb", "ci_ub", "p_direction", "ess_bulk", "r_hat"]

MAR_MNAR_STATEMENT = (
    "Whether attrition is missing at random (MAR) or not (MNAR) cannot be decided by the "
    "fit to the observed data: a MAR model and MNAR models can fit the observed interviews "
    "equally well and differ only in what they say about the missing ones. They are "
    "compared by sensitivity analysis (selection-model priors on kappa, pattern-mixture "
    "offsets delta and the tipping point), never by LOO or a posterior predictive check."
)
TIME_TEXT = {
    "wave": "one level per wave (interviews counted at their wave label; a late single "
            "follow-up counts at its wave)",
    "linear": "a straight line in months since intake, parameterised by its levels at "
              "intake and at the last nominal month",
    "months": "piecewise-linear in months since intake through knots at the nominal months "
              "of the waves, so irregular interview times (3-5, 6-12, 11-13 months) are used "
              "exactly; wave-level estimands are evaluated at each wave's nominal months",
}
WEIGHTING_TEXT = {
    "none": "equal weight for every modelled person: estimates describe the study sample "
            "(population = sample), not the national treatment population",
    "fixed": "fixed weights (calibration to the population margins times inverse response "
             "propensity, trimmed), treated as known: their uncertainty is not in the "
             "intervals (the DTORS practice)",
    "propagated": "one weight draw per posterior draw (Bayesian bootstrap, response-model "
                  "posterior, calibration to the population margins): the weights' "
                  "uncertainty is inside the intervals",
    "mrp": "model predictions poststratified to the population cells, integrating person, "
           "site and area effects over their fitted distributions",
}


# ---------------------------------------------------------------------- methods
def methods_context(fits: Sequence, estimates: pd.DataFrame) -> dict:
    """What the methods paragraphs state (``templates/methods.html.j2``): every assumption of
    the fits and estimates, as plain values for the template."""
    ci = sorted(set(estimates["ci_prob"].dropna())) if "ci_prob" in estimates else [CI_PROB]
    ci_text = " and ".join(f"{100 * c:g}%" for c in ci) or f"{100 * CI_PROB:g}%"
    analyses = []
    for i, fit in enumerate(fits):
        m = fit.model
        analyses.append({
            "name": analysis_name(fit, i), "outcome": m.outcome, "family": m.family,
            "link": m.family_obj.link, "baseline": m.baseline, "time": m.time,
            "time_text": TIME_TEXT.get(m.time, m.time),
            "trajectory": ("one trajectory plus a constant modality effect"
                           if not m.modality_by_time else "one trajectory per modality"
                           + (" (not pooled)" if m.modality_pooling == "none"
                              else " (partially pooled)")),
            "covariates": str(m.covariates or "none"),
            "levels": ", ".join(m.levels) if m.levels else "none",
            "random_change": ", ".join(m.random_change) if m.random_change else "none",
            "attrition": m.attrition_label, "printed": str(m)})
    modes = list(dict.fromkeys(estimates.get("weighting", pd.Series(["none"]))))
    pops = list(dict.fromkeys(estimates.get("population", pd.Series(["sample"]))))
    return {"analyses": analyses, "ci_text": ci_text,
            "weighting": [(str(w), WEIGHTING_TEXT.get(str(w), "")) for w in modes],
            "populations": ", ".join(map(str, pops)),
            "attrition": ", ".join(sorted({f.model.attrition_label for f in fits})),
            "mar_mnar": MAR_MNAR_STATEMENT, "adjusted_assumption": ADJUSTED_ASSUMPTION,
            "descriptive": DESCRIPTIVE}


def methods_text(fits: Sequence, estimates: pd.DataFrame) -> str:
    """The methods paragraphs (HTML, from ``templates/methods.html.j2``) stating every
    assumption of the fits and estimates."""
    return render("methods.html.j2", **methods_context(fits, estimates))


# ---------------------------------------------------------------------- the report
def _as_frame(estimates: pd.DataFrame | Iterable[pd.DataFrame] | Mapping[str, pd.DataFrame]
              ) -> pd.DataFrame:
    if isinstance(estimates, pd.DataFrame):
        return estimates.reset_index(drop=True)
    items = list(estimates.values()) if isinstance(estimates, Mapping) else list(estimates)
    items = [e for e in items if e is not None and len(e)]
    return pd.concat(items, ignore_index=True) if items else pd.DataFrame(
        columns=["outcome", "estimand", "wave", "modality", "contrast", "mean", "ci_lb",
                 "ci_ub", "ci_prob"])


def write_report(out_dir: str | Path, *, cohort, fits: Sequence,
                 estimates: pd.DataFrame | Iterable[pd.DataFrame] | Mapping[str, pd.DataFrame],
                 extra_tables: Mapping[str, pd.DataFrame] | None = None,
                 title: str = "dtors_bayes analysis report", economics=None,
                 causal=None) -> Path:
    """Write the HTML report, its figures and its tables.

    The page (rendered from the package template ``templates/report.html.j2`` through
    jinja2) opens with the findings in words per outcome
    (:func:`dtors_bayes.reporting.findings.report_findings`), then the figures
    (trajectories, the forest plot of contrasts, the delta curve) with their tables, then
    the long tables in collapsed ``<details>`` sections; every table is also a CSV, Markdown
    and LaTeX download, and scrolls inside its own box when wider than the page.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write (created if needed): ``index.html``, ``figures/``, ``tables/``.
    cohort : Cohort or None
        The data the fits were made from (for the cohort summary and the counts).
    fits : sequence of Fit
        The fitted analyses.
    estimates : DataFrame, or a sequence / mapping of DataFrames
        Estimates tables (:meth:`Fit.estimate`), concatenated.
    extra_tables : mapping of str to DataFrame, optional
        ``"weights"`` fills the weight-diagnostics section, ``"sensitivity"`` the
        sensitivity section (with a figure when it has a ``delta`` or ``kappa`` column);
        any other entry gets a section of its own. Tables must be aggregates (no
        ``person_id`` column).
    title : str
        The page title.
    economics : EconomicsResults, optional
        Cost-effectiveness tables and figures (:class:`dtors_bayes.reporting.findings.
        EconomicsResults`, plain tables and matplotlib figures or PNG files): the
        "Cost-effectiveness" section with its findings and assumptions in words, the CE
        plane, CEAC and EVPI figures and the summary, CEA, frontier and EVPPI tables.
    causal : CausalResults, optional
        Causal sensitivity tables and figures (:class:`dtors_bayes.reporting.causal_section.
        CausalResults`): the "Causal comparisons" section.

    Returns
    -------
    Path
        The ``index.html`` written.

    Raises
    ------
    ValueError
        When an extra table holds personal rows.
    """
    from dtors_bayes.reporting import figures as plots
    from dtors_bayes.reporting.findings import report_findings

    out = Path(out_dir)
    tables_dir, fig_dir = out / "tables", out / "figures"
    for d in (out, tables_dir, fig_dir):
        d.mkdir(parents=True, exist_ok=True)
    fits = list(fits)
    est = _as_frame(estimates)
    extra = dict(extra_tables or {})
    for name, df in extra.items():
        no_personal_rows(name, df)
    blocks: dict[str, list[dict]] = {k: [] for k in (*SECTIONS, "extras")}

    def table(key: str, df: pd.DataFrame, name: str, caption: str,
              max_rows: int | None = None, collapsed: bool | None = None) -> None:
        write_table(df, tables_dir, name, caption=caption)
        blocks[key].append(table_block(df, name, caption, max_rows=max_rows,
                                       collapsed=collapsed))

    def figure(key: str, fig, name: str, alt: str) -> None:
        if isinstance(fig, str | Path):  # a PNG written before (an economics folder)
            png = Path(fig).read_bytes()
            (fig_dir / f"{name}.png").write_bytes(png)
            width, data = int.from_bytes(png[16:20], "big"), base64.b64encode(png).decode()
        else:
            fig.savefig(fig_dir / f"{name}.png", dpi=110)
            width, data = int(round(fig.get_figwidth() * 110)), plots.figure_to_base64(fig)
        blocks[key].append({"kind": "figure", "name": name, "alt": alt, "width": width,
                            "data": data})

    def note(key: str, text: str, cls: str = "placeholder") -> None:
        blocks[key].append({"kind": "note", "text": text, "cls": cls})

    trouble = [(analysis_name(f, i), p) for i, f in enumerate(fits) for p in f.problems()]
    families = {f.outcome: f.model.family for f in fits}
    findings = report_findings(est, extra.get("sensitivity"), families)

    # figures first, each with its table (collapsed when long)
    if not est.empty:
        for k, outcome in enumerate(dict.fromkeys(est["outcome"])):
            figure("trajectories", plots.trajectory_figure(est, outcome),
                   f"trajectory_{k}_{safe_name(outcome, keep='-_')}",
                   f"{outcome}: population level by wave with {_ci_text(est)} intervals")
        lv = est[est["estimand"].isin(["level", "change"])]
        table("trajectories", lv[[c for c in HTML_COLUMNS if c in lv.columns]], "trajectories",
              "Levels and change from intake")
    fig = plots.contrast_forest(est) if not est.empty else None
    if fig is None:
        note("contrasts", "No modality contrasts (one modality, or none estimated).")
    else:
        figure("contrasts", fig, "contrasts", "Adjusted modality contrasts of change from "
               f"intake (A - B) with {_ci_text(est)} intervals")
        con = est[est["estimand"] == "modality_contrast"]
        table("contrasts", con[[c for c in HTML_COLUMNS if c in con.columns]], "contrasts",
              "Modality contrasts (adjusted; see Methods for the assumption)")
    if "sensitivity" in extra:
        sfig = plots.sensitivity_figure(extra["sensitivity"])
        if sfig is not None:
            figure("sensitivity", sfig, "sensitivity", "Estimates across the sensitivity grid")
        table("sensitivity", extra["sensitivity"], "sensitivity", "Sensitivity analysis",
              max_rows=EXTRA_MAX_ROWS)
    else:
        note("sensitivity", "No sensitivity analysis in this report: the pattern-mixture delta "
             "grid and tipping point, or selection-model kappa results, appear here when "
             "given.")
    if "weights" in extra:
        table("weights", extra["weights"], "weights", "Weight diagnostics",
              max_rows=EXTRA_MAX_ROWS)
    else:
        note("weights", "No weights in this report (weighting = none): Kish effective sample "
             "size, extreme weights and the variance decomposition appear here when weights "
             "are used.")

    if economics is not None:
        _economics_blocks(economics, blocks["economics"], table, figure)
    else:
        note("economics", "No cost-effectiveness analysis in this report: `dtors-bayes "
             "economics` adds QALYs, costs, the CE plane, acceptability curves and the value "
             "of information here.")
    if causal is not None:
        from dtors_bayes.reporting.causal_section import causal_blocks

        causal_blocks(causal, blocks["causal"], table, figure, max_rows=EXTRA_MAX_ROWS)
    else:
        note("causal", "No causal sensitivity analysis in this report: `dtors-bayes causal` "
             "adds E-values, confounding tipping points and the bias-budget surface here.")

    # counts and cohort
    if cohort is not None:
        iv = cohort.interviews
        overall = pd.DataFrame([
            {"count": "persons in the input", "n": int(cohort.n_persons)},
            {"count": "scheduled interviews (persons x waves)", "n": int(len(iv))},
            {"count": "interviewed", "n": int(iv["interviewed"].sum())},
            {"count": "not interviewed", "n": int((~iv["interviewed"].astype(bool)).sum())},
        ])
        table("counts", overall, "input_counts", "Input")
    if fits:
        table("counts", counts_table(cohort, fits), "model_counts",
              "Persons and interviews used by each analysis")
    table("counts", exclusions_table(cohort, fits), "exclusions",
          "Rows added or excluded, and why (counts only)")
    if cohort is not None:
        s = cohort.summary()
        from dtors_bayes.data.summary import TITLES

        for name in ("counts_by_wave", "patterns", "response_by_modality",
                     "sample_vs_population", "outcome_missingness"):
            df = getattr(s, name)
            if df is not None:
                table("cohort", df, f"cohort_{name}", TITLES[name])
        units = [u for u in (units_summary(s.response_by_site, "site"),
                             units_summary(s.response_by_area, "area")) if u is not None]
        if units:
            table("cohort", pd.concat(units, ignore_index=True), "cohort_response_by_unit",
                  "Response across sites and areas (distribution of unit rates)")
    else:
        note("cohort", "No cohort was given.")

    # the long tables
    if not est.empty:
        write_table(est, tables_dir, "estimates", caption="Posterior estimates (all)")
        shown = est[est["estimand"].isin(HTML_ESTIMANDS)]
        note("estimates", "Every estimand (ratio, adjusted levels and changes too) is in "
             "tables/estimates.csv (also .md and .tex).", "note")
        blocks["estimates"].append(table_block(
            shown[[c for c in HTML_COLUMNS if c in shown.columns]], "estimates",
            "Estimates shown (level, change, modality change, contrasts)", collapsed=True))
    if fits:
        table("diagnostics", diagnostics_table(fits), "diagnostics",
              "Sampler diagnostics (R-hat <= 1.01, ESS >= 100 per chain, no divergences, "
              "BFMI >= 0.3)")
    for name, df in extra.items():
        if name in ("weights", "sensitivity"):
            continue
        key, heading = safe_name(name, keep="-_"), name.replace("_", " ").capitalize()
        blocks["extras"].append({"kind": "heading", "key": f"extra-{key}", "text": heading})
        table("extras", df, key, heading, max_rows=EXTRA_MAX_ROWS)
    blocks["methods"].append({"kind": "html", "html": methods_text(fits, est) if fits
                              else "<p>No fits.</p>"})
    if fits:
        table("provenance", provenance_table(fits), "provenance", "Fits")

    sections = [{"key": k, "heading": SECTIONS[k], "blocks": blocks[k]} for k in SECTIONS]
    extras_at = [s["key"] for s in sections].index("methods")
    if blocks["extras"]:  # the extra tables' own sections come before the methods
        sections.insert(extras_at, {"key": "extras", "heading": "", "blocks": blocks["extras"]})
    page = render("report.html.j2", title=title, css=_css(), sections=sections,
                  toc=list(SECTIONS.items()),
                  findings=findings, trouble=trouble,
                  written=datetime.now(UTC).isoformat(timespec="seconds"))
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _economics_blocks(res, blocks: list, table, figure) -> None:
    """The cost-effectiveness section: findings and assumptions in words, figures, tables."""
    from dtors_bayes.reporting.findings import economics_findings

    t = res.tables
    blocks.append({"kind": "finding", "title": res.name or "Cost-effectiveness",
                   "text": res.description, "statements": economics_findings(res)})
    for name, fig, alt in res.figures:
        figure("economics", fig, f"economics_{safe_name(name, keep='-_')}", alt)
    captions = {"summary": f"Summary: {res.option} against no_treatment (assumptions in the "
                           "last column and above)",
                "assumptions": "Assumptions behind every number of this section",
                "cea": f"Cost-effectiveness by willingness to pay (against {res.reference})",
                "frontier": "Dominance frontier (mean costs and QALYs)",
                "evppi": "Expected value of partial perfect information"}
    for name, caption in captions.items():
        if name in t and t[name] is not None:
            table("economics", t[name], f"economics_{name}", caption,
                  max_rows=EXTRA_MAX_ROWS if name == "cea" else None)


def render(template: str, **context) -> str:
    """Render a package template (``dtors_bayes/reporting/templates``) with jinja2."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("dtors_bayes.reporting", "templates"),
                             autoescape=True, trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**context)


def _css() -> str:
    from importlib.resources import files

    return files("dtors_bayes.reporting").joinpath("templates", "report.css").read_text(
        encoding="utf-8")


def _ci_text(est: pd.DataFrame) -> str:
    ci = sorted(set(est["ci_prob"].dropna())) if "ci_prob" in est else []
    return "/".join(f"{100 * c:g}%" for c in ci) or f"{100 * CI_PROB:g}%"

