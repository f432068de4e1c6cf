"""Side by side: the person effect sampled (non-centred z_person) vs integrated out by
Gauss-Hermite quadrature (``ChangeModel(person_effect="quadrature")``).

Both fit the same posterior; the question is mixing per second. For each case and
repetition the two variants fit the same cohort with the same seed, one after the other in
one process (so the machine load is shared; it is printed). Reported per fit: wall time
(compile, sampling and, for quadrature, the conditional z_person draws), the worst bulk ESS
over the structural scalars (``sigma_*``, ``kappa``, ``mu_time``) and which one it is, ESS/s
on it, sigma_person's ESS, the maximum R-hat over those scalars, divergences, and kappa's
posterior mean for selection fits.

Cases:
- ``small_mar``: the attrition study's cohort (300 persons, MCAR, covariates, no site/area
  levels), bernoulli MAR;
- ``small_selection``: the same with ``Selection(kappa=(0, 1))``;
- ``bundled``: the bundled 1796-person cohort, acquisitive crime with covariates, sites and
  areas (the [engine] side-by-side case).

Run: ``python benchmarks/person_quadrature.py --cases small_selection small_mar bundled
--reps 3`` (writes ``benchmarks/results/person_quadrature.md``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _cohort(case: str, rep: int):
    import dtors_bayes as db
    from dtors_bayes.studies.design import cohort_kwargs

    if case == "bundled":
        return db.load_example()
    kw = cohort_kwargs(300, attrition="mcar", outcomes=["acquisitive_crime"],
                       heroin_drives_response=False, population_size=6000,
                       n_population_areas=40)
    return db.simulate_cohort(100 + rep, **kw).cohort


def _model(case: str, person_effect: str):
    from attrition_coverage import COVARIATES

    import dtors_bayes as db
    from dtors_bayes.models.selection import Selection

    if case == "bundled":
        return db.ChangeModel("acquisitive_crime", "bernoulli",
                              covariates=["age", "sex", "primary_drug"],
                              person_effect=person_effect)
    att = Selection(kappa=(0.0, 1.0)) if case == "small_selection" else "mar"
    return db.ChangeModel("acquisitive_crime", "bernoulli", covariates=COVARIATES, levels=(),
                          attrition=att, person_effect=person_effect)


def one(case: str, rep: int, person_effect: str, draws: int) -> dict:
    import arviz_stats as azs

    cohort = _cohort(case, rep)
    model = _model(case, person_effect)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(cohort, draws=draws, tune=1000, chains=4, random_seed=rep,
                        progressbar=False)
    wall = time.perf_counter() - t0
    post = fit.posterior
    names = [v for v in post.data_vars if v.startswith(("sigma_", "kappa", "mu_time"))]
    ess = {v: float(np.min(azs.ess(post[v]).values)) for v in names}
    rhat = max(float(np.max(azs.rhat(post[v]).values)) for v in names)
    worst = min(ess, key=ess.get)
    return {"case": case, "rep": rep, "person_effect": person_effect, "wall_s": wall,
            "worst": worst, "worst_ess": ess[worst], "ess_per_s": ess[worst] / wall,
            "sigma_person_ess": ess.get("sigma_person", float("nan")), "max_rhat": rhat,
            "divergences": int(fit.tree["sample_stats"]["diverging"].sum()),
            "kappa_mean": float(post["kappa"].mean()) if "kappa" in post else float("nan")}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["small_selection", "small_mar", "bundled"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--out", default=str(HERE / "results" / "person_quadrature.md"))
    args = ap.parse_args(argv)
    import pandas as pd

    from dtors_bayes._format import markdown_table

    rows = []
    out = Path(args.out)
    for case in args.cases:
        for rep in range(args.reps if case != "bundled" else 1):
            for pe in ("sampled", "quadrature"):
                load = os.getloadavg()[0]
                r = one(case, rep, pe, args.draws)
                r["load_1min"] = load
                rows.append(r)
                print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in r.items()), flush=True)
                table = pd.DataFrame(rows)
                ratio = (table.pivot_table(index=["case", "rep"], columns="person_effect",
                                           values="ess_per_s"))
                text = ["# Person effect: sampled vs Gauss-Hermite quadrature", "",
                        f"4 chains x {args.draws} draws (tune 1000), cores = one per chain "
                        f"({os.cpu_count()} CPUs); `load_1min` is the machine's load when "
                        "each fit started (other jobs ran alongside).", "",
                        markdown_table(table, floatfmt=".3g"), "",
                        "ESS/s on the worst structural scalar (quadrature / sampled):", "",
                        (markdown_table(ratio.assign(
                            ratio=ratio.get("quadrature") / ratio.get("sampled"))
                            .reset_index(), floatfmt=".3g") if "quadrature" in ratio else ""),
                        ""]
                out.write_text("\n".join(text))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
