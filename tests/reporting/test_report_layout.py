"""The report people read (issue 16): findings first, in words, consistent with the tables;
every table wrapped in a box that scrolls; long tables collapsed; rendered from templates.

All from the hand-made posterior (no sampling), through ``scripts/example_report.py``.
"""

from __future__ import annotations

import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dtors_bayes.reporting import findings as fnd
from dtors_bayes.reporting import report

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _example_module():
    spec = importlib.util.spec_from_file_location("example_report",
                                                  ROOT / "scripts" / "example_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    index = _example_module().example_report(out)
    return out, index.read_text(encoding="utf-8")


class _Tree(HTMLParser):
    """Parents of every table, the order of h2 ids, details and their summaries."""

    VOID = {"meta", "img", "br", "hr", "input", "link"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.table_parents: list[tuple[str, str]] = []
        self.h2_ids: list[str] = []
        self.tables_in_details = 0
        self.n_details = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            parent = self.stack[-1] if self.stack else ("", {})
            self.table_parents.append((parent[0], parent[1].get("class", "")))
            if any(t == "details" for t, _ in self.stack):
                self.tables_in_details += 1
        if tag == "h2":
            self.h2_ids.append(a.get("id", ""))
        if tag == "details":
            self.n_details += 1
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break


def _tree(text: str) -> _Tree:
    t = _Tree()
    t.feed(text)
    return t


def test_findings_come_first(page):
    _, text = page
    tree = _tree(text)
    assert tree.h2_ids[0] == "findings"
    first_table = text.index("<table")
    first_img = text.index("<img")
    assert text.index('id="findings"') < min(first_table, first_img)
    for title in ("Level.", "Change from intake.", "Missing not at random.", "Weights.",
                  "Modality comparison."):
        assert f"<b>{title}</b>" in text[:first_img], title


def test_every_table_is_wrapped_and_long_ones_collapsed(page):
    _, text = page
    tree = _tree(text)
    assert tree.table_parents, "no tables"
    assert all(tag == "div" and "table-wrap" in cls for tag, cls in tree.table_parents)
    assert tree.tables_in_details >= 2 and tree.n_details >= 2  # estimates, sensitivity
    assert 'class="long"' in text  # the sensitivity table's assumption column is cut
    css = (ROOT / "dtors_bayes" / "reporting" / "templates" / "report.css").read_text()
    assert re.search(r"\.table-wrap\{[^}]*overflow-x:auto", css)
    assert re.search(r"td\.long\{[^}]*text-overflow:ellipsis", css)


def test_every_table_has_its_downloads(page):
    out, text = page
    for name in re.findall(r'id="table-([^"]+)"', text):
        for ext in ("csv", "md", "tex"):
            assert f'href="tables/{name}.{ext}"' in text, (name, ext)
            assert (out / "tables" / f"{name}.{ext}").stat().st_size > 0, (name, ext)
    # the full estimates are a download even though the page shows a subset
    assert (out / "tables" / "estimates.csv").exists()


def test_numbers_in_the_findings_match_the_tables(page):
    out, text = page
    est = pd.read_csv(out / "tables" / "estimates.csv", keep_default_na=False)
    base = est[(est["weighting"] == "none") & (est["modality"] == "")]
    findings = text[text.index('id="findings"'):text.index('id="section-trajectories"')]
    for _, r in base[base["estimand"] == "level"].iterrows():
        assert (f"wave {r['wave']}: {fnd.fmt(r['mean'], True)} (90% interval "
                f"{fnd.fmt(r['ci_lb'], True)} to {fnd.fmt(r['ci_ub'], True)})") in findings
    for _, r in base[base["estimand"] == "change"].iterrows():
        assert (f"wave {r['wave']}: {fnd.fmt(r['mean'], True, True, True)} (90% interval "
                f"{fnd.fmt(r['ci_lb'], True, change=True)} to "
                f"{fnd.fmt(r['ci_ub'], True, change=True)}") in findings
    # weights: the ratio of interval widths at the last wave
    last = est[(est["estimand"] == "change") & (est["modality"] == "")]
    last = last[last["wave"] == last["wave"].max()].set_index("weighting")
    ratio = ((last.loc["propagated", "ci_ub"] - last.loc["propagated", "ci_lb"])
             / (last.loc["none", "ci_ub"] - last.loc["none", "ci_lb"]))
    assert f"the interval is {fnd.fmt(ratio)} times as wide" in findings
    # MNAR: the tipping point recomputed from the sensitivity CSV
    sens = pd.read_csv(out / "tables" / "sensitivity.csv", keep_default_na=False)
    g = sens[(sens["estimand"] == "change") & (sens["modality"] == "")
             & (sens["wave"] == sens["wave"].max())]
    lower, upper, excludes = fnd.delta_tipping(g)
    assert excludes
    assert f"delta = {fnd.fmt(upper, signed=True)} on the logit scale" in findings
    # modality: the contrast named, with its interval and its assumption
    con = base[(base["estimand"] == "modality_contrast")]
    row = con.loc[con["mean"].abs().idxmax()]
    assert f"{row['contrast']}: {fnd.fmt(row['mean'], True, True, True)}" in findings
    assert "no unmeasured confounding" in findings


def test_delta_tipping_interpolates_and_reports_no_tip():
    grid = pd.DataFrame({"delta": [-1.0, 0.0, 1.0, 2.0], "mean": [-0.3, -0.2, -0.1, 0.0],
                         "ci_lb": [-0.4, -0.3, -0.2, -0.1], "ci_ub": [-0.2, -0.1, 0.1, 0.1]})
    lower, upper, excludes = fnd.delta_tipping(grid)
    assert excludes and lower == float("-inf") and upper == pytest.approx(0.5)
    grid["ci_ub"] = 0.05
    assert fnd.delta_tipping(grid)[2] is False


def test_findings_without_sensitivity_or_weights_say_so():
    from dtors_bayes.testing import hand_posterior_fit

    est = hand_posterior_fit().estimate()
    (f,) = fnd.report_findings(est, None, {"y": "bernoulli"})
    text = " ".join(i.text for i in f.items)
    assert "No sensitivity analysis of this outcome" in text
    assert "No weighted analysis of this outcome" in text
    assert "study sample" in f.population


def test_page_is_rendered_from_the_package_templates(monkeypatch, tmp_path):
    seen = []
    real = report.render

    def spy(template, **context):
        seen.append(template)
        return real(template, **context)

    monkeypatch.setattr(report, "render", spy)
    _example_module().example_report(tmp_path)
    assert sorted(seen) == ["methods.html.j2", "report.html.j2"]
    from importlib.resources import files

    tdir = files("dtors_bayes.reporting").joinpath("templates")
    for name in ("report.html.j2", "methods.html.j2", "report.css"):
        assert tdir.joinpath(name).is_file(), name
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    for needle in ("90% equal-tailed", "cannot be decided", "no unmeasured confounding",
                   "population = sample", "<code>mar</code>"):
        assert needle in text, needle
    for module in ("report.py", "tables.py"):  # the page assembly and its tables
        source = (ROOT / "dtors_bayes" / "reporting" / module).read_text()
        assert "<!DOCTYPE" not in source and "<table" not in source  # no f-string HTML pages


def test_templates_ship_in_the_wheel_config():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'packages = ["dtors_bayes"]' in text  # hatch ships every file of the package dir
    ignored = (ROOT / ".gitignore").read_text() if (ROOT / ".gitignore").exists() else ""
    assert not re.search(r"^\*\.(j2|css)$", ignored, re.M)


def test_findings_use_whole_population_rows_only():
    """A spec with ``[estimate] by`` adds subgroup rows; the findings must not mix them in."""
    import pandas as pd

    from dtors_bayes.reporting.findings import primary_rows

    est = pd.DataFrame({"outcome": ["y"] * 3, "estimand": ["level"] * 3, "wave": [1, 1, 1],
                        "subgroup": ["", "referral_route=cj", "referral_route=other"],
                        "weighting": ["none"] * 3, "attrition": ["mar"] * 3,
                        "estimator": ["model"] * 3, "mean": [0.2, 0.3, 0.1]})
    rows = primary_rows(est, "y")
    assert list(rows["mean"]) == [0.2]
