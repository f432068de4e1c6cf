"""The fast tier's no-sampling guard (tests/conftest.py): outside ``integration`` the sampler
refuses, in a test and in the module-scoped fixtures it sets up; inside, it runs.

No test here samples: the refusals come before NUTS, and the integration check calls
``pymc.sample`` without a model, which PyMC itself refuses at once.
"""

from __future__ import annotations

import pymc as pm
import pytest

from dtors_bayes.exceptions import FitError

GUARD = "this test samples: mark it @pytest.mark.integration"


def _model():
    with pm.Model() as m:
        pm.Normal("x")
    return m


@pytest.fixture(scope="module")
def module_fixture_that_samples():
    """A module-scoped fixture that samples: set up inside the first test that requests it."""
    try:
        with _model():
            pm.sample(draws=5, tune=5, chains=1, progressbar=False)
    except RuntimeError as err:
        return err
    return None


def test_pymc_sample_refuses_outside_integration():
    with _model(), pytest.raises(RuntimeError, match=GUARD) as err:
        pm.sample(draws=5, tune=5, chains=1, progressbar=False)
    assert type(err.value).__name__ == "SamplingInFastTier"
    assert "test_pymc_sample_refuses_outside_integration calls pymc.sample" in str(err.value)


def test_nutpie_sample_refuses_outside_integration():
    """The reused-compilation path calls nutpie directly (dtors_bayes.models.compiled)."""
    import nutpie

    with pytest.raises(RuntimeError, match=GUARD) as err:
        nutpie.sample(None, draws=5, tune=5, chains=1)
    assert "calls nutpie.sample" in str(err.value)


def test_sample_model_refuses_and_names_itself():
    from dtors_bayes.models.sampling import sample_model

    with pytest.raises(RuntimeError, match="calls dtors_bayes.models.sampling.sample_model"):
        sample_model(_model(), draws=5, tune=5, chains=1, random_seed=0, progressbar=False)
    # its argument checks still run (they come before any sampling)
    with pytest.raises(FitError, match="backend='cuda'"):
        sample_model(_model(), draws=5, tune=5, chains=1, random_seed=0, backend="cuda")


def test_a_fit_refuses_outside_integration():
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.testing import TINY_SAMPLER, tiny_cohort

    with pytest.raises(RuntimeError, match=GUARD):
        ChangeModel("crime", levels=()).fit(tiny_cohort(30), random_seed=1, **TINY_SAMPLER)


def test_a_module_scoped_fixture_that_samples_is_caught(module_fixture_that_samples):
    err = module_fixture_that_samples
    assert type(err).__name__ == "SamplingInFastTier" and GUARD in str(err)


@pytest.mark.integration
def test_integration_tests_reach_the_sampler():
    with pytest.raises(TypeError, match="No model on context stack"):
        pm.sample(draws=5, tune=5, chains=1, progressbar=False)
