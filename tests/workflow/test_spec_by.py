"""``[estimate] by = "column"`` in analysis specs: subgroup estimands from a spec."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import dtors_bayes as db
from dtors_bayes.workflow.spec import load_spec

ROUTE = np.array(["cj", "other", "other", "cj", "other", "cj", "other", "other"])


def _problems(estimate: dict, model: dict | None = None) -> str:
    with pytest.raises(db.SpecError) as err:
        load_spec({"model": model or {"outcome": "employed"}, "estimate": estimate})
    return str(err.value)


def test_by_is_read_and_round_trips(tmp_path):
    p = tmp_path / "by.toml"
    p.write_text('[model]\noutcome = "acquisitive_crime"\nmodifiers = ["referral_route"]\n'
                 '[estimate]\nby = "referral_route"\n', encoding="utf-8")
    s = load_spec(p)
    assert s.estimate_args["by"] == "referral_route"
    assert load_spec(s.to_dict()).estimate_args == s.estimate_args
    # without by the defaults are as before (no by key at all)
    assert "by" not in load_spec({"model": {"outcome": "employed"}}).estimate_args


@pytest.mark.parametrize(("value", "found"), [
    (3, "expected a string, got integer 3"),
    (["sex"], "expected a string, got array ['sex']"),
    ("wave", "'wave' is an interview-level column, not a subgroup"),
    ("months", "'months' is an interview-level column"),
    ("person_id", "'person_id' is the person identifier, not a subgroup"),
    ("age", "'age' is numeric, not categorical"),
    ("referral route", "'referral route' is not a column name"),
])
def test_bad_by_names_the_key_what_was_found_and_what_is_allowed(value, found):
    msg = _problems({"by": value})
    assert "[estimate] by:" in msg and found in msg
    assert "allowed: a person-level categorical column" in msg


def test_by_the_outcome_is_refused():
    msg = _problems({"by": "employed"})
    assert "[estimate] by: 'employed' is the model's outcome" in msg


def test_by_with_mrp_must_be_a_population_cell_variable():
    msg = _problems({"by": "site_id", "weighting": "mrp"})
    assert "[estimate] by: 'site_id' with weighting = \"mrp\" is not a population cell" in msg
    assert "allowed: age_group, sex, primary_drug, referral_route, modality" in msg
    s = load_spec({"model": {"outcome": "employed"},
                   "estimate": {"by": "referral_route", "weighting": "mrp"}})
    assert s.estimate_args["by"] == "referral_route"


def test_every_problem_is_listed_at_once():
    msg = _problems({"by": 3, "weighting": "nope"})
    assert "2 problem(s)" in msg and "[estimate] by:" in msg and "[estimate] weighting:" in msg


def test_spec_estimate_passes_by_to_fit_estimate():
    from dtors_bayes.testing import hand_posterior_fit

    fit = hand_posterior_fit()
    cohort = types.SimpleNamespace(persons=pd.DataFrame(
        {"person_id": fit.design.person_ids, "route": ROUTE}))
    spec = load_spec({"analysis": {"name": "by_route"}, "model": {"outcome": "y"},
                      "estimate": {"by": "route"}})
    t = spec.estimate(fit, cohort=cohort)
    assert (t["analysis"] == "by_route").all()
    assert {"route=cj", "route=other", "route"} <= set(t["subgroup"])
    direct = fit.estimate(by="route", cohort=cohort)
    pd.testing.assert_frame_equal(t.drop(columns="analysis"), direct)
    # a CLI-style override replaces the spec's by
    with pytest.raises(db.FitError, match="by='nope' is not a person-level column"):
        spec.estimate(fit, cohort=cohort, by="nope")


def test_by_a_non_integer_numeric_column_is_refused():
    from dtors_bayes.testing import hand_posterior_fit

    fit = hand_posterior_fit()
    cohort = types.SimpleNamespace(persons=pd.DataFrame(
        {"person_id": fit.design.person_ids, "score": np.linspace(0.1, 0.8, 8),
         "visits": np.array([1.0, 2.0] * 4)}))
    with pytest.raises(db.FitError, match="by='score' is a numeric column with non-integer"):
        fit.estimate(by="score", cohort=cohort)
    t = fit.estimate(by="visits", cohort=cohort)  # whole numbers are levels
    assert {"visits=1.0", "visits=2.0"} <= set(t["subgroup"])
