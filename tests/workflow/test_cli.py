"""The ``dtors-bayes`` command line: a round trip in a temporary folder, reproducible
simulation, and one-line errors with the right exit status for bad input."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dtors_bayes.testing import parse_html
from dtors_bayes.workflow import cli as cli

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("dtors-bayes")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed command (``python -m dtors_bayes`` when the script is absent)."""
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "dtors_bayes"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def assert_user_error(res: subprocess.CompletedProcess | tuple, code: int = 1) -> str:
    rc, err = (res.returncode, res.stderr) if not isinstance(res, tuple) else res
    assert rc == code, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def in_process(capsys, *args: str) -> tuple[int, str]:
    rc = cli.main([str(a) for a in args])
    return rc, capsys.readouterr().err


# ---------------------------------------------------------------------- round trip
@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def simulated(workdir) -> Path:
    res = run("simulate", "--seed", "7", "--n-persons", "220", "--out", workdir / "data")
    assert res.returncode == 0, res.stderr
    return workdir / "data"


def test_simulate_same_seed_same_bytes(simulated, workdir):
    # in-process (same code path as the script; saves an interpreter start)
    assert cli.main(["simulate", "--seed", "7", "--n-persons", "220", "--out",
                     str(workdir / "again")]) == 0
    cmp = filecmp.dircmp(simulated, workdir / "again")
    assert sorted(cmp.common_files) == sorted(p.name for p in simulated.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(simulated, workdir / "again", cmp.common_files,
                                           shallow=False)
    assert not mismatch and not errors


def test_simulate_default_seed_reproduces_bundled_data(tmp_path):
    assert cli.main(["simulate", "--seed", "20060201", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in (ROOT / "data").iterdir() if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(ROOT / "data", tmp_path, names, shallow=False)
    assert not mismatch and not errors, mismatch


def test_validate_prints_summary(simulated):
    res = run("validate", simulated)
    assert res.returncode == 0, res.stderr
    assert "Interviews by wave" in res.stdout and "220 persons" in res.stdout


@pytest.mark.integration
def test_round_trip_fit_estimate_report(simulated, workdir):
    fit_path = workdir / "crime.nc"
    res = run("fit", "acquisitive_crime_mar", "--data", simulated, "--out", fit_path,
              "--draws", "30", "--tune", "60", "--chains", "2", "--seed", "3")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and fit_path.exists()
    for suffix in ("csv", "md", "tex", "html"):
        out = workdir / f"crime.{suffix}"
        res = run("estimate", fit_path, "--data", simulated, "--out", out)
        assert res.returncode == 0, res.stderr
    table = pd.read_csv(workdir / "crime.csv")
    # every format holds every row of the table
    assert len((workdir / "crime.md").read_text().splitlines()) == len(table) + 2
    assert (workdir / "crime.html").read_text().count("<tr") == len(table) + 1
    assert set(table["analysis"]) == {"acquisitive_crime_mar"}
    assert {"level", "change", "modality_contrast"} <= set(table["estimand"])
    assert (table["ci_prob"] == 0.9).all()
    assert r"\begin{tabular}" in (workdir / "crime.tex").read_text()
    # --by: subgroup rows on top of the whole-population ones (the spec has no [estimate] by)
    res = run("estimate", fit_path, "--data", simulated, "--out", workdir / "crime_by.csv",
              "--by", "referral_route")
    assert res.returncode == 0, res.stderr
    by = pd.read_csv(workdir / "crime_by.csv")
    assert "referral_route" in set(by["subgroup"].dropna()) and len(by) > len(table)
    res = run("report", "--fits", fit_path, "--data", simulated, "--out", workdir / "rep",
              "--no-progress")
    assert res.returncode == 0, res.stderr
    page = (workdir / "rep" / "index.html").read_text(encoding="utf-8")
    parser = parse_html(workdir / "rep" / "index.html")
    from dtors_bayes.reporting.report import SECTIONS

    assert set(SECTIONS.values()) <= {h.strip() for h in parser.h2}
    assert parser.imgs and all(s.startswith("data:image/png;base64,") for s in parser.imgs)
    assert "person_id" not in page
    # sensitivity from the saved fit: grid, conclusion, table and figure
    sens = workdir / "sens.csv"
    res = run("sensitivity", fit_path, "--grid", "-1", "1", "5", "--conclusion",
              "change,2,<,0,0.5", "--out", sens, "--plot", workdir / "sens.png")
    assert res.returncode == 0, res.stderr
    grid = pd.read_csv(sens)
    assert sorted(grid["delta"].unique()) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert "tipping" in res.stdout and (workdir / "sens.png").stat().st_size > 0


# ---------------------------------------------------------------------- bad input
def test_missing_data_file(capsys, tmp_path):
    line = assert_user_error(in_process(capsys, "validate", tmp_path / "nothing.csv"))
    assert "nothing.csv" in line and "no such file" in line


def test_missing_fit_file(capsys, tmp_path):
    line = assert_user_error(in_process(capsys, "estimate", tmp_path / "x.nc", "--out",
                                        tmp_path / "t.csv"))
    assert "x.nc" in line


def test_not_a_fit(capsys, tmp_path):
    bad = tmp_path / "x.nc"
    bad.write_text("not netcdf")
    line = assert_user_error(in_process(capsys, "estimate", bad, "--out", tmp_path / "t.csv"))
    assert "not a readable dtors_bayes fit" in line


def test_corrupted_csv_values(capsys, simulated, tmp_path):
    bad = tmp_path / "data"
    bad.mkdir()
    for f in ("persons.csv", "population.csv"):
        (bad / f).write_bytes((simulated / f).read_bytes())
    iv = pd.read_csv(simulated / "interviews.csv")
    iv["acquisitive_crime"] = iv["acquisitive_crime"].astype(object)
    iv.loc[iv.index[:3], "acquisitive_crime"] = "lots"
    iv.to_csv(bad / "interviews.csv", index=False)
    rc = cli.main(["validate", str(bad)])
    cap = capsys.readouterr()
    line = assert_user_error((rc, cap.err))
    assert "acquisitive_crime" in line
    assert "problem(s) in the cohort data" in cap.out  # the full listing on stdout


def test_garbage_csv(tmp_path):
    bad = tmp_path / "long.csv"
    bad.write_bytes(b'person_id,wave\n1,"unterminated\n\x00\xff\xfe,,,,\n')
    line = assert_user_error(run("validate", bad))
    assert "long.csv" in line


def test_missing_folder_files(capsys, tmp_path):
    line = assert_user_error(in_process(capsys, "validate", tmp_path))
    assert "persons.csv" in line


def test_unknown_spec_key(capsys, simulated, tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('[model]\noutcome = "employed"\nfamilly = "bernoulli"\n[sampler]\n'
                    'draws = "x"\n')
    line = assert_user_error(in_process(capsys, "fit", spec, "--data", simulated, "--out",
                                        tmp_path / "f.nc"))
    assert "bad.toml" in line and "familly" in line and "draws" in line


def test_unknown_outcome_is_one_line(capsys, simulated, tmp_path):
    spec = tmp_path / "o.toml"
    spec.write_text('[model]\noutcome = "happiness"\n')
    line = assert_user_error(in_process(capsys, "fit", spec, "--data", simulated, "--out",
                                        tmp_path / "f.nc"))
    assert "happiness" in line


def test_missing_spec(capsys, simulated, tmp_path):
    line = assert_user_error(in_process(capsys, "fit", tmp_path / "none.toml", "--data",
                                        simulated, "--out", tmp_path / "f.nc"))
    assert "none.toml" in line


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["fit"])
    assert err.value.code == 2
    assert cli.main([]) == 2
    capsys.readouterr()


def test_help_texts(capsys):
    for command in ("simulate", "validate", "fit", "estimate", "report", "demo", "study"):
        with pytest.raises(SystemExit) as err:
            cli.main([command, "--help"])
        assert err.value.code == 0
        assert cli.HELP[command].split(".")[0] in " ".join(capsys.readouterr().out.split())


def test_one_line_folds_listings():
    from dtors_bayes.exceptions import CohortError

    assert cli.one_line(CohortError(["a is bad", "b is worse"])) == \
        "2 problem(s) in the cohort data: a is bad; b is worse"
