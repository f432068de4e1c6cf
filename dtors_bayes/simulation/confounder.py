"""The simulator's unmeasured confounder U: its true confounding functions and the
contrasts that adjustment for the covariates alone targets.

U ~ N(0, 1) enters modality choice (:data:`dtors_bayes.simulation.population.
CONFOUNDER_MODALITY`) and every follow-up linear predictor
(:data:`dtors_bayes.simulation.truth.CONFOUNDER_OUTCOME`), never intake.
:func:`confounding_truth` integrates it out given everything else of a person (the
covariates' adjustment set, decided in session 7; see its notes), and
:func:`given_x_contrasts` turns the result into the target of the naive adjusted contrast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dtors_bayes import constants
from dtors_bayes.models.families import FAMILIES
from dtors_bayes.simulation.truth import SCHEDULE, TRIALS

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.simulation.truth import OutcomeModel

__all__ = ["GIVEN_X_CONTRAST", "confounding_truth", "given_x_contrasts"]


def confounding_truth(model: OutcomeModel, base_logit: np.ndarray, loadings: dict[str, float],
                      strength: float, sample_rows: np.ndarray, outcomes,
                      nodes: int = 24) -> pd.DataFrame:
    r"""The true confounding functions of the unmeasured confounder U, U integrated out.

    For person i (covariates, site and the other latent effects fixed, all independent of
    U ~ N(0, 1)), modality choice ``P(A = a' | i, u) = softmax(base_i + strength l u)`` and
    potential expectations ``mu_a,t(i, u)``; Gauss-Hermite quadrature over u gives

    .. math::

        E[Y_t(a) \mid A = a', i] = \frac{\int \mu_{a,t}(i, u) P(a' \mid i, u) \phi(u) du}
            {\pi_{a'}(i)}, \quad \pi_{a'}(i) = \int P(a' \mid i, u) \phi(u) du,

        c_t(a, a'; i) = E[Y_t(a) \mid A = a, i] - E[Y_t(a) \mid A = a', i],\qquad
        \bar c_t(a, a') = \frac{\sum_i \pi_{a'}(i) c_t(a, a'; i)}{\sum_i \pi_{a'}(i)}.

    With the empirical shares ``pibar_a' = mean_i pi_a'(i)``,
    ``E[Y_t(a)] = E_i[mu_a,t(i)] - sum_a' pibar_a' cbar_t(a, a')`` holds exactly, so the
    sensitivity analysis of :mod:`dtors_bayes.causal.confounding` at these values recovers the
    causal contrast. Also given: the scores ``s_a = E[U | A = a]`` and the least-squares
    strength ``gamma = sum (s_a - s_a') cbar(a, a') / sum (s_a - s_a')^2`` of the
    parameterisation ``c(a, a') = gamma (s_a - s_a')``.

    *What c conditions on (decided in session 7).* ``i`` is everything of the person but U:
    the covariates ``X``, the site's modality tilt and the latent outcome effects (person,
    site, area), all independent of U, so ``E[Y_t(a) | A = a, i]`` averaged over persons is
    the standardised regression ``E_X[E(Y_t | A = a, X)]`` that the change model's
    likelihood estimates: the model's adjustment set is the covariates. Its person effect
    does *not* add a proxy of U: U does not enter intake (``etas`` adds it at ``m > 0``
    only), and a contrast gives the same person the same effect in both arms. Checked
    without MCMC: the random-intercept logistic maximum likelihood (the change model's
    likelihood, ``time="wave"``) on 20,000 complete persons at ``confounder_strength=1``
    puts residential - prescribing (change to FU2, acquisitive crime) at bias -0.046 from
    the causal contrast against -0.049 predicted here, identical with each person's own
    posterior effect or with the effect integrated out; on 20 observed MCAR cohorts of
    1,796 persons -0.061 (MCSE 0.013). The package's fits show less bias because partial
    pooling of the five modality trajectories shrinks the small residential arm towards
    the common trajectory (the confounding shift with it): an estimator property, scored
    by :data:`GIVEN_X_CONTRAST` rows (:func:`given_x_contrasts`).

    Returns
    -------
    DataFrame
        ``outcome, wave, population, modality, other, c, share_other, score_modality,
        score_other, gamma`` (``other`` is a'; rows for a != a').
    """
    from numpy.polynomial.hermite_e import hermegauss
    from scipy.special import softmax

    mods = constants.DTORS_MODALITIES
    u, wq = hermegauss(nodes)
    wq = wq / wq.sum()
    load = np.array([loadings[z] for z in mods])
    prob = softmax(base_logit[:, None, :] + strength * u[None, :, None] * load[None, None, :],
                   axis=2)                                    # (n, Q, M)
    pi = np.einsum("q,nqm->nm", wq, prob)
    eu = np.einsum("q,q,nqm->nm", wq, u, prob)
    rows_all = np.arange(model.n)
    rep = np.repeat(rows_all, nodes)
    uu = np.tile(u, model.n)
    records = []
    for k in outcomes:
        fam = FAMILIES[model.params[k]["family"]]
        for t in sorted(SCHEDULE)[1:]:
            cond = np.empty((model.n, len(mods), len(mods)))     # [i, a, a']
            for a in range(len(mods)):
                mu = fam.mean(model.etas(k, rep, SCHEDULE[t], z=a, u=uu),
                              model.params[k]["aux"], TRIALS.get(k, 28)).reshape(model.n, nodes)
                cond[:, a, :] = np.einsum("q,nq,nqm->nm", wq, mu, prob) / pi
            for pop, rows in (("target", rows_all), ("sample", sample_rows)):
                p = pi[rows]
                score = eu[rows].sum(0) / p.sum(0)
                cbar = np.empty((len(mods), len(mods)))
                for a in range(len(mods)):
                    ci = cond[rows, a, a][:, None] - cond[rows, a, :]
                    cbar[a] = (p * ci).sum(0) / p.sum(0)
                ds = score[:, None] - score[None, :]
                off = ~np.eye(len(mods), dtype=bool)
                gamma = float((ds[off] * cbar[off]).sum() / (ds[off] ** 2).sum())
                share = p.mean(0)
                for a, za in enumerate(mods):
                    for b, zb in enumerate(mods):
                        if a != b:
                            records.append((k, t, pop, za, zb, float(cbar[a, b]),
                                            float(share[b]), float(score[a]),
                                            float(score[b]), gamma))
    return pd.DataFrame.from_records(records, columns=[
        "outcome", "wave", "population", "modality", "other", "c", "share_other",
        "score_modality", "score_other", "gamma"])


#: Estimand name of the adjusted contrast's target when U is ignored (rows in
#: ``Truth.estimands`` only with an unmeasured confounder; :func:`given_x_contrasts`).
GIVEN_X_CONTRAST = "modality_contrast_given_x"


def given_x_contrasts(estimands: pd.DataFrame, confounding: pd.DataFrame) -> pd.DataFrame:
    r"""The modality contrasts that g-computation given the covariates targets under U.

    With the biases of the adjusted levels (:func:`confounding_truth`)

    .. math::

        B_t(a) = \sum_{a' \ne a} \bar\pi_{a'} \bar c_t(a, a'), \qquad B_0(a) = 0

    (U does not enter intake), the no-unmeasured-confounding adjusted change of modality
    ``a`` targets ``E[Y_t(a) - Y_0(a)] + B_t(a)``, so the contrast ``A - B`` of adjusted
    change targets

    .. math::

        C^X_t(A, B) = C_t(A, B) + B_t(A) - B_t(B),

    with ``C_t`` the causal contrast (``estimand = "modality_contrast"``). This is what the
    naive adjusted contrast estimates without bias when the model is right given ``X``
    (its own estimator error, e.g. the shrinkage of sparse modality trajectories, is then
    ``estimate - C^X``), while a sensitivity analysis at the true ``c`` is scored against
    ``C``.

    Parameters
    ----------
    estimands : DataFrame
        ``Truth.estimands`` (its ``modality_contrast`` rows are used).
    confounding : DataFrame
        ``Truth.confounding`` (:func:`confounding_truth`); empty gives an empty result.

    Returns
    -------
    DataFrame
        Rows like ``estimands`` with ``estimand =`` :data:`GIVEN_X_CONTRAST`, for every
        ``modality_contrast`` row whose outcome, wave and population have confounding
        functions.
    """
    if confounding.empty:
        return estimands.iloc[0:0].copy()
    bias = (confounding.assign(b=confounding["share_other"] * confounding["c"])
            .groupby(["outcome", "wave", "population", "modality"])["b"].sum())
    rows = estimands[estimands["estimand"] == "modality_contrast"].copy()
    keep, values = [], []
    for idx, r in rows.iterrows():
        a, b = str(r["contrast"]).split(" - ", 1)
        ka, kb = (r["outcome"], int(r["wave"]), r["population"], a), \
            (r["outcome"], int(r["wave"]), r["population"], b)
        if ka in bias.index and kb in bias.index:
            keep.append(idx)
            values.append(float(r["value"]) + float(bias[ka]) - float(bias[kb]))
    out = rows.loc[keep].copy()
    out["estimand"] = GIVEN_X_CONTRAST
    out["value"] = values
    return out.reset_index(drop=True)
