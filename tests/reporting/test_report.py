"""The HTML report, its tables (CSV / Markdown / LaTeX) and figures, from one tiny fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dtors_bayes._format import latex_table
from dtors_bayes.reporting import figures as plots
from dtors_bayes.reporting import report as report
from dtors_bayes.testing import parse_html

# tiny fits do not converge, by design: their sampler warnings are expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*(R-hat|ess_|divergent|BFMI).*:UserWarning")
integration = pytest.mark.integration  # every test that uses the real fit


parse = parse_html


@pytest.fixture(scope="module")
def cohort(tiny_fit_cohort):
    return tiny_fit_cohort


@pytest.fixture(scope="module")
def fit(tiny_fit):
    """The shared tiny fit (tests/conftest.py): tests that request it are integration."""
    return tiny_fit


@pytest.fixture(scope="module")
def estimates(fit):
    t = fit.estimate()
    t.insert(0, "analysis", "crime_mar")
    return t


@pytest.fixture(scope="module")
def hand_estimates():
    """An estimates table of a hand-built posterior (no sampling), for the table writers."""
    from dtors_bayes.testing import hand_posterior_fit

    t = hand_posterior_fit().estimate()
    t.insert(0, "analysis", "y_mar")
    return t


@integration
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


@integration
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


@integration
def test_counts_reconcile(cohort, fit):
    t = report.counts_table(cohort, [fit])
    row = t.iloc[0]
    assert row["persons_input"] == cohort.n_persons
    assert row["persons_modelled"] + row["persons_excluded"] == row["persons_input"]
    assert row["interviewed"] - row["item_missing"] == row["outcome_values_used"]
    assert row["interviewed"] == int(cohort.interviews["interviewed"].sum())
    assert bool(row["reconciles"])


@integration
def test_personal_rows_refused(tmp_path, cohort, fit, estimates):
    with pytest.raises(ValueError, match="aggregates only"):
        report.write_report(tmp_path, cohort=cohort, fits=[fit], estimates=estimates,
                            extra_tables={"bad": pd.DataFrame({"person_id": [1, 2]})})


def test_variants_side_by_side(hand_estimates):
    other = hand_estimates.copy()
    other["weighting"] = "propagated"
    fig = plots.trajectory_figure(pd.concat([hand_estimates, other]), "y")
    ax = fig.axes[0]
    assert len(ax.containers) == 2  # one errorbar series per variant
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("weighting=none" in s for s in labels)
    assert any("weighting=propagated" in s for s in labels)


def test_latex_and_markdown_tables(tmp_path):
    df = pd.DataFrame({"name": ["a_b & c%", "x"], "value": [0.123456, np.nan],
                       "n": [3, 4], "ok": [True, False]})
    tex = latex_table(df, caption="Cap_1")
    assert r"a\_b \& c\%" in tex and r"\caption{Cap\_1}" in tex
    assert r"\begin{tabular}{lrrl}" in tex and "0.1235" in tex
    paths = report.write_table(df, tmp_path, "t")
    md = paths[1].read_text()
    assert md.splitlines()[0] == "| name | value | n | ok |" and "| yes |" in md
    assert pd.read_csv(paths[0])["value"].iloc[0] == pytest.approx(0.123456)


@pytest.mark.parametrize("suffix", [".csv", ".md", ".tex", ".html"])
def test_write_estimates_by_suffix(tmp_path, hand_estimates, suffix):
    """Each format holds the whole table: one row per estimate, read back where it can be."""
    est = hand_estimates
    path = report.write_estimates(est, tmp_path / f"t{suffix}")
    text = path.read_text(encoding="utf-8")
    if suffix == ".csv":
        back = pd.read_csv(path, keep_default_na=False)
        assert list(back.columns) == list(est.columns) and len(back) == len(est)
        np.testing.assert_allclose(back["mean"], est["mean"], rtol=1e-12)
    elif suffix == ".md":
        lines = text.splitlines()
        assert lines[0].startswith("| analysis | outcome |") and len(lines) == len(est) + 2
    elif suffix == ".tex":
        assert r"\begin{tabular}" in text and text.count(r"y\_mar") == len(est)
    else:
        parse(path)  # parses as HTML
        assert text.count("<tr") == len(est) + 1 and text.count("y_mar") == len(est)


def test_write_estimates_unknown_suffix(tmp_path, hand_estimates):
    with pytest.raises(ValueError, match="unknown table format"):
        report.write_estimates(hand_estimates, tmp_path / "t.xlsx")


def test_forest_none_without_contrasts(hand_estimates):
    assert plots.contrast_forest(hand_estimates[hand_estimates["estimand"] == "level"]) is None
    assert plots.sensitivity_figure(pd.DataFrame({"mean": [1.0]})) is None
