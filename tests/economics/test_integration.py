"""From real (tiny) fits to the decision table: the whole path runs (integration tier)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dtors_bayes.economics import inputs as I
from dtors_bayes.economics.evaluation import NONE, economic_draws
from dtors_bayes.economics.paths import TREATED, outcome_paths
from dtors_bayes.testing import TINY_SAMPLER, tiny_cohort

pytestmark = pytest.mark.integration


def test_tiny_fits_to_cea():
    from dtors_bayes.models.change_model import ChangeModel

    cohort = tiny_cohort(80, seed=3)
    kw = {**TINY_SAMPLER, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fu = ChangeModel("eq5d", "eq5d", time="wave", levels=()).fit(cohort, random_seed=1, **kw)
        fc = ChangeModel("crime", "bernoulli", time="wave", levels=()).fit(cohort, random_seed=2,
                                                                            **kw)
    pu, pc = outcome_paths(fu, delta=(0.2, 0.2)), outcome_paths(fc)
    est = fu.estimate()
    assert pu.values[:, 0, 0].mean() == pytest.approx(
        est[(est.estimand == "level") & (est.wave == 0)]["mean"].iloc[0], abs=0.05)
    ed = economic_draws(pu, pc, treatment_cost=I.gamma(4531.0, 1000.0),
                        crime_unit_cost=I.gamma(3000.0, 900.0), stolen_value=I.beta(0.5, 0.1),
                        crime_costs="transfer")
    t = ed.cea([20000.0, 30000.0], perspective="societal")
    assert np.isfinite(t["mcse_nb"]).all()
    assert set(t["option"]) >= {NONE, TREATED}
    ev = ed.evppi(30000.0, perspective="societal", options=[NONE, TREATED])
    assert {"delta_eq5d", "crime_unit_cost"} <= set(ev["inputs"])
    # the pairing of the two fits' draws: estimated from the data, and its sensitivity
    from dtors_bayes.economics.evaluation import pairing_sensitivity
    from dtors_bayes.economics.pairing import pairing_correlation

    r = pairing_correlation(fu, fc)
    assert -1 <= r["ci_lb"] <= r["r"] <= r["ci_ub"] <= 1 and r["n_persons"] >= 4
    t = pairing_sensitivity(pu, pc, rank_correlations=(-1.0, r["r"], 1.0),
                            treatment_cost=4531.0, crime_unit_cost=3000.0)
    w = t.set_index("rank_correlation")["width"]
    assert w[-1.0] < w[1.0] and t["width_ratio"].iloc[0] == 1.0
