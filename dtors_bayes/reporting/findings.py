"""Findings in words for the report: one block per analysed outcome, numbers from the tables.

:func:`report_findings` reads the estimates table (and the report's sensitivity table, when
there is one) and writes, for each outcome, what a statistician would say first:

1. **Level and change.** The level at each wave and the change from intake at each follow-up,
   with their intervals and the population they describe (``population`` column, the number
   of persons averaged over, the weighting and the attrition assumption).
2. **MNAR.** How far the outcomes of the people not interviewed would have to differ from
   the MAR predictions (the pattern-mixture shift ``delta``) before the interval of the
   last wave's change includes zero: the tipping point on the delta grid, linearly
   interpolated on the interval bound (the same rule as
   :func:`dtors_bayes.attrition.tipping.tipping_point`, on the interval instead of a
   probability).
3. **Weights.** How much wider the last wave's change interval is with weights
   (``propagated`` preferred, else ``fixed`` or ``mrp``) than without.
4. **Modalities.** What the adjusted modality contrasts show, what they do not, and under
   which assumption.

Every number in the text is the table's own value, formatted by :func:`fmt`; tests check the
text against the tables. The primary variant of an outcome is its unweighted MAR analysis
when there is one (else the first rows of that outcome).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Families whose response-scale values are probabilities (shown as percentages).
PROBABILITY_FAMILIES = ("bernoulli",)
WEIGHTED_MODES = ("propagated", "fixed", "mrp")
#: ``ChangeModel.modality_pooling`` in words.
POOLING_WORDS = {"partial": "partially pooled", "none": "not pooled"}
#: What to do when a small arm's trajectory matters and the fit pooled the modalities.
REFIT_UNPOOLED = 'refit with modality_pooling = "none" ([model] in the spec)'


@dataclass
class Finding:
    """One statement of a findings block: a short title and its text (plain, unescaped)."""

    title: str
    text: str


@dataclass
class OutcomeFindings:
    """The findings of one outcome.

    Attributes
    ----------
    outcome : str
    analysis : str
        The analysis the numbers come from (its ``analysis`` label, or ``""``).
    population : str
        Whom the numbers describe, in words.
    items : list of Finding
    """

    outcome: str
    analysis: str
    population: str
    items: list[Finding] = field(default_factory=list)


def fmt(x: float, percent: bool = False, signed: bool = False, change: bool = False) -> str:
    """A number as the findings write it.

    Three significant digits; with ``percent`` a probability as a percentage with one decimal
    (``"40.1%"``), or a difference of probabilities in points (``change``: ``"-18.8
    points"``). ``signed`` writes the sign of positive numbers too.
    """
    if x is None or not np.isfinite(x):
        return "n/a"
    if percent:
        s = f"{100 * x:+.1f}" if signed else f"{100 * x:.1f}"
        return s + (" points" if change else "%")
    return f"{x:+.3g}" if signed else f"{x:.3g}"


def _interval(row: pd.Series, percent: bool, change: bool = False) -> str:
    prob = row.get("ci_prob", 0.9)
    prob = 0.9 if prob is None or pd.isna(prob) else float(prob)
    lo = fmt(float(row["ci_lb"]), percent, change=change)
    hi = fmt(float(row["ci_ub"]), percent, change=change)
    return f"{100 * prob:g}% interval {lo} to {hi}"


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype(str).isin(["", "nan", "None"]))


def primary_rows(est: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The rows of the outcome's primary variant (unweighted MAR where present), whole
    population only (subgroup rows of ``estimate(by=...)`` are reported in their tables)."""
    df = est[est["outcome"] == outcome]
    if "subgroup" in df.columns:
        df = df[df["subgroup"].fillna("") == ""]
    for col, want in (("weighting", "none"), ("attrition", "mar")):
        if col in df.columns and (df[col] == want).any():
            df = df[df[col] == want]
    if "analysis" in df.columns and len(df):
        df = df[df["analysis"] == df["analysis"].iloc[0]]
    if "estimator" in df.columns and (df["estimator"] == "model").any():
        df = df[df["estimator"] == "model"]
    return df


def _population_words(rows: pd.DataFrame) -> str:
    pop = str(rows["population"].iloc[0]) if "population" in rows.columns and len(rows) else ""
    n = rows["n_persons"].dropna() if "n_persons" in rows.columns else pd.Series(dtype=float)
    n_text = f"{int(n.iloc[0])} modelled persons" if len(n) else "the modelled persons"
    words = {"sample": f"the study sample ({n_text}, equal weights)",
             "weighted": f"the weighted sample ({n_text}, fixed weights)",
             "target": f"the target (treatment) population, through {n_text} and the "
                       "population margins"}
    att = str(rows["attrition"].iloc[0]) if "attrition" in rows.columns and len(rows) else ""
    return words.get(pop, pop or n_text) + (f"; attrition assumed {att}" if att else "")


def _level_change(rows: pd.DataFrame, percent: bool) -> list[Finding]:
    out = []
    overall = _blank(rows["modality"]) if "modality" in rows.columns else True
    lv = rows[(rows["estimand"] == "level") & overall]
    lv = lv.sort_values("wave")
    if len(lv):
        parts = [f"wave {int(r['wave'])}: {fmt(float(r['mean']), percent)} "
                 f"({_interval(r, percent)})" for _, r in lv.iterrows()]
        out.append(Finding("Level", "; ".join(parts) + "."))
    ch = rows[(rows["estimand"] == "change") & overall]
    ch = ch.sort_values("wave")
    if len(ch):
        parts = []
        for _, r in ch.iterrows():
            ex = float(r["ci_lb"]) > 0 or float(r["ci_ub"]) < 0
            parts.append(f"wave {int(r['wave'])}: "
                         f"{fmt(float(r['mean']), percent, signed=True, change=True)}"
                         f" ({_interval(r, percent, change=True)}; "
                         + ("the interval excludes zero" if ex else "the interval includes zero")
                         + ")")
        out.append(Finding("Change from intake", "; ".join(parts) + "."))
    return out


def delta_tipping(grid: pd.DataFrame) -> tuple[float, float, bool]:
    """Where the interval of one estimate, over a delta grid, first includes zero.

    Parameters
    ----------
    grid : DataFrame
        Rows of one estimate with ``delta``, ``mean``, ``ci_lb``, ``ci_ub``.

    Returns
    -------
    lower, upper : float
        The delta on each side of 0 where the interval starts to include zero (linear
        interpolation on the bound between grid points); ``-inf`` / ``+inf`` when it never
        does within the grid; NaN when it already includes zero at delta = 0.
    excludes_at_zero : bool
    """
    g = grid.dropna(subset=["delta"]).sort_values("delta")
    d = g["delta"].to_numpy(float)
    lo, hi, mean = (g[c].to_numpy(float) for c in ("ci_lb", "ci_ub", "mean"))
    if len(d) == 0:
        return math.nan, math.nan, False
    k0 = int(np.argmin(np.abs(d)))
    negative = mean[k0] < 0
    bound = hi if negative else -lo  # < 0 while the interval excludes zero
    if bound[k0] >= 0:
        return math.nan, math.nan, False

    def walk(step: int) -> float:
        k = k0
        while 0 <= k + step < len(d):
            if bound[k + step] >= 0:
                b0, b1 = bound[k], bound[k + step]
                return float(d[k] + (d[k + step] - d[k]) * (0 - b0) / (b1 - b0))
            k += step
        return -math.inf if step < 0 else math.inf

    return walk(-1), walk(1), True


def _mnar(sens: pd.DataFrame | None, rows: pd.DataFrame, outcome: str,
          percent: bool) -> Finding:
    title = "Missing not at random"
    if sens is None or "delta" not in sens.columns:
        return Finding(title, "No sensitivity analysis of this outcome in this report: how far "
                       "missing-not-at-random attrition would have to go to change the "
                       "conclusion is not shown.")
    s = sens[(sens["outcome"] == outcome) & (sens["estimand"] == "change")]
    if "modality" in s.columns:
        s = s[_blank(s["modality"])]
    if "delta_group" in s.columns and (s["delta_group"] == "all").any():
        s = s[s["delta_group"] == "all"]
    if "analysis" in s.columns and "analysis" in rows.columns and len(rows):
        same = s[s["analysis"] == rows["analysis"].iloc[0]]
        s = same if len(same) else s[s["analysis"] == s["analysis"].iloc[0]] if len(s) else s
    if s.empty:
        return Finding(title, "No sensitivity analysis of this outcome in this report (the "
                       "sensitivity table covers other outcomes): how far "
                       "missing-not-at-random attrition would have to go to change the "
                       "conclusion is not shown.")
    wave = int(s["wave"].max())
    g = s[s["wave"] == wave]
    lower, upper, excludes = delta_tipping(g)
    scale = str(g["delta_scale"].iloc[0]) if "delta_scale" in g.columns else "link"
    span = f"delta from {fmt(g['delta'].min())} to {fmt(g['delta'].max())}"
    if not excludes:
        return Finding(title, f"Already under MAR (delta = 0) the interval of the wave-{wave} "
                       "change includes zero: there is no conclusion for missing-not-at-random "
                       "attrition to overturn.")
    side = upper if float(g.loc[g["delta"].abs().idxmin(), "mean"]) < 0 else lower
    other = lower if side is upper else upper
    odds = (f" (odds {fmt(math.exp(side))} times those of comparable people who were "
            "interviewed)" if scale == "logit" and np.isfinite(side) else "")
    if np.isfinite(side):
        text = (f"The wave-{wave} change stays distinguishable from zero (its interval "
                f"excludes zero) unless the outcomes of the people not interviewed were "
                f"shifted by delta = {fmt(side, signed=True)} on the {scale} scale{odds} "
                f"relative to the MAR predictions: that is the tipping point. ")
    else:
        text = (f"No shift of the outcomes of the people not interviewed within the grid "
                f"examined makes the interval of the wave-{wave} change include zero: the "
                "tipping point lies beyond the grid, in the direction that would erase the "
                "change. ")
    if np.isfinite(other):
        text += (f"In the other direction it tips at delta = {fmt(other, signed=True)}. ")
    text += (f"Grid examined: {span}. Whether such a shift is plausible is a judgement about "
             "the people lost to follow-up; the observed data cannot decide it.")
    return Finding(title, text)


def _weights(est: pd.DataFrame, rows: pd.DataFrame, outcome: str, percent: bool) -> Finding:
    title = "Weights"
    overall = _blank(rows["modality"]) if "modality" in rows.columns else True
    base = rows[(rows["estimand"] == "change") & overall]
    if base.empty or "weighting" not in est.columns:
        return Finding(title, "No change estimate to compare with and without weights.")
    wave = int(base["wave"].max())
    b = base[base["wave"] == wave].iloc[0]
    cand = est[(est["outcome"] == outcome) & (est["estimand"] == "change")
               & (est["wave"] == wave) & est["weighting"].isin(WEIGHTED_MODES)]
    if "modality" in cand.columns:
        cand = cand[_blank(cand["modality"])]
    if "attrition" in cand.columns and (cand["attrition"] == b.get("attrition")).any():
        cand = cand[cand["attrition"] == b.get("attrition")]
    if cand.empty:
        return Finding(title, "No weighted analysis of this outcome in this report: the "
                       "intervals describe the study sample only, not the treatment population "
                       "(weighting='propagated' estimates it with the weights' uncertainty).")
    order = {m: i for i, m in enumerate(WEIGHTED_MODES)}
    w = cand.assign(_o=cand["weighting"].map(order)).sort_values("_o").iloc[0]
    width0 = float(b["ci_ub"]) - float(b["ci_lb"])
    width1 = float(w["ci_ub"]) - float(w["ci_lb"])
    ratio = width1 / width0 if width0 > 0 else math.nan
    known = ("; fixed weights are treated as known, so their own uncertainty is still left "
             "out" if w["weighting"] == "fixed" else "")
    return Finding(title, f"With weighting = {w['weighting']} (population: "
                   f"{w.get('population', '')}) the wave-{wave} change is "
                   f"{fmt(float(w['mean']), percent, signed=True, change=True)} "
                   f"({_interval(w, percent, change=True)}): the interval is {fmt(ratio)} "
                   f"times as wide as without weights ({fmt(width1, percent, change=True)} "
                   f"against {fmt(width0, percent, change=True)}){known}. The centre moves "
                   "too, because the weighted estimate describes another population.")


def _modality(rows: pd.DataFrame, percent: bool) -> Finding:
    title = "Modality comparison"
    con = rows[rows["estimand"] == "modality_contrast"]
    if con.empty:
        return Finding(title, "No modality contrasts (one modality, or none estimated).")
    wave = int(con["wave"].max())
    c = con[con["wave"] == wave]
    excl = c[(c["ci_lb"] > 0) | (c["ci_ub"] < 0)]
    big = c.loc[c["mean"].abs().idxmax()]
    assumption = str(big.get("assumption", "") or "no unmeasured confounding of modality "
                     "given covariates, site and area")
    return Finding(title, f"Of {len(c)} adjusted contrasts of change from intake at wave "
                   f"{wave} (everyone given modality A versus everyone given B, "
                   f"g-computation), {len(excl)} have intervals that exclude zero; the "
                   f"largest in size is {big['contrast']}: "
                   f"{fmt(float(big['mean']), percent, signed=True, change=True)} "
                   f"({_interval(big, percent, change=True)})."
                   f" This is a causal comparison only under the assumption of {assumption}: "
                   "people were not randomised to modalities. It does not show which modality "
                   "suits a given person, nor effects of time in treatment, and the descriptive "
                   "modality changes (each modality's own persons) mix the treatment with who "
                   "entered it.")


def report_findings(est: pd.DataFrame, sensitivity: pd.DataFrame | None = None,
                    families: dict[str, str] | None = None) -> list[OutcomeFindings]:
    """Findings in words for each analysed outcome of an estimates table.

    Parameters
    ----------
    est : DataFrame
        The report's estimates (columns of :meth:`Fit.estimate`, plus ``analysis``).
    sensitivity : DataFrame, optional
        The pattern-mixture grid (``delta`` column), as given to the report.
    families : dict, optional
        Outcome -> family; probabilities (``bernoulli``) are written as percentages.

    Returns
    -------
    list of OutcomeFindings
        In the order the outcomes first appear in ``est``.
    """
    families = families or {}
    out = []
    if est.empty or "outcome" not in est.columns:
        return out
    for outcome in dict.fromkeys(est["outcome"]):
        rows = primary_rows(est, outcome)
        percent = families.get(outcome) in PROBABILITY_FAMILIES
        analysis = str(rows["analysis"].iloc[0]) if "analysis" in rows.columns and len(rows) \
            else ""
        f = OutcomeFindings(str(outcome), analysis, _population_words(rows))
        f.items += _level_change(rows, percent)
        f.items.append(_mnar(sensitivity, rows, outcome, percent))
        f.items.append(_weights(est, rows, outcome, percent))
        f.items.append(_modality(rows, percent))
        out.append(f)
    return out


# ---------------------------------------------------------------------- cost-effectiveness
@dataclass
class EconomicsResults:
    """Cost-effectiveness results as the report takes them: plain tables and figures.

    Built by the workflow (``dtors_bayes.workflow.economics_command``) from
    ``dtors_bayes.economics.EconomicDraws``; reporting never imports ``economics``.

    Attributes
    ----------
    tables : dict of str -> DataFrame
        ``summary`` (``EconomicDraws.summary``), ``cea`` (``EconomicDraws.cea`` per
        perspective), optionally ``frontier``, ``evppi``, ``assumptions``.
    figures : list of (name, Figure or PNG path, caption)
    assumptions : dict of str -> str
        Counterfactual, crime-cost convention, weighting, attrition (delta), horizon, ...
    option, reference : str
        The option the headline is about and the CEA's reference option.
    threshold : float
        The willingness to pay of the headline (GBP per QALY).
    perspectives : list of str
    """

    tables: dict[str, pd.DataFrame]
    figures: list = field(default_factory=list)
    assumptions: dict[str, str] = field(default_factory=dict)
    option: str = "treated"
    reference: str = "no_treatment"
    threshold: float = 30000.0
    perspectives: list[str] = field(default_factory=lambda: ["health"])
    name: str = ""
    description: str = ""


def money(x: float, currency: str = "GBP") -> str:
    """An amount as the findings write it: whole units with thousands separators."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{currency} {x:,.0f}"


def prob(x: float) -> str:
    """A probability with two decimals."""
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f}"


def _row(t: pd.DataFrame, **keys) -> pd.Series | None:
    m = np.ones(len(t), bool)
    for k, v in keys.items():
        m &= (t[k].fillna("").astype(str) == str(v)).to_numpy()
    return t[m].iloc[0] if m.any() else None


def economics_findings(res: EconomicsResults) -> list[Finding]:
    """The cost-effectiveness findings in words, every number from ``res.tables``.

    One statement for the QALY gain, one per perspective (incremental cost, ICER with the
    quadrant probabilities, net benefit and acceptability at the threshold, EVPI), the
    benefit-cost ratio when crime costs are in, then each assumption.
    """
    s, cea = res.tables["summary"], res.tables["cea"]
    opt, ref, k = res.option, res.reference, float(res.threshold)
    out = []
    q = _row(s, quantity="incremental_qaly", perspective=res.perspectives[0])
    if q is not None:
        out.append(Finding("QALYs", f"{opt} - no_treatment: {fmt(float(q['mean']), signed=True)}"
                           f" QALY per person ({_interval(q, False)})."))
    for p in res.perspectives:
        c = _row(s, quantity="incremental_cost", perspective=p)
        r = cea[(cea["option"] == opt) & (cea["perspective"] == p)
                & np.isclose(cea["wtp"].astype(float), k)]
        parts = []
        if c is not None:
            parts.append(f"incremental cost against no_treatment {money(float(c['mean']))} "
                         f"({100 * float(c['ci_prob']):g}% interval {money(float(c['ci_lb']))}"
                         f" to {money(float(c['ci_ub']))})")
        if len(r):
            r = r.iloc[0]
            neg = " (negative: not comparable with a threshold)" if r["icer"] < 0 else ""
            parts.append(f"against {ref}: ICER {money(float(r['icer']))} per QALY{neg} (ratio "
                         f"of mean increments; P(more QALYs, more cost) {prob(r['p_ne'])}, "
                         f"P(more QALYs, less cost) {prob(r['p_se'])}, P(fewer QALYs, more "
                         f"cost) {prob(r['p_nw'])}, P(fewer QALYs, less cost) "
                         f"{prob(r['p_sw'])})")
            parts.append(f"at {money(k)} per QALY the expected incremental net benefit is "
                         f"{money(float(r['eib']))} ({money(float(r['eib_lb']))} to "
                         f"{money(float(r['eib_ub']))}), P({opt} is the best option) "
                         f"{prob(r['ceac'])}, EVPI {money(float(r['evpi']))} per person")
        if parts:
            out.append(Finding(f"{p.capitalize()} perspective", "; ".join(parts) + "."))
    b = _row(s, quantity="bcr")
    pb = _row(s, quantity="p_bcr_above_1")
    crime = res.assumptions.get("crime_costs", "")
    if b is not None and pb is not None and not crime.startswith("none"):
        out.append(Finding("Benefit-cost ratio", f"crime and care costs avoided per GBP 1 of "
                           f"treatment: {fmt(float(b['mean']))} ({_interval(b, False)}); "
                           f"P(BCR > 1) {prob(pb['mean'])}."))
    for key, text in res.assumptions.items():
        out.append(Finding(f"Assumed: {key.replace('_', ' ')}", text))
    return out
