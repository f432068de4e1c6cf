"""The report's "Cost-effectiveness" section: findings and assumptions in words next to the
numbers, the CE plane / CEAC / EVPI figures, the tables, and the layout rules (hand-made
posteriors, no sampling)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.reporting import findings as fnd
from dtors_bayes.reporting import report
from dtors_bayes.testing import hand_posterior_fit, parse_html

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SETTINGS = {
    "economics": {"name": "hand", "description": "ILLUSTRATIVE hand-made numbers",
                  "crime_costs": "transfer", "seed": 3},
    "costs": {"treatment": {"dist": "gamma", "mean": 4531.0, "sd": 1500.0},
              "crime_unit_cost": {"dist": "gamma", "mean": 5000.0, "sd": 1500.0},
              "stolen_value": {"dist": "beta", "mean": 0.5, "sd": 0.15}},
    "paths": {"delta_utility": {"dist": "normal", "mean": 0.3, "sd": 0.3}},
    "decision": {"wtp": {"from": 0.0, "to": 100000.0, "n": 21}, "threshold": 30000.0,
                 "perspectives": ["health", "societal"]},
    "evppi": {"inputs": ["treatment_cost", "delta_utility"], "wtp": [30000.0]},
}


@pytest.fixture(scope="module")
def results():
    from dtors_bayes.workflow.economics_command import load_settings, report_results, run_economics

    fu, fc = hand_posterior_fit("eq5d"), hand_posterior_fit("bernoulli", seed=2)
    res = run_economics(load_settings(SETTINGS), fu, fc, note=lambda s: None)
    return fu, report_results(res)


@pytest.fixture(scope="module")
def page(results, tmp_path_factory):
    fu, eco = results
    out = tmp_path_factory.mktemp("eco_report")
    est = fu.estimate()
    index = report.write_report(out, cohort=None, fits=[fu], estimates=[est], economics=eco)
    return out, index.read_text(encoding="utf-8")


def _section(text: str) -> str:
    return text[text.index('id="section-economics"'):text.index('id="section-counts"')]


def test_section_in_its_place_with_figures(page):
    out, text = page
    parsed = parse_html(out / "index.html")
    heads = [h.strip() for h in parsed.h2]
    assert heads.index("Weight diagnostics") < heads.index("Cost-effectiveness") \
        < heads.index("Counts reconciled with the input")
    sec = _section(text)
    for p in ("health", "societal"):
        for name in ("ce_plane", "ceac", "evpi"):
            fid = f"economics_{name}_{p}"
            assert f'id="figure-{fid}"' in sec
            assert (out / "figures" / f"{fid}.png").stat().st_size > 1000
    imgs = re.findall(r'src="(data:image/png;base64,[^"]+)"', sec)
    assert len(imgs) == 6 and all(len(s) > 1000 for s in imgs)


def test_numbers_in_the_findings_match_the_tables(page, results):
    out, text = page
    _, eco = results
    sec = _section(text).replace("&#39;", "'").replace("&gt;", ">")
    s = pd.read_csv(out / "tables" / "economics_summary.csv", keep_default_na=False,
                    na_values=[""])
    cea = pd.read_csv(out / "tables" / "economics_cea.csv")
    q = s[(s["quantity"] == "incremental_qaly") & (s["perspective"] == "health")].iloc[0]
    assert (f"treated - no_treatment: {fnd.fmt(q['mean'], signed=True)} QALY per person "
            f"(90% interval {fnd.fmt(q['ci_lb'])} to {fnd.fmt(q['ci_ub'])})") in sec
    for p in ("health", "societal"):
        c = s[(s["quantity"] == "incremental_cost") & (s["perspective"] == p)].iloc[0]
        assert (f"incremental cost against no_treatment {fnd.money(c['mean'])} (90% interval "
                f"{fnd.money(c['ci_lb'])} to {fnd.money(c['ci_ub'])})") in sec
        r = cea[(cea["option"] == "treated") & (cea["perspective"] == p)
                & np.isclose(cea["wtp"], 30000.0)].iloc[0]
        assert f"ICER {fnd.money(r['icer'])} per QALY" in sec
        assert f"P(more QALYs, more cost) {fnd.prob(r['p_ne'])}" in sec
        assert (f"expected incremental net benefit is {fnd.money(r['eib'])} "
                f"({fnd.money(r['eib_lb'])} to {fnd.money(r['eib_ub'])}), P(treated is the "
                f"best option) {fnd.prob(r['ceac'])}, EVPI {fnd.money(r['evpi'])}") in sec
        icer = s[(s["quantity"] == "icer") & (s["perspective"] == p)]["mean"].iloc[0]
        assert r["icer"] == pytest.approx(icer)
    b = s[s["quantity"] == "bcr"].iloc[0]
    assert f"treatment: {fnd.fmt(b['mean'])} (90% interval" in sec


def test_assumptions_are_stated_next_to_the_numbers(page, results):
    out, text = page
    _, eco = results
    sec = _section(text).replace("&#39;", "'")
    for key in ("counterfactual", "crime_costs", "weighting", "attrition", "horizon"):
        assert key in eco.assumptions
        assert f"<b>Assumed: {key.replace('_', ' ')}.</b> {eco.assumptions[key]}" in sec
    assert "carried forward" in eco.assumptions["counterfactual"]
    assert "transfer" in eco.assumptions["crime_costs"]
    assert "delta~N(0.3,0.3)" in eco.assumptions["attrition"]
    a = pd.read_csv(out / "tables" / "economics_assumptions.csv")
    assert dict(zip(a["assumption"], a["value"], strict=True)) == eco.assumptions
    s = pd.read_csv(out / "tables" / "economics_summary.csv")
    assert (s["assumption"].str.contains("counterfactual: ")).all()
    assert "ILLUSTRATIVE hand-made numbers" in sec
    # the findings box comes before the figures and tables of the section
    assert sec.index('id="finding-economics"') < sec.index("<img") < sec.index("<table")


def test_layout_rules_hold_in_the_section(page):
    out, text = page
    sec = _section(text)
    tables = re.findall(r'id="table-(economics_[^"]+)"', sec)
    assert set(tables) == {"economics_summary", "economics_assumptions", "economics_cea",
                           "economics_frontier", "economics_evppi"}
    for name in tables:
        for ext in ("csv", "md", "tex"):
            assert f'href="tables/{name}.{ext}"' in sec
            assert (out / "tables" / f"{name}.{ext}").stat().st_size > 0
    # every table of the page sits in a scrolling box; long ones are collapsed
    assert sec.count("<table") == sec.count('<div class="table-wrap"') == len(tables)
    for name in tables:
        n = len(pd.read_csv(out / "tables" / f"{name}.csv"))
        i = sec.index(f'id="table-{name}"')
        opened = sec.rfind("<details", 0, i) > sec.rfind("</details>", 0, i)
        assert opened == (n > report.OPEN_MAX_ROWS), name
    cea = pd.read_csv(out / "tables" / "economics_cea.csv")
    assert len(cea) == 2 * 2 * 21 > report.EXTRA_MAX_ROWS  # options x perspectives x wtp
    assert f"First {report.EXTRA_MAX_ROWS} of {len(cea)} rows" in sec
    assert 'class="long"' in sec  # the summary's assumption text is cut, full in the CSV


def test_without_economics_the_section_says_so(tmp_path):
    fit = hand_posterior_fit()
    index = report.write_report(tmp_path, cohort=None, fits=[fit], estimates=[fit.estimate()])
    sec = _section(index.read_text(encoding="utf-8"))
    assert "No cost-effectiveness analysis in this report" in sec and "<img" not in sec


def test_reporting_takes_plain_tables_not_the_economics_room():
    import ast

    for path in (ROOT / "dtors_bayes" / "reporting").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in names if m.startswith("dtors_bayes.economics")], path.name


def _browser():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "report_browser", ROOT / "tests" / "reporting" / "test_report_browser.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_section_fits_a_1280px_page_in_a_browser(page):
    mod = _browser()
    if mod.BROWSER is None:
        pytest.skip("no chromium on this machine")
    out, _ = page
    m = mod.measure(out / "index.html")
    assert m["n_bad"] == 0, m["bad"]
    assert m["scroll_width"] <= mod.WIDTH
    assert m["imgs_loaded"] == m["n_imgs"] >= 6
    assert m["max_row_px"] < 40, m["max_row_px"]
