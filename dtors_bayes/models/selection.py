r"""The Diggle-Kenward selection model: response depends on the current outcome (MNAR).

Its response part is the response model of :mod:`dtors_bayes.models.response` (the linear
predictor ``ell_it``, the attempted cells and stages, the ``r_*`` parameters); this module
adds the current, possibly unobserved outcome to it, the quadrature of a non-responder's
interview months, and :func:`from_dict`, which rebuilds either attrition model from its
``to_dict``.

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

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.design import Design
from dtors_bayes.models.response import (
    ResponseLayout,
    ResponseModel,
    _log_sigmoid,
    response_layout,
    response_linear_predictor,
)

#: Families the selection model supports and how their missing values are handled.
SELECTION_FAMILIES = {
    "bernoulli": "discrete",
    "binomial": "discrete",
    "beta_binomial": "discrete",
    "gaussian": "continuous",
    "student_t": "continuous",
}


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
    def add_to_model(self, model, change_model, design: Design, etas: dict, *,
                     integral=None) -> None:
        """Attrition hook of ``ChangeModel.build`` (see the module docstring for the math).

        With ``integral`` (``person_effect="quadrature"``, bernoulli) the sum over a missing
        outcome, which depends on the person effect, is evaluated at the person-effect nodes
        and added to the person's integrand, so the response and outcome parts share one
        integral per person."""
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
                "analysis (dtors_bayes.attrition.pattern_mixture) for other families")
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
        if integral is not None:  # person_effect="quadrature" (bernoulli only)
            # the same sum in closed form at each person-effect node u_k: P(r | .) =
            # (1 - pbar) a_0 + pbar a_1, with a_v = P(r | y = v) and pbar = sum_j w_j
            # expit(eta(m_j) + u_k) over the months nodes; added to the person's integrand
            x = lin[m][:, None] + kap[m][:, None] * layout.g(np.array([0.0, 1.0]))[None, :]
            a = pt.sigmoid(sign[:, None] * x)                               # (m, 2)
            person_m = layout.person[m]
            eta_n = eta[:, :, None] + integral.offset(model, "", person_m)[:, None, :]
            pbar = (np.exp(log_w)[:, :, None] * pt.sigmoid(eta_n)).sum(axis=1)  # (m, K)
            integral.add("", person_m, pt.log((1.0 - pbar) * a[:, :1] + pbar * a[:, 1:]))
            return
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
