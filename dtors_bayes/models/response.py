r"""The response (interview) model: who is interviewed at each attempted follow-up (MAR).

A hierarchical logistic model of being interviewed, usable alone (:meth:`ResponseModel.fit`
-> :class:`ResponseFit`, propensities for inverse-probability weighting) or as the
attrition part of a :class:`~dtors_bayes.models.change_model.ChangeModel`. It is also the
response part of the Diggle-Kenward selection model
(:class:`dtors_bayes.models.selection.Selection`, which imports this module; this module
imports nothing of the selection model).

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

Propensities
------------
:func:`response_propensity_draws` turns a posterior (of a :class:`ResponseFit`, or of a
joint fit whose attrition is a response or selection model) into draws of ``P(r_it = 1)``
per person and wave: the response model's predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dtors_bayes.exceptions import FitError, ModelError
from dtors_bayes.models.design import Design


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

    def add_to_model(self, model, change_model, design: Design, etas: dict, *,
                     integral=None) -> None:
        """Attrition hook of ``ChangeModel.build``: add the response likelihood (MAR).

        ``integral`` (the person-effect quadrature) is unused: without the shared parameter
        the response does not depend on the person effect."""
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
        :class:`~dtors_bayes.models.selection.Selection`.
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
    if isinstance(getattr(att, "response", None), ResponseModel):  # a Selection
        layout = response_layout(fit.design, fit.model.family, att.response.attempted)
        return _propensities(fit.tree, fit.design, layout, kind, kappa=att)
    raise FitError("response propensities need a response model: fit ResponseModel(...) "
                   "alone, or the change model with attrition=ResponseModel() or Selection(...)")


def _propensities(tree, design: Design, layout: ResponseLayout, kind: str,
                  kappa: Any) -> np.ndarray:
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
