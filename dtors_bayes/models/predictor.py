"""The linear predictor of the change model, written once for numpy draws and PyTensor graphs.

Imports nothing of the package: the model (:mod:`dtors_bayes.models.change_model`), the
selection model, the estimand engine and the predictive checks all evaluate ``eta`` here."""

from __future__ import annotations


def trajectory_levels(p: dict, *, prefix: str = "", by_time: bool = True):
    """Trajectory levels ``beta_time`` from the hierarchical parameters (numpy or PyTensor).

    .. math::

        \\beta_{z,b} = \\mu_b + \\tau_1 \\tilde\\delta_z + \\tau_2 \\tilde\\epsilon_{b,z}

    with ``mu_time`` (``mu``, dims ``time_basis``), ``sigma_modality`` (``tau_1``),
    ``z_modality`` (zero-sum over modality), ``sigma_modality_time`` (``tau_2``) and
    ``z_modality_time`` (dims ``(time_basis, modality)``, zero-sum over modality); or, not
    pooled (``modality_pooling="none"``), :math:`\\beta_{z,b} = \\mu_b + \\delta_{b,z}` with
    ``delta_modality_time`` (dims ``(time_basis, modality)``, zero-sum over modality).

    Parameters
    ----------
    p : dict
        Values without a sample axis, keyed by the model's variable names.
    prefix : str
        ``"pos_"`` for a hurdle's positive part.
    by_time : bool
        ``modality_by_time``: ``False`` returns ``mu_time`` itself (dims ``time_basis``).

    Returns
    -------
    array (n_modality, n_basis), or (n_basis,) when ``by_time`` is False
        ``(1, n_basis)`` when the model has no modality deviations (one modality).
    """
    mu = p[prefix + "mu_time"]
    if not by_time:
        return mu
    out = mu[None, :]
    if p.get(prefix + "sigma_modality") is not None:
        out = out + p[prefix + "sigma_modality"] * p[prefix + "z_modality"][:, None]
    if p.get(prefix + "sigma_modality_time") is not None:
        out = out + p[prefix + "sigma_modality_time"] * p[prefix + "z_modality_time"].T
    if p.get(prefix + "delta_modality_time") is not None:  # modality_pooling="none"
        out = out + p[prefix + "delta_modality_time"].T
    return out


def linear_predictor(p: dict, d: dict, *, prefix: str = "", by_time: bool = True):
    """The linear predictor ``eta`` for cells, written once for numpy and PyTensor.

    ``eta = time_effect + person_effect`` (see those functions).

    Parameters
    ----------
    p : dict
        Parameters with a leading sample axis (numpy draws ``(S, ...)``, or PyTensor
        variables padded to ``(1, ...)``), keyed by the model's variable names
        (``prefix + "beta_time"`` ...).
    d : dict
        Cell data from :meth:`Design.cells`: ``person``, ``basis``, ``modality``, ``change``,
        ``X`` and optionally ``site``, ``area``.

    Returns
    -------
    array (S, n_cells)
    """
    return time_effect(p, d, prefix=prefix, by_time=by_time) + person_effect(p, d, prefix=prefix)


def time_effect(p: dict, d: dict, *, prefix: str = "", by_time: bool = True):
    """Trajectory part: ``B(t) theta_z`` (+ constant modality effect) + random change terms."""
    beta_time = p[prefix + "beta_time"]
    basis = d["basis"]
    if by_time:
        # one basis column at a time keeps memory at (S, n_cells) for large cohorts
        eta = sum(beta_time[:, d["modality"], b] * basis[None, :, b]
                  for b in range(basis.shape[1]))
    else:
        eta = beta_time @ basis.T
        bm = p.get(prefix + "beta_modality")
        if bm is not None and getattr(bm, "ndim", 0) == 2:
            eta = eta + bm[:, d["modality"]]
    if "modifiers" in d:
        eta = eta + modifier_effect(p, d, prefix=prefix)
    for lvl in ("site", "area"):
        zc = p.get(f"{prefix}z_{lvl}_change")
        if zc is not None and lvl in d:
            scale = p[f"{prefix}sigma_{lvl}_change"]
            eta = eta + (scale[:, None] * zc)[:, d[lvl]] * d["change"][None]
    return eta


def modifier_effect(p: dict, d: dict, *, prefix: str = ""):
    """Effect-modifier part: ``sum_m B(t) (gamma_m[l_i] + gamma_mz[z_i, l_i])``.

    .. math::

        \\gamma_{m,l,b} = \\tau_m \\tilde\\gamma_{b,l}, \\qquad
        \\gamma_{m,z,l,b} = \\tau_{mz} \\tilde\\gamma_{b,z,l}

    with ``sigma_<m>`` (``tau_m``) and ``z_<m>`` (dims ``(time_basis, <m>)``, zero-sum over
    the levels), and, with more than one modality, ``sigma_<m>_modality`` (``tau_mz``) and
    ``z_<m>_modality`` (dims ``(time_basis, modality, <m>)``, zero-sum over modality and
    over the levels). ``d["modifiers"]`` maps each modifier to the cells' level codes.
    """
    basis = d["basis"]
    eta = 0.0
    for m, codes in d["modifiers"].items():
        z = p.get(f"{prefix}z_{m}")
        if z is None:
            continue
        gam = p[f"{prefix}sigma_{m}"][:, None, None] * z          # (S, B, L)
        eta = eta + sum(gam[:, b, codes] * basis[None, :, b] for b in range(basis.shape[1]))
        zi = p.get(f"{prefix}z_{m}_modality")
        if zi is not None:
            gi = p[f"{prefix}sigma_{m}_modality"][:, None, None, None] * zi  # (S, B, Z, L)
            eta = eta + sum(gi[:, b, d["modality"], codes] * basis[None, :, b]
                            for b in range(basis.shape[1]))
    return eta


def person_effect(p: dict, d: dict, *, prefix: str = ""):
    """Person part: ``x_i' beta + u_i + v_s(i) + w_a(i)`` (constant over waves)."""
    eta = 0.0
    if d["X"].shape[1]:
        eta = eta + (p[prefix + "beta_covariate"] @ d["X"].T)[:, d["person"]]
    if p.get(prefix + "z_person") is not None:
        eta = eta + (p[prefix + "sigma_person"][:, None] * p[prefix + "z_person"])[:, d["person"]]
    for lvl in ("site", "area"):
        z = p.get(f"{prefix}z_{lvl}")
        if z is not None and lvl in d:
            eta = eta + (p[f"{prefix}sigma_{lvl}"][:, None] * z)[:, d[lvl]]
    return eta
