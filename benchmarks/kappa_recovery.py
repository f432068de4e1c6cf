"""Where the selection model's kappa lands when the truth is known, on Dask.

The [validity] check of the selection model: under MCAR (true kappa 0) the posterior mean of
kappa, averaged over replicates, must sit within +-0.15 of 0, for ``time="wave"`` and for
``time="months"`` (the months basis is a proper probability model since the non-responders
are integrated over their stage's interview months; the DTORS simulator spreads interview
dates: 3-5, 11-13 and 6-12 months). Under MNAR (strength 1: kappa_eff = -1) with a prior that
contains the truth it must move towards -1.

Scenarios (``simulate_cohort``, ``heroin_drives_response=False`` so response depends on the
analysed outcome only): ``mcar`` and, with ``--mnar``, ``mnar_1.0``. Methods:
``selection_wave`` and ``selection_months``: ``ChangeModel(acquisitive_crime, covariates
age + sex + primary_drug + referral_route, levels=(), attrition=Selection(kappa ~
N(prior_mean, --prior-sd)))`` with ``prior_mean`` = the scenario's kappa_eff. Every row
carries the kappa posterior (mean, sd, 5% and 95% quantiles) and the prior, so the table
gives kappa's prior-to-posterior shift per fit, and the FU1/FU2 levels and changes are
scored against the truth. Convergence: share of fits with structural R-hat <= 1.01 and no
divergences (``share_converged``).

With ``--person-effect quadrature`` the person intercept is integrated out by Gauss-Hermite
quadrature (``ChangeModel(person_effect="quadrature")``: kappa mixes 2-3x better per draw,
``benchmarks/results/person_quadrature.md``); the methods are then ``selection_wave_quadrature``
and ``selection_months_quadrature``; ``--quadrature-nodes 30`` names them
``selection_wave_quadrature30`` (same cohorts: the replicate seeds do not depend on the
method).

Usage::

    python benchmarks/kappa_recovery.py --replicates 100 --workers 2
    python benchmarks/kappa_recovery.py --replicates 100 --person-effect quadrature --times wave
    python benchmarks/kappa_recovery.py --cached-only
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from study_cli import run_rounds, sampler_kwargs, study_parser

from dtors_bayes._format import markdown_table
from dtors_bayes.studies.coverage import converged
from dtors_bayes.studies.design import Method, Scenario

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "kappa_recovery"
CACHE = HERE / "cache" / "kappa_recovery"
OUTCOME = "acquisitive_crime"
COVARIATES = ["age", "sex", "primary_drug", "referral_route"]
ESTIMANDS = [{"estimand": e, "wave": w} for e in ("level", "change") for w in (1, 2)]


def selection_fn(cohort, seed, sim, model_kwargs, sampler_kwargs) -> pd.DataFrame:
    """Fit the selection model; overall estimates plus the kappa posterior summary."""
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.models.selection import Selection
    from dtors_bayes.studies.design import estimates_with_intervals

    prior = (sim.effective_kappa, float(model_kwargs["prior_sd"]))
    model = ChangeModel(OUTCOME, "bernoulli", time=model_kwargs["time"], covariates=COVARIATES,
                        levels=(), attrition=Selection(kappa=prior),
                        person_effect=model_kwargs.get("person_effect", "sampled"),
                        **({"quadrature_nodes": model_kwargs["quadrature_nodes"]}
                           if "quadrature_nodes" in model_kwargs else {}))
    kw = {**sampler_kwargs, "random_seed": int(seed), "progressbar": False, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(cohort, **kw)
    est = estimates_with_intervals(fit)
    for col in ("modality", "contrast"):
        est[col] = est[col].fillna("").astype(str)
    est = est[(est["modality"] == "") & (est["contrast"] == "")
              & est["estimand"].isin(["level", "change"])].reset_index(drop=True)
    k = fit.posterior["kappa"].values.ravel()
    est["extra_kappa_mean"] = float(k.mean())
    est["extra_kappa_sd"] = float(k.std())
    est["extra_kappa_q05"], est["extra_kappa_q95"] = (float(q) for q in np.quantile(k, [.05, .95]))
    est["extra_kappa_prior_mean"], est["extra_kappa_prior_sd"] = prior
    est["extra_kappa_true"] = sim.effective_kappa
    return est


def kappa_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (scenario, method): kappa's posterior mean over replicates and more."""
    one = table.drop_duplicates(["scenario", "method", "replicate"])
    rows = []
    for (sc, me), g in one.groupby(["scenario", "method"], sort=False):
        conv = converged(g)
        mc = g.loc[conv, "extra_kappa_mean"].to_numpy(float)
        m = g["extra_kappa_mean"].to_numpy(float)
        truth = float(g["extra_kappa_true"].iloc[0])
        inside = (g["extra_kappa_q05"] <= truth) & (truth <= g["extra_kappa_q95"])
        shift = (g["extra_kappa_mean"] - g["extra_kappa_prior_mean"]) / g["extra_kappa_prior_sd"]
        rows.append({
            "scenario": sc, "method": me, "n_reps": len(g), "kappa_true": truth,
            "kappa_mean": m.mean(), "kappa_mean_mcse": m.std(ddof=1) / np.sqrt(len(m)),
            "kappa_mean_converged": float(mc.mean()) if mc.size else np.nan,
            "kappa_mean_converged_mcse": float(mc.std(ddof=1) / np.sqrt(mc.size))
            if mc.size > 1 else np.nan,
            "n_converged": int(conv.sum()),
            "posterior_sd": float(g["extra_kappa_sd"].mean()),
            "prior_sd": float(g["extra_kappa_prior_sd"].iloc[0]),
            "shift_in_prior_sd": float(shift.mean()),
            "coverage90": float(inside.mean()),
            "share_converged": float(conv.mean()),
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    ap = study_parser(__doc__.splitlines()[0], persons=300, out=OUT, cache=CACHE)
    ap.add_argument("--prior-sd", type=float, default=1.0)
    ap.add_argument("--mnar", action="store_true", help="add the MNAR (strength 1) scenario")
    ap.add_argument("--times", nargs="+", default=["wave", "months"])
    ap.add_argument("--quadrature-nodes", type=int, default=None,
                    help="Gauss-Hermite nodes of --person-effect quadrature (default the "
                         "model's 15); other values get their own method names and cache keys")
    args = ap.parse_args(argv)
    if args.quadrature_nodes is not None and args.person_effect != "quadrature":
        ap.error("--quadrature-nodes needs --person-effect quadrature")
    kinds = {"mcar": ("mcar", 1.0)} | ({"mnar_1.0": ("mnar", 1.0)} if args.mnar else {})
    scen = [Scenario(name, {"n_persons": args.persons, "attrition": kind, "strength": s,
                            "outcomes": [OUTCOME], "heroin_drives_response": False,
                            "population_size": 6000, "n_population_areas": 40})
            for name, (kind, s) in kinds.items()]
    samp = sampler_kwargs(args)
    # --person-effect quadrature: the person intercept integrated out (own names, cache keys)
    person = {"person_effect": args.person_effect} if args.person_effect != "sampled" else {}
    suffix = "" if not person else f"_{args.person_effect}"
    if args.quadrature_nodes is not None:  # e.g. selection_wave_quadrature30
        person["quadrature_nodes"] = args.quadrature_nodes
        suffix += str(args.quadrature_nodes)
    methods = [Method(f"selection_{t}{suffix}",
                      model_kwargs={"time": t, "prior_sd": args.prior_sd, **person},
                      method_fn=selection_fn, sampler_kwargs=samp) for t in args.times]
    res = run_rounds(scen, methods, args, name="kappa_recovery", estimands=ESTIMANDS)
    args.out.mkdir(parents=True, exist_ok=True)
    kt = kappa_table(res.table)
    summ = res.summary()
    res.table.to_csv(args.out / "table.csv", index=False)
    kt.to_csv(args.out / "kappa.csv", index=False)
    summ.to_csv(args.out / "summary.csv", index=False)
    text = (f"# Kappa recovery ({args.persons} persons, {args.chains} x {args.draws} draws, "
            f"target_accept {args.target_accept}, "
            f"kappa ~ N(truth, {args.prior_sd}))\n\n## Kappa\n\n" + markdown_table(kt, ".3f")
            + "\n\n## Levels and changes\n\n" + markdown_table(summ, ".3f") + "\n")
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
