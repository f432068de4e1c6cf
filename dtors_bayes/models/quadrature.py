r"""The person effect integrated out by Gauss-Hermite quadrature (``person_effect="quadrature"``).

With ``person_effect="sampled"`` the change model samples one standard-normal ``z_person``
per person, which NUTS mixes slowly (``sigma_person`` and the person effects form a funnel
that no global step size fits). With ``"quadrature"`` the likelihood integrates each
person's effect out,

.. math::

    p(y_i \mid \theta) = \int \prod_t p(y_{it} \mid \eta_{it} + \sigma_u z)\,
        \phi(z)\,dz \approx \sum_{k=1}^K w_k \prod_t p(y_{it} \mid \eta_{it} + \sigma_u x_k)

with ``x_k, w_k`` the K-node Gauss-Hermite rule for the standard normal
(:func:`gauss_hermite`), and every other term that depends on the person effect (the
selection model's sum over a missing outcome) multiplied inside the same per-person sum
(:class:`PersonIntegral`). Bernoulli outcomes only (:data:`QUADRATURE_FAMILIES`); the
integral is kept per predictor part (``prefix``) so that a hurdle's two independent person
effects would be two one-dimensional integrals once adaptive nodes make those families
accurate.

The posterior of ``z_person`` is then drawn after sampling, draw by draw, from its exact
conditional :math:`p(z_i \mid \theta, y_i) \propto \phi(z_i) \prod_t p(y_{it} \mid
\eta_{it} + \sigma_u z_i)` (:func:`draw_person_effects`: an adaptive grid and the inverse
CDF), so every consumer of the posterior (estimands, checks, the causal room) sees the same
variables as with a sampled model and the joint posterior is the same distribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Person-effect treatments of :class:`~dtors_bayes.models.change_model.ChangeModel`.
PERSON_EFFECTS = ("sampled", "quadrature")

#: Default number of Gauss-Hermite nodes (see ``benchmarks/quadrature_accuracy.py``).
QUADRATURE_NODES = 15


def gauss_hermite(k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes and log weights of the K-point Gauss-Hermite rule for ``E[f(Z)]``, Z ~ N(0, 1).

    ``numpy.polynomial.hermite.hermgauss`` integrates against ``exp(-x^2)``; the standard
    normal rule is ``x_k = sqrt(2) t_k``, ``w_k = v_k / sqrt(pi)`` (the weights sum to 1).
    """
    t, v = np.polynomial.hermite.hermgauss(int(k))
    return np.sqrt(2.0) * t, np.log(v / np.sqrt(np.pi))


@dataclass
class PersonIntegral:
    """Collects per-person, per-node log terms and adds their integral to the model.

    Each part (``""`` for ``eta``, ``"pos_"`` for a hurdle's ``eta_pos``) has its own
    accumulator (n_person, K). ``z`` holds the standard-normal node values: the
    Gauss-Hermite nodes (K,) in the model, or a (n_person, G) grid per person when the
    conditional of ``z_person`` is evaluated (:func:`conditional_function`). Terms are added
    by cell with the cells' persons; :meth:`finish` adds
    ``sum_i logsumexp_k(log w_k + acc_ik)`` as one ``pm.Potential`` per part.
    """

    n_person: int
    z: Any
    log_w: np.ndarray | None = None
    acc: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self):
        return self.z.shape[-1]

    def offset(self, model, prefix: str, person: np.ndarray):
        """The person effect at the nodes, ``sigma_u z``, for cells of ``person``: (n, K)."""
        import pytensor.tensor as pt

        z = pt.as_tensor(self.z)
        sig = model[f"{prefix}sigma_person"]
        if z.ndim == 1:
            return pt.shape_padleft(sig * z)
        return sig * z[np.asarray(person, dtype="int64")]

    def add(self, prefix: str, person: np.ndarray, terms) -> None:
        """Add ``terms`` (n_cells, K) to the rows of ``person`` (n_cells,)."""
        import pytensor.tensor as pt

        person = np.asarray(person, dtype="int64")
        if person.size == 0:
            return
        base = self.acc.get(prefix)
        if base is None:
            base = pt.zeros((self.n_person, self.n_nodes))
        self.acc[prefix] = pt.inc_subtensor(base[person], terms)

    def finish(self) -> None:
        """Add each part's ``sum_i log sum_k w_k exp(acc_ik)`` to the active model."""
        import pymc as pm
        import pytensor.tensor as pt

        for prefix, acc in self.acc.items():
            pm.Potential(f"{prefix}person_marginal",
                         pt.logsumexp(acc + self.log_w[None, :], axis=1).sum())


#: Families whose per-person likelihood is smooth enough for fixed Gauss-Hermite nodes:
#: bernoulli, where at sigma_person 2 and 15 nodes the largest per-person log error is 2.5e-3
#: (``tests/models/test_quadrature.py`` checks 1e-6 at 60 nodes). Gaussian outcomes with a
#: residual sd well below sigma_person, binomial counts of 28 trials, negative binomial counts
#: and the positive parts of hurdles have sharp per-person likelihoods (errors 0.1-4 per
#: person at sigma 1-2): they need adaptive nodes, not built.
QUADRATURE_FAMILIES = ("bernoulli",)

#: Above this total log error (summed over persons, largest over the checked draws) a
#: quadrature fit reports a problem.
LOG_ERROR_LIMIT = 0.1


def quadrature_problems(change_model) -> list[str]:
    """Why ``person_effect="quadrature"`` cannot be used with this model (empty: it can)."""
    att = change_model.attrition
    out = []
    if change_model.family not in QUADRATURE_FAMILIES:
        out.append(f"person_effect='quadrature' with family={change_model.family!r}; allowed: "
                   f"{', '.join(QUADRATURE_FAMILIES)} (fixed Gauss-Hermite nodes are "
                   "inaccurate for sharp per-person likelihoods such as counts out of 28); "
                   "use person_effect='sampled'")
    resp = getattr(att, "response", att)
    if getattr(resp, "shared_parameter", False) or getattr(att, "shared_parameter", False):
        out.append("person_effect='quadrature' with a shared-parameter response model "
                   "(response depends on z_person, which is integrated out); use "
                   "person_effect='sampled' or shared_parameter=False")
    return out


# ------------------------------------------------------------------- posterior z draws
#: Grid sizes of :func:`draw_person_effects` (coarse search, then fine around the mode).
COARSE_GRID = np.linspace(-8.0, 8.0, 49)
FINE_POINTS = 41


def conditional_function(change_model, design):
    """A compiled function: one posterior draw -> per-person log terms on per-person grids.

    Builds the quadrature model with a symbolic (n_person, G) node matrix ``z`` and compiles
    each part's accumulator with the free variables as inputs (constrained values, as the
    posterior stores them): ``f(point, z) -> {prefix: (n_person, G)}`` with
    ``acc_ig = sum_t log p(y_it | eta_it + sigma_u z_ig)`` plus the attrition terms.
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.replace import clone_replace

    z = pt.matrix("z_grid")
    model, integral = change_model.build_quadrature(design, nodes=z)
    prefixes = list(integral.acc)
    free = list(model.free_RVs)
    holders = [v.type(name=v.name) for v in free]
    outs = clone_replace([integral.acc[p] for p in prefixes],
                         replace=dict(zip(free, holders, strict=True)))
    fn = pytensor.function([*holders, z], outs, on_unused_input="ignore")
    names = [v.name for v in free]
    dtypes = [v.dtype for v in free]

    def evaluate(point: dict[str, np.ndarray], grid: np.ndarray) -> dict[str, np.ndarray]:
        args = [np.asarray(point[k], dtype=t) for k, t in zip(names, dtypes, strict=True)]
        res = fn(*args, np.asarray(grid, dtype=z.dtype))
        return dict(zip(prefixes, res, strict=True))

    return evaluate, prefixes


def _inverse_cdf(grid: np.ndarray, logd: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draws from rows of a log density on per-row grids (both (n, G)): the inverse of the
    trapezoid CDF, linear within each segment."""
    d = np.exp(logd - logd.max(axis=1, keepdims=True))
    seg = 0.5 * (d[:, 1:] + d[:, :-1]) * np.diff(grid, axis=1)
    cdf = np.concatenate([np.zeros((d.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)
    target = u * cdf[:, -1]
    j = np.clip((cdf < target[:, None]).sum(axis=1) - 1, 0, grid.shape[1] - 2)
    rows = np.arange(d.shape[0])
    lo, hi = cdf[rows, j], cdf[rows, j + 1]
    frac = np.where(hi > lo, (target - lo) / np.where(hi > lo, hi - lo, 1.0), 0.5)
    return grid[rows, j] + frac * (grid[rows, j + 1] - grid[rows, j])


def _mode_and_scale(grid: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mode and sd of each row's log density (n, G) on a common grid, by the parabola
    through the best grid point and its neighbours (sd at least half a grid step)."""
    step = grid[1] - grid[0]
    rows = np.arange(lp.shape[0])
    j = np.clip(lp.argmax(axis=1), 1, grid.size - 2)
    a, b, e = lp[rows, j - 1], lp[rows, j], lp[rows, j + 1]
    curv = np.minimum((a - 2 * b + e) / step**2, -1e-9)
    mode = grid[j] - 0.5 * (e - a) / step / curv
    mode = np.clip(mode, grid[j] - step, grid[j] + step)
    sd = np.clip(1.0 / np.sqrt(-curv), 0.5 * step, 1.0)
    return mode, sd


def draw_person_effects(change_model, design, posterior, *, seed: int) -> dict[str, np.ndarray]:
    r"""Draw ``z_person`` (and ``pos_z_person``) from their conditionals, one per posterior draw.

    For draw s and person i the conditional density of the standard-normal person effect is
    :math:`\log p(z \mid \theta_s, y_i) = -z^2/2 + acc_i(z) + c`, evaluated first on a
    coarse grid over [-8, 8] (49 points), then on 41 points over the mode +- 7 sd (mode and
    sd from the parabola through the coarse maximum), and drawn by the inverse CDF of the
    trapezoid interpolation. Persons are conditionally independent given ``theta``, so the
    draws are exact up to the grid's resolution (checked against the sampled model's
    posterior in ``tests/models/test_quadrature.py``).

    Parameters
    ----------
    change_model : ChangeModel
    design : Design
    posterior : xarray.Dataset
        The sampled posterior (chain, draw, ...) of the quadrature model.
    seed : int

    Every :data:`CHECK_EVERY`-th draw also compares the model's Gauss-Hermite integral with
    the fine grid's (trapezoid over the mode +- 7 sd), summed over persons.

    Returns
    -------
    dict, float
        ``prefix + "z_person"`` -> array (chain, draw, person); the largest total absolute
        log error of the quadrature over the checked draws.
    """
    evaluate, prefixes = conditional_function(change_model, design)
    nodes, log_w = gauss_hermite(change_model.quadrature_nodes)
    errors: list[float] = []
    rng = np.random.default_rng(seed)
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    n = design.n_person
    out = {p: np.empty((n_chain, n_draw, n)) for p in prefixes}
    coarse = np.broadcast_to(COARSE_GRID, (n, COARSE_GRID.size))
    unit = np.linspace(-7.0, 7.0, FINE_POINTS)
    values = {k: posterior[k].values for k in posterior.data_vars}
    for c in range(n_chain):
        for d in range(n_draw):
            point = {k: v[c, d] for k, v in values.items()}
            acc = evaluate(point, coarse)
            grids = {}
            for p in prefixes:
                mode, sd = _mode_and_scale(COARSE_GRID, acc[p] - 0.5 * COARSE_GRID**2)
                grids[p] = mode[:, None] + sd[:, None] * unit[None, :]
            # one grid per part; a hurdle's two parts are evaluated on their own grids
            check = d % CHECK_EVERY == 0
            for p in prefixes:
                fine = evaluate(point, grids[p])[p]
                lp = fine - 0.5 * grids[p] ** 2
                out[p][c, d] = _inverse_cdf(grids[p], lp, rng.random(n))
                if check:
                    errors.append(_log_error(evaluate, point, p, grids[p], lp, nodes, log_w))
    z = {f"{p}z_person": v for p, v in out.items()}
    return z, (max(errors) if errors else 0.0)


#: Every CHECK_EVERY-th draw of each chain compares the Gauss-Hermite integral with the fine
#: grid's (:func:`draw_person_effects`).
CHECK_EVERY = 50


def _log_error(evaluate, point, prefix, grid, lp, nodes, log_w) -> float:
    """|sum_i (GH log integral_i - fine-grid log integral_i)| at one draw."""
    from scipy.special import logsumexp

    gh = evaluate(point, np.broadcast_to(nodes, (grid.shape[0], nodes.size)))[prefix]
    m = lp.max(axis=1, keepdims=True)
    fine = m[:, 0] + np.log(np.trapezoid(np.exp(lp - m), grid, axis=1)) \
        - 0.5 * np.log(2 * np.pi)
    return float(abs((logsumexp(gh + log_w[None, :], axis=1) - fine).sum()))


def attach_person_effects(change_model, design, tree, *, seed: int):
    """The sampled DataTree with ``z_person`` (``pos_z_person``) drawn into its posterior
    (:func:`draw_person_effects`), dims ``(chain, draw, person)`` as a sampled model has them;
    the posterior's attrs record ``quadrature_nodes`` and ``quadrature_log_error``.
    """
    import xarray as xr

    post = tree["posterior"].to_dataset()
    z, error = draw_person_effects(change_model, design, post, seed=seed)
    person = [str(p) for p in design.person_ids]
    post = post.assign({k: xr.DataArray(v, dims=("chain", "draw", "person"),
                                        coords={"chain": post["chain"], "draw": post["draw"],
                                                "person": person})
                        for k, v in z.items()})
    post.attrs["quadrature_nodes"] = int(change_model.quadrature_nodes)
    post.attrs["quadrature_log_error"] = float(error)
    out = tree.copy()
    out["posterior"] = xr.DataTree(post)
    return out


def quadrature_trouble(tree) -> list[str]:
    """The quadrature's accuracy problem of a fit, in words (empty when fine or sampled)."""
    err = tree["posterior"].attrs.get("quadrature_log_error")
    if err is None or err <= LOG_ERROR_LIMIT:
        return []
    return [f"person-effect quadrature: total log-likelihood error {err:.3g} (> "
            f"{LOG_ERROR_LIMIT}) with {tree['posterior'].attrs.get('quadrature_nodes')} "
            "Gauss-Hermite nodes; refit with more quadrature_nodes or "
            "person_effect='sampled'"]
