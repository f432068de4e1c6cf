"""The report's "Causal comparisons" section: the assumption, tipping points and E-values in
words next to the numbers, the bias-budget heatmap, the tables and the layout rules
(hand-made posteriors, no sampling)."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.causal.overlap import overlap
from dtors_bayes.causal.plots import budget_heatmap
from dtors_bayes.reporting import causal_section as cs
from dtors_bayes.reporting import findings as fnd
from dtors_bayes.reporting import report
from dtors_bayes.testing import hand_posterior_fit, parse_html

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
PAIR = "residential - prescribing"


@pytest.fixture(scope="module")
def results():
    from dtors_bayes.workflow.causal_command import report_results, run_causal

    fit = hand_posterior_fit("bernoulli")
    res = run_causal(fit, {"residential": -1.0}, note=lambda s: None)
    rng = np.random.default_rng(0)
    pi = rng.dirichlet([4.0, 1.0], size=fit.design.n_person)
    ov = overlap(pi, fit.design.modality, fit.design.modality_labels, threshold=0.2)
    res["tables"]["overlap"] = ov.below
    return fit, report_results(res)


@pytest.fixture(scope="module")
def page(results, tmp_path_factory):
    fit, causal = results
    out = tmp_path_factory.mktemp("causal_report")
    index = report.write_report(out, cohort=None, fits=[fit], estimates=[fit.estimate()],
                                causal=causal)
    return out, index.read_text(encoding="utf-8")


def _section(text: str) -> str:
    return text[text.index('id="section-causal"'):text.index('id="section-counts"')]


def _unescape(s: str) -> str:
    return html.unescape(s)


def test_section_in_its_place_with_the_heatmap(page):
    out, text = page
    heads = [h.strip() for h in parse_html(out / "index.html").h2]
    assert heads.index("Cost-effectiveness") < heads.index("Causal comparisons") \
        < heads.index("Counts reconciled with the input")
    sec = _section(text)
    assert 'id="figure-causal_budget"' in sec
    assert (out / "figures" / "causal_budget.png").read_bytes()[:4] == b"\x89PNG"
    imgs = re.findall(r'src="(data:image/png;base64,[^"]+)"', sec)
    assert len(imgs) == 1 and len(imgs[0]) > 1000
    for name in ("evalues", "tipping_points", "overlap", "grid", "budget"):
        assert f'id="table-causal_{name}"' in sec, name


def test_findings_state_the_assumptions(page):
    sec = _unescape(_section(page[1]))
    assert 'id="finding-causal"' in sec
    assert "no unmeasured confounding of modality given the covariates, site and area" in sec
    assert "c(a, a') = strength x (score_a - score_a')" in sec and "residential=-1" in sec
    assert "E-value (VanderWeele &amp; Ding)" in sec or "E-value (VanderWeele & Ding)" in sec
    assert "move the ratio to 1" in sec
    assert "extrapolation" in sec  # overlap


def test_findings_state_the_modality_pooling(results, page):
    """The fit's modality pooling is an assumption of every contrast: partial pooling (the
    hand fit's default) says what it does to small arms and to the sensitivity analysis,
    and how to refit; an unpooled fit says it is not shrunk; unknown says nothing."""
    fit, causal = results
    assert fit.model.modality_pooling == "partial" and causal.modality_pooling == "partial"
    sec = _unescape(_section(page[1]))
    assert "Assumed: modality trajectories" in sec and "are partially pooled" in sec
    assert 'modality_pooling = "none"' in sec and "no longer fully carries" in sec
    unpooled = cs.pooling_finding("none")
    assert "not pooled" in unpooled.text and "refit" not in unpooled.text
    assert cs.pooling_finding(None) is None and cs.pooling_finding("sometimes") is None
    titles = [i.title for i in cs.causal_findings(causal)]
    assert titles.index("Assumed: no unmeasured confounding") \
        < titles.index("Assumed: modality trajectories") < titles.index("E-value")


def test_numbers_in_the_findings_match_the_tables(page):
    out, text = page
    sec = _unescape(_section(text))
    tips = pd.read_csv(out / "tables" / "causal_tipping_points.csv")
    ev = pd.read_csv(out / "tables" / "causal_evalues.csv")
    grid = pd.read_csv(out / "tables" / "causal_grid.csv")
    budget = pd.read_csv(out / "tables" / "causal_budget.csv")
    assert len(budget) == 9 * 5 and len(grid) == 41
    for _, t in tips.iterrows():
        words = (f"estimate {fnd.fmt(t['estimate_at_0'], signed=True)} with no unmeasured "
                 "confounding; the posterior mean reaches 0 ")
        assert words in sec
        assert "the 90% interval already includes 0" in sec  # tip_interval 0 here
        if np.isfinite(t["tip_mean"]):
            assert f"reaches 0 at strength {fnd.fmt(t['tip_mean'], signed=True)}" in sec
        e = ev[ev["contrast"] == t["contrast"]].iloc[0]
        assert (f"risk ratio {fnd.fmt(e['rr'])} (90% interval {fnd.fmt(e['rr_lb'])} to "
                f"{fnd.fmt(e['rr_ub'])}), E-value {fnd.fmt(e['evalue'])}, of the interval "
                f"{fnd.fmt(e['evalue_ci'])}") in sec
    # the tipping point is where the grid's mean changes sign
    g = grid[grid["contrast"] == PAIR]
    t = tips[tips["contrast"] == PAIR].iloc[0]
    assert np.isfinite(t["tip_mean"]) and t["tip_interval"] == 0
    if np.isfinite(t["tip_mean"]):
        m = np.interp(t["tip_mean"], g["strength"], g["mean"])
        assert abs(m) < 1e-9 + 0.02 * g["mean"].abs().max()
    b = budget[budget["contrast"] == PAIR]
    at = b[(b["delta"] == 0) & (b["strength"] == 0)].iloc[0]
    assert f"P({PAIR} < 0) = {fnd.fmt(at['p_negative'])} at strength 0 and delta 0" in sec
    assert (f"over the whole surface {fnd.fmt(b['p_negative'].min())} to "
            f"{fnd.fmt(b['p_negative'].max())}") in sec
    ov = pd.read_csv(out / "tables" / "causal_overlap.csv")
    anyr = ov[ov["modality"] == "any"].iloc[0]
    assert (f"{fnd.fmt(100 * anyr['share_below'])}% of persons have a propensity below "
            f"{fnd.fmt(0.2)}") in sec


def test_layout_wrapped_collapsed_and_downloads(page):
    out, text = page
    sec = _section(text)
    n_tables = sec.count("<table")
    assert n_tables == sec.count('<div class="table-wrap"') == 5
    # the long grid and budget are collapsed and cut, with the full CSV
    for name in ("grid", "budget"):
        start = sec.index(f'id="table-causal_{name}"')
        assert sec.rfind("<details", 0, start) > sec.rfind("</details>", 0, start)
        for ext in ("csv", "md", "tex"):
            assert f'href="tables/causal_{name}.{ext}"' in sec
            assert (out / "tables" / f"causal_{name}.{ext}").stat().st_size > 0
    assert "grid of confounding strengths (41 rows)</summary>" in sec
    assert "confounding strength x pattern-mixture delta (45 rows)</summary>" in sec
    # short tables stay open
    start = sec.index('id="table-causal_evalues"')
    assert sec.rfind("<details", 0, start) <= sec.rfind("</details>", 0, start)


def test_placeholder_without_causal(tmp_path):
    fit = hand_posterior_fit("bernoulli")
    text = report.write_report(tmp_path, cohort=None, fits=[fit],
                               estimates=[fit.estimate()]).read_text(encoding="utf-8")
    assert "dtors-bayes causal" in _section(text)


def test_heatmap_is_its_own_agg_figure():
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from dtors_bayes.causal.budget import bias_budget
    from dtors_bayes.exceptions import FitError

    before = plt.get_fignums()
    fit = hand_posterior_fit("bernoulli")
    b = bias_budget(fit, {"residential": -1.0}, [-0.1, 0.0, 0.1], [-1.0, 0.0, 1.0])
    fig = budget_heatmap(b)
    assert isinstance(fig.canvas, FigureCanvasAgg) and plt.get_fignums() == before
    ax = fig.axes[0]
    img = ax.images[0].get_array()
    surf = b.pivot(index="delta", columns="strength", values="p_negative").to_numpy()
    np.testing.assert_allclose(np.asarray(img), surf)
    assert ax.get_title() == "prescribing - residential"
    with pytest.raises(FitError, match="empty"):
        budget_heatmap(b.iloc[:0])
    with pytest.raises(FitError, match="not in the budget"):
        budget_heatmap(b, ["a - b"])


def test_findings_without_optional_tables():
    res = cs.CausalResults(tables={}, scores={"residential": -1.0})
    items = cs.causal_findings(res)
    assert [i.title for i in items] == ["Assumed: no unmeasured confounding"]
