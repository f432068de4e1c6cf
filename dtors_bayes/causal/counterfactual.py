"""Per-person counterfactual expectations ``mu_a(X_i)`` per posterior draw, in chunks.

The estimand engine (:func:`dtors_bayes.estimands.engine.draws_of_estimands`) keeps only
per-draw *averages*; the causal analyses need the person level, because the confounding
function of :mod:`dtors_bayes.causal.confounding` is applied person by person before the
average (so that adjusted risks stay inside the outcome's range) and because modality shares
``pi_a(X_i)`` may vary by person. This module evaluates, for one chunk of draws at a time,

.. math::

    \\mu^{(s)}_{a,t}(X_i) = g^{-1}\\big(\\eta^{(s)}_{it}\\,|\\,z_i = a\\big),

the response-scale expectation of person i at wave t (its nominal months) with modality set
to a, with the person's own posterior person, site and area effects: the same quantity the
engine averages into ``adjusted_level`` (rule 1 of the estimand contract).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dtors_bayes.exceptions import FitError


def outcome_bounds(fit) -> tuple[float, float]:
    """The range of ``mu`` for the fit's family, used to keep bias-adjusted means inside it.

    Bernoulli: ``[0, 1]``; binomial / beta-binomial: ``[0, trials]``; counts and hurdles:
    ``[0, inf)``; EQ-5D utilities: ``(-inf, 1]``; gaussian / Student-t: unbounded.
    """
    kind = fit.model.family_obj.kind
    if kind == "binary":
        return 0.0, 1.0
    if kind == "bounded_count":
        return 0.0, float(fit.design.trials)
    if kind in ("count", "nonnegative"):
        return 0.0, np.inf
    if kind == "utility":
        return -np.inf, 1.0
    return -np.inf, np.inf


def wave_position(fit, wave: int | None) -> int:
    """Position in ``design.waves`` of a wave label (default: the last modelled wave)."""
    waves = [int(w) for w in fit.design.waves]
    if wave is None:
        return len(waves) - 1
    if int(wave) not in waves:
        raise FitError(f"wave={wave!r} is not a modelled wave; modelled: {waves}")
    return waves.index(int(wave))


def identified_modalities(design) -> list[bool]:
    """Modalities with modelled persons (the others are identified by the prior only)."""
    return [bool((design.modality == m).any()) for m in range(len(design.modality_labels))]


def counterfactual_chunks(fit, positions: list[int], *, params: dict | None = None,
                          chunk_bytes: int = 64 * 2**20,
                          offsets: dict[int, np.ndarray] | None = None,
                          person: str = "own", nodes: int = 16,
                          ) -> Iterator[tuple[int, int, dict[int, np.ndarray]]]:
    """Yield ``(s0, s1, {position: mu})`` with ``mu`` of shape (s1 - s0, M, n_person).

    Parameters
    ----------
    fit : Fit
        A change-model fit with ``baseline="outcome"`` (every modelled wave has ``mu``).
    positions : list of int
        Positions in ``design.waves`` to evaluate.
    params : dict, optional
        Stacked posterior draws (:func:`dtors_bayes.models.sampling.stack_draws`); read from
        the fit when omitted.
    chunk_bytes : int
        Budget of one (draws x modalities x persons) array.
    offsets : dict, optional
        Position -> per-person shift (n_person,) of the main linear predictor ``eta``, the
        pattern-mixture hook of the estimand engine (added under every modality).
    person : {"own", "marginal"}
        ``"own"`` (default, the estimand engine's rule): each person's own posterior person
        effect. ``"marginal"``: the person effect integrated over its fitted normal,
        ``mu_a(X_i) = int g^{-1}(eta_i(a) - u_i + sigma_u v) phi(v) dv`` (Gauss-Hermite,
        ``nodes`` nodes), the model's estimate of ``E[Y_t(a) | A = a, X, site, area]``
        without the information a person's own outcomes carry about them. One-part
        families only.
    """
    from dtors_bayes.models.predictor import person_effect, time_effect
    from dtors_bayes.models.sampling import stack_draws

    model, design = fit.model, fit.design
    if model.baseline != "outcome":
        raise FitError("causal analyses need baseline='outcome' (the intake level is a "
                       "modelled wave); this fit has baseline='covariate'")
    if params is None:
        params = stack_draws(fit.tree)[0]
    fam = model.family_obj
    basis = model.basis(design)
    n = design.n_person
    n_mod = len(design.modality_labels)
    n_sample = next(iter(params.values())).shape[0]
    per_chunk = max(1, int(chunk_bytes // (8 * max(n, 1) * n_mod * max(len(positions), 1))))
    persons = np.arange(n)
    cells = {j: design.cells(basis, persons, np.full(n, j)) for j in positions}
    parts = list(zip(fam.parts, ("", "pos_"), strict=False))
    if person not in ("own", "marginal"):
        raise FitError(f"person={person!r}; allowed: 'own', 'marginal'")
    marginal = person == "marginal" and "z_person" in params
    if marginal and len(parts) > 1:
        raise FitError("person='marginal' is available for one-part families only")
    if marginal:
        from numpy.polynomial.hermite_e import hermegauss

        gh_x, gh_w = hermegauss(nodes)
        gh_w = gh_w / gh_w.sum()
    for s0 in range(0, n_sample, per_chunk):
        s1 = min(n_sample, s0 + per_chunk)
        p = {k: v[s0:s1] for k, v in params.items()}
        aux = {k: p[k][:, None] for k in fam.aux}
        first = cells[positions[0]]
        pe = {k: v for k, v in p.items() if k != "z_person"} if marginal else p
        effects = {part: person_effect(pe, first, prefix=prefix) for part, prefix in parts}
        out = {}
        for j in positions:
            mu = np.empty((s1 - s0, n_mod, n))
            for m in range(n_mod):
                cf = dict(cells[j], modality=np.full(n, m))
                etas = {part: time_effect(p, cf, prefix=prefix, by_time=model.modality_by_time)
                        + effects[part] for part, prefix in parts}
                if offsets is not None and j in offsets:
                    etas["eta"] = etas["eta"] + np.asarray(offsets[j])[None, :]
                if not marginal:
                    mu[:, m, :] = fam.mean(etas, aux, trials=design.trials)
                    continue
                sig = p["sigma_person"][:, None]
                mu[:, m, :] = sum(wq * fam.mean({"eta": etas["eta"] + sig * xq}, aux,
                                                trials=design.trials)
                                  for xq, wq in zip(gh_x, gh_w, strict=True))
            out[j] = mu
        yield s0, s1, out


def modality_shares(design, shares: np.ndarray | None = None) -> np.ndarray:
    """Modality shares ``pi_a(X_i)`` as an (n_person, M) array.

    ``None``: the empirical shares of the modelled persons, the same for everyone.
    Otherwise an (n_person, M) matrix of generalised propensities (rows summing to 1), e.g.
    the posterior mean of :meth:`dtors_bayes.models.propensity.PropensityFit.propensities`.
    """
    n, n_mod = design.n_person, len(design.modality_labels)
    if shares is None:
        freq = np.bincount(design.modality, minlength=n_mod) / n
        return np.broadcast_to(freq, (n, n_mod))
    pi = np.asarray(shares, dtype=float)
    if pi.shape != (n, n_mod):
        raise FitError(f"shares must be (persons={n}, modalities={n_mod}); got {pi.shape}")
    if not np.allclose(pi.sum(axis=1), 1.0, atol=1e-6) or (pi < 0).any():
        raise FitError("shares: each person's modality shares must be >= 0 and sum to 1")
    return pi
