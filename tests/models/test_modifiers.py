"""Effect modifiers of the change model: design, encoding, graph, priors, spec; no sampling."""

from __future__ import annotations

import numpy as np
import pytest

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.change_model import ChangeModel
from dtors_bayes.models.design import Design
from dtors_bayes.models.sampling import prior_draw
from dtors_bayes.testing import tiny_cohort


@pytest.fixture(scope="module")
def cohort():
    return tiny_cohort(90, seed=4)


def test_design_codes_levels_and_round_trip(cohort):
    m = ChangeModel("crime", "bernoulli", modifiers=["referral_route", "primary_drug"])
    assert m.modifiers == ("referral_route", "primary_drug")
    d = m.design(cohort)
    assert d.modifier_names == ["referral_route", "primary_drug"]
    assert d.modifier_labels == [["criminal_justice", "other"], ["crack", "heroin", "other"]]
    want = cohort.persons.set_index("person_id").loc[d.person_ids, "primary_drug"].to_numpy()
    got = np.asarray(d.modifier_labels[1])[d.modifier_codes[:, 1]]
    assert (got == want).all()
    back = Design.from_dataset(d.to_dataset())
    assert back.modifier_names == d.modifier_names
    assert back.modifier_labels == d.modifier_labels
    assert (back.modifier_codes == d.modifier_codes).all()
    cells = d.cells(m.basis(d), np.arange(3), np.zeros(3, int))
    assert (cells["modifiers"]["primary_drug"] == d.modifier_codes[:3, 1]).all()


def test_no_modifiers_leaves_design_spec_and_graph_as_they_were(cohort):
    m = ChangeModel("crime", "bernoulli")
    d = m.design(cohort)
    ds = d.to_dataset()
    assert "modifier_code" not in ds and "modifier_labels" not in ds.attrs
    assert "modifiers" not in m.spec()
    assert "modifiers" not in d.cells(m.basis(d), np.arange(2), np.zeros(2, int))
    names = [v.name for v in m.build(d).free_RVs]
    assert not [n for n in names if "referral" in n]
    assert "sigma_modifier" not in m.prior_scales(d)[""]


def test_missing_modifier_value_excludes_the_person(cohort):
    import copy

    c = copy.deepcopy(cohort)
    c.persons.loc[0, "referral_route"] = None
    d = ChangeModel("crime", "bernoulli", modifiers=["referral_route"]).design(c)
    assert d.n_person == cohort.persons.shape[0] - 1
    assert "missing modifier value (referral_route)" in set(d.exclusions["reason"])


def test_graph_zero_sum_prior_draw_and_simulate(cohort):
    m = ChangeModel("crime", "bernoulli", modifiers=["referral_route"],
                    priors={"sigma_modifier": 0.3, "sigma_modifier_modality": 0.1})
    d = m.design(cohort)
    s = m.prior_scales(d)[""]
    assert s["sigma_modifier"] == 0.3 and s["sigma_modifier_modality"] == 0.1
    pmodel = m.build(d)
    names = [v.name for v in pmodel.free_RVs]
    for n in ("sigma_referral_route", "z_referral_route", "sigma_referral_route_modality",
              "z_referral_route_modality"):
        assert n in names
    draw = prior_draw(pmodel, seed=2)
    z, zi = draw["z_referral_route"], draw["z_referral_route_modality"]
    assert z.shape == (3, 2) and zi.shape == (3, 3, 2)
    assert np.allclose(z.sum(-1), 0) and np.allclose(zi.sum(-1), 0)
    assert np.allclose(zi.sum(-2), 0)
    y = m.simulate(d, draw, seed=3)
    assert y.shape == d.y.shape and set(np.unique(y)) <= {0.0, 1.0}
    # the modifier terms move the simulated outcome: a large subgroup shift shows
    big = dict(draw, sigma_referral_route=np.array(5.0),
               z_referral_route=np.tile([1.0, -1.0], (3, 1)))
    yb = m.simulate(d, big, seed=3)
    cj = d.modifier_codes[:, 0] == 0
    assert yb[cj].mean() > yb[~cj].mean() + 0.5
    identity = ChangeModel("mental_health", "gaussian", modifiers=["sex"])
    sd = np.nanstd(identity.design(cohort).y)
    assert identity.prior_scales(identity.design(cohort))[""]["sigma_modifier"] == \
        pytest.approx(0.5 * sd)


def test_spec_round_trip(cohort):
    m = ChangeModel("crime", "bernoulli", modifiers=["referral_route"])
    assert m.spec()["modifiers"] == ["referral_route"]
    assert ChangeModel.from_spec(m.spec()) == m
    assert ChangeModel("crime", modifiers="sex").modifiers == ("sex",)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"modifiers": ["modality"]}, "modality already has its own trajectories"),
    ({"modifiers": ["sex"], "covariates": ["age", "sex"]}, r"\['sex'\] are also in covariates"),
    ({"modifiers": ["sex"], "covariates": "age + sex"}, "also in covariates"),
    ({"modifiers": ["sex", "sex"]}, "names a column twice"),
])
def test_refused_requests(kwargs, match):
    with pytest.raises(ModelError, match=match):
        ChangeModel("crime", **kwargs)


def test_cohort_problems(cohort):
    with pytest.raises(ModelError, match="'nope' is not a person-level column"):
        ChangeModel("crime", modifiers=["nope"]).design(cohort)
    import copy

    c = copy.deepcopy(cohort)
    c.persons["const"] = "x"
    with pytest.raises(ModelError, match="has 1 level"):
        ChangeModel("crime", modifiers=["const"]).design(c)
    with pytest.raises(ModelError, match="modifiers=\\(\\)"):
        ChangeModel("crime", priors={"sigma_modifier": 0.2}).prior_scales(
            ChangeModel("crime").design(cohort))


def test_toml_spec_carries_modifiers():
    from dtors_bayes.workflow.spec import load_spec

    s = load_spec({"model": {"outcome": "crime", "modifiers": ["referral_route"],
                             "priors": {"sigma_modifier": 0.4}}})
    assert s.model().modifiers == ("referral_route",)
    with pytest.raises(Exception, match="modifiers"):
        load_spec({"model": {"outcome": "crime", "modifiers": "referral_route"}})
