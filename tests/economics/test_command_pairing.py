"""The economics command's pairing and MRP settings (hand-built posteriors: no sampling)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from dtors_bayes.exceptions import SpecError
from dtors_bayes.testing import HAND_MODALITIES, hand_posterior_fit
from dtors_bayes.workflow import economics_command as ec

SETTINGS = {"costs": {"treatment": 4000.0, "crime_unit_cost": 3000.0},
            "decision": {"wtp": [20000.0, 30000.0], "threshold": 30000.0}}


@pytest.fixture(scope="module")
def fits():
    return (hand_posterior_fit("eq5d", n=20), hand_posterior_fit("bernoulli", seed=2, n=20))


def test_pairing_and_mrp_settings_are_checked():
    problems = ec.check_settings({"paths": {"pairing": 2.0, "weighting": "mrp",
                                            "delta_crime": 0.5}})
    text = "\n".join(problems)
    assert "pairing" in text and "[-1, 1]" in text
    assert 'delta_crime is not available with weighting = "mrp"' in text
    assert ec.check_settings({"paths": {"pairing": "estimated", "weighting": "mrp"}}) == []
    assert ec.check_settings({"paths": {"pairing": -0.3}}) == []


def test_pairing_table_and_assumption(fits):
    res = ec.run_economics({**SETTINGS, "paths": {"pairing": "estimated"}}, *fits,
                           note=lambda s: None)
    t = res["tables"]["pairing"]
    assert t["pairing"].iloc[0] == "index" and (t["pairing"].iloc[1:] == "rank").all()
    assert {-1.0, 1.0} <= set(t["rank_correlation"].dropna())
    a = res["meta"]["assumptions"]["pairing"]
    assert "rank-coupled" in a and "sensitivity" in a and "x" in a
    assert res["meta"]["pairing_correlation"]["r"] == pytest.approx(-1.0)
    idx = ec.run_economics(SETTINGS, *fits, note=lambda s: None)
    assert "paired by index" in idx["meta"]["assumptions"]["pairing"]
    assert "pairing" in ec.TABLES


def test_pairing_needs_a_crime_fit(fits):
    with pytest.raises(SpecError, match="pairing is set but no crime fit"):
        ec.run_economics({**SETTINGS, "paths": {"pairing": 0.5}}, fits[0], None,
                         note=lambda s: None)


def test_mrp_through_the_command(fits):
    fu, fc = fits
    cells = pd.DataFrame({"modality": list(HAND_MODALITIES), "count": [300.0, 100.0]})
    cohort = SimpleNamespace(persons=pd.DataFrame({"person_id": fu.design.person_ids}),
                             population=cells)
    res = ec.run_economics({**SETTINGS, "paths": {"weighting": "mrp"}}, fu, fc, cohort=cohort,
                           note=lambda s: None)
    assert "mrp" in res["meta"]["assumptions"]["weighting"]


def test_mrp_through_the_command_needs_the_data(fits):
    with pytest.raises(SpecError, match="--data"):
        ec.run_economics({**SETTINGS, "paths": {"weighting": "mrp"}}, *fits,
                         note=lambda s: None)


def test_single_modality_options_state_the_modality_pooling(fits):
    """A decision over "everyone given <modality>" says how the arms' trajectories were
    estimated, and with the default partial pooling says to refit unpooled; the cohort-level
    decision (no treatment against treated) has no such line."""
    mod = HAND_MODALITIES[0]
    dec = {**SETTINGS["decision"], "options": ["no_treatment", "treated", mod]}
    res = ec.run_economics({**SETTINGS, "decision": dec}, *fits, note=lambda s: None)
    line = res["meta"]["assumptions"]["modality trajectories"]
    assert mod in line and "partially pooled" in line and 'modality_pooling = "none"' in line
    assert list(res["tables"]["assumptions"]["value"]).count(line) == 1
    plain = ec.run_economics(SETTINGS, *fits, note=lambda s: None)
    assert "modality trajectories" not in plain["meta"]["assumptions"]

    def fake(outcome, pooling, by_time=True):
        return SimpleNamespace(model=SimpleNamespace(outcome=outcome, modality_pooling=pooling,
                                                     modality_by_time=by_time))

    text = ec.modality_pooling_text([fake("eq5d", "none"), fake("acquisitive_crime", "none")],
                                    ["treated", mod], [mod])
    assert "eq5d: not pooled; acquisitive_crime: not pooled" in text and "refit" not in text
    mixed = ec.modality_pooling_text([fake("eq5d", "none"), None], [mod], [mod])
    assert mixed.endswith("(eq5d: not pooled)")
    assert ec.modality_pooling_text([fake("eq5d", "partial", by_time=False)], [mod], [mod]) \
        is None
