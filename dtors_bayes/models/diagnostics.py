"""Sampler diagnostics: divergences, R-hat, ESS, BFMI, surfaced as a table and as warnings.

Thresholds follow Vehtari et al. (2021): R-hat <= 1.01 and bulk/tail ESS >= 100 per chain
(400 for 4 chains). They are computed on the model's *structural* parameters (everything but
the standardised offsets ``z_*``, which are many and individually uninteresting), and the
worst offset is reported too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3

COLUMNS = ["check", "variable", "value", "threshold", "ok", "detail"]


def is_offset(name: str) -> bool:
    """Per-unit latent variables (standardised offsets ``z_*`` of any part, latent missing
    outcomes): many and individually uninteresting, summarised by their worst R-hat."""
    base = name
    for prefix in ("pos_", "r_"):
        base = base.removeprefix(prefix)
    return base.startswith("z_") or base == "y_missing"


def diagnose(tree) -> pd.DataFrame:
    """Convergence checks of a fitted DataTree.

    Returns
    -------
    DataFrame
        Columns ``check`` (``divergences``, ``r_hat``, ``ess_bulk``, ``ess_tail``, ``bfmi``,
        ``r_hat_offsets``), ``variable`` (the worst variable), ``value``, ``threshold``,
        ``ok`` (bool) and ``detail`` (plain words).
    """
    import arviz as az

    post = tree["posterior"].to_dataset()
    n_chain = post.sizes["chain"]
    n_draw = post.sizes["draw"]
    structural = [v for v in post.data_vars if post[v].size and not is_offset(v)]
    offsets = [v for v in post.data_vars if v not in structural and post[v].size]
    rows = []
    stats = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
    n_div = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    rows.append(["divergences", "", float(n_div), 0.0, n_div == 0,
                 f"{n_div} divergent transitions of {n_chain * n_draw}"])
    ess_min = ESS_PER_CHAIN_MIN * n_chain
    if n_chain > 1 and structural:
        sub = post[structural]
        rh = az.rhat(sub)
        eb = az.ess(sub, method="bulk")
        et = az.ess(sub, method="tail")
        for check, ds, worst, thr in (("r_hat", rh, np.nanmax, RHAT_MAX),
                                      ("ess_bulk", eb, np.nanmin, ess_min),
                                      ("ess_tail", et, np.nanmin, ess_min)):
            vals = {k: float(worst(np.asarray(v))) for k, v in ds.data_vars.items()
                    if np.asarray(v).size}
            var = (max if worst is np.nanmax else min)(vals, key=vals.get)
            val = vals[var]
            ok = val <= thr if check == "r_hat" else val >= thr
            rows.append([check, var, val, float(thr), bool(ok),
                         f"worst structural parameter {var}"])
        if offsets:
            ro = az.rhat(post[offsets])
            vals = {k: float(np.nanmax(np.asarray(v))) for k, v in ro.data_vars.items()}
            var = max(vals, key=vals.get)
            rows.append(["r_hat_offsets", var, vals[var], RHAT_MAX, vals[var] <= RHAT_MAX,
                         "worst standardised random-effect offset"])
    else:
        rows.append(["r_hat", "", float("nan"), RHAT_MAX, False,
                     "R-hat needs two or more chains"])
    if stats is not None and "energy" in stats:
        e = np.asarray(stats["energy"])
        # E-BFMI with the population variance (ArviZ 0.x's estimator). arviz_stats.bfmi
        # divides by the ddof=1 variance instead: exactly (n_draw - 1) / n_draw times this.
        bfmi = np.square(np.diff(e, axis=1)).mean(axis=1) / np.var(e, axis=1)
        rows.append(["bfmi", "", float(bfmi.min()), BFMI_MIN, bool(bfmi.min() >= BFMI_MIN),
                     "lowest chain's energy Bayesian fraction of missing information"])
    return pd.DataFrame(rows, columns=COLUMNS)


def trouble(table: pd.DataFrame) -> list[str]:
    """Plain-words list of failed checks (empty when all pass)."""
    out = []
    for r in table.itertuples():
        if not r.ok:
            if r.check == "divergences":
                out.append(f"{int(r.value)} divergent transitions: intervals may be wrong; "
                           "raise target_accept or simplify the model")
            elif r.check.startswith("r_hat"):
                out.append(f"R-hat {r.value:.3f} > {r.threshold} ({r.variable}): chains "
                           "disagree; run longer")
            elif r.check.startswith("ess"):
                out.append(f"{r.check} {r.value:.0f} < {r.threshold:.0f} ({r.variable}): "
                           "too few effective draws for stable intervals")
            elif r.check == "bfmi":
                out.append(f"BFMI {r.value:.2f} < {r.threshold}: poor exploration of the "
                           "energy distribution")
    return out
