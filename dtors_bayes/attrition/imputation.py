r"""Posterior predictive imputation of the missing outcome values of a fit, for reports.

For posterior draws ``s`` (evenly spaced over chain x draw) and every person x wave cell
whose outcome is missing, a value is drawn from the model's own outcome family,

.. math::

    y^{(s)}_{it} \sim \mathrm{family}\big(\eta^{(s)}_{it} + \delta\, 1[r_{it} = 0],\;
        \mathrm{aux}^{(s)}\big),

with ``delta`` the pattern-mixture shift of the non-responders
(:mod:`dtors_bayes.attrition.pattern_mixture`; ``delta = 0`` is the fit's own assumption).
Under a selection fit (``delta = 0``) of a discrete family, the value of an attempted cell is
drawn instead from the conditional the model implies,

.. math::

    P(y_{it} = v \mid r_{it}, \theta^{(s)}) \propto p(v \mid \eta^{(s)}_{it})\,
        \mathrm{expit}\big(\pm(l^{(s)}_{it} + \kappa^{(s)}_{it}\, g(v))\big),
        \qquad v = 0, \dots, n,

(``l`` the response linear predictor, ``kappa g(v)`` the selection term; ``+`` for an
interviewed person with an item-missing value, ``-`` for a non-responder);
of a continuous family, from the latent ``y_missing`` draws. Late stages' cells are left
at the family draw (their missing value lives at the late months, not the wave's).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError


def impute(fit, n: int = 20, *, delta: float = 0.0, random_seed: int | None = 0,
           include_item_missing: bool = True) -> pd.DataFrame:
    r"""Posterior predictive draws of the missing outcome values, for reports.

    For ``n`` posterior draws (evenly spaced over chain x draw) and every person x wave cell
    whose outcome is missing, draws ``y ~ family(eta + delta 1[not interviewed], aux)`` with
    :meth:`~dtors_bayes.models.families.Family.simulate` (the model's own parameterisation).
    Under a selection fit of a discrete family, the attempted non-responders' values are
    drawn from ``p(y | eta) P(r = 0 | y) / sum_v ...`` (the conditional the model implies);
    of a continuous family, from the latent ``y_missing`` draws.

    Returns
    -------
    DataFrame
        Long table ``person_id, wave, draw, value, interviewed`` (``draw`` = position in
        chain x draw).
    """
    from scipy.special import expit, logsumexp

    from dtors_bayes.models.predictor import linear_predictor
    from dtors_bayes.models.response import response_layout
    from dtors_bayes.models.sampling import stack_draws
    from dtors_bayes.models.selection import SELECTION_FAMILIES, Selection

    if n < 1:
        raise FitError("impute: n must be >= 1")
    model, design = fit.model, fit.design
    fam = model.family_obj
    params, n_chain, n_draw = stack_draws(fit.tree)
    total = n_chain * n_draw
    pick = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(int))
    p = {k: v[pick] for k, v in params.items()}
    miss = np.isnan(design.y)
    if not include_item_missing:
        miss &= ~design.interviewed.astype(bool)
    pp, tt = np.nonzero(miss)
    basis = model.basis(design)
    cells = design.cells(basis, pp, tt, design.months[pp, tt])
    etas = {part: linear_predictor(p, cells, prefix=pre, by_time=model.modality_by_time)
            for part, pre in zip(fam.parts, ("", "pos_"), strict=False)}
    shift = np.where(design.interviewed[pp, tt], 0.0, float(delta))
    etas["eta"] = etas["eta"] + shift[None, :]
    rng = np.random.default_rng(random_seed)
    aux = {k: p[k][:, None] for k in fam.aux}
    values = fam.simulate(rng, etas, aux, trials=design.trials)
    att = model.attrition
    if isinstance(att, Selection) and delta == 0.0:
        lay = response_layout(design, model.family, att.response.attempted)
        from dtors_bayes.models.response import response_linear_predictor

        lin = response_linear_predictor(p, lay, design)
        kap = att.cell_kappa_numpy(p, lay, design)
        pos = {(a, b): i for i, (a, b) in enumerate(zip(pp, tt, strict=True))}
        lay_m = np.flatnonzero(np.isnan(lay.y))
        # a late stage's missing value is the outcome at the late months, not the wave's
        # (on-time) value imputed here: those cells are skipped below
        late_stage = np.asarray(lay.stage_late, bool)[lay.stage]
        if SELECTION_FAMILIES[model.family] == "discrete":
            nv = 1 if model.family == "bernoulli" else design.trials
            v = np.arange(nv + 1, dtype=float)
            for c in lay_m:
                i = pos.get((lay.person[c], lay.wave[c]))
                if i is None or late_stage[c]:
                    continue
                e = etas["eta"][:, i][:, None]
                lp = _discrete_logp_np(model.family, e, v[None], nv,
                                       p.get("phi", np.ones(len(pick)))[:, None])
                x = lin[:, c][:, None] + kap[:, c][:, None] * lay.g(v)[None]
                sgn = 1.0 if lay.r[c] else -1.0
                lw = lp + np.log(expit(sgn * x))
                prob = np.exp(lw - logsumexp(lw, axis=1, keepdims=True))
                u = rng.random(len(pick))[:, None]
                values[:, i] = (u > np.cumsum(prob, axis=1)).sum(axis=1)
        elif "y_missing" in p:
            for slot, c in enumerate(lay_m):
                i = pos.get((lay.person[c], lay.wave[c]))
                if i is not None and not late_stage[c]:
                    values[:, i] = p["y_missing"][:, slot]
    out = pd.DataFrame({
        "person_id": np.tile(design.person_ids[pp], len(pick)),
        "wave": np.tile(np.asarray(design.waves)[tt], len(pick)),
        "draw": np.repeat(pick, pp.size),
        "value": values.ravel(),
        "interviewed": np.tile(design.interviewed[pp, tt].astype(bool), len(pick)),
    })
    out.attrs.update({"outcome": fit.outcome, "delta": float(delta),
                      "attrition": model.attrition_label})
    return out


def _discrete_logp_np(family: str, eta, v, n: int, phi):
    """``log p(v | eta)`` of a bernoulli, binomial or beta-binomial outcome (numpy)."""
    from scipy.special import betaln, gammaln, log_expit

    lp1, lp0 = log_expit(eta), log_expit(-eta)
    if family == "bernoulli":
        return v * lp1 + (1 - v) * lp0
    logc = gammaln(n + 1.0) - gammaln(v + 1.0) - gammaln(n - v + 1.0)
    if family == "binomial":
        return logc + v * lp1 + (n - v) * lp0
    pr = 1 / (1 + np.exp(-eta))
    a, b = pr * phi, (1 - pr) * phi
    return logc + betaln(v + a, n - v + b) - betaln(a, b)


__all__ = ["impute"]
