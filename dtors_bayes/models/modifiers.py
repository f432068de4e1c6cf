"""Effect modification: partially pooled trajectories by the levels of person-level columns.

For a modifier ``m`` (a person-level categorical column, ``ChangeModel(modifiers=[m])``) with
levels ``l``, the linear predictor of person i gains, at every time-basis function ``b``,

.. math::

    \\eta_{it} \\mathrel{+}= \\sum_b B_b(t) \\left(\\gamma_{m,l_i,b}
        + \\gamma_{m,z_i,l_i,b}\\right), \\qquad
    \\gamma_{m,l,b} = \\tau_m \\tilde\\gamma_{b,l}, \\quad
    \\gamma_{m,z,l,b} = \\tau_{mz} \\tilde\\gamma_{b,z,l}

with ``z_<m>`` (``tilde gamma``, dims ``(time_basis, <m>)``) zero-sum over the levels,
``z_<m>_modality`` (dims ``(time_basis, modality, <m>)``) zero-sum over modality and over
the levels, and HalfNormal scales ``sigma_<m>`` / ``sigma_<m>_modality``
(:mod:`dtors_bayes.models.priors`). Non-centred, like the modality levels; the terms are
evaluated by :func:`dtors_bayes.models.predictor.modifier_effect` for PyTensor and numpy
draws alike, so the likelihood, :meth:`ChangeModel.simulate` and the estimand engine share
one parameterisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Prior names of the modifier terms (one setting for every modifier).
MODIFIER_PRIOR_NAMES = ("sigma_modifier", "sigma_modifier_modality")

#: Columns that cannot be modifiers, and why.
_REFUSED = {
    "modality": "modality already has its own trajectories (beta_time); a modifier is "
                "another person-level column, e.g. modifiers=['referral_route']",
    "person_id": "every person would be their own subgroup",
}


def modifier_request_problems(modifiers: tuple[str, ...], covariates: Any) -> list[str]:
    """Problems of a ``modifiers=`` argument on its own and against ``covariates``.

    A modifier also named among the covariates would enter twice (a main effect in
    ``beta_covariate`` and the zero-sum levels), so it is refused, naming both.
    """
    out = []
    if any(not isinstance(m, str) for m in modifiers):
        return [f"modifiers={modifiers!r}; allowed: a list of column names"]
    if len(set(modifiers)) != len(modifiers):
        out.append(f"modifiers={list(modifiers)!r} names a column twice; fix: name each once")
    for m in modifiers:
        if m in _REFUSED:
            out.append(f"modifiers: {m!r} is not allowed: {_REFUSED[m]}")
    if isinstance(covariates, str):
        import re
        named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", covariates))
    else:
        named = set(covariates or [])
    both = [m for m in modifiers if m in named]
    if both:
        out.append(f"modifiers {both} are also in covariates={covariates!r}; allowed: a column "
                   "in one of them; fix: drop it from covariates (the modifier's levels "
                   "already give it a main effect) or from modifiers")
    return out


def modifier_priors(link: str, y: np.ndarray) -> dict[str, float]:
    """Default scales of the modifier terms for one linear predictor (see priors.py)."""
    scale = 1.0
    if link == "identity":
        y = np.asarray(y, dtype=float)
        y = y[~np.isnan(y)]
        scale = float(y.std()) if y.size > 1 and y.std() > 0 else 1.0
    return {"sigma_modifier": 0.5 * scale, "sigma_modifier_modality": 0.25 * scale}


def modifier_parameters(prefix: str, s: dict[str, Any], design) -> dict:
    """PyMC variables of the modifier terms of one linear predictor (inside a model).

    Creates, per modifier ``m``: ``sigma_<m>`` ~ HalfNormal(``sigma_modifier``), ``z_<m>``
    ZeroSumNormal over the levels, and with more than one modality ``sigma_<m>_modality`` ~
    HalfNormal(``sigma_modifier_modality``) and ``z_<m>_modality`` ZeroSumNormal over
    modality and level (``n_zerosum_axes=2``). Dims ``<m>`` are the model's coordinates of
    the modifier's levels (:meth:`ChangeModel.coords`).
    """
    import pymc as pm

    p: dict[str, Any] = {}
    n_mod = len(design.modality_labels)
    for m in design.modifier_names:
        p[f"sigma_{m}"] = pm.HalfNormal(f"{prefix}sigma_{m}", s["sigma_modifier"])
        p[f"z_{m}"] = pm.ZeroSumNormal(f"{prefix}z_{m}", sigma=1.0, dims=("time_basis", m))
        if n_mod > 1:
            p[f"sigma_{m}_modality"] = pm.HalfNormal(f"{prefix}sigma_{m}_modality",
                                                     s["sigma_modifier_modality"])
            p[f"z_{m}_modality"] = pm.ZeroSumNormal(
                f"{prefix}z_{m}_modality", sigma=1.0, n_zerosum_axes=2,
                dims=("time_basis", "modality", m))
    return p
