"""Shared fixtures and the no-sampling guard of the fast tier.

- ``frames`` / ``hand_cohort``: the eight-person cohort written by hand
  (:func:`dtors_bayes.testing.hand_frames`), for the data-contract tests. Not to be confused
  with the generated :func:`dtors_bayes.testing.tiny_cohort` (*n* random persons, every family).
- ``tiny_fit``: the one small real fit that several rooms' tests share (session-scoped; every
  test that requests it must be marked ``integration``).
- The guard: in a test *not* marked ``integration``, running NUTS raises
  :class:`SamplingInFastTier`, so ``pytest -m "not integration"`` really samples nothing.
  The guard holds for the whole setup of a test, so it also catches module- and session-scoped
  fixtures that sample (they are set up inside the first test that requests them). It does not
  reach subprocesses or Dask workers: tests that start those are marked by hand.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pytest

from dtors_bayes.testing import TINY_SAMPLER, hand_frames
from dtors_bayes.testing import hand_cohort as _hand_cohort


# ---------------------------------------------------------------------- no sampling guard
class SamplingInFastTier(RuntimeError):
    """Raised when a test outside the ``integration`` tier runs the sampler."""


_GUARD: dict = {"allowed": True, "test": None, "refused": []}


def _refuse(name):
    def refused(*args, **kwargs):
        if _GUARD["allowed"]:
            return ORIGINALS[name](*args, **kwargs)
        _GUARD["refused"].append(_GUARD["test"])
        raise SamplingInFastTier(
            f"{_GUARD['test']} calls {name}: this test samples: mark it @pytest.mark.integration "
            "(a fixture that samples counts: mark every test that requests it)")

    refused.__wrapped__ = ORIGINALS[name]
    return refused


ORIGINALS: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture of ``item`` is set up: may this test sample?"""
    _GUARD["allowed"] = item.get_closest_marker("integration") is not None
    _GUARD["test"] = item.nodeid


def pytest_terminal_summary(terminalreporter):
    """Name the tests in which the guard refused to sample, so that a refusal that code under
    test caught and swallowed (a study recording a failed replicate, say) is still seen."""
    refused = sorted(set(_GUARD["refused"]))
    if refused:
        terminalreporter.write_line(
            f"no-sampling guard refused {len(_GUARD['refused'])} call(s) in: " + ", ".join(refused))


@pytest.fixture(scope="session", autouse=True)
def _no_sampling_outside_integration():
    """Wrap the two ways into NUTS so that they refuse outside the integration tier.

    ``pymc.sample`` and ``nutpie.sample`` are the calls that sample (``sample_model`` reaches
    nutpie directly when it reuses compiled models, :mod:`dtors_bayes.models.compiled`, and
    through ``pymc.sample`` otherwise); ``sample_model`` is wrapped as well so that the error
    names the package's entry point. Argument errors that ``sample_model``
    raises before sampling are not sampling and need no mark. Session-scoped and autouse, so
    it is in place before any other session- or module-scoped fixture is set up.
    """
    import nutpie
    import pymc

    from dtors_bayes.models import compiled, sampling

    ORIGINALS["pymc.sample"] = pymc.sample
    ORIGINALS["nutpie.sample"] = nutpie.sample
    ORIGINALS["compiled_nutpie"] = compiled.compiled_nutpie  # refuses before compiling
    ORIGINALS["sample_model"] = sampling.sample_model

    def sample_model(*args, **kwargs):
        # Through the real function: its argument checks run, and its sampler call refuses.
        try:
            return ORIGINALS["sample_model"](*args, **kwargs)
        except SamplingInFastTier as err:
            msg = str(err)
            for name in ("pymc.sample", "nutpie.sample", "compiled_nutpie"):
                msg = msg.replace(f"calls {name}", "calls dtors_bayes.models.sampling.sample_model")
            raise SamplingInFastTier(msg) from None

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pymc, "sample", _refuse("pymc.sample"))
        mp.setattr(nutpie, "sample", _refuse("nutpie.sample"))
        mp.setattr(compiled, "compiled_nutpie", _refuse("compiled_nutpie"))
        mp.setattr(sampling, "sample_model", sample_model)
        yield


# ---------------------------------------------------------------------- the hand cohort
@pytest.fixture
def frames() -> dict:
    """Fresh copies of the hand-written cohort's tables (persons, interviews, population)."""
    return hand_frames()


@pytest.fixture
def hand_cohort(frames):
    """The hand-written eight-person cohort, built with :meth:`Cohort.from_frames`."""
    return _hand_cohort(frames)


# ---------------------------------------------------------------------- one shared tiny fit
@dataclass(frozen=True)
class TinyFit:
    """The shared tiny fit, its cohort and the ``UserWarning`` messages of fitting it."""

    fit: object
    cohort: object
    warnings: list[str]


#: The shared tiny fit: Bernoulli ``crime``, covariates age and sex, months basis, site and
#: area levels, on ``tiny_cohort(100, seed=5)``, TINY_SAMPLER, random_seed 11.
TINY_FIT_COHORT = {"n": 100, "seed": 5}
TINY_FIT_MODEL = {"outcome": "crime", "family": "bernoulli", "covariates": ["age", "sex"],
                  "time": "months"}


@pytest.fixture(scope="session")
def tiny_fit_run() -> TinyFit:
    """Fit the shared tiny model once per session (mark every user ``integration``)."""
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.testing import tiny_cohort

    cohort = tiny_cohort(TINY_FIT_COHORT["n"], seed=TINY_FIT_COHORT["seed"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = ChangeModel(**TINY_FIT_MODEL).fit(cohort, random_seed=11, **TINY_SAMPLER)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return TinyFit(fit, cohort, messages)


@pytest.fixture(scope="session")
def tiny_fit(tiny_fit_run):
    """The shared tiny :class:`~dtors_bayes.models.fit.Fit` (do not attach weights to it)."""
    return tiny_fit_run.fit


@pytest.fixture(scope="session")
def tiny_fit_cohort(tiny_fit_run):
    """The cohort of :func:`tiny_fit`."""
    return tiny_fit_run.cohort
