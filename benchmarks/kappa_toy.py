"""Where a negative kappa lean under MCAR comes from: an exact-likelihood toy, many replicates.

The package's selection fits under MCAR (300 persons, kappa ~ N(0, 1)) put kappa's posterior
mean at about -0.2 on average. This toy keeps only the structure that identifies kappa for a
binary outcome (a person effect linking intake to the follow-ups, monotone response at FU1 and
FU2 with the previous outcome as a response predictor, as ``ResponseModel``'s ``r_rho_prev``)
and fits it on the exact 14-cell likelihood (the person effect integrated out by 32-node
Gauss-Hermite quadrature), so hundreds of replicates take minutes. Variants switch one thing
at a time:

- ``package``: the package's priors (levels N(wave centre, 1.5) on the conditional scale,
  sigma_person ~ HalfN(1), response intercepts N(logit rate, 1.5), rho ~ N(0, 1),
  kappa ~ N(0, 1));
- ``no_rho``: the response model without the previous outcome;
- ``flat_levels``: level prior sd 10;
- ``centred_g``: kappa multiplies ``y - pbar_t`` instead of ``y``.

Data: y_t ~ Bern(logit^-1(a_t + u)), u ~ N(0, sigma^2), sigma = 1.2, marginal prevalences
about 0.40, 0.25, 0.20; P(r1) = 0.49, P(r2 | r1) = 0.57 (DTORS), MCAR.

Usage::

    python benchmarks/kappa_toy.py --replicates 200 --persons 300
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from dtors_bayes._format import markdown_table

A_TRUE = np.array([-0.55, -1.45, -1.8])
SIGMA_TRUE = 1.2
P_R1, P_R2 = 0.49, 0.57


def cells():
    """The 14 observable histories (y0, r1, y1, r2, y2); -1 marks unobserved."""
    out = []
    for y0 in (0, 1):
        out.append((y0, 0, -1, -1, -1))
        for y1 in (0, 1):
            out.append((y0, 1, y1, 0, -1))
            for y2 in (0, 1):
                out.append((y0, 1, y1, 1, y2))
    return np.array(out)


CELLS = cells()


def simulate(rng, n, *, histories: bool = False):
    u = rng.normal(0, SIGMA_TRUE, n)
    y = (rng.uniform(size=(3, n)) < 1 / (1 + np.exp(-(A_TRUE[:, None] + u)))).astype(int)
    r1 = rng.uniform(size=n) < P_R1
    r2 = r1 & (rng.uniform(size=n) < P_R2)
    hist = np.stack([y[0], r1, np.where(r1, y[1], -1), np.where(r1, r2, -1),
                     np.where(r2, y[2], -1)], axis=1)
    counts = np.array([(hist == c).all(axis=1).sum() for c in CELLS], dtype=float)
    return (counts, hist) if histories else counts


def to_cohort(hist):
    """The toy's persons as a package ``Cohort`` (one group, no sites, waves at 0/3/12)."""
    import dtors_bayes as db

    n = len(hist)
    persons = pd.DataFrame({"person_id": np.arange(1, n + 1)})
    rows = []
    for i, (y0, r1, y1, r2, y2) in enumerate(hist, start=1):
        for t, seen, y, m in ((0, True, y0, 0.0), (1, r1 == 1, y1, 3.0), (2, r2 == 1, y2, 12.0)):
            rows.append({"person_id": i, "wave": t, "interviewed": bool(seen),
                         "months": m if seen else np.nan, "y": float(y) if seen else np.nan})
    return db.Cohort.from_frames(persons, pd.DataFrame(rows), outcomes={"y": "bernoulli"})


def package_kappa(hist, seed, draws):
    """Posterior mean and sd of kappa from the package's selection model on the same persons."""
    import dtors_bayes as db

    model = db.ChangeModel("y", "bernoulli", time="wave", levels=(),
                           attrition=db.Selection(kappa=(0.0, 1.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(to_cohort(hist), draws=draws, tune=1000, chains=4, cores=1,
                        random_seed=seed, progressbar=False)
    k = fit.posterior["kappa"].values
    return float(k.mean()), float(k.std()), not fit.problems()


def build(variant: str, n_nodes: int = 32):
    import pymc as pm
    import pytensor.tensor as pt

    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    logw = np.log(w / w.sum())
    c = CELLS
    with pm.Model() as m:
        counts = pm.Data("counts", np.ones(len(c)))
        centre = pm.Data("centre", np.zeros(3))
        rloc = pm.Data("rloc", np.zeros(2))
        pbar = pm.Data("pbar", np.full(3, 0.3))
        level_sd = 10.0 if variant == "flat_levels" else 1.5
        a = pm.Normal("a", centre, level_sd)
        sigma = pm.HalfNormal("sigma", 1.0)
        ci = pm.Normal("c", rloc, 1.5)
        rho = 0.0 if variant == "no_rho" else pm.Normal("rho", 0.0, 1.0)
        kappa = pm.Normal("kappa", 0.0, 1.0)
        eta = a[:, None] + sigma * x[None, :]            # wave x node
        lp1, lp0 = -pt.softplus(-eta), -pt.softplus(eta)  # log p(y=1), log p(y=0)

        def g(v, t):
            return v - pbar[t] if variant == "centred_g" else v

        def resp(stage, prev, cur_value):
            lin = ci[stage] + rho * prev + kappa * g(cur_value, stage + 1)
            return -pt.softplus(-lin), -pt.softplus(lin)  # log P(r=1), log P(r=0)

        rows = []
        for y0, r1, y1, r2, y2 in c:
            t = (lp1[0] if y0 else lp0[0])
            if r1 == 0:
                terms = [(lp1[1] if v else lp0[1]) + resp(0, y0, v)[1] for v in (0, 1)]
                t = t + pt.logaddexp(*terms)
            else:
                t = t + (lp1[1] if y1 else lp0[1]) + resp(0, y0, y1)[0]
                if r2 == 0:
                    terms = [(lp1[2] if v else lp0[2]) + resp(1, y1, v)[1] for v in (0, 1)]
                    t = t + pt.logaddexp(*terms)
                else:
                    t = t + (lp1[2] if y2 else lp0[2]) + resp(1, y1, y2)[0]
            rows.append(pm.math.logsumexp(t + logw))
        pm.Potential("lik", pt.sum(counts * pt.stack(rows)))
    return m


def data_inputs(counts):
    """Prior centres as the package computes them (wave's observed proportion, conditional
    scale with s = sqrt(2/pi)), response-intercept locations, observed proportions."""
    c = CELLS
    s = np.sqrt(2 / np.pi)
    props, n_resp = [], []
    for col in (0, 2, 4):
        seen = c[:, col] >= 0
        k = counts[seen & (c[:, col] == 1)].sum()
        n = counts[seen].sum()
        props.append(np.clip(k / n, 0.02, 0.98))
        n_resp.append(n)
    p = np.array(props)
    centre = np.log(p / (1 - p)) * np.sqrt(1 + 0.346 * s ** 2)
    r1 = n_resp[1] / n_resp[0]
    r2 = n_resp[2] / n_resp[1]
    rloc = np.log(np.array([r1, r2]) / (1 - np.array([r1, r2])))
    return centre, rloc, p


def main(argv=None):
    import nutpie

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--persons", type=int, default=300)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--variants", nargs="+",
                    default=["package", "no_rho", "flat_levels", "centred_g"])
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--package", type=int, default=0,
                    help="also fit the package's selection model on the first N replicates "
                         "(paired with the toy's 'package' variant on the same persons)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    both = [simulate(rng, args.persons, histories=True) for _ in range(args.replicates)]
    data = [c for c, _ in both]
    rows = []
    for variant in args.variants:
        compiled = nutpie.compile_pymc_model(build(variant))
        for i, counts in enumerate(data):
            centre, rloc, pbar = data_inputs(counts)
            extra = {"pbar": pbar} if variant == "centred_g" else {}
            cm = compiled.with_data(counts=counts, centre=centre, rloc=rloc, **extra)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tr = nutpie.sample(cm, draws=args.draws, tune=1000, chains=4, seed=i,
                                   progress_bar=False)
            k = tr.posterior["kappa"].values
            rh = float(((k.mean(1).var(ddof=1)) / k.var(1, ddof=1).mean()) ** 0.5)
            div = int(tr.sample_stats["diverging"].values.sum())
            rows.append({"variant": variant, "replicate": i, "kappa_mean": k.mean(),
                         "kappa_sd": k.std(), "between_within": rh, "divergences": div})
    t = pd.DataFrame(rows)
    if args.package:
        paired = []
        toy = t[t["variant"] == "package"].set_index("replicate")
        for i in range(min(args.package, args.replicates)):
            m, sd, ok = package_kappa(both[i][1], seed=i, draws=args.draws)
            paired.append({"replicate": i, "toy_mean": toy.loc[i, "kappa_mean"],
                           "package_mean": m, "toy_sd": toy.loc[i, "kappa_sd"],
                           "package_sd": sd, "package_converged": ok})
            print(paired[-1], flush=True)
        p = pd.DataFrame(paired)
        diff = p["package_mean"] - p["toy_mean"]
        print(f"\n# Paired: package selection model vs the exact toy, {len(p)} replicates\n")
        print(markdown_table(pd.DataFrame([{
            "n": len(p), "toy_kappa_mean": p["toy_mean"].mean(),
            "package_kappa_mean": p["package_mean"].mean(),
            "mean_difference": diff.mean(), "mcse_difference": diff.std(ddof=1) / np.sqrt(len(p)),
            "max_abs_difference": diff.abs().max(),
            "toy_posterior_sd": p["toy_sd"].mean(), "package_posterior_sd": p["package_sd"].mean(),
            "share_converged": p["package_converged"].mean()}]), ".3f"))
    s = t.groupby("variant", sort=False).agg(
        n=("kappa_mean", "size"), kappa_mean=("kappa_mean", "mean"),
        mcse=("kappa_mean", lambda v: v.std(ddof=1) / np.sqrt(len(v))),
        posterior_sd=("kappa_sd", "mean"),
        no_divergence=("divergences", lambda v: float((v == 0).mean())))
    print(f"# Kappa toy: {args.persons} persons, MCAR, {args.replicates} replicates, "
          f"4 x {args.draws} draws\n")
    print(markdown_table(s.reset_index(), ".3f"))


if __name__ == "__main__":
    main()
