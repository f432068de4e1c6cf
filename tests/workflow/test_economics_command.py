"""``dtors-bayes economics``: the settings schema (every problem at once), the verb end to end
on saved hand-made fits (no sampling), its exit codes, and ``report --economics``."""

from __future__ import annotations

import json
import tomllib

import pandas as pd
import pytest

from dtors_bayes.exceptions import SpecError
from dtors_bayes.testing import check_report_section, cli_error, parse_html, saved_hand_fit
from dtors_bayes.workflow import cli
from dtors_bayes.workflow import economics_command as ec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    d = tmp_path_factory.mktemp("eco_fits")
    return (saved_hand_fit(d / "eq5d.nc", "eq5d", "eq5d", 1),
            saved_hand_fit(d / "crime.nc", "acquisitive_crime", "bernoulli", 2))


def _write(tmp_path, text: str):
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------------- settings
def test_bundled_example_is_package_data_and_valid():
    from importlib.resources import files

    path = files("dtors_bayes.workflow") / "specs" / "economics" / f"{ec.EXAMPLE}.toml"
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert "ILLUSTRATIVE" in text
    data = ec.load_settings(ec.EXAMPLE)  # by name, as the CLI resolves it
    assert data == tomllib.loads(text)
    assert data["costs"]["treatment"] == 4531.0  # the DTORS report's figure
    assert data["economics"]["counterfactual"] == "carried_on"
    assert "illustrative" in data["economics"]["description"].lower()


def test_every_problem_at_once(tmp_path):
    p = _write(tmp_path, """
[economics]
counterfactual = "maybe"
colour = "red"
[costs]
treatment = { dist = "gamma", mean = -1.0, sd = 2.0 }
stolen_value = { dist = "beta", mean = 0.5 }
crime_unit_cost = "expensive"
care = { treated = { dist = "uniform", low = 5.0, high = 1.0 } }
[paths]
weighting = "mrp"
delta_utility = { dist = "gamma", mean = 1.0, sd = 1.0 }
[decision]
wtp = "lots"
threshold = -5
perspectives = ["health", "nhs"]
ci_prob = 90
[bogus]
x = 1
""")
    with pytest.raises(SpecError) as err:
        ec.load_settings(p)
    msg = str(err.value)
    assert "settings.toml" in msg and "13 problem(s)" in msg
    for needle in ("counterfactual: 'maybe'", "unknown key 'colour'", "mean must be > 0",
                   "missing sd", "crime_unit_cost: expected a number or a table",
                   "need low <= high", "delta_utility",
                   'delta_utility is not available with weighting = "mrp"',
                   "wtp: expected an array", "threshold: expected a number > 0",
                   "['nhs'] not allowed", "ci_prob", "unknown section [bogus]"):
        assert needle in msg, needle


def test_counterfactual_needs_its_prior_and_only_then():
    with pytest.raises(SpecError, match="improvement is required"):
        ec.load_settings({"economics": {"counterfactual": "spontaneous_improvement"}})
    with pytest.raises(SpecError, match="only used with"):
        ec.load_settings({"economics": {"improvement": {"dist": "beta", "mean": 0.3,
                                                        "sd": 0.1}}})
    ok = ec.load_settings({"economics": {"counterfactual": "spontaneous_improvement",
                                         "improvement": {"dist": "beta", "mean": 0.3,
                                                         "sd": 0.1}}})
    assert ec.to_input(ok["economics"]["improvement"]).kind == "beta"


def test_distributions_and_grids():
    assert ec.to_input(4531) == 4531.0
    d = ec.to_input({"dist": "uniform", "low": 1.0, "high": 2.0})
    assert (d.kind, d.a, d.b) == ("uniform", 1.0, 2.0)
    assert ec.dist_problem({"dist": "fixed", "value": 3.0}) is None
    assert "unknown sd" in ec.dist_problem({"dist": "fixed", "value": 3.0, "sd": 1.0})
    assert ec.wtp_grid({"from": 0.0, "to": 100.0, "n": 3}) == [0.0, 50.0, 100.0]
    assert ec.wtp_grid([1, 2]) == [1.0, 2.0]


def test_toml_syntax_error_is_one_line(capsys, fits, tmp_path):
    p = _write(tmp_path, "[economics\n")
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--settings", p,
                    "--out", tmp_path / "o")
    assert rc == 1 and "not valid TOML" in line


# ---------------------------------------------------------------------- the verb
@pytest.fixture(scope="module")
def run_out(fits, tmp_path_factory):
    out = tmp_path_factory.mktemp("eco_out")
    rc = cli.main(["economics", "--utility", str(fits[0]), "--crime", str(fits[1]),
                   "--settings", ec.EXAMPLE, "--out", str(out), "--report"])
    assert rc == 0
    return out


def test_verb_writes_tables_figures_and_report(run_out):
    for name in ("summary", "cea", "frontier", "assumptions", "evppi"):
        assert (run_out / f"economics_{name}.csv").stat().st_size > 0, name
    for p in ("health", "societal"):
        for fig in ("ce_plane", "ceac", "evpi"):
            png = (run_out / f"{fig}_{p}.png").read_bytes()
            assert png[:8] == b"\x89PNG\r\n\x1a\n", (fig, p)
    cea = pd.read_csv(run_out / "economics_cea.csv")
    assert set(cea["perspective"]) == {"health", "societal"}
    assert set(cea["option"]) == {"no_treatment", "treated"}
    assert 30000.0 in set(cea["wtp"]) and len(set(cea["wtp"])) == 31
    summary = pd.read_csv(run_out / "economics_summary.csv")
    icer = summary[(summary["quantity"] == "icer") & (summary["perspective"] == "health")]
    inc = summary[(summary["quantity"] == "incremental_qaly")
                  & (summary["perspective"] == "health")]
    assert icer["mean"].iloc[0] == pytest.approx(4531.0 / inc["mean"].iloc[0])
    row = cea[(cea["option"] == "treated") & (cea["wtp"] == 30000.0)
              & (cea["perspective"] == "health")].iloc[0]
    assert row["icer"] == pytest.approx(icer["mean"].iloc[0])
    meta = json.loads((run_out / "economics.json").read_text())
    assert meta["option"] == "treated" and meta["threshold"] == 30000.0
    assert "counterfactual" in meta["assumptions"] and "crime_costs" in meta["assumptions"]
    vi = pd.read_csv(run_out / "economics_evppi.csv")
    assert set(vi["inputs"]) == {"crime_unit_cost"} and set(vi["wtp"]) == {20000.0, 30000.0}
    page = parse_html(run_out / "report" / "index.html")
    assert "Cost-effectiveness" in {h.strip() for h in page.h2}
    text = (run_out / "report" / "index.html").read_text(encoding="utf-8")
    for name in ("ce_plane_health", "ceac_health", "evpi_health", "ce_plane_societal"):
        assert f'id="figure-economics_{name}"' in text


def test_variants_spontaneous_improvement_transfer_modalities(fits, tmp_path, capsys):
    p = _write(tmp_path, """
[economics]
counterfactual = "spontaneous_improvement"
improvement = { dist = "beta", mean = 0.3, sd = 0.15 }
crime_costs = "transfer"
[costs]
treatment = { prescribing = { dist = "gamma", mean = 3000.0, sd = 600.0 }, residential = 12000.0 }
crime_unit_cost = { dist = "gamma", mean = 5000.0, sd = 1500.0 }
stolen_value = { dist = "beta", mean = 0.5, sd = 0.15 }
[paths]
delta_utility = { dist = "normal", mean = 0.3, sd = 0.3 }
delta_crime = 0.5
[decision]
wtp = [0.0, 20000.0, 50000.0]
reference = "no_treatment"
option = "prescribing"
options = ["no_treatment", "prescribing", "residential"]
perspectives = ["societal"]
[evppi]
inputs = ["improvement", "delta_utility"]
groups = { costs = ["crime_unit_cost", "stolen_value"] }
""")
    out = tmp_path / "o"
    assert cli.main(["economics", "--utility", str(fits[0]), "--crime", str(fits[1]),
                     "--settings", str(p), "--out", str(out)]) == 0
    capsys.readouterr()
    cea = pd.read_csv(out / "economics_cea.csv")
    assert sorted(set(cea["wtp"])) == [0.0, 20000.0, 30000.0, 50000.0]  # threshold added
    assert set(cea["option"]) == {"no_treatment", "prescribing", "residential"}
    front = pd.read_csv(out / "economics_frontier.csv")
    assert set(front["status"]) <= {"ND", "ED", "D"} and len(front) == 3
    vi = pd.read_csv(out / "economics_evppi.csv")
    assert set(vi["inputs"]) == {"improvement", "delta_eq5d", "costs"}
    a = pd.read_csv(out / "economics_assumptions.csv").set_index("assumption")["value"]
    assert "transfer" in a["crime_costs"] and "theta" in a["counterfactual"]
    assert "delta~N(0.3,0.3)" in a["attrition"] and "delta=0.5" in a["attrition"]
    assert not (out / "ce_plane_health.png").exists()
    assert (out / "ce_plane_societal.png").exists()


def test_exit_codes_one_line(capsys, fits, tmp_path):
    out = tmp_path / "o"
    rc, line = cli_error(capsys, "economics", "--utility", tmp_path / "none.nc", "--settings",
                    ec.EXAMPLE, "--out", out)
    assert rc == 1 and "none.nc" in line
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--settings",
                    tmp_path / "none.toml", "--out", out)
    assert rc == 1 and "none.toml" in line
    bad = _write(tmp_path, '[decision]\noptions = ["no_treatment", "detox"]\n')
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--settings", bad,
                    "--out", out)
    assert rc == 1 and "detox" in line and "options of these fits" in line
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--crime", fits[0],
                    "--settings", ec.EXAMPLE, "--out", out)
    assert rc == 1 and "Bernoulli" in line
    bad = _write(tmp_path, '[evppi]\ninputs = ["moon_phase"]\n')
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--settings", bad,
                    "--out", out)
    assert rc == 1 and "moon_phase" in line
    bad = _write(tmp_path, '[costs]\ntreatment = { prescribing = 1.0, detox = 2.0 }\n')
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--settings", bad,
                    "--out", out)
    assert rc == 1 and "detox" in line
    bad = _write(tmp_path, "[paths]\ndelta_crime = 0.5\n")
    rc, line = cli_error(capsys, "economics", "--utility", fits[0], "--settings", bad,
                    "--out", out)
    assert rc == 1 and "--crime" in line
    with pytest.raises(SystemExit) as err:
        cli.main(["economics", "--utility", str(fits[0])])
    assert err.value.code == 2
    capsys.readouterr()


def test_help_text(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["economics", "--help"])
    assert err.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert cli.HELP["economics"].split(".")[0] in out and "--settings" in out


def test_report_takes_an_economics_folder(run_out, fits, tmp_path, capsys):
    from dtors_bayes.testing import hand_cohort

    data = tmp_path / "data"
    data.mkdir()
    c = hand_cohort()
    c.persons.to_csv(data / "persons.csv", index=False)
    c.interviews.to_csv(data / "interviews.csv", index=False)
    check_report_section(capsys, tmp_path / "rep", fits[0], data, "economics", run_out,
                         finding="economics", figure="economics_ceac_health",
                         table="economics_summary")

