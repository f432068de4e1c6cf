"""``dtors-bayes estimate --by COLUMN``: subgroup estimands from the command line, on a saved
hand-made fit (no sampling); the option overrides the fit's spec ``[estimate] by`` and its
errors are one line naming ``--by``, what was found and what is allowed (exit status 1)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.testing import cli_error, hand_frames, saved_hand_fit
from dtors_bayes.workflow import cli
from dtors_bayes.workflow.spec import load_spec

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ROUTES = {"referral_route=criminal_justice", "referral_route=other", "referral_route"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A saved hand fit, the same fit carrying a spec with ``[estimate] by = "sex"``, and a
    data folder whose persons are the fit's (ids 101-108, the hand cohort's columns)."""
    from dtors_bayes.models.io import load_fit

    d = tmp_path_factory.mktemp("by")
    frames = hand_frames()
    ids = {f"P{i:03d}": 100 + i for i in range(1, 9)}
    data = d / "data"
    data.mkdir()
    for name in ("persons", "interviews"):
        frames[name]["person_id"] = frames[name]["person_id"].map(ids)
        frames[name].to_csv(data / f"{name}.csv", index=False)
    plain = saved_hand_fit(d / "fit.nc")
    fit = load_fit(plain)
    spec = load_spec({"analysis": {"name": "by_sex"}, "model": {"outcome": "y"},
                      "estimate": {"by": "sex"}})
    fit.tree.attrs["analysis_spec"] = json.dumps(spec.to_dict())
    with_spec = fit.save(d / "fit_spec.nc")
    return plain, with_spec, data


def _estimate(tmp_path, fit, *args) -> pd.DataFrame:
    out = tmp_path / "t.csv"
    assert cli.main(["estimate", str(fit), "--out", str(out), *map(str, args)]) == 0
    return pd.read_csv(out, keep_default_na=False, na_values=[""])


def test_by_adds_the_subgroup_rows_of_fit_estimate(setup, tmp_path, capsys):
    from dtors_bayes.models.io import load_fit

    plain, _, data = setup
    t = _estimate(tmp_path, plain, "--data", data, "--by", "referral_route")
    assert "estimates of y written to" in capsys.readouterr().out
    assert set(t["subgroup"].dropna()) - {""} == ROUTES
    cohort = cli.load_data(data)
    direct = load_fit(plain, cohort).estimate(by="referral_route", cohort=cohort)
    assert len(t) == len(direct)
    np.testing.assert_allclose(t["mean"], direct["mean"], rtol=1e-12)
    # without --by the table is the whole-population one, as before
    whole = _estimate(tmp_path, plain, "--data", data)
    assert "subgroup" not in whole.columns or whole["subgroup"].isna().all()
    assert len(whole) < len(t)


def test_the_option_overrides_the_spec(setup, tmp_path):
    _, with_spec, data = setup
    from_spec = _estimate(tmp_path, with_spec, "--data", data)
    assert (from_spec["analysis"] == "by_sex").all()
    assert {"sex=female", "sex=male"} <= set(from_spec["subgroup"].dropna())
    given = _estimate(tmp_path, with_spec, "--data", data, "--by", "referral_route")
    labels = set(given["subgroup"].dropna()) - {""}
    assert labels == ROUTES and not any(s.startswith("sex") for s in labels)


@pytest.mark.parametrize(("value", "extra", "found"), [
    ("age", (), "--by: 'age' is numeric, not categorical"),
    ("wave", (), "--by: 'wave' is an interview-level column, not a subgroup"),
    ("person_id", (), "--by: 'person_id' is the person identifier"),
    ("referral route", (), "--by: 'referral route' is not a column name"),
    ("y", (), "--by: 'y' is the model's outcome (interview-level), not a subgroup"),
    ("site_id", ("--weighting", "mrp"),
     "--by: 'site_id' with weighting = \"mrp\" is not a population cell variable"),
])
def test_bad_by_is_one_line_naming_the_option(setup, tmp_path, capsys, value, extra, found):
    plain, _, data = setup
    rc, line = cli_error(capsys, "estimate", plain, "--data", data, "--out", tmp_path / "t.csv",
                         "--by", value, *extra)
    assert rc == 1 and line.startswith("dtors-bayes: error: ") and found in line
    assert "allowed: " in line
    assert not (tmp_path / "t.csv").exists()


def test_a_column_the_data_lack(setup, tmp_path, capsys):
    plain, _, data = setup
    rc, line = cli_error(capsys, "estimate", plain, "--data", data, "--out", tmp_path / "t.csv",
                         "--by", "ethnicity")
    assert rc == 1
    assert "--by 'ethnicity' is not a person-level column of the cohort" in line
    assert "allowed: " in line and "referral_route" in line


def test_a_column_without_data(setup, tmp_path, capsys):
    plain, _, _ = setup
    rc, line = cli_error(capsys, "estimate", plain, "--out", tmp_path / "t.csv",
                         "--by", "referral_route")
    assert rc == 1
    assert "--by 'referral_route': not a modifier of the model (modifiers: none)" in line
    assert "no --data was given; allowed: " in line


def test_by_in_the_help(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["estimate", "--help"])
    assert err.value.code == 0
    assert "--by COLUMN" in capsys.readouterr().out


def test_by_without_a_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["estimate", "fit.nc", "--out", "t.csv", "--by"])
    assert err.value.code == 2
    assert "--by: expected one argument" in capsys.readouterr().err
