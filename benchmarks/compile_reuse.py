"""Compiled-model reuse (``dtors_bayes.models.compiled``) against compiling every fit, side by
side in one process: wall time per fit and the posterior of the two paths.

Fits ``--fits`` simulated cohorts of the same structure (``--persons`` persons, MCAR, the
causal study's bernoulli change model without site/area levels, and with ``--selection`` the
selection model of ``kappa_recovery.py``), alternating the two paths cohort by cohort so that
machine load falls on both alike:

- ``reuse``: ``sample_model(..., reuse_compiled=True)`` (the default): data lifted out of the
  graph, the first fit compiles, later ones reuse;
- ``compile``: ``reuse_compiled=False``: ``pm.sample`` compiles the model with its data as
  constants, every fit.

Prints per path the median wall time of a fit (after the first, which compiles on both), the
ratio, and per cohort the largest difference of posterior means over the structural
parameters in units of their posterior sd (the two graphs differ, so the draws differ; the
posterior must not: expect differences of the order of Monte Carlo error, about
1/sqrt(ESS)).

Usage::

    python benchmarks/compile_reuse.py --fits 6 --persons 400
    python benchmarks/compile_reuse.py --fits 4 --persons 300 --selection
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from dtors_bayes._format import markdown_table

OUT = Path(__file__).resolve().parent / "results" / "compile_reuse.md"
COVARIATES = ["age", "sex", "primary_drug", "referral_route"]


def _fit(model, cohort, reuse: bool, args) -> tuple[dict, float, dict]:
    from dtors_bayes.models.diagnostics import diagnose
    from dtors_bayes.models.sampling import sample_model, stack_draws

    built = model.build(cohort)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree, _ = sample_model(built, draws=args.draws, tune=args.tune, chains=args.chains,
                               random_seed=args.seed, progressbar=False, cores=1,
                               reuse_compiled=reuse)
    wall = time.perf_counter() - t0
    names = [v.name for v in built.free_RVs if v.name != "z_person"]
    draws, _, _ = stack_draws(tree, names)
    diag = diagnose(tree).set_index("check")["value"]
    conv = {k: float(diag.get(k, np.nan)) for k in ("r_hat", "ess_bulk", "divergences")}
    return {k: (v.mean(axis=0), v.std(axis=0)) for k, v in draws.items()}, wall, conv


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=6, help="cohorts per path")
    ap.add_argument("--persons", type=int, default=400)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--selection", action="store_true", help="the selection model as well")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    import dtors_bayes as db
    from dtors_bayes.models import compiled
    from dtors_bayes.studies.design import cohort_kwargs

    models = {"mar": db.ChangeModel("acquisitive_crime", "bernoulli", time="wave",
                                    covariates=COVARIATES, levels=())}
    if args.selection:
        models["selection"] = db.ChangeModel(
            "acquisitive_crime", "bernoulli", time="wave", covariates=COVARIATES, levels=(),
            attrition=db.Selection(kappa=(0.0, 1.0)))
    rows, agree = [], []
    load0 = os.getloadavg()[0]
    for label, model in models.items():
        compiled.clear_cache()
        for i in range(args.fits):
            sim = db.simulate_cohort(1000 + i, **cohort_kwargs(
                args.persons, attrition="mcar", outcomes=["acquisitive_crime"],
                population_size=6000, n_population_areas=40))
            post = {}
            for reuse in ((True, False) if i % 2 == 0 else (False, True)):
                post[reuse], wall, conv = _fit(model, sim.cohort, reuse, args)
                rows.append({"model": label, "cohort": i, "path": "reuse" if reuse else
                             "compile", "wall_s": wall, **conv})
                print(f"{label} cohort {i} {'reuse' if reuse else 'compile'}: {wall:.1f} s",
                      flush=True)
            z = max(float(np.max(np.abs(post[True][k][0] - post[False][k][0])
                                 / np.maximum(post[False][k][1], 1e-12))) for k in post[True])
            agree.append({"model": label, "cohort": i, "max_mean_diff_in_sd": z})
    t = pd.DataFrame(rows)
    later = t[t["cohort"] > 0].groupby(["model", "path"])["wall_s"].median().unstack()
    first = t[t["cohort"] == 0].set_index(["model", "path"])["wall_s"].unstack()
    summ = pd.DataFrame({
        "model": later.index,
        "first_fit_reuse_s": first.loc[later.index, "reuse"].to_numpy(),
        "first_fit_compile_s": first.loc[later.index, "compile"].to_numpy(),
        "median_later_reuse_s": later["reuse"].to_numpy(),
        "median_later_compile_s": later["compile"].to_numpy(),
        "ratio_compile_to_reuse": (later["compile"] / later["reuse"]).to_numpy()})
    a = pd.DataFrame(agree)
    text = (f"# Compiled-model reuse against compiling every fit\n\n{args.fits} cohorts per "
            f"model, {args.persons} persons, {args.chains} x {args.draws} draws ({args.tune} "
            f"tuning), one core per fit, the two paths alternating; load average at the start "
            f"{load0:.2f}, at the end {os.getloadavg()[0]:.2f}.\n\n"
            + markdown_table(summ, ".2f") + "\n\nLargest difference of a structural "
            "parameter's posterior mean between the paths, in posterior sd, per cohort:\n\n"
            + markdown_table(a, ".3f") + "\n\nConvergence of every fit (worst structural R-hat, "
            "smallest bulk ESS, divergences; the agreement above is read against "
            "1/sqrt(ESS)):\n\n" + markdown_table(t, ".3f") + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
