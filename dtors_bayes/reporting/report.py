"""A self-contained HTML report of fitted analyses, plus every table as CSV, Markdown and LaTeX.

:func:`write_report` writes ``index.html`` (figures embedded as base64 PNG, no external
files, scripts or links), ``figures/*.png`` and ``tables/<name>.{csv,md,tex}``. Reports hold
aggregates only: counts, rates, posterior summaries and diagnostics, never a person's row
(person ids are dropped from exclusion listings; an extra table with a ``person_id`` column
is refused).

Sections (their headings are :data:`SECTIONS`): a banner when any fit has sampler trouble;
counts reconciled with the input; the cohort and its missingness; trajectories by wave per
outcome (fits of the same outcome that differ in weighting or attrition side by side);
modality contrasts; estimates; convergence diagnostics; weight diagnostics and sensitivity
(filled from ``extra_tables``); any other extra table; methods and assumptions; provenance.
Tables are written by :mod:`dtors_bayes._format` (Markdown, HTML, LaTeX).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dtors_bayes._format import html_table, latex_table, markdown_table, safe_name
from dtors_bayes.constants import CI_PROB
from dtors_bayes.estimands.engine import ADJUSTED_ASSUMPTION, DESCRIPTIVE

SECTIONS: dict[str, str] = {
    "counts": "Counts reconciled with the input",
    "cohort": "Cohort and missingness",
    "trajectories": "Trajectories by wave",
    "contrasts": "Modality contrasts",
    "estimates": "Estimates",
    "diagnostics": "Convergence diagnostics",
    "weights": "Weight diagnostics",
    "sensitivity": "Sensitivity to missing-not-at-random attrition",
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

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;font-size:0.82em;margin:0.6em 0 1.2em}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
.banner{background:#fde2e1;border:2px solid #c0392b;padding:0.6em 1em;margin:1em 0}
.note{color:#555;font-size:0.9em}.placeholder{color:#777;font-style:italic}
pre{background:#f7f7f7;padding:0.6em;overflow-x:auto;font-size:0.85em}
img{max-width:100%}
"""


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


# ---------------------------------------------------------------------- report parts
def _no_personal_rows(name: str, df: pd.DataFrame) -> None:
    if "person_id" in df.columns or "person" in df.columns:
        raise ValueError(f"extra table {name!r} has a person column: reports hold aggregates "
                         "only, never personal rows")


def _aggregate_exclusions(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in ("first_ids",) if c in df.columns]).copy()


def _units_summary(df: pd.DataFrame | None, unit: str) -> pd.DataFrame | None:
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
            "analysis": _analysis_name(fit, i), "outcome": fit.outcome,
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
        ex.insert(0, "analysis", _analysis_name(fit, i))
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
        d.insert(0, "analysis", _analysis_name(fit, i))
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
            "analysis": _analysis_name(fit, i), "outcome": fit.outcome,
            "family": fit.model.family, "attrition": fit.model.attrition_label,
            "sampler": s.get("sampler"), "chains": s.get("chains"), "draws": s.get("draws"),
            "tune": s.get("tune"), "random_seed": s.get("random_seed"),
            "sampling_seconds": p.get("sampling_seconds"),
            "data_hash": str(p.get("data_hash") or "")[:12],
            "created": p.get("created"), "pymc": v.get("pymc"), "arviz": v.get("arviz"),
            "dtors_bayes": v.get("dtors-bayes"),
        })
    return pd.DataFrame(rows)


def _analysis_name(fit, i: int) -> str:
    import json

    raw = fit.tree.attrs.get("analysis_spec")
    if raw:
        try:
            return str(json.loads(raw)["analysis"]["name"])
        except (ValueError, KeyError, TypeError):
            pass
    return f"{fit.outcome} ({fit.model.attrition_label})"


def methods_text(fits: Sequence, estimates: pd.DataFrame) -> str:
    """The methods paragraphs (HTML) stating every assumption of the fits and estimates."""
    esc = html.escape
    ci = sorted(set(estimates["ci_prob"].dropna())) if "ci_prob" in estimates else [CI_PROB]
    ci_text = " and ".join(f"{100 * c:g}%" for c in ci) or f"{100 * CI_PROB:g}%"
    items = []
    for i, fit in enumerate(fits):
        m = fit.model
        levels = ", ".join(m.levels) if m.levels else "none"
        rc = ", ".join(m.random_change) if m.random_change else "none"
        traj = ("one trajectory per modality" if m.modality_by_time
                else "one trajectory plus a constant modality effect")
        items.append(
            f"<li><b>{esc(_analysis_name(fit, i))}</b>: outcome <code>{esc(m.outcome)}</code>, "
            f"family <code>{esc(m.family)}</code> (link {esc(m.family_obj.link)}); "
            f"baseline: {esc(m.baseline)}; time: <code>{esc(m.time)}</code>, "
            f"{esc(TIME_TEXT.get(m.time, m.time))}; {esc(traj)}; covariates: "
            f"{esc(str(m.covariates or 'none'))}; random intercepts: person, {esc(levels)}; "
            f"random change by: {esc(rc)}; attrition: <code>{esc(m.attrition_label)}</code>."
            f"<pre>{esc(str(m))}</pre></li>")
    modes = list(dict.fromkeys(estimates.get("weighting", pd.Series(["none"]))))
    pops = list(dict.fromkeys(estimates.get("population", pd.Series(["sample"]))))
    weighting = "".join(f"<li><code>{esc(str(w))}</code>: {esc(WEIGHTING_TEXT.get(str(w), ''))}"
                        "</li>" for w in modes)
    attr = sorted({f.model.attrition_label for f in fits})
    return "\n".join([
        "<p>Each outcome was analysed with a Bayesian hierarchical within-person change model "
        "(a generalised linear model with the outcome's family; person, and where named site "
        "and area, random intercepts, non-centred; weakly informative priors on the response "
        "scale, printed below), sampled with NUTS. The analyses:</p>",
        f"<ul>{''.join(items)}</ul>",
        "<p><b>Estimands.</b> Every estimate is computed on the response-scale expectation "
        "of each person at each wave's nominal months, draw by draw, with that person's own "
        "posterior person, site and area effects, then averaged over persons (never the "
        "inverse link of an average). Summaries are posterior means with "
        f"<b>{esc(ci_text)} equal-tailed</b> posterior intervals, the probability of "
        "direction, MCSE, bulk ESS and R-hat.</p>",
        f"<p><b>Weighting and population</b> (population: {esc(', '.join(map(str, pops)))}):"
        f"</p><ul>{weighting}</ul>",
        f"<p><b>Attrition.</b> Assumptions in this report: {esc(', '.join(attr))}. "
        "<code>mar</code> uses the likelihood of the observed outcomes, valid when whether a "
        "person was interviewed depends only on modelled quantities (covariates, modality, "
        "site, area and the person's observed outcomes), not on the unobserved outcome "
        f"itself. {esc(MAR_MNAR_STATEMENT)}</p>",
        "<p><b>Modality comparisons.</b> <i>Adjusted</i> estimands (adjusted_level, "
        "adjusted_change, modality_contrast) give everyone modality A, then B, and compare "
        f"(g-computation); they assume {esc(ADJUSTED_ASSUMPTION)}. "
        f"<i>Descriptive</i> estimands (modality_level, modality_change) are {esc(DESCRIPTIVE)}."
        " No randomisation took place: people chose or were referred to their modality.</p>",
    ])


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
                 title: str = "dtors_bayes analysis report") -> Path:
    """Write the HTML report, its figures and its tables.

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
    out = Path(out_dir)
    tables_dir, fig_dir = out / "tables", out / "figures"
    for d in (out, tables_dir, fig_dir):
        d.mkdir(parents=True, exist_ok=True)
    fits = list(fits)
    est = _as_frame(estimates)
    extra = dict(extra_tables or {})
    for name, df in extra.items():
        _no_personal_rows(name, df)
    esc = html.escape
    body: list[str] = []

    def table(df: pd.DataFrame, name: str, caption: str, max_rows: int | None = None) -> str:
        write_table(df, tables_dir, name, caption=caption)
        links = " ".join(f'<a href="tables/{name}.{ext}">{ext}</a>' for ext in ("csv", "md",
                                                                              "tex"))
        return (f"<h3>{esc(caption)}</h3>\n{html_table(df, max_rows)}"
                f'<p class="note">Files: {links}</p>')

    def figure(fig, name: str, alt: str) -> str:
        fig.savefig(fig_dir / f"{name}.png", dpi=110)
        return (f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,'
                f'{plots.figure_to_base64(fig)}"><figcaption>{esc(alt)}</figcaption></figure>')

    def section(key: str) -> None:
        body.append(f'<h2 id="{key}">{esc(SECTIONS[key])}</h2>')

    # banner
    trouble = [(_analysis_name(f, i), p) for i, f in enumerate(fits) for p in f.problems()]
    if trouble:
        items = "".join(f"<li><b>{esc(a)}</b>: {esc(p)}</li>" for a, p in trouble)
        body.append('<div class="banner" id="trouble"><b>Sampler trouble: some intervals may '
                    f"not be trustworthy.</b><ul>{items}</ul></div>")

    # counts
    section("counts")
    if cohort is not None:
        iv = cohort.interviews
        overall = pd.DataFrame([
            {"count": "persons in the input", "n": int(cohort.n_persons)},
            {"count": "scheduled interviews (persons x waves)", "n": int(len(iv))},
            {"count": "interviewed", "n": int(iv["interviewed"].sum())},
            {"count": "not interviewed", "n": int((~iv["interviewed"].astype(bool)).sum())},
        ])
        body.append(table(overall, "input_counts", "Input"))
    if fits:
        body.append(table(counts_table(cohort, fits), "model_counts",
                          "Persons and interviews used by each analysis"))
    body.append(table(exclusions_table(cohort, fits), "exclusions",
                      "Rows added or excluded, and why (counts only)"))

    # cohort
    section("cohort")
    if cohort is not None:
        s = cohort.summary()
        from dtors_bayes.data.summary import TITLES

        for name in ("counts_by_wave", "patterns", "response_by_modality",
                     "sample_vs_population", "outcome_missingness"):
            df = getattr(s, name)
            if df is not None:
                body.append(table(df, f"cohort_{name}", TITLES[name]))
        units = [u for u in (_units_summary(s.response_by_site, "site"),
                             _units_summary(s.response_by_area, "area")) if u is not None]
        if units:
            body.append(table(pd.concat(units, ignore_index=True), "cohort_response_by_unit",
                              "Response across sites and areas (distribution of unit rates)"))
    else:
        body.append('<p class="placeholder">No cohort was given.</p>')

    # trajectories
    section("trajectories")
    if not est.empty:
        for k, outcome in enumerate(dict.fromkeys(est["outcome"])):
            fig = plots.trajectory_figure(est, outcome)
            body.append(figure(fig, f"trajectory_{k}_{safe_name(outcome, keep='-_')}",
                               f"{outcome}: population level by wave with "
                               f"{_ci_text(est)} intervals"))
        lv = est[est["estimand"].isin(["level", "change"])]
        body.append(table(lv[[c for c in HTML_COLUMNS if c in lv.columns]], "trajectories",
                          "Levels and change from intake"))

    # contrasts
    section("contrasts")
    fig = plots.contrast_forest(est) if not est.empty else None
    if fig is None:
        body.append('<p class="placeholder">No modality contrasts (one modality, or none '
                    "estimated).</p>")
    else:
        body.append(figure(fig, "contrasts", "Adjusted modality contrasts of change from "
                           f"intake (A - B) with {_ci_text(est)} intervals"))
        con = est[est["estimand"] == "modality_contrast"]
        body.append(table(con[[c for c in HTML_COLUMNS if c in con.columns]], "contrasts",
                          "Modality contrasts (adjusted; see Methods for the assumption)"))

    # estimates
    section("estimates")
    if not est.empty:
        write_table(est, tables_dir, "estimates", caption="Posterior estimates (all)")
        shown = est[est["estimand"].isin(HTML_ESTIMANDS)]
        body.append(
            '<p class="note">Every estimand (ratio, adjusted levels and changes too) is in '
            '<a href="tables/estimates.csv">tables/estimates.csv</a> (also '
            '<a href="tables/estimates.md">md</a>, <a href="tables/estimates.tex">tex</a>).'
            "</p>" + html_table(shown[[c for c in HTML_COLUMNS if c in shown.columns]]))

    # diagnostics
    section("diagnostics")
    if fits:
        body.append(table(diagnostics_table(fits), "diagnostics",
                          "Sampler diagnostics (R-hat <= 1.01, ESS >= 100 per chain, "
                          "no divergences, BFMI >= 0.3)"))

    # weights and sensitivity
    section("weights")
    if "weights" in extra:
        body.append(table(extra["weights"], "weights", "Weight diagnostics",
                          max_rows=EXTRA_MAX_ROWS))
    else:
        body.append('<p class="placeholder">No weights in this report (weighting = none): '
                    "Kish effective sample size, extreme weights and the variance "
                    "decomposition appear here when weights are used.</p>")
    section("sensitivity")
    if "sensitivity" in extra:
        sfig = plots.sensitivity_figure(extra["sensitivity"])
        if sfig is not None:
            body.append(figure(sfig, "sensitivity", "Estimates across the sensitivity grid"))
        body.append(table(extra["sensitivity"], "sensitivity", "Sensitivity analysis",
                          max_rows=EXTRA_MAX_ROWS))
    else:
        body.append('<p class="placeholder">No sensitivity analysis in this report: the '
                    "pattern-mixture delta grid and tipping point, or selection-model kappa "
                    "results, appear here when given.</p>")
    for name, df in extra.items():
        if name in ("weights", "sensitivity"):
            continue
        key, heading = safe_name(name, keep="-_"), name.replace("_", " ").capitalize()
        body.append(f'<h2 id="extra-{key}">{esc(heading)}</h2>')
        body.append(table(df, key, heading, max_rows=EXTRA_MAX_ROWS))

    # methods and provenance
    section("methods")
    body.append(methods_text(fits, est) if fits else "<p>No fits.</p>")
    section("provenance")
    if fits:
        body.append(table(provenance_table(fits), "provenance", "Fits"))
    body.append(f'<p class="note">Report written {datetime.now(UTC).isoformat(timespec="seconds")}'
                " by dtors_bayes. Aggregates only: no person-level rows.</p>")

    toc = " | ".join(f'<a href="#{k}">{esc(v)}</a>' for k, v in SECTIONS.items())
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
            f"{esc(title)}</title><style>{_CSS}</style></head>\n<body>\n<h1>{esc(title)}</h1>\n"
            f'<p class="note">{toc}</p>\n' + "\n".join(body) + "\n</body></html>\n")
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _ci_text(est: pd.DataFrame) -> str:
    ci = sorted(set(est["ci_prob"].dropna())) if "ci_prob" in est else []
    return "/".join(f"{100 * c:g}%" for c in ci) or f"{100 * CI_PROB:g}%"

