"""Studies room: frequentist coverage studies and simulation-based calibration (SBC), run on
Dask and cached per task, and the TOML study files of ``dtors-bayes study``.

- :mod:`~dtors_bayes.studies.seeds`: seeds, settings hashes and names of study tasks
  (:func:`replicate_seeds`, :func:`settings_hash`, :func:`key_name`: cache keys spell this
  room's definitions by their pre-room module paths, so caches survive moves).
- :mod:`~dtors_bayes.studies.design`: what a study crosses, :class:`Scenario` (how cohorts
  are simulated) and :class:`Method` (how they are analysed), and
  :func:`estimates_with_intervals`, :func:`cohort_kwargs`.
- :mod:`~dtors_bayes.studies.execute`: tasks on a Dask cluster, each cached as a Parquet file
  (:func:`execute`, :func:`dask_client`, :class:`Task`).
- :mod:`~dtors_bayes.studies.coverage`: truth joining, coverage arithmetic and the study
  itself (:func:`coverage_study`, :func:`coverage_study_in_rounds`,
  :func:`summarize_coverage`, :class:`StudyResult`).
- :mod:`~dtors_bayes.studies.files`: TOML study files (:func:`read_study_file`,
  :func:`run_study_file`).
- :mod:`~dtors_bayes.studies.sbc_ranks`, :mod:`~dtors_bayes.studies.sbc_design`,
  :mod:`~dtors_bayes.studies.sbc`: SBC's rank arithmetic, its design, frozen priors and
  simulated data sets, and the study (:func:`sbc_study`, :class:`SBCResult`).

Layer: this room may import every other room but ``workflow``, which imports it
(``tests/test_architecture.py``). Package code imports from the defining modules, never
through this ``__init__``.
"""

from __future__ import annotations

from dtors_bayes.studies.coverage import (
    StudyResult,
    add_coverage_columns,
    converged,
    coverage_study,
    coverage_study_in_rounds,
    join_truth,
    select_estimands,
    summarize_coverage,
    write_study_outputs,
)
from dtors_bayes.studies.design import (
    CELL_KEYS,
    ESTIMAND_KEYS,
    Method,
    Scenario,
    cohort_kwargs,
    estimates_with_intervals,
)
from dtors_bayes.studies.execute import (
    CACHE_VERSION,
    THREAD_ENV,
    Execution,
    Task,
    dask_client,
    default_n_workers,
    execute,
)
from dtors_bayes.studies.files import read_study_file, run_study_file
from dtors_bayes.studies.sbc import SBCResult, sbc_study
from dtors_bayes.studies.sbc_design import (
    LEVEL_LAST,
    SBC_OUTCOMES,
    SBC_VERSION,
    frozen_priors,
    frozen_response_centres,
    ranked_names,
    selection_template,
    simulate_dataset,
)
from dtors_bayes.studies.sbc_ranks import (
    ecdf_difference,
    pit_values,
    rank_statistic,
    summarize_ranks,
    uniformity_test,
)
from dtors_bayes.studies.seeds import (
    KEY_MODULES,
    json_default,
    key_name,
    name_key,
    replicate_seeds,
    settings_hash,
)

__all__ = [
    "CACHE_VERSION",
    "CELL_KEYS",
    "ESTIMAND_KEYS",
    "KEY_MODULES",
    "LEVEL_LAST",
    "SBC_OUTCOMES",
    "SBC_VERSION",
    "THREAD_ENV",
    "Execution",
    "Method",
    "SBCResult",
    "Scenario",
    "StudyResult",
    "Task",
    "add_coverage_columns",
    "cohort_kwargs",
    "converged",
    "coverage_study",
    "coverage_study_in_rounds",
    "dask_client",
    "default_n_workers",
    "ecdf_difference",
    "estimates_with_intervals",
    "execute",
    "frozen_priors",
    "frozen_response_centres",
    "join_truth",
    "json_default",
    "key_name",
    "name_key",
    "pit_values",
    "rank_statistic",
    "ranked_names",
    "read_study_file",
    "replicate_seeds",
    "run_study_file",
    "sbc_study",
    "select_estimands",
    "selection_template",
    "settings_hash",
    "simulate_dataset",
    "summarize_coverage",
    "summarize_ranks",
    "uniformity_test",
    "write_study_outputs",
]
