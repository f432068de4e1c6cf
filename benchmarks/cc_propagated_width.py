"""Complete-case intervals: propagated weight draws against the fixed-weight linearisation.

No MCMC: only the design-based complete-case estimator
(:func:`dtors_bayes.weighting.complete_case.complete_case_estimates`). Each replicate
simulates one cohort (the weighting study's scenario: ``n_persons=500``, sites, areas and
response counts scaled from DTORS, ``recruitment_bias=1``, ``population_size=20000``,
``n_population_areas=60``, MAR attrition) and estimates the target-population level at
each wave and the change from intake of ``employed`` and ``acquisitive_crime`` by

- ``lin_person`` / ``lin_area``: fixed DTORS-style weights, linearisation (Taylor)
  standard error with persons or areas (the first-stage units) as primary sampling units,
  weights taken as known, normal 90% interval;
- ``lin_person_est`` / ``lin_area_est``: the same estimate, linearised with the weights'
  estimation (raking as GREG residuals, the response model's score;
  ``complete_case_estimates(linearisation="estimated")``);
- ``bb_<bootstrap>``: ``--draws`` propagated weight draws (Bayesian bootstrap, raking and
  weighted-likelihood-bootstrap response model, trimmed per copy), equal-tailed 90%
  interval, for each Bayesian-bootstrap design of ``--bootstraps``
  (:func:`dtors_bayes.weighting.draws.bootstrap_stages`); ``design+unbiased`` is the
  ``design`` bootstrap with ``correction="unbiased"`` (Dirichlet((J-2)/J) over the J areas).

Reported per outcome, estimand and wave: the mean over replicates of the width ratio
(propagated / linearisation, each bootstrap against the linearisation with the matching
units: ``persons`` against ``lin_person``, ``design`` (areas) and ``multistage`` against
``lin_area``; ``ratio_est_*`` against the estimated-weights linearisation) with its Monte
Carlo standard error (sd of the per-replicate ratios / sqrt(R)), and the 90% coverage of
the simulator's true target-population value with its binomial Monte Carlo error
sqrt(c (1 - c) / R). Complete-case crime under MAR is biased
(response depends on the previous outcome, which the CC response model omits), so its
coverage is reported but the width target (within 10% of linearisation, nominal coverage)
is read on ``employed``.

A second table calibrates every method's standard error against the replicates' own
spread: the mean half-width over ``z_0.95`` divided by the empirical sd of (estimate -
truth) over replicates (1 = the interval's width matches the estimator's actual sampling
variability; bias is excluded), with Monte Carlo error ``ratio / sqrt(2 (R - 1))``.

Replicates run until ``--replicates`` or ``--minutes`` (one core, numpy only). The weight
draws do not depend on the outcome, so the two outcomes of a replicate share them (a memo
around :func:`dtors_bayes.weighting.draws.weight_draw_arrays`, patched in as the name
``dtors_bayes.weighting.complete_case`` calls; the estimates still go through
``complete_case_estimates``).

``--spread R`` instead runs R replicates of the point estimates only (fixed weights, no
weight draws; about 0.4 s each) and prints, per estimand, the estimator's actual sampling
sd over replicates, its bias, the coverage an interval with that exact sd would have
(``oracle_cov``), and each linearisation's sqrt(mean SE^2) over that sd (Monte Carlo se
``1 / sqrt(2 (R - 1))``): the reference the propagated widths are read against in the
results file.

Usage::

    python benchmarks/cc_propagated_width.py --spread 1500
    python benchmarks/cc_propagated_width.py --minutes 10
    python benchmarks/cc_propagated_width.py --replicates 20 --draws 200 --out /tmp/x.md
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from dtors_bayes._format import markdown_table
from dtors_bayes.studies.design import Scenario
from dtors_bayes.weighting import complete_case
from dtors_bayes.weighting.complete_case import complete_case_estimates
from dtors_bayes.weighting.response import fixed_weights

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "cc_propagated_width.md"
OUTCOMES = ("employed", "acquisitive_crime")
CI = 0.90
KEYS = [("level", 0), ("level", 1), ("level", 2), ("change", 1), ("change", 2)]


_DRAWS = complete_case.weight_draw_arrays
_MEMO: dict = {}


def _shared_draws(persons, population, n_draws, **kw):
    """``weight_draw_arrays``, computed once per cohort and settings (outcome-free)."""
    key = (id(persons), n_draws, kw.get("seed"), kw.get("trim"), kw.get("bootstrap"),
           kw.get("correction"), kw.get("interviewed") is None)
    if key not in _MEMO:
        _MEMO[key] = _DRAWS(persons, population, n_draws, **kw)
    return _MEMO[key]


def scenario(n_persons: int) -> Scenario:
    """The weighting study's MAR scenario (benchmarks/weighting_coverage.py)."""
    return Scenario("mar", {"n_persons": n_persons, "attrition": "mar",
                            "recruitment_bias": 1.0, "outcomes": list(OUTCOMES),
                            "population_size": 20000, "n_population_areas": 60})


def _rows(tab: pd.DataFrame, method: str, outcome: str, truth) -> list[dict]:
    t = tab[(tab["modality"].fillna("") == "") & tab["estimand"].isin(["level", "change"])]
    out = []
    for rec in t.itertuples():
        value = truth.value(outcome, rec.estimand, int(rec.wave))
        out.append({"method": method, "outcome": outcome, "estimand": rec.estimand,
                    "wave": int(rec.wave), "mean": rec.mean, "sd": rec.sd,
                    "width": rec.ci_ub - rec.ci_lb, "truth": value,
                    "covered": bool(rec.ci_lb <= value <= rec.ci_ub)})
    return out


def replicate(sc: Scenario, seed: int, n_draws: int, bootstraps: list[str]) -> list[dict]:
    """Every method's rows for one simulated cohort."""
    sim = sc.simulate(seed)
    cohort = sim.cohort
    _MEMO.clear()
    fw = fixed_weights(cohort)
    rows: list[dict] = []
    for outcome in OUTCOMES:
        for method, cluster in (("lin_person", None), ("lin_area", "area_id")):
            for lin, suffix in (("fixed", ""), ("estimated", "_est")):
                tab = complete_case_estimates(cohort, outcome, weights="fixed", fixed=fw,
                                              cluster=cluster, ci_prob=CI,
                                              linearisation=lin)
                rows += _rows(tab, method + suffix, outcome, sim.truth)
        for b in bootstraps:
            boot, _, corr = b.partition("+")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                tab = complete_case_estimates(cohort, outcome, weights="propagated",
                                              n_draws=n_draws, seed=seed, ci_prob=CI,
                                              bootstrap=boot, correction=corr or None)
            rows += _rows(tab, _name(b), outcome, sim.truth)
    for r in rows:
        r["replicate"] = seed
    return rows


def _name(b: str) -> str:
    """Method label of a ``--bootstraps`` entry: ``design+unbiased`` -> ``bb_design_unbiased``."""
    return "bb_" + b.replace("+", "_")


def _lin_methods(df: pd.DataFrame) -> list[str]:
    return [m for m in ("lin_person", "lin_area", "lin_person_est", "lin_area_est")
            if m in set(df["method"])]


def summarise(df: pd.DataFrame, bootstraps: list[str]) -> pd.DataFrame:
    """Width ratios (with MC se) and coverage (with MC se) per outcome x estimand x wave."""
    recs = []
    wide = df.pivot_table(index=["outcome", "estimand", "wave", "replicate"],
                          columns="method", values="width")
    cov = df.groupby(["outcome", "estimand", "wave", "method"])["covered"]
    R = df["replicate"].nunique()
    for outcome in OUTCOMES:
        for est, wave in KEYS:
            recs.append(_summary_row(wide.loc[(outcome, est, wave)], cov, R, outcome, est,
                                     wave, bootstraps))
    return pd.DataFrame(recs)


def _summary_row(g: pd.DataFrame, cov, R: int, outcome: str, est: str, wave: int,
                 bootstraps: list[str]) -> dict:
    """One summary row: width ratios per bootstrap and coverage per method."""
    rec: dict = {"outcome": outcome, "estimand": est, "wave": wave}
    for suffix in ("", "_est"):
        for b in bootstraps:
            ref = ("lin_person" if b == "persons" else "lin_area") + suffix
            if ref not in g.columns:
                continue
            ratio = (g[_name(b)] / g[ref]).to_numpy()
            rec[f"ratio{suffix}_{b}"] = (f"{ratio.mean():.3f} ± "
                                         f"{ratio.std(ddof=1) / np.sqrt(R):.3f}")
    for m in [c for c in ("lin_person", "lin_area", "lin_person_est", "lin_area_est")
              if c in g.columns] + [_name(b) for b in bootstraps]:
        c = cov.get_group((outcome, est, wave, m)).mean()
        rec[f"cov_{m}"] = f"{c:.3f} ± {np.sqrt(c * (1 - c) / R):.3f}"
    return rec


def calibration(df: pd.DataFrame, bootstraps: list[str]) -> pd.DataFrame:
    """Mean half-width / z over the empirical sd of the error, per method (± MC se)."""
    z = float(ndtri(0.5 + CI / 2))
    R = df["replicate"].nunique()
    methods = _lin_methods(df) + [_name(b) for b in bootstraps]
    recs = []
    for outcome in OUTCOMES:
        for est, wave in KEYS:
            d = df[(df["outcome"] == outcome) & (df["estimand"] == est) & (df["wave"] == wave)]
            rec: dict = {"outcome": outcome, "estimand": est, "wave": wave}
            for m in methods:
                dm = d[d["method"] == m]
                err_sd = float((dm["mean"] - dm["truth"]).std(ddof=1))
                r = float((dm["width"] / (2 * z)).mean() / err_sd)
                rec[m] = f"{r:.2f} ± {r / np.sqrt(2 * (R - 1)):.2f}"
            rec["sd_error_lin"] = float((d.loc[d["method"] == "lin_person", "mean"]
                                         - d.loc[d["method"] == "lin_person", "truth"]).std())
            recs.append(rec)
    return pd.DataFrame(recs)


def widths(df: pd.DataFrame) -> pd.DataFrame:
    """Mean interval width and mean bias of every method."""
    g = df.assign(err=df["mean"] - df["truth"]).groupby(
        ["outcome", "estimand", "wave", "method"], sort=False)
    t = g.agg(width=("width", "mean"), bias=("err", "mean")).reset_index()
    w = t.pivot_table(index=["outcome", "estimand", "wave"], columns="method",
                      values="width", sort=False)
    b = t[t["method"] == "lin_person"].set_index(["outcome", "estimand", "wave"])["bias"]
    w.columns = [f"width_{c}" for c in w.columns]
    w["bias_cc"] = b
    return w.reset_index()


def spread(sc: Scenario, seeds: range) -> pd.DataFrame:
    """Point estimates only: the actual sampling spread and each linearisation's SE over it."""
    from scipy.stats import norm

    recs = []
    for seed in seeds:
        sim = sc.simulate(seed)
        cohort = sim.cohort
        fw = fixed_weights(cohort)
        for outcome in OUTCOMES:
            for method, cluster in (("lin_person", None), ("lin_area", "area_id")):
                for lin, suffix in (("fixed", ""), ("estimated", "_est")):
                    tab = complete_case_estimates(cohort, outcome, fixed=fw, cluster=cluster,
                                                  ci_prob=CI, linearisation=lin)
                    for r in _rows(tab, method + suffix, outcome, sim.truth):
                        recs.append({**r, "replicate": seed})
    df = pd.DataFrame(recs)
    z = float(ndtri(0.5 + CI / 2))
    out = []
    for (outcome, est, wave), d in df.groupby(["outcome", "estimand", "wave"], sort=False):
        ref = d[d["method"] == "lin_person"]
        err = ref["mean"] - ref["truth"]
        sd, b = float(err.std(ddof=1)), float(err.mean())
        rec = {"outcome": outcome, "estimand": est, "wave": wave, "sd_error": sd, "bias": b,
               "oracle_cov": float(norm.cdf(z - b / sd) - norm.cdf(-z - b / sd))}
        for m, dm in d.groupby("method", sort=False):
            rec[m] = float(np.sqrt((dm["sd"] ** 2).mean()) / sd)
            rec[f"cov_{m}"] = float(dm["covered"].mean())
        out.append(rec)
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="start no new replicate after this many minutes")
    ap.add_argument("--draws", type=int, default=400, help="weight draws per bootstrap")
    ap.add_argument("--persons", type=int, default=500)
    ap.add_argument("--bootstraps", default="persons,design,design+unbiased",
                    help="comma-separated bootstrap designs; '+unbiased' adds the "
                         "few-cluster correction (e.g. design+unbiased)")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--csv", type=Path, default=None, help="also write the replicate rows")
    ap.add_argument("--spread", type=int, default=0,
                    help="only the sampling spread of the point estimates over this many "
                         "replicates (no weight draws); printed, --out untouched")
    ap.add_argument("--from-csv", type=Path, nargs="+", default=None,
                    help="summarise replicate rows written by earlier runs (--csv) instead of "
                         "simulating; each replicate depends only on its seed, so runs over "
                         "consecutive seed ranges combine into one study")
    args = ap.parse_args(argv)
    bootstraps = [b.strip() for b in args.bootstraps.split(",") if b.strip()]
    sc = scenario(args.persons)
    t0 = time.time()
    if args.spread:
        tab = spread(sc, range(args.seed, args.seed + args.spread))
        print(f"{args.spread} replicates (seeds {args.seed}..{args.seed + args.spread - 1}) "
              f"in {(time.time() - t0) / 60:.1f} min; SE ratio MC se "
              f"{1 / np.sqrt(2 * (args.spread - 1)):.3f}\n")
        print(markdown_table(tab, ".3f"))
        return
    if args.from_csv:
        df = pd.concat([pd.read_csv(f) for f in args.from_csv], ignore_index=True)
        df = df.drop_duplicates(["replicate", "outcome", "method", "estimand", "wave"])
        seeds = sorted(df["replicate"].unique())
        run = (f"summary of {len(args.from_csv)} runs' replicate rows ({len(seeds)} "
               f"replicates, seeds {seeds[0]}..{seeds[-1]}; one core, about "
               f"{args.minutes:g} min per run)")
    else:
        # both outcomes of a replicate share the draws: replace the name complete_case calls
        complete_case.weight_draw_arrays = _shared_draws
        rows: list[dict] = []
        r = 0
        while r < args.replicates and (time.time() - t0) / 60 < args.minutes:
            rows += replicate(sc, args.seed + r, args.draws, bootstraps)
            r += 1
        df = pd.DataFrame(rows)
        if args.csv is not None:
            df.to_csv(args.csv, index=False)
        run = (f"{r} replicates (seeds {args.seed}..{args.seed + r - 1}) in "
               f"{(time.time() - t0) / 60:.1f} min on one core")
    summ = summarise(df, bootstraps)
    cal = calibration(df, bootstraps)
    wid = widths(df)
    kw = sc.resolved_kwargs()
    lines = [
        "# Complete-case intervals: propagated weight draws vs fixed-weight linearisation", "",
        f"`python benchmarks/cc_propagated_width.py --draws {args.draws} --bootstraps "
        f"{','.join(bootstraps)}`: {run}.", "",
        f"Scenario: `simulate_cohort` with {kw}: {kw['n_areas']} of "
        f"{kw['n_population_areas']} areas sampled (fraction "
        f"{kw['n_areas'] / kw['n_population_areas']:.2f}), {kw['n_sites']} sites. Truth: the "
        "simulator's target-population value. Intervals 90%: normal (linearisation) or "
        f"equal-tailed over {args.draws} weight draws (propagated), trim 5 (per copy).", "",
        "Ratio columns: mean over replicates of (propagated width / linearisation width) ± "
        "Monte Carlo se; `persons` is compared with `lin_person`, the area bootstraps "
        "(`design`, `design+unbiased`, `multistage`) with `lin_area`; `ratio_est_*` with the "
        "estimated-weights linearisation (`lin_*_est`: raking and the response model's "
        "estimation linearised too). Coverage: share of replicates whose interval covers "
        "the truth ± binomial MC se (nominal 0.90). Complete-case crime is biased under MAR "
        "(the response model omits the previous outcome), so read the width target on "
        "`employed`.", "",
        "## Width ratios", "",
        markdown_table(summ[[c for c in summ.columns if not c.startswith("cov_")]], ".3f"),
        "",
        "## Coverage (90%)", "",
        markdown_table(summ[[c for c in summ.columns if not c.startswith("ratio")]], ".3f"),
        "",
        "## Standard-error calibration: mean half-width / z over the empirical sd of the "
        "error", "",
        "1 = width matches the estimator's sampling spread over replicates (bias excluded); "
        "`sd_error_lin`: that empirical sd for the fixed-weight estimator.", "",
        markdown_table(cal, ".4f"), "",
        "## Mean widths and complete-case bias", "",
        markdown_table(wid, ".4f"), "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # keep the hand-written reading (from its "## Reading" heading on) of an existing file
    old = args.out.read_text() if args.out.exists() else ""
    keep = old[old.find("\n## Reading"):] if "\n## Reading" in old else ""
    args.out.write_text("\n".join(lines) + keep)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
