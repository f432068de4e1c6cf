"""The report's "Causal comparisons" section: what the adjusted modality contrasts assume and
how much it would take to overturn them, in words next to the numbers.

:class:`CausalResults` is what the report takes: plain tables and figures, built by the
workflow (``dtors_bayes.workflow.causal_command``) from ``dtors_bayes.causal``; reporting
never imports ``causal`` (a sibling in layer 4). :func:`causal_findings` writes the
statements, every number the table's own value formatted by
:func:`dtors_bayes.reporting.findings.fmt`; :func:`causal_blocks` lays out the section
(findings, the bias-budget heatmap, the E-value table, the tipping points, overlap shares when
given, then the long grid and budget tables collapsed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dtors_bayes.reporting.findings import POOLING_WORDS, REFIT_UNPOOLED, Finding, fmt

NO_CONFOUNDING = (
    "Every adjusted contrast (g-computation: everyone given modality A minus everyone given "
    "B, change from intake) assumes no unmeasured confounding of modality given the "
    "covariates, site and area, and missing-at-random attrition. Neither can be checked on "
    "the data; what follows says how much of each it would take to overturn the contrasts."
)
EVALUE_MEANING = (
    "The E-value (VanderWeele & Ding) of a marginal risk ratio is the minimum strength of "
    "association, on the risk-ratio scale, that an unmeasured confounder would need with both "
    "modality and outcome, beyond the covariates, site and area, to move the ratio to 1; the "
    "E-value of the interval is that of the credible limit nearer 1 (1 when the interval "
    "already includes 1). The ratio is of the adjusted levels at the follow-up wave, not of "
    "the change from intake: with different intake levels the two can point different ways."
)
#: The section's tables: name -> caption; (name, collapsed and cut to EXTRA rows).
CAPTIONS = {
    "evalues": "E-values of the marginal risk ratios (adjusted levels at the follow-up wave)",
    "tipping_points": "Confounding tipping points (strength at which the mean / interval "
                      "reaches 0)",
    "overlap": "Overlap: share of persons with a propensity below the threshold, by modality",
    "prior": "Contrasts averaged over a bias prior on the confounding strength",
    "benchmarks": "Benchmarks: shift of each contrast when a measured confounder block is "
                  "dropped",
    "balance": "Covariate balance (standardised mean differences, raw and "
               "inverse-propensity weighted)",
    "grid": "Each contrast over the grid of confounding strengths",
    "budget": "Bias budget: P(contrast < 0) over confounding strength x pattern-mixture delta",
}
LONG = ("balance", "grid", "budget")
#: What partial pooling of the modality trajectories does to the contrasts and to the
#: sensitivity analysis (measured in session 7 and ``benchmarks/results/
#: causal_coverage_unpooled/README.md``).
POOLED_CONTRASTS = (
    "a small arm's trajectory is shrunk towards the average one, which pulls its adjusted "
    "contrasts towards 0 and, under confounding, takes part of the confounding shift with "
    "it, so the sensitivity analysis subtracts a bias the contrast no longer fully carries "
    "(in simulated cohorts of 1,796 with a known unmeasured confounder, pooled fits moved "
    "residential - prescribing by -0.006 where the confounding shift was -0.049); {refit} "
    "before reading the contrasts of small arms"
)


@dataclass
class CausalResults:
    """Causal sensitivity results as the report takes them: plain tables and figures.

    Attributes
    ----------
    tables : dict of str -> DataFrame
        ``evalues`` (``causal.evalues``), ``grid`` (``causal.confounding_grid``),
        ``tipping_points`` (``causal.tipping_points``), ``budget`` (``causal.bias_budget``),
        optionally ``overlap`` (``OverlapResult.below``), ``balance``
        (``OverlapResult.balance``), ``prior`` (``causal.bias_prior_contrasts``),
        ``benchmarks`` (``causal.benchmark_confounders``).
    figures : list of (name, Figure or PNG path, caption)
        The bias-budget surface first.
    scores : dict of str -> float
        The modality scores of the confounding function.
    outcome : str
    wave : int or None
        The follow-up wave of the contrasts.
    modality_pooling : {"partial", "none"} or None
        The fit's ``ChangeModel.modality_pooling`` (None: not known, or trajectories not
        per modality).
    """

    tables: dict[str, pd.DataFrame]
    figures: list = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    outcome: str = ""
    wave: int | None = None
    modality_pooling: str | None = None


def scores_text(scores: dict[str, float]) -> str:
    """``residential=-1, psychosocial=0.5`` (the others score 0)."""
    return ", ".join(f"{k}={v:g}" for k, v in scores.items()) or "none"


def _tip_words(x: float, grid: pd.DataFrame | None) -> str:
    if x is None or not np.isfinite(x):
        if grid is not None and len(grid):
            return (f"not within the grid ({fmt(float(grid['strength'].min()))} to "
                    f"{fmt(float(grid['strength'].max()))})")
        return "not within the grid"
    return f"at strength {fmt(float(x), signed=True)}"


def confounding_findings(res: CausalResults) -> list[Finding]:
    """One statement per contrast: its estimate, the strengths that overturn it, E-values."""
    t = res.tables
    tips, grid, ev = t.get("tipping_points"), t.get("grid"), t.get("evalues")
    out = []
    names = list(tips["contrast"]) if tips is not None and len(tips) else (
        list(ev["contrast"]) if ev is not None else [])
    for con in names:
        parts = []
        if tips is not None and len(tips):
            r = tips[tips["contrast"] == con].iloc[0]
            g = grid[grid["contrast"] == con] if grid is not None else None
            ci = (" already includes 0 with no confounding" if r["tip_interval"] == 0
                  else f" reaches 0 {_tip_words(r['tip_interval'], g)}")
            parts.append(f"estimate {fmt(float(r['estimate_at_0']), signed=True)} with no "
                         f"unmeasured confounding; the posterior mean reaches 0 "
                         f"{_tip_words(r['tip_mean'], g)}, the 90% interval{ci}")
        if ev is not None and (ev["contrast"] == con).any():
            e = ev[ev["contrast"] == con].iloc[0]
            parts.append(f"risk ratio {fmt(float(e['rr']))} ({100 * float(e['ci_prob']):g}% "
                         f"interval {fmt(float(e['rr_lb']))} to {fmt(float(e['rr_ub']))}), "
                         f"E-value {fmt(float(e['evalue']))}, of the interval "
                         f"{fmt(float(e['evalue_ci']))}")
        out.append(Finding(con, "; ".join(parts) + "."))
    return out


def budget_findings(budget: pd.DataFrame | None) -> list[Finding]:
    """Per contrast: P(contrast < 0) under both assumptions, and its range over each axis."""
    if budget is None or budget.empty:
        return []
    out = []
    for con, b in budget.groupby("contrast", sort=False):
        d0 = b["delta"].abs().min()
        s0 = b["strength"].abs().min()
        at = b[(b["delta"].abs() == d0) & (b["strength"].abs() == s0)].iloc[0]
        along_s = b[b["delta"].abs() == d0]["p_negative"]
        along_d = b[b["strength"].abs() == s0]["p_negative"]
        out.append(Finding(
            f"Bias budget, {con}",
            f"P({con} < 0) = {fmt(float(at['p_negative']))} at strength "
            f"{fmt(float(at['strength']))} and delta {fmt(float(at['delta']))}; across the "
            f"confounding strengths ({fmt(float(b['strength'].min()))} to "
            f"{fmt(float(b['strength'].max()))}) it ranges {fmt(float(along_s.min()))} to "
            f"{fmt(float(along_s.max()))}, across the deltas "
            f"({fmt(float(b['delta'].min()))} to {fmt(float(b['delta'].max()))}) "
            f"{fmt(float(along_d.min()))} to {fmt(float(along_d.max()))}, and over the whole "
            f"surface {fmt(float(b['p_negative'].min()))} to "
            f"{fmt(float(b['p_negative'].max()))}."))
    return out


def overlap_findings(below: pd.DataFrame | None) -> list[Finding]:
    """The share of persons outside overlap, for any modality and per modality."""
    if below is None or below.empty:
        return []
    anyr = below[below["modality"] == "any"]
    per = below[below["modality"] != "any"]
    thr = float(below["threshold"].iloc[0])
    text = (f"{fmt(100 * float(anyr['share_below'].iloc[0]))}% of persons have a propensity "
            f"below {fmt(thr)} for at least one modality" if len(anyr) else "")
    per_text = ", ".join(f"{m} {fmt(100 * float(s))}%"
                         for m, s in zip(per["modality"], per["share_below"], strict=True))
    return [Finding("Overlap", (text + "; " if text else "") + f"by modality: {per_text}. "
                    "For these persons the adjusted contrasts rest on the model's "
                    "extrapolation from others, not on comparable persons.")]


def pooling_finding(pooling: str | None) -> Finding | None:
    """The "modality trajectories" assumption of the fit's contrasts (None when unknown)."""
    if pooling not in POOLING_WORDS:
        return None
    text = f"The modality trajectories are {POOLING_WORDS[pooling]}"
    if pooling == "partial":
        text += " (the default): " + POOLED_CONTRASTS.format(refit=REFIT_UNPOOLED) + "."
    else:
        text += (" (modality_pooling = \"none\"): each arm's trajectory rests on its own "
                 "persons, so small arms have wide intervals but are not shrunk.")
    return Finding("Assumed: modality trajectories", text)


def causal_findings(res: CausalResults) -> list[Finding]:
    """The section's statements: the assumption, each contrast's tipping points and
    E-values, the bias budget, overlap; every number from ``res.tables``."""
    out = [Finding("Assumed: no unmeasured confounding", NO_CONFOUNDING)]
    grid = res.tables.get("grid")
    if grid is not None and len(grid):
        out.append(Finding(
            "Assumed: the confounding function",
            f"c(a, a') = strength x (score_a - score_a') on the response scale at wave "
            f"{res.wave if res.wave is not None else int(grid['wave'].iloc[0])}, scores "
            f"{scores_text(res.scores)} (unnamed modalities 0); a positive strength with "
            "score -1 reads: the people who chose that modality would have had an outcome "
            "lower by the strength than the others at equal covariates. Modality shares "
            "weight the other modalities' functions; no refit."))
    pooled = pooling_finding(res.modality_pooling)
    if pooled is not None:
        out.append(pooled)
    if res.tables.get("evalues") is not None:
        out.append(Finding("E-value", EVALUE_MEANING))
    out += confounding_findings(res)
    out += budget_findings(res.tables.get("budget"))
    out += overlap_findings(res.tables.get("overlap"))
    return out


def causal_blocks(res: CausalResults, blocks: list, table, figure, *,
                  max_rows: int) -> None:
    """Lay out the section through the report's ``table`` and ``figure`` helpers."""
    from dtors_bayes._format import safe_name

    title = "Causal comparisons" + (f": {res.outcome}" if res.outcome else "")
    blocks.append({"kind": "finding", "title": title, "text": "",
                   "statements": causal_findings(res)})
    for name, fig, alt in res.figures:
        figure("causal", fig, f"causal_{safe_name(name, keep='-_')}", alt)
    for name, caption in CAPTIONS.items():
        df = res.tables.get(name)
        if df is None or not len(df):
            continue
        long = name in LONG
        table("causal", df, f"causal_{name}", caption, max_rows=max_rows if long else None,
              collapsed=True if long else None)
