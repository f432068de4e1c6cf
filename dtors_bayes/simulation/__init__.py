"""Simulation: a DTORS-shaped cohort with known truth, and the bundled example data.

- :mod:`~dtors_bayes.simulation.population`: an NDTMS-like treated population (sites, areas,
  modalities, case mix) and biased recruitment into the cohort;
- :mod:`~dtors_bayes.simulation.truth`: the outcome process, its calibration to the published
  DTORS figures, and the true estimands (the oracle of every recovery and coverage study);
- :mod:`~dtors_bayes.simulation.confounder`: the true confounding functions of the
  unmeasured confounder U and the contrasts that adjustment for the covariates targets;
- :mod:`~dtors_bayes.simulation.modifiers` and :mod:`~dtors_bayes.simulation.economics`: the
  subgroup truth and the economic truth (true QALY and crime paths);
- :mod:`~dtors_bayes.simulation.generate`: :func:`simulate_cohort` (outcomes, interview
  dates, MCAR / MAR / MNAR attrition);
- :mod:`~dtors_bayes.simulation.bundle`: the bundled cohort as files (``example/``, shipped
  inside the package and read through :mod:`importlib.resources`), :func:`load_example`.

May import: the core modules, ``models`` (families) and ``data`` (the cohort contract).
"""

from dtors_bayes.simulation.bundle import (
    DATA_DIR,
    data_dictionary,
    load_example,
    load_example_truth,
    read_bundle,
    write_bundle,
)
from dtors_bayes.simulation.generate import SimulatedCohort, simulate_cohort
from dtors_bayes.simulation.truth import Truth

__all__ = [
    "DATA_DIR",
    "SimulatedCohort",
    "Truth",
    "data_dictionary",
    "load_example",
    "load_example_truth",
    "read_bundle",
    "simulate_cohort",
    "write_bundle",
]
