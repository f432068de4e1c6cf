"""Analysis specs: validation errors, the bundled models/*.toml, and tiny fits of each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import dtors_bayes as db
from dtors_bayes.workflow import spec as spec_mod
from dtors_bayes.workflow.spec import AnalysisSpec, formula_problem, load_spec, spec_files

MODELS = spec_files(Path(__file__).resolve().parents[2] / "models")
SELECTION = "acquisitive_crime_selection"


def _write(tmp_path, text: str, name: str = "bad.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------------- validation
def test_minimal_spec_gets_defaults():
    s = load_spec({"model": {"outcome": "employed"}})
    assert s.name == "analysis" and s.question == ""
    assert s.sampler["draws"] == 1000 and s.sampler["chains"] == 4
    assert s.estimate_args == {"weighting": "none", "contrasts": "reference",
                               "reference": None, "ci_prob": 0.90}
    assert s.sensitivity is None
    m = s.model()
    assert isinstance(m, db.ChangeModel) and m.outcome == "employed"


def test_unknown_key_names_key_and_file(tmp_path):
    p = _write(tmp_path, '[model]\noutcome = "employed"\nfamilly = "bernoulli"\n')
    with pytest.raises(db.SpecError) as err:
        load_spec(p)
    msg = str(err.value)
    assert "bad.toml" in msg and "familly" in msg and "[model]" in msg
    assert "allowed:" in msg and "family" in msg


def test_wrong_type_names_key():
    with pytest.raises(db.SpecError, match=r"\[sampler\] draws: expected an integer"):
        load_spec({"model": {"outcome": "employed"}, "sampler": {"draws": "many"}})
    with pytest.raises(db.SpecError, match=r"modality_by_time: expected true or false"):
        load_spec({"model": {"outcome": "employed", "modality_by_time": 1}})


def test_modality_pooling_reaches_the_model():
    assert load_spec({"model": {"outcome": "employed", "modality_pooling": "none"}}) \
        .model().modality_pooling == "none"
    with pytest.raises(db.SpecError, match="modality_pooling"):
        load_spec({"model": {"outcome": "employed", "modality_pooling": "full"}})


def test_several_problems_listed_at_once(tmp_path):
    p = _write(tmp_path, """
[analysis]
name = 3
[model]
family = "poisson"
time = "weeks"
levels = ["site", "clinic"]
[sampler]
chains = 0
target_accept = 95
[estimate]
weighting = "raked"
[plots]
x = 1
""")
    with pytest.raises(db.SpecError) as err:
        load_spec(p)
    msg = str(err.value)
    for needle in ("[analysis] name", "[model] family", "[model] time", "[model] levels",
                   "[sampler] chains", "[sampler] target_accept", "did you mean 0.95",
                   "[estimate] weighting", "unknown section [plots]",
                   "[model] outcome is required"):
        assert needle in msg, needle
    assert msg.startswith(str(p)) and "9 problem(s)" in msg
    assert isinstance(err.value, ValueError)


def test_not_toml(tmp_path):
    p = _write(tmp_path, "[model\noutcome = ")
    with pytest.raises(db.SpecError, match="not valid TOML"):
        load_spec(p)


def test_missing_file(tmp_path):
    with pytest.raises(db.SpecError, match="no such spec file"):
        load_spec(tmp_path / "nope.toml")


def test_cross_key_model_problems_become_spec_errors():
    with pytest.raises(db.SpecError, match="random_change"):
        load_spec({"model": {"outcome": "employed", "levels": ["site"],
                             "random_change": ["area"]}})


@pytest.mark.parametrize("formula", [
    "__import__('os').system('true')", "np.log(age)", "age + eval(x)", "age[0]",
    "open(f)",
])
def test_formulas_that_are_code_are_refused(formula):
    assert formula_problem(formula) is not None
    with pytest.raises(db.SpecError, match="never code"):
        load_spec({"model": {"outcome": "employed", "covariates": formula}})


@pytest.mark.parametrize("formula", ["age + sex", "age + C(primary_drug) + sex:age",
                                     "scale(age) + sex * referral_route", "~ age + 1"])
def test_plain_formulas_are_accepted(formula):
    assert formula_problem(formula) is None


def test_attrition_string_other_than_mar():
    with pytest.raises(db.SpecError, match=r"\[model\] attrition"):
        load_spec({"model": {"outcome": "employed", "attrition": "mnar"}})


def test_level_loc_is_a_centre_in_toml(tmp_path):
    """``level_loc`` is a location: negative numbers and per-wave tables are valid (they were
    refused as non-positive "scales"), while scales must still be > 0."""
    p = _write(tmp_path, '[model]\noutcome = "employed"\n[model.priors]\nlevel = 1.5\n'
                         '[model.priors.level_loc]\n1 = -1.8\n2 = -2.1\n')
    s = load_spec(p)
    assert s.model().priors["level_loc"] == {"1": -1.8, "2": -2.1}
    assert load_spec({"model": {"outcome": "employed",
                                "priors": {"level_loc": -2.0}}}).model().priors == {
        "level_loc": -2.0}
    with pytest.raises(db.SpecError) as err:
        load_spec({"model": {"outcome": "employed",
                             "priors": {"level_loc": "low", "level": -1.0}}})
    msg = str(err.value)
    assert "'level_loc' is a centre" in msg and "'level' is a prior scale" in msg


def test_to_dict_round_trip():
    for path in MODELS:
        s = load_spec(path)
        again = load_spec(s.to_dict())
        assert again.to_dict() == s.to_dict()
        assert json.loads(json.dumps(s.to_dict())) == s.to_dict()


def test_unknown_weighting_is_a_spec_error():
    class FakeFit:
        cohort = None

    with pytest.raises(db.SpecError, match="weighting='raked'; allowed"):
        spec_mod.estimate_fit(FakeFit(), weighting="raked")


# ---------------------------------------------------------------------- bundled specs
EXPECTED = {"acquisitive_crime_mar", "acquisitive_crime_selection", "heroin_mar_delta",
            "employed", "drug_spend_hurdle", "mental_health", "modality_comparison", "eq5d"}


def test_bundled_specs_present_and_documented():
    assert {p.stem for p in MODELS} == EXPECTED
    readme = (MODELS[0].parent / "README.md").read_text(encoding="utf-8")
    for p in MODELS:
        assert p.stem in readme


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_bundled_spec_loads(path):
    s = load_spec(path)
    assert isinstance(s, AnalysisSpec)
    assert s.name == path.stem and s.question
    m = s.model()
    # selection models use time="wave" (months-spread interviews mislead kappa; ARCHITECTURE)
    assert m.time == ("wave" if path.stem == SELECTION else "months")
    assert m.levels == ("site", "area")
    assert m.covariates == ["age", "sex", "primary_drug", "referral_route"]


@pytest.fixture(scope="module")
def small_cohort():
    sim = db.simulate_cohort(seed=31, n_persons=250, n_sites=40, n_areas=10,
                             response_counts=(120, 70, 35))
    return sim.cohort


def _unique_models():
    """One spec per distinct model (specs sharing a model share its fit)."""
    seen: dict[str, list] = {}
    for p in MODELS:
        s = load_spec(p)
        seen.setdefault(json.dumps(s.model_args, sort_keys=True), []).append(s)
    return list(seen.values())


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:.*(R-hat|ess_|divergent|BFMI).*:UserWarning")
@pytest.mark.parametrize("specs", _unique_models(), ids=lambda ss: "+".join(s.name for s in ss))
def test_bundled_spec_fits_and_estimates(specs, small_cohort):
    fit = specs[0].fit(small_cohort, draws=20, tune=40, chains=2, random_seed=5)
    assert json.loads(fit.tree.attrs["analysis_spec"])["analysis"]["name"] == specs[0].name
    for s in specs:
        table = s.estimate(fit, cohort=small_cohort)
        assert (table["analysis"] == s.name).all()
        assert {"level", "change", "modality_contrast"} <= set(table["estimand"])
        assert np.isfinite(table.loc[table["estimand"] == "level", "mean"]).all()
        assert (table["ci_prob"] == s.estimate_args["ci_prob"]).all()
        n_mod = len(fit.design.modality_labels)
        n_contrasts = (table["estimand"] == "modality_contrast").sum()
        per_wave = n_mod * (n_mod - 1) // 2 if s.estimate_args["contrasts"] == "pairs" \
            else n_mod - 1
        assert n_contrasts == per_wave * (len(fit.design.waves) - 1)
    if specs[0].name == SELECTION:
        assert fit.model.attrition_label.startswith("selection(")
