"""The HTML report, its tables (CSV / Markdown / LaTeX) and figures, from one tiny fit."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.reporting import figures as plots
from dtors_bayes.reporting import report as report
from dtors_bayes.testing import TINY_SAMPLER, tiny_cohort

# tiny fits do not converge, by design: their sampler warnings are expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*(R-hat|ess_|divergent|BFMI).*:UserWarning")


class Page(HTMLParser):
    """Collects h2 headings, image sources and the banner of a page (and checks it parses)."""

    def __init__(self):
        super().__init__()
        self.h2: list[str] = []
        self.imgs: list[str] = []
        self.classes: list[str] = []
        self._h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2":
            self._h2 = True
            self.h2.append("")
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if a.get("class"):
            self.classes.append(a["class"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._h2 = False

    def handle_data(self, data):
        if self._h2:
            self.h2[-1] += data


def parse(path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.fixture(scope="module")
def cohort():
    return tiny_cohort(80, seed=4)


@pytest.fixture(scope="module")
def fit(cohort):
    from dtors_bayes.models.change_model import ChangeModel

    return ChangeModel("crime", "bernoulli", covariates=["age", "sex"], time="months").fit(
        cohort, random_seed=2, **TINY_SAMPLER)


@pytest.fixture(scope="module")
def estimates(fit):
    t = fit.estimate()
    t.insert(0, "analysis", "crime_mar")
    return t


def test_report_sections_images_tables(tmp_path, cohort, fit, estimates):
    sens = pd.DataFrame({"outcome": "crime", "estimand": "change", "wave": 2,
                         "delta": [-1.0, 0.0, 1.0], "mean": [-0.2, -0.1, 0.0],
                         "ci_lb": [-0.3, -0.2, -0.1], "ci_ub": [-0.1, 0.0, 0.1]})
    weights = pd.DataFrame({"weights": ["calibration"], "kish_ess": [70.2], "max": [3.1]})
    other = pd.DataFrame({"group": ["a_b"], "value": [1.5]})
    index = report.write_report(tmp_path, cohort=cohort, fits=[fit], estimates=[estimates],
                                extra_tables={"sensitivity": sens, "weights": weights,
                                              "loo_comparison": other})
    assert index == tmp_path / "index.html"
    page = parse(index)
    headings = {h.strip() for h in page.h2}
    assert set(report.SECTIONS.values()) <= headings
    assert "Loo comparison" in headings
    # trajectory, contrasts forest, sensitivity curve; all embedded
    assert len(page.imgs) == 3
    assert all(s.startswith("data:image/png;base64,") and len(s) > 1000 for s in page.imgs)
    text = index.read_text(encoding="utf-8")
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert "first_ids" not in text and "person_id" not in text
    for name in ("estimates", "diagnostics", "model_counts", "input_counts", "exclusions",
                 "cohort_counts_by_wave", "contrasts", "weights", "sensitivity",
                 "loo_comparison", "provenance"):
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / "tables" / f"{name}.{ext}").stat().st_size > 0, (name, ext)
    full = pd.read_csv(tmp_path / "tables" / "estimates.csv")
    assert len(full) == len(estimates)
    # methods state every assumption
    for needle in ("90% equal-tailed", "cannot be decided", "no unmeasured confounding",
                   "population = sample", "piecewise-linear in months",
                   "<code>mar</code>"):
        assert needle in text, needle


def test_banner_only_with_trouble(tmp_path, cohort, fit, estimates, monkeypatch):
    monkeypatch.setattr(type(fit), "problems", lambda self: ["3 divergent transitions"])
    page = parse(report.write_report(tmp_path / "a", cohort=cohort, fits=[fit],
                                     estimates=estimates))
    assert "banner" in page.classes
    monkeypatch.setattr(type(fit), "problems", lambda self: [])
    page = parse(report.write_report(tmp_path / "b", cohort=cohort, fits=[fit],
                                     estimates=estimates))
    assert "banner" not in page.classes
    text = (tmp_path / "b" / "index.html").read_text(encoding="utf-8")
    assert "No weights in this report" in text and "No sensitivity analysis" in text


def test_counts_reconcile(cohort, fit):
    t = report.counts_table(cohort, [fit])
    row = t.iloc[0]
    assert row["persons_input"] == cohort.n_persons
    assert row["persons_modelled"] + row["persons_excluded"] == row["persons_input"]
    assert row["interviewed"] - row["item_missing"] == row["outcome_values_used"]
    assert row["interviewed"] == int(cohort.interviews["interviewed"].sum())
    assert bool(row["reconciles"])


def test_personal_rows_refused(tmp_path, cohort, fit, estimates):
    with pytest.raises(ValueError, match="aggregates only"):
        report.write_report(tmp_path, cohort=cohort, fits=[fit], estimates=estimates,
                            extra_tables={"bad": pd.DataFrame({"person_id": [1, 2]})})


def test_variants_side_by_side(estimates):
    other = estimates.copy()
    other["weighting"] = "propagated"
    fig = plots.trajectory_figure(pd.concat([estimates, other]), "crime")
    ax = fig.axes[0]
    assert len(ax.containers) == 2  # one errorbar series per variant
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("weighting=none" in s for s in labels)
    assert any("weighting=propagated" in s for s in labels)


def test_latex_and_markdown_tables(tmp_path):
    df = pd.DataFrame({"name": ["a_b & c%", "x"], "value": [0.123456, np.nan],
                       "n": [3, 4], "ok": [True, False]})
    tex = report.latex_table(df, caption="Cap_1")
    assert r"a\_b \& c\%" in tex and r"\caption{Cap\_1}" in tex
    assert r"\begin{tabular}{lrrl}" in tex and "0.1235" in tex
    paths = report.write_table(df, tmp_path, "t")
    md = paths[1].read_text()
    assert md.splitlines()[0] == "| name | value | n | ok |" and "| yes |" in md
    assert pd.read_csv(paths[0])["value"].iloc[0] == pytest.approx(0.123456)


@pytest.mark.parametrize("suffix", [".csv", ".md", ".tex", ".html"])
def test_write_estimates_by_suffix(tmp_path, estimates, suffix):
    path = report.write_estimates(estimates, tmp_path / f"t{suffix}")
    assert path.stat().st_size > 0


def test_write_estimates_unknown_suffix(tmp_path, estimates):
    with pytest.raises(ValueError, match="unknown table format"):
        report.write_estimates(estimates, tmp_path / "t.xlsx")


def test_forest_none_without_contrasts(estimates):
    assert plots.contrast_forest(estimates[estimates["estimand"] == "level"]) is None
    assert plots.sensitivity_figure(pd.DataFrame({"mean": [1.0]})) is None
