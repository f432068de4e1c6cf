"""The JAX/numpyro sampler path against nutpie on the same model and cohort (GPU when present).

Fits the bernoulli MAR change model (``ChangeModel("acquisitive_crime", time="months",
levels=("site", "area"))``) on a simulated DTORS-shaped cohort of ``--persons`` persons with
``sampler="nutpie"`` (CPU) and ``sampler="numpyro"`` (JAX's default device: the GPU when
jax was installed with CUDA support), and prints for each: wall time, sampling time, min bulk
ESS of the structural parameters, ESS/s, the JAX device, and the largest difference between
the two fits' estimand means in units of their posterior sd (agreement check).

Needs the ``jax`` extra (``pip install -e '.[jax]'``; on a GPU machine
``pip install 'jax[cuda12]'`` as well). The tests never need it.

Usage::

    python benchmarks/numpyro_sampler.py --persons 1796 --draws 500 --tune 500
    python benchmarks/numpyro_sampler.py --persons 100000 --skip-nutpie   # GPU scaling
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUTCOME = "acquisitive_crime"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=1796)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-nutpie", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write this Markdown file")
    args = ap.parse_args(argv)
    import jax

    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.simulation.generate import simulate_cohort
    from dtors_bayes.studies.design import cohort_kwargs

    sim = simulate_cohort(args.seed, **cohort_kwargs(args.persons, attrition="mar",
                                                     outcomes=[OUTCOME]))
    model = ChangeModel(OUTCOME, "bernoulli", time="months", levels=("site", "area"))
    samplers = ["numpyro"] if args.skip_nutpie else ["nutpie", "numpyro"]
    rows, est = [], {}
    for s in samplers:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(sim.cohort, sampler=s, draws=args.draws, tune=args.tune,
                            chains=args.chains, random_seed=args.seed, progressbar=False)
        wall = time.perf_counter() - t0
        diag = fit.diagnostics().set_index("check")["value"]
        samp = float(fit.provenance["sampling_seconds"])
        ess = float(diag.get("ess_bulk", np.nan))
        e = fit.estimate()
        est[s] = e.set_index(["estimand", "wave", "modality", "contrast"])[["mean", "sd"]]
        rows.append((s, wall, samp, ess, ess / samp, float(diag.get("r_hat", np.nan))))
    device = str(jax.devices()[0])
    lines = ["# numpyro (JAX) sampler path vs nutpie", "",
             f"`python benchmarks/numpyro_sampler.py --persons {args.persons} --draws "
             f"{args.draws} --tune {args.tune}`; {args.chains} chains; JAX device `{device}`; "
             f"host {platform.machine()}, jax {jax.__version__}.", "",
             "| sampler | wall s | sampling s | min bulk ESS | ESS/s | max R-hat |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {s} | {w:.1f} | {sp:.1f} | {e:.0f} | {r:.2f} | {h:.3f} |"
              for s, w, sp, e, r, h in rows]
    if len(est) == 2:
        a, b = est["nutpie"], est["numpyro"]
        z = ((a["mean"] - b["mean"]).abs() / np.sqrt((a["sd"] ** 2 + b["sd"] ** 2) / 2)).dropna()
        lines += ["", f"Estimand means (n = {len(z)}): largest difference "
                  f"{(a['mean'] - b['mean']).abs().max():.4f}, i.e. {z.max():.2f} posterior sd "
                  f"(median {z.median():.2f} sd)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
