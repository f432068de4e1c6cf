"""Model comparison: PSIS-LOO, grouped cross-validation, stacking and posterior predictive checks.

- **PSIS-LOO** on the observed outcome cells, with Pareto-k diagnostics (arviz-stats).
- **Grouped CV** for the hierarchy: leave-one-site-out / leave-one-area-out (or person).
  ``method="psis"`` sums each group's pointwise log-likelihood and applies PSIS to the group
  (fast, but Pareto-k is often high for whole groups: then use ``method="kfold"``);
  ``method="kfold"`` refits the model K times with the groups of one fold held out and scores
  them under the refit (exact; the held-out groups' effects come from their fitted
  distribution, as for a new site).
- **Stacking** weights over the models (arviz-stats ``compare``).
- **Posterior predictive checks** by wave, modality and site: the observed mean of each
  group against the distribution of replicated means.

MAR and MNAR models cannot be ranked by fit to the observed data: the observed-data
likelihood is the same whatever is assumed about the unobserved outcomes. Every comparison
result says so (``ComparisonResult.notes``) and points to the sensitivity analysis instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import pointwise_log_likelihood, stack_draws

MAR_MNAR_NOTE = (
    "MAR and MNAR models cannot be ranked by their fit to the observed data: the observed-data "
    "likelihood does not depend on what is assumed about the outcomes of people who were not "
    "interviewed. Compare such models by their sensitivity results (fit.sensitivity, "
    "tipping points), not by LOO."
)




def _group_codes(fit, group: str | None) -> np.ndarray | None:
    d = fit.design
    p_idx, _ = d.observed_cells()
    if group is None:
        return None
    if group == "person":
        return p_idx
    codes = {"site": d.site, "area": d.area}.get(group)
    if codes is None:
        raise FitError(f"group={group!r}: the fit has no {group} level; allowed: person"
                       + ", site" * (d.site is not None) + ", area" * (d.area is not None))
    return codes[p_idx]


def loo(fit, *, group: str | None = None):
    """PSIS-LOO (``group=None``) or PSIS leave-one-group-out, as an arviz ``ELPDData``."""
    import arviz as az

    ll = pointwise_log_likelihood(fit)
    codes = _group_codes(fit, group)
    if codes is not None:
        uniq, inv = np.unique(codes, return_inverse=True)
        summed = np.zeros(ll.shape[:2] + (uniq.size,))
        np.add.at(summed, (slice(None), slice(None), inv), ll.values)
        ll = xr.DataArray(summed, dims=("chain", "draw", "obs"))
    tree = xr.DataTree.from_dict({
        "posterior": fit.tree["posterior"].to_dataset()[["sigma_person"]]
        if "sigma_person" in fit.posterior else fit.tree["posterior"].to_dataset(),
        "log_likelihood": xr.Dataset({"y": ll}),
    })
    return az.loo(tree, pointwise=True, var_name="y")


def kfold_by_group(fit, *, group: str = "site", k: int = 10, seed: int = 0,
                   draws: int = 500, tune: int = 500, chains: int = 2,
                   progressbar: bool = False) -> dict:
    """Exact grouped K-fold CV: refit with each fold's groups held out, score them.

    Returns
    -------
    dict
        ``elpd`` (sum over held-out cells of log mean_s p(y | theta_s)), ``se`` (from the
        per-group elpd sums), ``k``, ``group``, ``n_groups`` and ``pointwise`` (per cell).
    """
    from dtors_bayes.models.sampling import sample_model

    codes = _group_codes(fit, group)
    uniq = np.unique(codes)
    rng = np.random.default_rng(seed)
    fold_of_group = rng.permutation(np.arange(uniq.size) % k)
    fold = fold_of_group[np.searchsorted(uniq, codes)]
    d = fit.design
    p_idx, t_idx = d.observed_cells()
    elpd_cell = np.full(p_idx.size, np.nan)
    for f in range(k):
        held = fold == f
        if not held.any():
            continue
        y = d.y.copy()
        y[p_idx[held], t_idx[held]] = np.nan
        sub_design = dataclasses.replace(d, y=y)
        tree, _ = sample_model(fit.model.build(sub_design), draws=draws, tune=tune,
                               chains=chains, random_seed=seed + f, progressbar=progressbar)
        fold_fit = type(fit)(fit.model, d, tree, {})
        ll = pointwise_log_likelihood(fold_fit).values.reshape(-1, p_idx.size)
        elpd_cell[held] = logsumexp(ll[:, held], axis=0) - np.log(ll.shape[0])
    per_group = pd.Series(elpd_cell).groupby(codes).sum()
    return {"elpd": float(elpd_cell.sum()), "se": float(np.sqrt(per_group.size) *
                                                        per_group.std(ddof=1)),
            "k": k, "group": group, "n_groups": int(uniq.size), "pointwise": elpd_cell}


def posterior_predictive_check(fit, *, by: str = "wave", n_draws: int = 200,
                               seed: int = 0) -> pd.DataFrame:
    """Observed group means vs replicated ones, by ``"wave"``, ``"modality"`` or ``"site"``.

    Returns
    -------
    DataFrame
        ``by, group, n, observed, replicated_mean, replicated_lb, replicated_ub, ppp``
        (90% interval of the replicated mean; ``ppp`` = P(replicated mean >= observed)).
    """
    from dtors_bayes.models.predictor import linear_predictor

    d = fit.design
    p_idx, t_idx = d.observed_cells()
    params, _, _ = stack_draws(fit.tree)
    n_s = next(iter(params.values())).shape[0]
    rng = np.random.default_rng(seed)
    pick = rng.choice(n_s, size=min(n_draws, n_s), replace=False)
    p = {k: v[pick] for k, v in params.items()}
    model = fit.model
    fam = model.family_obj
    basis = model.basis(d)
    cells = d.cells(basis, p_idx, t_idx, d.months[p_idx, t_idx])
    etas = {part: linear_predictor(p, cells, prefix=prefix, by_time=model.modality_by_time)
            for part, prefix in zip(fam.parts, ("", "pos_"), strict=False)}
    aux = {k: p[k][:, None] for k in fam.aux}
    yrep = fam.simulate(rng, etas, aux, trials=d.trials)
    yobs = d.y[p_idx, t_idx]
    if by == "wave":
        g, labels = t_idx, [str(w) for w in d.waves]
    elif by == "modality":
        g, labels = d.modality[p_idx], d.modality_labels
    elif by == "site":
        if d.site is None:
            raise FitError("by='site': the fit has no site level")
        g, labels = d.site[p_idx], d.site_labels
    else:
        raise FitError(f"by={by!r}; allowed: 'wave', 'modality', 'site'")
    rows = []
    for code in np.unique(g):
        m = g == code
        rep = yrep[:, m].mean(axis=1)
        obs = yobs[m].mean()
        rows.append({"by": by, "group": labels[code], "n": int(m.sum()), "observed": obs,
                     "replicated_mean": rep.mean(), "replicated_lb": np.quantile(rep, 0.05),
                     "replicated_ub": np.quantile(rep, 0.95),
                     "ppp": float((rep >= obs).mean())})
    return pd.DataFrame(rows)


@dataclass
class ComparisonResult:
    """Output of :func:`compare`.

    Attributes
    ----------
    table : DataFrame
        arviz ``compare`` table (rank, elpd, p, elpd_diff, weight (stacking), se, dse, warning)
        plus ``n_pareto_k_high`` (cells or groups with Pareto k above ArviZ's threshold for
        the number of draws, at most 0.7) and ``attrition``.
    loos : dict
        The ``ELPDData`` per model.
    notes : list of str
        Plain statements to print with the table (the MAR/MNAR caveat always).
    """

    table: pd.DataFrame
    loos: dict
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.table.to_string() + "\n\n" + "\n".join(f"Note: {n}" for n in self.notes)


def compare(fits: dict, *, group: str | None = None) -> ComparisonResult:
    """Compare fits of the same outcome by PSIS-LOO (or PSIS leave-one-group-out).

    Parameters
    ----------
    fits : dict of str to Fit
        Models to compare; all must model the same outcome on the same persons.
    group : {None, "person", "site", "area"}
        Leave one observation out (None) or one group out.
    """
    import arviz as az

    if len(fits) < 2:
        raise FitError("compare needs two or more fits")
    outcomes = {f.outcome for f in fits.values()}
    if len(outcomes) > 1:
        raise FitError(f"compare needs fits of one outcome; got {sorted(outcomes)}")
    n_obs = {int((~np.isnan(f.design.y)).sum()) for f in fits.values()}
    if len(n_obs) > 1:
        raise FitError("compare needs fits on the same observed cells; the fits have "
                       f"{sorted(n_obs)} observed values")
    loos = {name: loo(f, group=group) for name, f in fits.items()}
    table = az.compare(loos, method="stacking")
    # ArviZ's threshold depends on the number of draws: min(1 - 1/log10(S), 0.7)
    table["n_pareto_k_high"] = [
        int((np.asarray(loos[n].pareto_k) > (loos[n].good_k or 0.7)).sum()) for n in table.index]
    table["attrition"] = [fits[n].model.attrition_label for n in table.index]
    notes = [MAR_MNAR_NOTE]
    if table["n_pareto_k_high"].sum():
        notes.append("Some Pareto k are high: PSIS estimates for those cells/groups are "
                     "unreliable; use kfold_by_group for an exact grouped comparison.")
    return ComparisonResult(table=table, loos=loos, notes=notes)


def run_from_cli(argv: list[str]) -> int:
    """``dtors-bayes compare FIT.nc FIT.nc ... [--group site] [--ppc wave] [--out T.csv]``.

    Prints the comparison table and its notes (always the MAR/MNAR caveat); with ``--ppc``
    also the posterior predictive check of each fit. Errors are ``DtorsError``s, which the
    command line turns into one-line messages.
    """
    import argparse
    from pathlib import Path

    from dtors_bayes.models.io import load_fit

    ap = argparse.ArgumentParser(
        prog="dtors-bayes compare",
        description="Compare saved fits of one outcome by PSIS-LOO (or leave-one-group-out) "
                    "with stacking weights and Pareto-k diagnostics; optionally posterior "
                    "predictive checks. MAR and MNAR fits cannot be ranked this way: see "
                    "`dtors-bayes sensitivity`.")
    ap.add_argument("fits", nargs="+", help="saved fits (.nc); the file stem names each model")
    ap.add_argument("--group", choices=["person", "site", "area"], default=None,
                    help="leave one group out instead of one observation")
    ap.add_argument("--ppc", choices=["wave", "modality", "site"], default=None,
                    help="also print posterior predictive checks by this grouping")
    ap.add_argument("--out", type=Path, default=None, help="write the table (.csv or .md)")
    args = ap.parse_args(argv)
    fits = {}
    for f in args.fits:
        path = Path(f)
        fits[path.stem] = load_fit(path)
    res = compare(fits, group=args.group)
    print(res)
    if args.ppc:
        for name, fit in fits.items():
            print(f"\nPosterior predictive check of {name} by {args.ppc}:")
            print(posterior_predictive_check(fit, by=args.ppc).round(3).to_string(index=False))
    if args.out is not None:
        table = res.table.reset_index(names="model")
        if args.out.suffix == ".md":
            from dtors_bayes.data.summary import markdown_table

            args.out.write_text(markdown_table(table) + "\n\n" + "\n".join(res.notes) + "\n")
        else:
            table.to_csv(args.out, index=False)
    return 0
