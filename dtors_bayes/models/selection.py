r"""Attrition models: the response model (MAR) and the Diggle-Kenward selection model (MNAR).

Response model
--------------
For person ``i`` and follow-up stage ``t`` (every modelled wave after intake) at which ``i``
was *attempted* (see :func:`response_layout`), ``r_it = 1`` when interviewed:

.. math::

    \operatorname{logit} P(r_{it} = 1) = \ell_{it} = \alpha_t + x_i^\top \gamma + \gamma_{z_i}
        + \rho\, g(y_{i,t-1}) + \rho_{miss}\, 1[y_{i,t-1} \text{ missing}]
        + \sigma^r_v \tilde\nu_{s(i)} + \sigma^r_w \tilde\omega_{a(i)} \; [+\, \lambda \tilde u_i]

with baseline covariates ``x_i`` (the outcome model's centred/scaled ``design.X``), a
zero-sum modality effect, the previous wave's outcome (``g(y) = y`` for a binary outcome,
``(y - c) / s`` with the intake mean and sd otherwise; 0 when missing, then the indicator
carries it), hierarchical site and area effects, and optionally (shared-parameter variant)
the standardised person effect ``u~_i`` of the outcome model. Priors: ``alpha_t ~
N(logit(observed rate), 1.5)``, ``gamma, rho ~ N(0, 1)``, ``rho_miss ~ N(0, 1.5)``,
``sigma ~ HalfN(0.5)``, ``lambda ~ N(0, 1)``. Parameter names start with ``r_``.

*Stages and attempts.* DTORS attempted the second follow-up only among on-time
first-follow-up responders, and re-interviewed some first-follow-up non-responders once,
late (6-12 months), recorded as wave-1 interviews with their true months. Late interviews
are found from the months of *all* a wave's interviews (``Design.late``: the first gap of at
least half a month after the nominal months; :func:`dtors_bayes.models.design.on_time_limits`). Each
follow-up wave is a stage ``t`` (response: interviewed on time); a wave with late interviews
also has a late stage ``t_late`` with its own intercept, attempted among the persons
attempted at ``t`` but not seen on time (response: seen late). The rule
(``attempted="auto"``): the first follow-up for everyone; in a *monotone* cohort (nobody
interviewed at a follow-up who was not interviewed at the previous wave) wave ``t >= 2`` for
the persons seen on time at ``t - 1`` (plus those seen late there, if any of them was seen at
``t``); otherwise (intermittent patterns) every follow-up for everyone. The window never
depends on who was seen at ``t`` (that would condition the risk set on the response).
``attempted="all"`` or a boolean (person x wave) array override the rule.

Selection model
---------------
:class:`Selection` adds the current, possibly unobserved outcome to the response model:

.. math::

    \operatorname{logit} P(r_{it} = 1 \mid y_{it}) = \ell_{it} + \kappa_{t,z}\, g(y_{it}),
    \qquad \kappa \sim N(m, s) \text{ (user's prior; } s = 0 \text{: fixed)}

and the joint density ``p(y_obs, r) = \int p(y | \theta) p(r | y, \psi) dy_mis``. For a
missing cell (not interviewed, or interviewed with an item-missing value) of a discrete
family the integral is a finite sum, marginalised exactly:

.. math::

    \log p(r_{it}) = \operatorname{logsumexp}_{v=0}^{n}\big[\log p(y = v \mid \eta_{it})
        + \log P(r_{it} \mid y = v)\big]

(``pm.Potential("y_missing_marginal")``). A non-responder's outcome is evaluated over the
months they would have been interviewed at, a quadrature of the stage's interview months
(:func:`missing_cell_months`), so the model is a proper joint density of ``(r, y)`` with
``time="months"`` too. Continuous families (gaussian, student_t) get a latent value per
missing cell (``y_missing``, prior: the outcome distribution, a mixture over the months
nodes when they differ) and the response term at it. Observed cells add
``log P(r = 1 | y_obs)``. With ``kappa = 0`` the sum is ``log P(r_it)`` for every cell, free
of the outcome parameters, so the outcome part of the posterior is the MAR posterior.
Supported families: bernoulli, binomial, beta_binomial, gaussian, student_t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dtors_bayes.exceptions import FitError, ModelError
from dtors_bayes.models.design import Design

#: Families the selection model supports and how their missing values are handled.
SELECTION_FAMILIES = {
    "bernoulli": "discrete",
    "binomial": "discrete",
    "beta_binomial": "discrete",
    "gaussian": "continuous",
    "student_t": "continuous",
}


# ---------------------------------------------------------------------------- layout
@dataclass
class ResponseLayout:
    """The attempted follow-up cells of a design and their response-model data.

    One cell per person and *stage*: a stage is a follow-up wave's on-time attempt, or its
    late second chance (DTORS's single follow-ups at 6-12 months), which is a stage of its
    own, attempted among that wave's on-time non-responders (see :func:`response_layout`).

    Attributes
    ----------
    person, wave : ndarray of int (n_cell,)
        Person and design-wave position of each attempted cell (a late-stage cell shares the
        wave of its on-time stage).
    stage : ndarray of int (n_cell,)
        Stage of each cell, index of ``alpha`` (``r_intercept``).
    stage_waves : list of int
        Wave label of each stage.
    stage_labels : list of str
        Label of each stage (coordinate ``r_wave``): the wave label, ``"<wave>_late"`` for a
        late stage.
    stage_late : list of bool
        Whether each stage is a late second chance.
    r : ndarray of bool (n_cell,)
        Interviewed at this stage.
    y : ndarray (n_cell,)
        Outcome, NaN where missing (not interviewed at this stage, or item-missing).
    prev, prev_missing : ndarray (n_cell,)
        ``g`` of the previous wave's outcome (0 where missing) and the missing indicator.
    center, scale : float
        Standardisation of ``g`` (0, 1 for binary outcomes).
    attempted : ndarray of bool (n_person, n_wave)
        The attempt mask over the design's waves (intake True where it is a design wave).
    rule : str
        ``"monotone"``, ``"all"`` (intermittent or forced) or ``"given"``.
    """

    person: np.ndarray
    wave: np.ndarray
    stage: np.ndarray
    stage_waves: list[int]
    r: np.ndarray
    y: np.ndarray
    prev: np.ndarray
    prev_missing: np.ndarray
    center: float
    scale: float
    attempted: np.ndarray
    rule: str
    stage_labels: list[str]
    stage_late: list[bool]

    def g(self, y):
        """The outcome as it enters the response model: ``(y - center) / scale``."""
        if self.center == 0.0 and self.scale == 1.0:
            return y
        return (y - self.center) / self.scale

    @property
    def n(self) -> int:
        """Number of attempted cells."""
        return int(self.person.size)


def _full(design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Outcome, interview, months and late matrices including intake; offset of design waves."""
    late = design.late if design.late is not None else np.zeros(design.y.shape, bool)
    if design.baseline_values is not None:
        n = design.n_person
        y = np.column_stack([design.baseline_values, design.y])
        it = np.column_stack([np.ones(n, bool), design.interviewed])
        mo = np.column_stack([np.zeros(n), design.months])
        lt = np.column_stack([np.zeros(n, bool), late])
        return y, it, mo, lt, 1
    return design.y, design.interviewed.astype(bool), design.months, late.astype(bool), 0


def is_monotone(interviewed: np.ndarray) -> bool:
    """True when nobody is interviewed at a follow-up after missing the previous wave."""
    it = np.asarray(interviewed, bool)
    return bool(all(np.all(~it[:, t] | it[:, t - 1]) for t in range(2, it.shape[1])))


def response_layout(design: Design, family: str, attempted: Any = "auto") -> ResponseLayout:
    """Attempted follow-up cells of ``design`` and their predictors (see module docstring).

    Stages: every follow-up wave ``t`` has an on-time stage; when some of its interviews are
    late (``design.late``, the gap rule of :func:`dtors_bayes.models.design.on_time_limits`), a
    late stage follows it, attempted among the persons attempted at ``t`` but not seen on
    time, with its own intercept. Attempted (``"auto"``): the first follow-up for everyone;
    in a monotone cohort, wave ``t >= 2`` for the persons seen *on time* at ``t - 1`` (and
    also those seen late there, if any of them was seen at ``t``). The window comes from the
    late rule on all interviews at ``t - 1``, never from who was seen at ``t``. Intermittent
    cohorts: every follow-up for everyone.

    Parameters
    ----------
    design : Design
    family : str
        The outcome family (binary outcomes enter as ``y``, others standardised).
    attempted : {"auto", "all"} or ndarray of bool (n_person, n_wave)
        The attempt rule, or an explicit mask over the design's waves (of the on-time
        stages; the late stages follow from it).
    """
    y, it, mo, lt, off = _full(design)
    n, t_full = y.shape
    if t_full < 2:
        raise ModelError("the response model needs at least one follow-up wave")
    binary = family == "bernoulli"
    base = y[:, 0][~np.isnan(y[:, 0])]
    if binary or base.size < 2:
        center, scale = 0.0, 1.0
    else:
        center, scale = float(base.mean()), float(base.std() or 1.0)
    on_time = it & ~lt
    if isinstance(attempted, str):
        if attempted not in ("auto", "all"):
            raise ModelError(f"attempted={attempted!r}; allowed: 'auto', 'all' or a boolean "
                             "(person x wave) array")
        att = np.ones((n, t_full), bool)
        rule = "all"
        if attempted == "auto" and is_monotone(it):
            rule = "monotone"
            for t in range(2, t_full):
                late_prev = lt[:, t - 1]
                offered_late = bool((late_prev & it[:, t]).any())
                att[:, t] = on_time[:, t - 1] | (late_prev if offered_late else False)
    else:
        given = np.asarray(attempted, bool)
        if given.shape != design.interviewed.shape:
            raise ModelError(f"attempted: expected a boolean array of shape "
                             f"{design.interviewed.shape} (persons x modelled waves); got "
                             f"{given.shape}")
        att = np.column_stack([np.ones(n, bool), given]) if off else given.copy()
        rule = "given"
    att[:, 0] = True
    bad = it[:, 1:] & ~att[:, 1:]
    if bad.any():
        raise ModelError(f"attempted: {int(bad.sum())} interview(s) at waves marked not "
                         "attempted; an interviewed cell is always attempted")
    full_waves = ([min(design.schedule)] if off else []) + list(design.waves)
    parts = []  # (person, full wave, r, y) per stage
    stage_waves, stage_labels, stage_late = [], [], []
    for t in range(1, t_full):
        pp = np.flatnonzero(att[:, t])
        parts.append((pp, t, on_time[pp, t]))
        stage_waves.append(int(full_waves[t]))
        stage_labels.append(str(full_waves[t]))
        stage_late.append(False)
        if lt[:, t].any():
            pl = np.flatnonzero(att[:, t] & ~on_time[:, t])
            parts.append((pl, t, lt[pl, t]))
            stage_waves.append(int(full_waves[t]))
            stage_labels.append(f"{full_waves[t]}_late")
            stage_late.append(True)
    pp = np.concatenate([p for p, _, _ in parts])
    tt = np.concatenate([np.full(p.size, t) for p, t, _ in parts])
    r = np.concatenate([rr for _, _, rr in parts])
    stage = np.concatenate([np.full(p.size, k) for k, (p, _, _) in enumerate(parts)])
    prev = y[pp, tt - 1]
    prev_missing = np.isnan(prev).astype(float)
    g_prev = np.nan_to_num(prev if binary else (prev - center) / scale, nan=0.0)
    return ResponseLayout(
        person=pp, wave=tt - off, stage=stage, stage_waves=stage_waves,
        r=r, y=np.where(r, y[pp, tt], np.nan), prev=g_prev, prev_missing=prev_missing,
        center=center, scale=scale, attempted=att[:, off:], rule=rule,
        stage_labels=stage_labels, stage_late=stage_late)


def response_linear_predictor(p: dict, layout: ResponseLayout, design: Design):
    """``ell`` (without the kappa term) for every attempted cell, numpy or PyTensor.

    ``p`` holds the ``r_*`` parameters with a leading sample axis (like
    :func:`dtors_bayes.models.predictor.linear_predictor`); returns ``(S, n_cell)``.
    """
    person = layout.person
    lin = p["r_intercept"][:, layout.stage]
    if "r_beta_covariate" in p:
        lin = lin + (p["r_beta_covariate"] @ design.X.T)[:, person]
    if "r_beta_modality" in p:
        lin = lin + p["r_beta_modality"][:, design.modality[person]]
    lin = lin + p["r_rho_prev"][:, None] * layout.prev[None, :]
    if "r_rho_prev_missing" in p:
        lin = lin + p["r_rho_prev_missing"][:, None] * layout.prev_missing[None, :]
    for lvl in ("site", "area"):
        codes = getattr(design, lvl)
        if f"r_z_{lvl}" in p and codes is not None:
            lin = lin + (p[f"r_sigma_{lvl}"][:, None] * p[f"r_z_{lvl}"])[:, codes[person]]
    if "r_lambda_person" in p:
        lin = lin + p["r_lambda_person"][:, None] * p["z_person"][:, person]
    return lin


def response_rate_centres(layout: ResponseLayout) -> np.ndarray:
    """Default prior centres of ``alpha_t``: the logit of each stage's observed response rate.

    Rates are clipped to [0.02, 0.98]; a stage nobody was attempted at gets 0.5.
    """
    rate = np.array([layout.r[layout.stage == k].mean() if (layout.stage == k).any() else 0.5
                     for k in range(len(layout.stage_waves))])
    rate = np.clip(rate, 0.02, 0.98)
    return np.log(rate / (1 - rate))


def _log_sigmoid(x):
    import pytensor.tensor as pt

    return -pt.softplus(-x)


# ---------------------------------------------------------------------------- response model
@dataclass
class ResponseModel:
    """Hierarchical logistic model of being interviewed at each attempted follow-up (MAR).

    Usable alone (:meth:`fit` -> :class:`ResponseFit`, propensities for weighting) or as the
    attrition part of a :class:`~dtors_bayes.models.change_model.ChangeModel`
    (``ChangeModel(..., attrition=ResponseModel())``: the response model is fitted jointly
    but shares no parameter with the outcome, so the outcome posterior is the MAR one; label
    ``"mar"``). The math is in the module docstring.

    Parameters
    ----------
    outcome : str, optional
        Outcome whose previous value predicts response (needed by :meth:`fit` on a cohort).
    covariates : list of str or str, optional
        Baseline covariates for :meth:`fit` on a cohort (as in ``ChangeModel``).
    levels : tuple of str
        Site/area effects for :meth:`fit` on a cohort (joint fits use the outcome model's).
    attempted : {"auto", "all"} or array
        The attempt rule (see :func:`response_layout`).
    shared_parameter : bool
        Add ``lambda * u~_i`` (the outcome model's standardised person effect); only in joint
        fits.
    intercept_loc : sequence of float, optional
        Prior centres of ``alpha_t``, one per stage; by default the logit of each stage's
        observed response rate (data-dependent: simulation-based calibration freezes them).
    """

    outcome: str | None = None
    covariates: list[str] | str | None = None
    levels: tuple[str, ...] = ("site", "area")
    attempted: Any = "auto"
    shared_parameter: bool = False
    intercept_loc: tuple[float, ...] | None = None

    label = "mar"

    def to_dict(self) -> dict:
        """JSON-able description (an explicit ``attempted`` array is not stored)."""
        att = self.attempted if isinstance(self.attempted, str) else "given"
        d = {"kind": "response", "outcome": self.outcome, "covariates": self.covariates,
             "levels": list(self.levels), "attempted": att,
             "shared_parameter": bool(self.shared_parameter)}
        if self.intercept_loc is not None:
            d["intercept_loc"] = [float(v) for v in self.intercept_loc]
        return d

    # ---- PyMC pieces ---------------------------------------------------------------------
    def add_parameters(self, model, design: Design, layout: ResponseLayout) -> dict:
        """Create the ``r_*`` parameters in the active model; return them padded ``(1, ...)``."""
        import pymc as pm
        import pytensor.tensor as pt

        n_stage = len(layout.stage_waves)
        model.add_coord("r_wave", layout.stage_labels)
        loc = response_rate_centres(layout)
        if self.intercept_loc is not None:
            loc = np.asarray(self.intercept_loc, dtype=float)
            if loc.shape != (n_stage,):
                raise ModelError(f"intercept_loc: one centre per response stage "
                                 f"{layout.stage_labels}; got {list(loc)}")
        p: dict[str, Any] = {
            "r_intercept": pm.Normal("r_intercept", loc, 1.5, dims="r_wave"),
            "r_rho_prev": pm.Normal("r_rho_prev", 0.0, 1.0),
        }
        if design.X.shape[1]:
            p["r_beta_covariate"] = pm.Normal("r_beta_covariate", 0.0, 1.0, dims="covariate")
        if len(design.modality_labels) > 1:
            p["r_beta_modality"] = pm.ZeroSumNormal("r_beta_modality", sigma=1.0,
                                                    dims="modality")
        if layout.prev_missing.any():
            p["r_rho_prev_missing"] = pm.Normal("r_rho_prev_missing", 0.0, 1.5)
        for lvl in ("site", "area"):
            # the levels the model has coordinates for (a joint fit: the outcome model's)
            if getattr(design, lvl) is not None and lvl in model.coords:
                p[f"r_sigma_{lvl}"] = pm.HalfNormal(f"r_sigma_{lvl}", 0.5)
                p[f"r_z_{lvl}"] = pm.Normal(f"r_z_{lvl}", 0.0, 1.0, dims=lvl)
        if self.shared_parameter:
            if "z_person" not in model.named_vars:
                raise ModelError("shared_parameter=True needs the outcome model's person effect "
                                 "(z_person), which this model has not got")
            p["r_lambda_person"] = pm.Normal("r_lambda_person", 0.0, 1.0)
            p["z_person"] = model["z_person"]
        return {k: pt.shape_padleft(v) for k, v in p.items()}

    def add_to_model(self, model, change_model, design: Design, etas: dict) -> None:
        """Attrition hook of ``ChangeModel.build``: add the response likelihood (MAR)."""
        import pymc as pm

        layout = response_layout(design, change_model.family, self.attempted)
        p = self.add_parameters(model, design, layout)
        lin = response_linear_predictor(p, layout, design)[0]
        pm.Bernoulli("r", logit_p=lin, observed=layout.r.astype("int8"))

    def build(self, design: Design, family: str = "bernoulli"):
        """A PyMC model of the response alone (MAR); returns ``(model, layout)``."""
        import pymc as pm

        if self.shared_parameter:
            raise ModelError("shared_parameter=True needs a joint fit with the outcome model "
                             "(ChangeModel(attrition=Selection(..., shared_parameter=True)))")
        layout = response_layout(design, family, self.attempted)
        coords = {"person": [str(p) for p in design.person_ids],
                  "modality": design.modality_labels, "covariate": design.covariate_names}
        if design.site is not None:
            coords["site"] = design.site_labels
        if design.area is not None:
            coords["area"] = design.area_labels
        with pm.Model(coords=coords) as model:
            p = self.add_parameters(model, design, layout)
            lin = response_linear_predictor(p, layout, design)[0]
            pm.Bernoulli("r", logit_p=lin, observed=layout.r.astype("int8"))
        return model, layout

    def fit(self, cohort_or_design, *, family: str | None = None, draws: int = 1000,
            tune: int = 1000, chains: int = 4, random_seed: int | None = None,
            sampler: str = "nutpie", progressbar: bool = True) -> ResponseFit:
        """Fit the response model alone; returns a :class:`ResponseFit`.

        Parameters
        ----------
        cohort_or_design : Cohort or Design
            A cohort needs ``outcome`` (and optionally ``covariates``, ``levels``) set.
        family : str, optional
            Outcome family; defaults to the cohort's (a design: ``"bernoulli"`` unless given).
        """
        from dtors_bayes.models.design import build_design
        from dtors_bayes.models.sampling import sample_model

        if isinstance(cohort_or_design, Design):
            design = cohort_or_design
            family = family or "bernoulli"
        else:
            if self.outcome is None:
                raise ModelError("ResponseModel.fit on a cohort needs outcome= (whose previous "
                                 "value predicts response)")
            family = family or cohort_or_design.outcomes.get(self.outcome, "bernoulli")
            design = build_design(cohort_or_design, outcome=self.outcome, family=family,
                                  covariates=self.covariates, baseline="outcome",
                                  levels=tuple(self.levels))
        model, layout = self.build(design, family)
        if random_seed is None:
            random_seed = int(np.random.SeedSequence().generate_state(1)[0])
        tree, seconds = sample_model(model, draws=draws, tune=tune, chains=chains,
                                     random_seed=random_seed, sampler=sampler,
                                     progressbar=progressbar)
        return ResponseFit(self, design, layout, tree, seconds)


@dataclass
class ResponseFit:
    """A fitted :class:`ResponseModel`: posterior of the response propensities."""

    response_model: ResponseModel
    design: Design
    layout: ResponseLayout
    tree: Any
    seconds: float = 0.0

    def response_propensity_draws(self, kind: str = "conditional") -> np.ndarray:
        """Posterior draws of the propensities, ``(draws, person, wave)``.

        See :func:`response_propensity_draws`.
        """
        return _propensities(self.tree, self.design, self.layout, kind, kappa=None)

    def summary(self):
        """ArviZ summary of the structural response parameters."""
        import arviz as az

        post = self.tree["posterior"].to_dataset()
        names = [v for v in post.data_vars if not v.startswith("r_z_")]
        return az.summary(post[names], ci_prob=0.9, ci_kind="eti")


def response_propensity_draws(fit, kind: str = "conditional") -> np.ndarray:
    r"""Posterior draws of response propensities, ``(chain*draw, person, wave)``.

    Parameters
    ----------
    fit : ResponseFit or Fit
        A response-model fit, or a joint fit whose attrition is a :class:`ResponseModel` or
        :class:`Selection`.
    kind : {"conditional", "cumulative"}
        ``"conditional"``: ``P(r_it = 1 | attempted)``, on time or, where the wave has a
        late stage, late (``p_on + (1 - p_on) p_late``); NaN where not attempted; 1 at
        intake. ``"cumulative"``: the product of the on-time propensities from the first
        follow-up to ``t`` (the denominator of sequential inverse-probability weights under a
        monotone pattern, where the next wave follows an on-time interview); NaN where not
        attempted.

    Notes
    -----
    Under a selection fit the propensity of a cell with an observed outcome includes
    ``kappa g(y_it)``; cells with a missing outcome are NaN there (their propensity depends on
    the unobserved value). Weighting uses respondents, whose values are all observed.
    """
    if isinstance(fit, ResponseFit):
        return fit.response_propensity_draws(kind)
    att = getattr(fit.model, "attrition", None)
    if isinstance(att, ResponseModel):
        layout = response_layout(fit.design, fit.model.family, att.attempted)
        return _propensities(fit.tree, fit.design, layout, kind, kappa=None)
    if isinstance(att, Selection):
        layout = response_layout(fit.design, fit.model.family, att.response.attempted)
        return _propensities(fit.tree, fit.design, layout, kind, kappa=att)
    raise FitError("response propensities need a response model: fit ResponseModel(...) "
                   "alone, or the change model with attrition=ResponseModel() or Selection(...)")


def _propensities(tree, design: Design, layout: ResponseLayout, kind: str,
                  kappa: Selection | None) -> np.ndarray:
    from scipy.special import expit

    from dtors_bayes.models.sampling import stack_draws

    if kind not in ("conditional", "cumulative"):
        raise FitError(f"kind={kind!r}; allowed: 'conditional', 'cumulative'")
    params, _, _ = stack_draws(tree)
    lin = response_linear_predictor(params, layout, design)
    if kappa is not None:
        k = kappa.cell_kappa_numpy(params, layout, design)
        g = layout.g(layout.y)
        lin = np.where(np.isnan(g)[None, :], np.nan, lin + k * np.nan_to_num(g)[None, :])
    s = lin.shape[0]
    p = expit(lin)
    out = np.full((s, design.n_person, design.y.shape[1]), np.nan)
    stage_late = np.asarray(layout.stage_late, bool)
    on = ~stage_late[layout.stage]
    out[:, layout.person[on], layout.wave[on]] = p[:, on]
    if design.baseline_values is None:
        out[:, :, 0] = 1.0
    if kind == "cumulative":
        # the next wave is attempted after an on-time interview: chain the on-time stages
        first = 1 if design.baseline_values is None else 0
        for t in range(first + 1, out.shape[2]):
            out[:, :, t] = out[:, :, t] * out[:, :, t - 1]
    # a late second chance: P(seen at t) = P(on time) + P(not on time) P(late)
    late = ~on
    if late.any() and kind == "conditional":
        pl, wl = layout.person[late], layout.wave[late]
        out[:, pl, wl] = out[:, pl, wl] + (1.0 - out[:, pl, wl]) * p[:, late]
    return out


# ---------------------------------------------------------------------------- selection
def _normal_text(m: float, s: float) -> str:
    return f"{m:g}" if s == 0 else f"N({m:g},{s:g})"


def _parse_prior(v, what: str) -> tuple[float, float]:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v), 0.0
    try:
        m, s = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ModelError(f"{what}: expected a number (fixed) or (mean, sd) of a normal prior; "
                         f"got {v!r}") from None
    if not (math.isfinite(m) and math.isfinite(s)) or s < 0:
        raise ModelError(f"{what}: need a finite mean and sd >= 0; got ({m}, {s})")
    return m, s


@dataclass
class Selection:
    r"""Diggle-Kenward selection model: response depends on the current outcome (MNAR).

    Parameters
    ----------
    kappa : float, (mean, sd), or dict
        Prior of ``kappa``, the log odds ratio of response per unit of ``g(y_it)`` (binary:
        offending vs not; otherwise per intake sd). A number fixes it (``0.0``: MAR); a pair
        is a normal prior; a dict maps wave labels (int) or modality labels (str) to either.
    shared_parameter : bool
        Also let response depend on the outcome model's person effect (``lambda * u~_i``).
    response : ResponseModel, optional
        The response part (attempt rule); defaults to ``ResponseModel()``.

    Notes
    -----
    Label: ``selection(kappa~N(-1,0.5))``, ``selection(kappa=0)``,
    ``selection(kappa~{1:N(-1,0.5),2:N(-0.5,0.5)})``, with ``, shared`` when
    ``shared_parameter``. kappa is weakly identified by the observed data: its prior matters,
    and results should be reported over it (and over a pattern-mixture delta grid).
    """

    kappa: Any = (-1.0, 0.5)
    shared_parameter: bool = False
    response: ResponseModel | None = None

    def __post_init__(self) -> None:
        if self.response is None:
            self.response = ResponseModel()
        self.response.shared_parameter = bool(self.shared_parameter)
        if isinstance(self.kappa, dict):
            if not self.kappa:
                raise ModelError("kappa: an empty dict; give (mean, sd) or a dict by wave "
                                 "(int keys) or modality (str keys)")
            kinds = {isinstance(k, int | np.integer) for k in self.kappa}
            if len(kinds) != 1:
                raise ModelError("kappa dict: keys must be all wave labels (int) or all "
                                 "modality labels (str)")
            self.kappa_by = "wave" if kinds.pop() else "modality"
            self._prior = {(int(k) if self.kappa_by == "wave" else str(k)):
                           _parse_prior(v, f"kappa[{k!r}]") for k, v in self.kappa.items()}
        else:
            self.kappa_by = None
            self._prior = {None: _parse_prior(self.kappa, "kappa")}

    @property
    def label(self) -> str:
        """Attrition label carried by every estimate."""
        if self.kappa_by is None:
            m, s = self._prior[None]
            text = f"kappa={m:g}" if s == 0 else f"kappa~{_normal_text(m, s)}"
        else:
            inner = ",".join(f"{k}:{_normal_text(*v)}" for k, v in self._prior.items())
            text = f"kappa~{{{inner}}}"
        return f"selection({text}{', shared' if self.shared_parameter else ''})"

    def to_dict(self) -> dict:
        """JSON-able description; :func:`from_dict` rebuilds it."""
        return {"kind": "selection", "kappa_by": self.kappa_by,
                "kappa": [[k, m, s] for k, (m, s) in self._prior.items()],
                "shared_parameter": bool(self.shared_parameter),
                "response": self.response.to_dict()}

    # ---- kappa per cell ------------------------------------------------------------------
    def _groups(self, layout: ResponseLayout, design: Design) -> tuple[list, np.ndarray]:
        """Kappa group keys and each cell's group index."""
        if self.kappa_by is None:
            return [None], np.zeros(layout.n, dtype=int)
        keys = list(self._prior)
        if self.kappa_by == "wave":
            labels = np.asarray(layout.stage_waves)[layout.stage]
            missing = sorted(set(layout.stage_waves) - set(keys))
            if missing or set(keys) - set(layout.stage_waves):
                raise ModelError(f"kappa by wave: give one prior for each follow-up wave "
                                 f"{layout.stage_waves}; got {keys}")
            idx = np.array([keys.index(int(w)) for w in labels], dtype=int)
        else:
            mods = design.modality_labels
            if set(keys) != set(mods):
                raise ModelError(f"kappa by modality: give one prior for each modality {mods}; "
                                 f"got {keys}")
            idx = np.array([keys.index(mods[m]) for m in design.modality[layout.person]],
                           dtype=int)
        return keys, idx

    def _kappa_tensor(self, keys: list):
        import pymc as pm
        import pytensor.tensor as pt

        parts = []
        for k in keys:
            m, s = self._prior[k]
            name = "kappa" if k is None else f"kappa_{k}"
            parts.append(pm.Normal(name, m, s) if s > 0 else pt.constant(m, dtype="float64"))
        return pt.stack(parts)

    def cell_kappa_numpy(self, params: dict, layout: ResponseLayout, design: Design) -> np.ndarray:
        """Kappa of every attempted cell from posterior draws, ``(S, n_cell)``."""
        keys, idx = self._groups(layout, design)
        s = next(iter(params.values())).shape[0]
        cols = []
        for k in keys:
            name = "kappa" if k is None else f"kappa_{k}"
            m, sd = self._prior[k]
            cols.append(params[name] if sd > 0 else np.full(s, m))
        return np.stack(cols, axis=1)[:, idx]

    # ---- reporting -----------------------------------------------------------------------
    def prior_to_posterior(self, posterior) -> Any:
        """Each free kappa's prior next to its posterior: how far the data moved it.

        Parameters
        ----------
        posterior : xarray.Dataset or DataTree node
            A selection fit's posterior (``fit.posterior``).

        Returns
        -------
        DataFrame
            ``parameter, prior_mean, prior_sd, post_mean, post_sd, shift_in_prior_sd``
            (``(post_mean - prior_mean) / prior_sd``) and ``sd_ratio`` (``post_sd /
            prior_sd``: near 1 means the data said little and the prior carries kappa).
            A shift of this size under data known to be MAR is a warning sign.
        """
        import pandas as pd

        rows = []
        for k, (m, sd) in self._prior.items():
            name = "kappa" if k is None else f"kappa_{k}"
            if sd == 0 or name not in posterior:
                continue
            v = np.asarray(posterior[name].values, dtype=float).ravel()
            rows.append({"parameter": name, "prior_mean": m, "prior_sd": sd,
                         "post_mean": float(v.mean()), "post_sd": float(v.std(ddof=1)),
                         "shift_in_prior_sd": float((v.mean() - m) / sd),
                         "sd_ratio": float(v.std(ddof=1) / sd)})
        return pd.DataFrame(rows, columns=["parameter", "prior_mean", "prior_sd", "post_mean",
                                           "post_sd", "shift_in_prior_sd", "sd_ratio"])

    # ---- simulation ----------------------------------------------------------------------
    def simulate_response(self, design: Design, params: dict[str, np.ndarray], y: np.ndarray,
                          family: str, *, seed: int | None = None) -> np.ndarray:
        r"""Draw who is interviewed, given complete outcomes, at fixed parameter values.

        The model's own parameterisation: at stage ``t`` (monotone: the first follow-up for
        everyone, later ones for those seen at ``t - 1``), ``r_it ~ Bernoulli(sigmoid(ell_it
        + kappa g(y_it)))`` with ``ell`` from :func:`response_linear_predictor` (previous
        outcome from ``y``). For designs without late interviews (simulation-based
        calibration); masking ``y`` with the result and refitting recovers ``params``.

        Parameters
        ----------
        design : Design
            Template (persons, covariates, site/area codes, waves).
        params : dict
            ``r_*`` parameters and ``kappa`` (when not fixed), without a sample axis.
        y : ndarray (n_person, n_wave)
            Complete outcomes over the design's waves.
        family : str
        seed : int, optional

        Returns
        -------
        ndarray of bool (n_person, n_wave)
            Interviewed; intake (a design wave) always.
        """
        from dataclasses import replace

        from scipy.special import expit

        if design.baseline_values is not None:
            raise ModelError("simulate_response: baseline='covariate' designs are not "
                             "supported; simulate with baseline='outcome'")
        full = replace(design, y=np.asarray(y, float), late=None,
                       interviewed=np.ones(design.y.shape, bool))
        layout = response_layout(full, family, "all")
        lead = {k: np.asarray(v)[None] for k, v in params.items()}
        lin = response_linear_predictor(lead, layout, full)
        kap = self.cell_kappa_numpy(lead, layout, full)
        p = expit(lin + kap * layout.g(layout.y)[None])[0]
        rng = np.random.default_rng(seed)
        u = rng.random(p.size)
        seen = np.ones(design.y.shape, bool)
        for t in range(1, design.y.shape[1]):
            cells = np.flatnonzero(layout.wave == t)
            seen[layout.person[cells], t] = (u[cells] < p[cells]) & \
                seen[layout.person[cells], t - 1]
        return seen

    # ---- the model -----------------------------------------------------------------------
    def add_to_model(self, model, change_model, design: Design, etas: dict) -> None:
        """Attrition hook of ``ChangeModel.build`` (see the module docstring for the math)."""
        import pymc as pm
        import pytensor.tensor as pt

        from dtors_bayes.models.predictor import linear_predictor

        family = change_model.family
        if family not in SELECTION_FAMILIES:
            raise ModelError(
                f"the selection model does not support family {family!r}: its missing values "
                f"can be neither enumerated nor imputed here. Supported: "
                f"{', '.join(SELECTION_FAMILIES)} (discrete ones marginalised exactly, "
                "continuous ones imputed as latent values); use a pattern-mixture sensitivity "
                "analysis (dtors_bayes.attrition.sensitivity) for other families")
        layout = response_layout(design, family, self.response.attempted)
        rp = self.response.add_parameters(model, design, layout)
        lin = response_linear_predictor(rp, layout, design)[0]
        keys, gidx = self._groups(layout, design)
        kap = self._kappa_tensor(keys)[gidx]
        obs = ~np.isnan(layout.y)
        o, m = np.flatnonzero(obs), np.flatnonzero(~obs)
        # Observed outcomes were all interviewed: log P(r = 1 | y_obs).
        if o.size:
            g_obs = layout.g(layout.y[o])
            pm.Potential("r_observed", _log_sigmoid(lin[o] + kap[o] * g_obs).sum())
        if not m.size:
            return
        # Linear predictor of the outcome at the missing cells, at each cell's possible
        # interview months (quadrature of its stage's months distribution; see
        # missing_cell_months).
        p = {name: pt.shape_padleft(var) for name, var in model.named_vars.items()
             if not name.startswith(("r_", "kappa"))}
        basis = change_model.basis(design)
        months, log_w, late = missing_cell_months(layout, design, basis, m)
        k = months.shape[1]
        pm_, tm_ = np.repeat(layout.person[m], k), np.repeat(layout.wave[m], k)
        cells = design.cells(basis, pm_, tm_, months.ravel(), late=late.ravel())
        eta = linear_predictor(p, cells, prefix="", by_time=change_model.modality_by_time)[0]
        eta = eta.reshape((m.size, k))
        sign = np.where(layout.r[m], 1.0, -1.0)  # log P(r|.) = log_sigmoid(sign * x)
        if SELECTION_FAMILIES[family] == "discrete":
            n_val = 1 if family == "bernoulli" else int(design.trials)
            v = np.arange(n_val + 1, dtype=float)
            logp_y = discrete_logp(family, eta[:, :, None], v[None, None, :], n_val,
                                   model["phi"] if family == "beta_binomial" else None)
            x = lin[m][:, None] + kap[m][:, None] * layout.g(v)[None, :]
            logr = _log_sigmoid(sign[:, None] * x)[:, None, :]
            terms = (logp_y + logr).reshape((m.size, k * v.size))
            lw = np.repeat(log_w, v.size, axis=1)
            pm.Potential("y_missing_marginal", pt.logsumexp(terms + lw, axis=1).sum())
        else:
            model.add_coord("y_missing_cell", np.arange(m.size))
            if k == 1:
                if family == "gaussian":
                    ymis = pm.Normal("y_missing", mu=eta[:, 0], sigma=model["sigma"],
                                     dims="y_missing_cell")
                else:
                    ymis = pm.StudentT("y_missing", nu=model["nu"], mu=eta[:, 0],
                                       sigma=model["sigma"], dims="y_missing_cell")
            else:  # a mixture over the possible interview months
                ymis = pm.Flat("y_missing", dims="y_missing_cell")
                dist = pm.Normal.dist(mu=eta, sigma=model["sigma"]) if family == "gaussian" \
                    else pm.StudentT.dist(nu=model["nu"], mu=eta, sigma=model["sigma"])
                lp = pm.logp(dist, pt.shape_padright(ymis))
                pm.Potential("y_missing_prior", pt.logsumexp(lp + log_w, axis=1).sum())
            x = lin[m] + kap[m] * layout.g(ymis)
            pm.Potential("r_missing", _log_sigmoid(sign * x).sum())


#: Quadrature nodes of a stage's interview-months distribution (non-responders' months).
MONTHS_NODES = 8


def stage_months(layout: ResponseLayout, design: Design,
                 n_nodes: int = MONTHS_NODES) -> list[np.ndarray]:
    """Quadrature nodes (equal weights) of each stage's interview-months distribution.

    The ``n_nodes`` mid-quantiles ``(j + 1/2) / n_nodes`` of the months of the stage's
    interviews; a stage nobody was seen at gets its wave's nominal months.
    """
    out = []
    for k, w in enumerate(layout.stage_waves):
        sel = (layout.stage == k) & layout.r
        mo = design.months[layout.person[sel], layout.wave[sel]]
        if mo.size == 0:
            out.append(np.array([float(design.schedule[w])]))
        else:
            out.append(np.quantile(mo, (np.arange(n_nodes) + 0.5) / n_nodes))
    return out


def missing_cell_months(layout: ResponseLayout, design: Design, basis, cells: np.ndarray,
                        n_nodes: int = MONTHS_NODES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The months at which the selection model evaluates each missing-outcome cell.

    A person not interviewed at a stage would have been interviewed at an unknown month
    ``m``, distributed like the stage's interview months ``g_t`` (timing non-informative
    given the response predictors). The proper joint density of a non-response is then

    .. math::

        P(r_{it} = 0) = \int g_t(m) \sum_v p(v \mid \eta_{it}(m))\,
            \sigma(-(\ell_{it} + \kappa g(v)))\, dm
        \approx \sum_j \omega_j \sum_v p(v \mid \eta_{it}(m_j))\,
            \sigma(-(\ell_{it} + \kappa g(v)))

    with the nodes of :func:`stage_months`, while a response contributes
    ``p(y | eta(m_i)) sigma(l + kappa y) g_t(m_i)`` (``g_t`` free of parameters, dropped).
    So ``P(r=1) + P(r=0) = 1`` for every kappa; placing non-responders at the nominal months
    instead (the earlier model) is improper whenever interviews spread around them. An
    interviewed cell with an item-missing value sits at its own months. When every node
    gives the same basis row (wave basis, on-time stage) one node is kept.

    Returns
    -------
    months, log_w, late : ndarray (n_cells, K)
        Months, log weights (``-inf`` pads) and late flags of each cell's nodes.
    """
    nodes = stage_months(layout, design, n_nodes)
    stage_late = np.asarray(layout.stage_late, bool)
    collapse = [basis.kind == "wave" and not stage_late[k] for k in range(len(nodes))]
    sizes = np.array([1 if (layout.r[c] or collapse[layout.stage[c]])
                      else nodes[layout.stage[c]].size for c in cells], dtype=int)
    k = int(sizes.max()) if cells.size else 1
    months = np.empty((cells.size, k))
    log_w = np.full((cells.size, k), -np.inf)
    for i, c in enumerate(cells):
        if layout.r[c]:
            months[i] = design.months[layout.person[c], layout.wave[c]]
        elif sizes[i] == 1:  # an on-time stage of the wave basis: every node is alike
            months[i] = design.schedule[layout.stage_waves[layout.stage[c]]]
        else:
            months[i] = nodes[layout.stage[c]][-1]
            months[i, :sizes[i]] = nodes[layout.stage[c]]
        log_w[i, :sizes[i]] = -np.log(sizes[i])
    late = np.repeat(stage_late[layout.stage[cells]][:, None], k, axis=1)
    return months, log_w, late


def discrete_logp(family: str, eta, v, n: int, phi=None):
    """``log p(y = v | eta)`` of a discrete family (PyTensor), broadcasting ``eta`` and ``v``."""
    import pytensor.tensor as pt

    lp1, lp0 = _log_sigmoid(eta), _log_sigmoid(-eta)
    if family == "bernoulli":
        return v * lp1 + (1 - v) * lp0
    from scipy.special import gammaln

    # log binomial coefficients are data: computed in numpy, float64 (PyTensor would cast a
    # Python float constant such as n + 1.0 to float32 under its default cast policy)
    vv = np.asarray(v, dtype=np.float64)
    logc = gammaln(n + 1.0) - gammaln(vv + 1.0) - gammaln(n - vv + 1.0)
    if family == "binomial":
        return logc + v * lp1 + (n - v) * lp0
    if family == "beta_binomial":
        p = pt.sigmoid(eta)
        a, b = p * phi, (1 - p) * phi

        def betaln(x, y):
            return pt.gammaln(x) + pt.gammaln(y) - pt.gammaln(x + y)

        return logc + betaln(v + a, n - v + b) - betaln(a, b)
    raise ModelError(f"family {family!r} is not discrete-enumerable")  # pragma: no cover


def from_dict(d: dict):
    """Rebuild an attrition object from its :meth:`to_dict` (``ChangeModel.from_spec``)."""
    kind = d.get("kind")
    if kind == "response":
        att = d.get("attempted", "auto")
        loc = d.get("intercept_loc")
        return ResponseModel(outcome=d.get("outcome"), covariates=d.get("covariates"),
                             levels=tuple(d.get("levels", ("site", "area"))),
                             attempted="auto" if att == "given" else att,
                             shared_parameter=bool(d.get("shared_parameter", False)),
                             intercept_loc=None if loc is None else tuple(loc))
    if kind == "selection":
        items = d["kappa"]
        if d.get("kappa_by") is None:
            _, m, s = items[0]
            kappa: Any = float(m) if s == 0 else (float(m), float(s))
        else:
            conv = int if d["kappa_by"] == "wave" else str
            kappa = {conv(k): (float(m) if s == 0 else (float(m), float(s)))
                     for k, m, s in items}
        resp = from_dict(d["response"]) if "response" in d else None
        return Selection(kappa=kappa, shared_parameter=bool(d.get("shared_parameter", False)),
                         response=resp)
    raise ModelError(f"unknown attrition description {d!r}; kinds: 'response', 'selection'")
