"""``dtors-bayes causal``: the verb end to end on a saved hand-made fit (no sampling), its
options, its exit codes, ``report --causal`` and the demo's causal section helper."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.exceptions import SpecError
from dtors_bayes.testing import (
    check_report_section,
    cli_error,
    hand_cohort,
    hand_posterior_fit,
    parse_html,
    saved_hand_fit,
)
from dtors_bayes.workflow import causal_command as cc
from dtors_bayes.workflow import cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
PAIR = "residential - prescribing"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("causal_fits")
    data = d / "data"
    data.mkdir()
    c = hand_cohort()
    c.persons.to_csv(data / "persons.csv", index=False)
    c.interviews.to_csv(data / "interviews.csv", index=False)
    return saved_hand_fit(d / "crime.nc"), data


@pytest.fixture(scope="module")
def run_out(setup, tmp_path_factory):
    fit, data = setup
    out = tmp_path_factory.mktemp("causal_out")
    rc = cli.main(["causal", "--fit", str(fit), "--data", str(data), "--out", str(out),
                   "--report"])
    assert rc == 0
    return out


def test_verb_writes_tables_figure_and_report(run_out, setup):
    from dtors_bayes.models.io import load_fit

    for name in cc.TABLES:
        assert (run_out / f"causal_{name}.csv").stat().st_size > 0, name
    assert (run_out / "causal_budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((run_out / "causal.json").read_text())
    assert meta["scores"] == {"residential": -1.0} and meta["wave"] == 2
    assert meta["modality_pooling"] == "partial"  # the hand fit's; read back for the report
    assert cc.load_results(run_out).modality_pooling == "partial"
    grid = pd.read_csv(run_out / "causal_grid.csv")
    budget = pd.read_csv(run_out / "causal_budget.csv")
    assert len(grid) == 41 and len(budget) == 9 * 5
    assert set(budget["delta"]) == {-1.0, -0.5, 0.0, 0.5, 1.0}
    # strength 0, delta 0 is the engine's adjusted contrast
    fit = load_fit(setup[0])
    est = fit.estimate()
    con = est[(est["estimand"] == "modality_contrast") & (est["wave"] == 2)]
    at0 = grid[np.isclose(grid["strength"], 0.0)]
    assert at0["mean"].iloc[0] == pytest.approx(con["mean"].iloc[0], rel=1e-9)
    b0 = budget[(budget["strength"] == 0.0) & (budget["delta"] == 0.0)]
    assert b0["mean"].iloc[0] == pytest.approx(con["mean"].iloc[0], rel=1e-9)
    ev = pd.read_csv(run_out / "causal_evalues.csv")
    assert list(ev["contrast"]) == [PAIR] and (ev["evalue"] >= 1).all()
    page = parse_html(run_out / "report" / "index.html")
    assert "Causal comparisons" in {h.strip() for h in page.h2}
    text = (run_out / "report" / "index.html").read_text(encoding="utf-8")
    assert 'id="figure-causal_budget"' in text and 'id="finding-causal"' in text


def test_options_scores_strengths_deltas(setup, tmp_path, capsys):
    fit, data = setup
    out = tmp_path / "o"
    assert cli.main(["causal", "--fit", str(fit), "--data", str(data), "--out", str(out),
                     "--scores", "prescribing=1,residential=-0.5",
                     "--strengths=-0.1,0,0.1", "--deltas=-1:1:3", "--contrasts", "pairs"]) == 0
    assert "files written" in capsys.readouterr().out
    grid = pd.read_csv(out / "causal_grid.csv")
    budget = pd.read_csv(out / "causal_budget.csv")
    assert sorted(set(grid["strength"])) == [-0.1, 0.0, 0.1]
    assert sorted(set(budget["strength"])) == [-0.1, 0.0, 0.1]
    assert sorted(set(budget["delta"])) == [-1.0, 0.0, 1.0]
    assert set(grid["contrast"]) == {"prescribing - residential"}
    assert set(grid["scores"]) == {"prescribing=1, residential=-0.5"}
    assert not (out / "report").exists()


def test_parsers():
    labels = ["prescribing", "residential"]
    assert cc.parse_scores(None, labels) == {"residential": -1.0}
    assert cc.parse_scores("prescribing=2", labels) == {"prescribing": 2.0}
    with pytest.raises(SpecError, match="detox"):
        cc.parse_scores("detox=1", labels)
    with pytest.raises(SpecError, match="MODALITY=SCORE"):
        cc.parse_scores("residential", labels)
    with pytest.raises(SpecError, match="--scores is required"):
        cc.parse_scores(None, ["a", "b"])
    np.testing.assert_allclose(cc.parse_grid("0:1:3", "deltas", []), [0, 0.5, 1])
    np.testing.assert_allclose(cc.parse_grid(None, "deltas", [1.0]), [1.0])
    with pytest.raises(SpecError, match="--strengths"):
        cc.parse_grid("a,b", "strengths", [])


def test_exit_codes_one_line(setup, tmp_path, capsys):
    fit, data = setup
    out = tmp_path / "o"
    rc, line = cli_error(capsys, "causal", "--fit", tmp_path / "none.nc", "--data", data,
                    "--out", out)
    assert rc == 1 and "none.nc" in line
    rc, line = cli_error(capsys, "causal", "--fit", fit, "--data", tmp_path / "nodata",
                    "--out", out)
    assert rc == 1 and "nodata" in line
    rc, line = cli_error(capsys, "causal", "--fit", fit, "--data", data, "--out", out,
                    "--scores", "detox=1")
    assert rc == 1 and "detox" in line and "modalities" in line
    rc, line = cli_error(capsys, "causal", "--fit", fit, "--data", data, "--out", out,
                    "--strengths", "1,x")
    assert rc == 1 and "--strengths" in line
    rc, line = cli_error(capsys, "causal", "--fit", fit, "--data", data, "--out", out,
                    "--wave", "0")
    assert rc == 1 and "follow-up" in line
    with pytest.raises(SystemExit) as err:
        cli.main(["causal", "--data", str(data)])
    assert err.value.code == 2
    capsys.readouterr()


def test_identity_link_skips_evalues_with_a_note(tmp_path, setup, capsys):
    _, data = setup
    fit = saved_hand_fit(tmp_path / "g.nc", family="gaussian")
    out = tmp_path / "o"
    assert cli.main(["causal", "--fit", str(fit), "--data", str(data), "--out",
                     str(out)]) == 0
    assert "E-values skipped" in capsys.readouterr().err
    assert not (out / "causal_evalues.csv").exists()
    assert (out / "causal_budget.csv").exists()


def test_help_text(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["causal", "--help"])
    assert err.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--scores" in out and "--deltas" in out and "--report" in out


def test_report_takes_a_causal_folder(run_out, setup, tmp_path, capsys):
    fit, data = setup
    check_report_section(capsys, tmp_path / "rep", fit, data, "causal", run_out,
                         finding="causal", figure="causal_budget", table="causal_tipping_points")


def test_demo_results_pick_a_risk_fit():
    fits = [hand_posterior_fit("gaussian"), hand_posterior_fit("bernoulli")]
    res = cc.demo_results(fits, note=lambda s: None)
    assert res is not None and res.outcome == "y"
    assert len(res.tables["grid"]) == 21 and len(res.tables["budget"]) == 9 * 3
    assert res.scores == {"prescribing": 1.0, "residential": -1.0}
    assert res.figures[0][0] == "budget"
    assert cc.demo_results(fits[:1]) is None
