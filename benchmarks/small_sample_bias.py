"""Small-sample bias of the MAR change model's FU2 crime level under MCAR (diagnostic).

The attrition coverage study (300 persons, MCAR) shows the MAR model's FU2 level above the
sample truth while complete cases are not. This refits its first ``--reps`` MCAR replicates
(same seeds and settings) with ``modality_by_time=True`` (15 independent modality x wave
levels, the default) and ``False`` (3 wave levels plus a constant modality effect) and prints
the mean error of each against the truth, with its Monte Carlo standard error.

Usage::

    python benchmarks/small_sample_bias.py --reps 8
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from attrition_coverage import COVARIATES, OUTCOME, build

from dtors_bayes.change_model import ChangeModel
from dtors_bayes.studies import replicate_seeds


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--persons", type=int, default=300)
    ap.add_argument("--backend", default="jax", choices=["jax", "numba"])
    args = ap.parse_args(argv)
    scen, _ = build(argparse.Namespace(persons=args.persons, draws=150, tune=150,
                                       backend=args.backend))
    sc = next(s for s in scen if s.name == "mcar")
    errors = []
    for r in range(args.reps):
        sim_seed, fit_seed = replicate_seeds(0, "mcar", r)
        sim = sc.simulate(sim_seed)
        e = sim.truth.estimands
        truth = float(e[(e.population == "sample") & (e.wave == 2) & (e.estimand == "level")
                        & (e.outcome == OUTCOME)].value.iloc[0])
        row = []
        for by_time in (True, False):
            m = ChangeModel(OUTCOME, "bernoulli", time="wave", covariates=COVARIATES,
                            levels=(), modality_by_time=by_time)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = m.fit(sim.cohort, draws=150, tune=150, chains=2, random_seed=fit_seed,
                          progressbar=False, backend=args.backend)
            t = f.estimate()
            row.append(float(t[(t.estimand == "level") & (t.wave == 2)
                               & (t.modality.fillna("") == "")]["mean"].iloc[0]) - truth)
        errors.append(row)
        print(f"replicate {r}: truth {truth:.3f}, error by_time=True {row[0]:+.3f}, "
              f"False {row[1]:+.3f}", flush=True)
    a = np.array(errors)
    for j, label in enumerate(("modality_by_time=True", "modality_by_time=False")):
        print(f"{label}: mean error {a[:, j].mean():+.3f} "
              f"(MCSE {a[:, j].std(ddof=1) / np.sqrt(len(a)):.3f}, {len(a)} replicates)")


if __name__ == "__main__":
    main()
