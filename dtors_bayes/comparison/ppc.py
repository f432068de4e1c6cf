r"""Posterior predictive checks of a fit by wave, modality or site.

For posterior draws ``s`` (a random subset), replicated outcomes
``y_rep^(s) ~ family(eta^(s), aux^(s))`` are drawn at every observed cell, and the observed
mean of each group ``g`` is set against the distribution of replicated means:

.. math::

    \bar y_g = \frac{1}{n_g} \sum_{j \in g} y_j, \qquad
    \bar y^{(s)}_{\mathrm{rep},g} = \frac{1}{n_g} \sum_{j \in g} y^{(s)}_{\mathrm{rep},j},
    \qquad \mathrm{ppp}_g = \frac{1}{S} \sum_s 1\big[\bar y^{(s)}_{\mathrm{rep},g} \ge
        \bar y_g\big].

A ``ppp`` near 0 or 1 marks a group the model does not reproduce.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import stack_draws


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
