"""Default priors of the change model, weakly informative on the response scale.

Trajectory levels
-----------------
Every trajectory coefficient is a *level*: the linear predictor at a wave (``time="wave"``) or
at a knot month (``"linear"``, ``"months"``; see :mod:`dtors_bayes.models.time_basis`), for a person
with ``u_i = v_s = w_a = 0`` and covariates at their mean. With ``modality_by_time=True`` and
more than one modality the levels are partially pooled over modalities,

.. math::

    \\beta_{z,b} = \\mu_b + \\tau_1 \\tilde\\delta_z + \\tau_2 \\tilde\\epsilon_{z,b},
    \\qquad \\mu_b \\sim N(m_b, \\sigma_{level}),

    \\tilde\\delta \\sim \\mathrm{ZSN}_z(1), \\quad \\tilde\\epsilon_{\\cdot,b} \\sim
    \\mathrm{ZSN}_z(1), \\quad \\tau_1, \\tau_2 \\sim \\mathrm{HalfNormal}(\\cdot)

(non-centred; ZSN is a zero-sum normal over modalities, so ``mu_b`` is the unweighted
average of the modalities' levels). ``tau_1`` (``sigma_modality``) is a modality shift
shared by all basis functions; ``tau_2`` (``sigma_modality_time``) lets each modality's
trajectory bend on its own. ``beta_time`` stays a ``pm.Deterministic`` with dims
``(modality, time_basis)`` for every consumer. With one modality, ``beta_time[0, b] = mu_b``;
with ``modality_by_time=False``, ``beta_time[b] = mu_b`` plus the constant zero-sum
``beta_modality``.

Prior centres ``m_b``
---------------------
Each wave ``t`` gets a centre from *its own* observed outcomes (a wave with no observed value
falls back to all waves pooled), mapped to the conditional (random effects = 0) scale of the
link. ``s`` is the prior *mean* of the total random-intercept sd: ``s^2 = (2/pi) sum_l c_l^2``
over the model's HalfNormal(``c_l``) intercept scales (person, and site/area where modelled;
random change terms and covariates are ignored):

- **logit** (probability, binomial proportion, a hurdle's "non-zero" part):
  ``m_t = logit(pbar_t) * sqrt(1 + 0.346 s^2)``, ``pbar_t`` the wave's observed proportion
  clipped to [0.02, 0.98]. Zeger, Liang and Albert (1988): the marginal logit is about the
  conditional one divided by ``sqrt(1 + c^2 s^2)``, ``c = 16 sqrt(3) / (15 pi)``,
  ``c^2 = 0.346``.
- **log** (negative binomial, the gamma hurdle's positive part):
  ``m_t = log(ybar_t) - s^2 / 2``, since ``E[exp(eta + u)] = exp(eta + s^2 / 2)`` for
  ``u ~ N(0, s^2)``; ``ybar_t`` floored at 1e-3.
- **log, lognormal positive part** (``hurdle_lognormal``, ``eq5d``): ``m_t = mean(log y)``
  over the wave's positive values. The person effect is additive on the log scale, so no
  correction is needed.
- **identity**: ``m_t = ybar_t``.

For ``time="linear"`` / ``"months"`` the centre of a knot is interpolated linearly in months
between the waves' nominal months (``design.schedule``; constant beyond the first and last
modelled wave). Under ``baseline="covariate"`` only the follow-ups are modelled waves, so
intake gives no centre.

Scales
------
============================  ===================  ==================  =====================
parameter (prior name)        logit link           log link            identity link
============================  ===================  ==================  =====================
mu_time (``level``)           N(m_b, 1.5)          N(m_b, 1.5)         N(m_b, 2.5 sd_y)
sigma_modality                HalfN(0.5)           HalfN(0.5)          HalfN(0.5 sd_y)
sigma_modality_time           HalfN(0.5)           HalfN(0.5)          HalfN(0.5 sd_y)
modality effect (constant,    ZeroSumNormal(1.0)   ZeroSumNormal(1.0)  ZeroSumNormal(sd_y)
``modality``; by_time=False)
covariates (per sd / 0-1)     N(0, 1.0)            N(0, 1.0)           N(0, sd_y)
sigma_person                  HalfN(1.0)           HalfN(1.0)          HalfN(sd_y)
sigma_site, sigma_area        HalfN(0.5)           HalfN(0.5)          HalfN(0.5 sd_y)
random change sds             HalfN(0.5)           HalfN(0.5)          HalfN(0.5 sd_y)
(``sigma_change``)
sigma_<m> (``sigma_modifier``)  HalfN(0.5)         HalfN(0.5)          HalfN(0.5 sd_y)
sigma_<m>_modality            HalfN(0.25)          HalfN(0.25)         HalfN(0.25 sd_y)
(``sigma_modifier_modality``)
============================  ===================  ==================  =====================

Effect modifiers
----------------
With ``modifiers=[m, ...]`` (person-level categorical columns; only then do the last two
rows exist) each modifier ``m`` with levels ``l`` adds to the trajectory, at every basis
function ``b``,

.. math::

    \\gamma_{m,l,b} = \\tau_m \\tilde\\gamma_{b,l}, \\quad
    \\tilde\\gamma_{b,\\cdot} \\sim \\mathrm{ZSN}_l(1), \\qquad
    \\gamma_{m,z,l,b} = \\tau_{mz} \\tilde\\gamma_{b,z,l}, \\quad
    \\tilde\\gamma_{b,\\cdot,\\cdot} \\sim \\mathrm{ZSN}_{z,l}(1),

    \\tau_m \\sim \\mathrm{HalfNormal}(c_m), \\quad \\tau_{mz} \\sim \\mathrm{HalfNormal}(c_{mz})

so person i's level at basis ``b`` is ``beta_{z_i,b} + gamma_{m,l_i,b} + gamma_{m,z_i,l_i,b}``
(non-centred; zero-sum over the levels, and the interaction over modality and over the
levels too, so ``beta_time`` stays the levels' unweighted average). ``tau_m``
(``sigma_<m>``) lets the subgroups' trajectories differ; ``tau_mz`` (``sigma_<m>_modality``)
lets the modality contrasts differ by subgroup, shrunk harder (half the scale) since each
cell has fewer persons. Both are overridden by name, ``priors={"sigma_modifier": 0.3,
"sigma_modifier_modality": 0.1}`` (one setting for every modifier).

``sd_y`` is the sd of the observed outcome over all waves. The level sd 1.5 is narrower than
the former N(logit pbar_all, 2) because the centre is now the wave's own (conditional-scale)
proportion and each ``mu_b`` pools every modality at that wave; the former pooled centre sat
1.0-1.4 logits above every DTORS follow-up level and biased small follow-up cells upwards.

Overrides
---------
Users override any scale by name: ``ChangeModel(..., priors={"sigma_person": 0.5})``. The
centres take ``priors={"level_loc": -2.0}`` (every wave) or a per-wave table
``priors={"level_loc": {1: -1.8, 2: -2.1}}`` (keys: modelled wave labels, as ``1``, ``"1"``
or ``"wave_1"``; waves not named keep their default centre). An overriding centre is on the
link (conditional) scale as given, no attenuation applied; knots interpolate it like the
defaults. The positive part of a hurdle uses the same names prefixed ``pos_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dtors_bayes.exceptions import ModelError

#: Names users may set in ``priors=`` (prefix ``pos_`` for a hurdle's positive part).
PRIOR_NAMES = (
    "level_loc", "level", "sigma_modality", "sigma_modality_time", "modality", "covariate",
    "sigma_person", "sigma_site", "sigma_area", "sigma_change",
    "sigma_modifier", "sigma_modifier_modality",
)
#: Zeger et al. (1988): ``c^2`` with ``c = 16 sqrt(3) / (15 pi)``.
ZEGER_C2 = (16.0 * np.sqrt(3.0) / (15.0 * np.pi)) ** 2
#: Mean of a HalfNormal(1): ``sqrt(2 / pi)``.
HALFNORMAL_MEAN = float(np.sqrt(2.0 / np.pi))
#: Observed proportions are clipped to this range before the logit.
P_CLIP = (0.02, 0.98)

#: A ``level_loc`` setting: one centre for every wave, or ``{wave label: centre}``.
LevelLoc = float | dict[int, float]


def default_priors(link: str, y: np.ndarray) -> dict[str, float]:
    """Pooled prior locations/scales for one linear predictor with link ``link``.

    ``level_loc`` here is the pooled (all-wave, unattenuated) centre; the model replaces it
    by per-wave centres (:func:`wave_centres`).

    Parameters
    ----------
    link : {"logit", "log", "identity"}
    y : array
        Observed values (NaN ignored): proportions for the logit link.

    Returns
    -------
    dict
        One float per name of :data:`PRIOR_NAMES`.
    """
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    if link == "identity":
        ybar = float(y.mean()) if y.size else 0.0
        sd = float(y.std()) if y.size > 1 and y.std() > 0 else 1.0
        return {"level_loc": ybar, "level": 2.5 * sd, "sigma_modality": 0.5 * sd,
                "sigma_modality_time": 0.5 * sd, "modality": sd, "covariate": sd,
                "sigma_person": sd, "sigma_site": 0.5 * sd, "sigma_area": 0.5 * sd,
                "sigma_change": 0.5 * sd}
    common = {"level": 1.5, "sigma_modality": 0.5, "sigma_modality_time": 0.5,
              "modality": 1.0, "covariate": 1.0, "sigma_person": 1.0, "sigma_site": 0.5,
              "sigma_area": 0.5, "sigma_change": 0.5}
    if link == "log":
        ybar = float(y.mean()) if y.size else 1.0
        return {"level_loc": float(np.log(max(ybar, 1e-3))), **common}
    p = float(np.clip(y.mean(), *P_CLIP)) if y.size else 0.5
    return {"level_loc": float(np.log(p / (1 - p))), **common}


def latent_sd(scales: Mapping[str, float], *, person: bool,
              levels: Sequence[str] = ()) -> float:
    """Prior mean of the total random-intercept sd, ``s = sqrt(2/pi) sqrt(sum_l c_l^2)``.

    ``c_l`` are the HalfNormal scales of ``sigma_person`` (when the model has a person
    effect) and ``sigma_{level}`` for each level in ``levels``.
    """
    names = (["sigma_person"] if person else []) + [f"sigma_{lvl}" for lvl in levels]
    return HALFNORMAL_MEAN * float(np.sqrt(sum(float(scales[n]) ** 2 for n in names)))


def wave_centre(link: str, y: np.ndarray, s: float = 0.0, *,
                location: str = "mean") -> float | None:
    """Conditional-scale prior centre of one wave's level from its observed values.

    Parameters
    ----------
    link : {"logit", "log", "identity"}
    y : array
        The wave's observed values (NaN ignored): proportions for ``logit``, positive
        values for a hurdle's positive part.
    s : float
        Prior mean of the random-intercept sd (:func:`latent_sd`).
    location : {"mean", "log_mean"}
        ``"log_mean"``: the mean of ``log y`` (lognormal positive parts; no correction).

    Returns
    -------
    float or None
        ``None`` when ``y`` has no observed value. Formulas: module docstring.
    """
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    if not y.size:
        return None
    if link == "logit":
        p = float(np.clip(y.mean(), *P_CLIP))
        return float(np.log(p / (1.0 - p)) * np.sqrt(1.0 + ZEGER_C2 * s ** 2))
    if link == "log":
        if location == "log_mean":
            y = y[y > 0]
            return float(np.log(y).mean()) if y.size else None
        return float(np.log(max(float(y.mean()), 1e-3)) - 0.5 * s ** 2)
    return float(y.mean())


def wave_centres(link: str, y: np.ndarray, waves: Sequence[int], s: float = 0.0, *,
                 location: str = "mean") -> dict[int, float]:
    """:func:`wave_centre` of every column of ``y`` (person x wave), keyed by wave label.

    A wave without observed values gets the centre of all waves pooled (0 if none at all).
    """
    y = np.asarray(y, dtype=float)
    pooled = wave_centre(link, y.ravel(), s, location=location)
    pooled = 0.0 if pooled is None else pooled
    out = {}
    for j, w in enumerate(waves):
        c = wave_centre(link, y[:, j], s, location=location)
        out[int(w)] = pooled if c is None else c
    return out


def _wave_key(key: Any, waves: Sequence[int]) -> int | None:
    """The wave label a user's key names (``1``, ``"1"`` or ``"wave_1"``), or None."""
    text = str(key).removeprefix("wave_")
    for w in waves:
        if text == str(int(w)):
            return int(w)
    return None


def parse_level_loc(value: Any, waves: Sequence[int], *, name: str = "level_loc"
                    ) -> dict[int, float]:
    """A user's ``level_loc`` override as ``{wave: centre}``.

    Parameters
    ----------
    value : float or mapping
        One number for every wave, or a table ``{wave label: number}`` for some waves.
    waves : sequence of int
        The modelled waves (``design.waves``).
    name : str
        The key as the user wrote it (for messages).

    Raises
    ------
    ModelError
        For a key that is not a modelled wave or a value that is not a number.
    """
    allowed = ", ".join(str(int(w)) for w in waves)
    if isinstance(value, Mapping):
        out, bad = {}, []
        for k, v in value.items():
            w = _wave_key(k, waves)
            if w is None:
                bad.append(repr(k))
                continue
            try:
                out[w] = float(v)
            except (TypeError, ValueError):
                raise ModelError(f"priors: {name}[{k!r}] = {v!r} is not a number") from None
        if bad:
            raise ModelError(f"priors: {name} names waves {', '.join(bad)} that are not "
                             f"modelled; allowed wave labels: {allowed} (or 'wave_<label>')")
        return out
    try:
        c = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"priors: {name} = {value!r}; expected a number or a table "
                         f"{{wave label: number}} with wave labels among {allowed}") from None
    return {int(w): c for w in waves}


def basis_centres(centres: Mapping[int, float], waves: Sequence[int],
                  schedule: Mapping[int, float], basis) -> np.ndarray:
    """Centre ``m_b`` of each basis function from per-wave centres.

    Wave basis: the wave's own centre. Knot bases: linear interpolation in months between
    the modelled waves' nominal months (``np.interp``: constant beyond the ends).

    Parameters
    ----------
    centres : mapping
        ``{wave label: centre}`` for every modelled wave.
    waves : sequence of int
        Modelled waves.
    schedule : mapping
        Nominal months per wave label.
    basis : TimeBasis
        ``kind``, ``waves`` and ``knots`` are read.

    Returns
    -------
    ndarray (n_basis,)
    """
    if basis.kind == "wave":
        return np.array([float(centres[int(w)]) for w in basis.waves])
    months = np.array([float(schedule[int(w)]) for w in waves])
    values = np.array([float(centres[int(w)]) for w in waves])
    order = np.argsort(months, kind="stable")
    return np.interp(np.asarray(basis.knots, dtype=float), months[order], values[order])


def aux_defaults(family: str, y: np.ndarray) -> dict[str, float]:
    """Scales of the auxiliary parameters (sigma of Gaussian/Student-t is the outcome's sd)."""
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    if family in ("gaussian", "student_t"):
        return {"sigma": float(y.std()) if y.size > 1 and y.std() > 0 else 1.0}
    return {}
