"""The hierarchical within-person change model.

For person i in site s(i) and area a(i), modality z_i, interview at wave t and month m_it:

.. math::

    g(\\mathrm{E}[y_{it}]) = \\eta_{it} = f_{z_i}(t) + x_i^\\top \\beta + u_i + v_{s(i)} + w_{a(i)}
        \\; [+\\, c_{s(i)} h(t) + d_{a(i)} h(t)]

    u_i = \\sigma_u \\tilde u_i,\\quad v_s = \\sigma_v \\tilde v_s,\\quad
    w_a = \\sigma_w \\tilde w_a,\\quad \\tilde u, \\tilde v, \\tilde w \\sim N(0, 1)

with ``f_z(t) = B(t) theta_z`` a time basis (:mod:`dtors_bayes.models.time_basis`), one trajectory
per
modality (``modality_by_time=True``) or one trajectory plus a constant zero-sum modality
effect, ``h(t)`` the follow-up indicator (or months/span) of the optional random change
terms, and ``g`` the family's link (:mod:`dtors_bayes.models.families`). Hurdle families have a
second predictor ``eta_pos`` with the same structure and its own parameters (``pos_``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.design import Design, build_design
from dtors_bayes.models.families import FAMILIES, get_family
from dtors_bayes.models.modifiers import (
    MODIFIER_PRIOR_NAMES,
    modifier_parameters,
    modifier_priors,
    modifier_request_problems,
)
from dtors_bayes.models.predictor import linear_predictor, trajectory_levels
from dtors_bayes.models.priors import (
    PRIOR_NAMES,
    LevelLoc,
    aux_defaults,
    basis_centres,
    default_priors,
    latent_sd,
    parse_level_loc,
    wave_centres,
)
from dtors_bayes.models.quadrature import (
    PERSON_EFFECTS,
    QUADRATURE_NODES,
    PersonIntegral,
    gauss_hermite,
    quadrature_problems,
)
from dtors_bayes.models.time_basis import TIME_KINDS, TimeBasis

#: ``modality_pooling`` options: estimated scales (shrinkage) or fixed-scale deviations.
MODALITY_POOLING = ("partial", "none")


@dataclass
class ChangeModel:
    """A within-person change model for one outcome (see the module docstring for the math).

    Parameters
    ----------
    outcome : str
        Outcome column of the cohort.
    family : str
        One of :data:`dtors_bayes.models.families.FAMILIES`. Defaults to ``"bernoulli"``.
    covariates : list of str or str, optional
        Person-level baseline covariates, or a formula right-hand side (parsed by
        ``formulae``), e.g. ``"age + sex + primary_drug"``. Numeric columns are centred and
        scaled to sd 1; indicators are centred. Defaults to none.
    time : {"wave", "linear", "months"}
        Trajectory form. Defaults to ``"wave"``.
    modality_by_time : bool
        One trajectory per modality (default) or one trajectory plus a constant modality
        effect.
    modality_pooling : {"partial", "none"}
        How the per-modality trajectories of ``modality_by_time=True`` share strength.
        ``"partial"`` (default): ``beta_time[z,b] = mu_b + tau_1 dz_z + tau_2 eps_zb`` with
        estimated scales, which shrinks a small modality towards the average trajectory.
        ``"none"``: ``beta_time[z,b] = mu_b + delta_bz``, ``delta_b. ~ ZeroSumNormal(c)`` with
        the fixed scale ``c`` of the prior ``modality`` (1 on the logit/log links, ``sd_y`` on
        the identity link): no shrinkage, wider intervals for small modalities. With five
        modalities the scales are weakly identified, so exchangeability is a modelling
        choice; see ARCHITECTURE.md (the partially pooled levels, and the economics
        coverage study under the open problems). Ignored when
        ``modality_by_time=False`` (the constant effect is never pooled).
    baseline : {"outcome", "covariate"}
        ``"outcome"``: intake is a wave of the outcome (change model, default).
        ``"covariate"``: ANCOVA on the follow-ups with the intake outcome as a covariate.
    attrition : str or object
        ``"mar"``: the likelihood of the observed outcomes (valid under MAR). Attrition models
        plug in here through :meth:`add_attrition` (see ARCHITECTURE.md).
    levels : tuple of str
        Random-intercept levels among ``("site", "area")``; ``()`` for none. The person
        effect is present whenever a person contributes two or more modelled waves (always
        under ``baseline="outcome"``; under ``"covariate"`` only with two or more follow-ups).
    random_change : tuple of str
        Levels among ``levels`` whose change from intake varies (random slopes).
    knots : tuple of float, optional
        Interior knots (months) for ``time="months"``; defaults to the nominal months of
        every follow-up but the last. Intake and the last nominal month are always knots.
    priors : dict, optional
        Prior settings overriding the defaults by name
        (:data:`dtors_bayes.models.priors.PRIOR_NAMES`,
        ``pos_`` prefix for a hurdle's positive part, plus the family's auxiliary
        parameters). Values are numbers, except ``level_loc`` (the centres ``m_t`` of the
        trajectory levels ``mu_time``, link scale), which is a number for every wave or a
        table ``{wave label: number}`` for some waves, e.g.
        ``{"level_loc": {2: -2.2}, "level": 1.0, "sigma_modality_time": 0.25}``. See
        :mod:`dtors_bayes.models.priors` for the defaults.
    trials : int, optional
        Trials of a binomial outcome; defaults to the cohort's (28).
    modifiers : tuple of str
        Person-level categorical columns (e.g. ``("referral_route",)``) whose levels get
        their own, partially pooled trajectories and modality contrasts
        (:mod:`dtors_bayes.models.modifiers`). ``()`` (default): none.
    person_effect : {"sampled", "quadrature"}
        ``"sampled"`` (default): one non-centred ``z_person`` per person, sampled by NUTS.
        ``"quadrature"``: each person's effect integrated out of the likelihood by
        ``quadrature_nodes``-point Gauss-Hermite, and ``z_person`` drawn afterwards from its
        exact conditional draw by draw (:mod:`dtors_bayes.models.quadrature`); the same
        posterior, sampled without the person-effect funnel. Not with a shared-parameter
        response model.
    quadrature_nodes : int
        Gauss-Hermite nodes of ``person_effect="quadrature"`` (default 15).
    """

    outcome: str
    family: str = "bernoulli"
    covariates: list[str] | str | None = None
    time: str = "wave"
    modality_by_time: bool = True
    modality_pooling: str = "partial"
    baseline: str = "outcome"
    attrition: Any = "mar"
    levels: tuple[str, ...] = ("site", "area")
    random_change: tuple[str, ...] = ()
    knots: tuple[float, ...] | None = None
    priors: dict[str, LevelLoc] = field(default_factory=dict)
    trials: int | None = None
    modifiers: tuple[str, ...] = ()
    person_effect: str = "sampled"
    quadrature_nodes: int = QUADRATURE_NODES

    def __post_init__(self) -> None:
        problems = []
        self.modifiers = (self.modifiers,) if isinstance(self.modifiers, str) else \
            tuple(self.modifiers)
        problems += modifier_request_problems(self.modifiers, self.covariates)
        if self.family not in FAMILIES:
            problems.append(f"family={self.family!r}; allowed: {', '.join(sorted(FAMILIES))}")
        if self.time not in TIME_KINDS:
            problems.append(f"time={self.time!r}; allowed: {', '.join(TIME_KINDS)}")
        if self.baseline not in ("outcome", "covariate"):
            problems.append(f"baseline={self.baseline!r}; allowed: 'outcome', 'covariate'")
        self.levels = tuple(self.levels)
        self.random_change = tuple(self.random_change)
        bad = [lvl for lvl in self.levels if lvl not in ("site", "area")]
        if bad:
            problems.append(f"levels={self.levels!r}; each must be 'site' or 'area'")
        bad = [lvl for lvl in self.random_change if lvl not in self.levels]
        if bad:
            problems.append(f"random_change={self.random_change!r} names levels not in "
                            f"levels={self.levels!r}")
        if not (isinstance(self.attrition, str) and self.attrition == "mar") and not hasattr(
            self.attrition, "add_to_model"
        ):
            problems.append(f"attrition={self.attrition!r}; allowed: 'mar' or an attrition "
                            "model object")
        if self.knots is not None:
            self.knots = tuple(float(k) for k in self.knots)
        if self.modality_pooling not in MODALITY_POOLING:
            problems.append(f"modality_pooling={self.modality_pooling!r}; allowed: "
                            f"{', '.join(map(repr, MODALITY_POOLING))}")
        if self.person_effect not in PERSON_EFFECTS:
            problems.append(f"person_effect={self.person_effect!r}; allowed: "
                            f"{', '.join(map(repr, PERSON_EFFECTS))}")
        elif self.person_effect == "quadrature":
            problems += quadrature_problems(self)
        if not (isinstance(self.quadrature_nodes, int | np.integer)
                and 3 <= int(self.quadrature_nodes) <= 100):
            problems.append(f"quadrature_nodes={self.quadrature_nodes!r}; allowed: an integer "
                            "from 3 to 100")
        if problems:
            raise ModelError("invalid ChangeModel:\n" + "\n".join(f"  - {p}" for p in problems))

    # ------------------------------------------------------------------ description
    @property
    def family_obj(self):
        """The :class:`~dtors_bayes.models.families.Family`."""
        return get_family(self.family)

    @property
    def attrition_label(self) -> str:
        """Label of the attrition assumption carried by every estimate."""
        return self.attrition if isinstance(self.attrition, str) else self.attrition.label

    def spec(self) -> dict:
        """JSON-able specification (stored with every fit)."""
        d = asdict(self)
        if not isinstance(self.attrition, str):
            d["attrition"] = self.attrition.to_dict()
        d["levels"] = list(self.levels)
        d["random_change"] = list(self.random_change)
        d["knots"] = list(self.knots) if self.knots is not None else None
        d.pop("modifiers")
        if self.modifiers:  # absent without modifiers: the stored spec stays as it was
            d["modifiers"] = list(self.modifiers)
        # likewise at their defaults
        for key in ("modality_pooling", "person_effect", "quadrature_nodes"):
            if d[key] == getattr(ChangeModel, key):
                d.pop(key)
        return d

    @classmethod
    def from_spec(cls, d: dict) -> ChangeModel:
        """Inverse of :meth:`spec`."""
        d = dict(d)
        if isinstance(d.get("attrition"), dict):
            from dtors_bayes.models import selection as _att
            d["attrition"] = _att.from_dict(d["attrition"])
        return cls(**d)

    def __str__(self) -> str:
        fam = self.family_obj
        parts = [f"ChangeModel: {self.outcome} ~ {self.family} (link {fam.link})"]
        traj = "f_z(t), one trajectory per modality" if self.modality_by_time else \
            "f(t) + gamma_z (constant modality effect, zero-sum)"
        basis = {"wave": "one level per wave",
                 "linear": "a line in months, by its levels at intake and the last month",
                 "months": "piecewise-linear in months, by its levels at the knots "
                 + (", ".join(f"{k:g}" for k in self.knots) + " (and intake, last month)"
                    if self.knots else "(every wave's nominal months)")}[self.time]
        re = ["u_person"] + [f"{lvl} effect" for lvl in self.levels]
        re += [f"random change by {lvl}" for lvl in self.random_change]
        parts.append(f"  eta = {traj} + x'beta + " + " + ".join(re))
        parts.append(f"  time: {self.time} ({basis})")
        parts.append(f"  covariates: {self.covariates or 'none'}")
        if self.modifiers:
            parts.append(f"  modifiers: {', '.join(self.modifiers)} (B(t) gamma_m[l] + "
                         "B(t) gamma_mz[z, l]; zero-sum, non-centred, HalfN scales "
                         "sigma_modifier, sigma_modifier_modality)")
        parts.append(f"  baseline: {self.baseline}; attrition: {self.attrition_label}")
        if fam.parts == ("eta", "eta_pos"):
            parts.append("  hurdle: eta -> P(non-zero); eta_pos -> positive part (own parameters, "
                         "prefix pos_)")
        parts.append("  priors (scales; data-dependent ones shown as rules):")
        sd = " sd_y" if fam.link == "identity" else ""
        centre = {"logit": "m_t = logit(pbar_t) sqrt(1 + 0.346 s^2), pbar_t wave t's observed "
                           "proportion, s the prior mean of the random-intercept sd",
                  "log": "m_t = log(ybar_t) - s^2/2, ybar_t wave t's observed mean, s the "
                         "prior mean of the random-intercept sd",
                  "identity": "m_t = ybar_t, wave t's observed mean"}[fam.link]
        level_sd = "2.5 sd_y" if fam.link == "identity" else "1.5"
        knots = "" if self.time == "wave" else " (m_b: m_t interpolated in months)"
        parts.append(f"    levels: mu_time[b] ~ N(m_b, {level_sd}){knots}; {centre}")
        if self.modality_by_time and self.modality_pooling == "none":
            parts.append("    beta_time[z,b] = mu_time[b] + delta_modality_time[b,z] (not "
                         "pooled; zero-sum over modality), delta ~ "
                         f"ZeroSumNormal({sd[1:] or 1})")
        elif self.modality_by_time:
            parts.append("    beta_time[z,b] = mu_time[b] + sigma_modality dz_z + "
                         "sigma_modality_time eps_zb (dz, eps zero-sum over modality, "
                         f"non-centred); sigma_modality(_time) ~ HalfN(0.5{sd})")
        else:
            parts.append("    beta_time[b] = mu_time[b]; beta_modality ~ "
                         f"ZeroSumNormal({sd[1:] or 1})")
        parts.append("    " + {"logit": "N(0,1) covariates, HalfN(1) sigma_person, "
                                        "HalfN(0.5) site/area",
                                "log": "N(0,1) covariates, HalfN(1) sigma_person, "
                                       "HalfN(0.5) site/area",
                                "identity": "N(0, sd_y) covariates, HalfN(sd_y) sigma_person, "
                                            "HalfN(0.5 sd_y) site/area"}[fam.link])
        if fam.parts == ("eta", "eta_pos"):
            loc = "log(ybar_t) - s^2/2" if self.family == "hurdle_gamma" else \
                "mean log y of wave t's positive values"
            parts.append(f"    pos_: same structure on the log link, m_t = {loc}")
        for par, (kind, scale) in fam.aux.items():
            parts.append(f"    {par}: {kind}" + (f"({scale})" if scale else ""))
        if self.priors:
            parts.append(f"    user overrides: {json.dumps(self.priors)}")
        if self.time == "wave":
            parts.append("  note: with time='wave', interviews are grouped by wave label; late "
                         "interviews count at their wave (use time='months' to use months exactly)")
        return "\n".join(parts)

    __repr__ = __str__

    # ------------------------------------------------------------------ building
    def design(self, cohort) -> Design:
        """Validated arrays of this model for ``cohort`` (see :class:`Design`)."""
        return build_design(cohort, outcome=self.outcome, family=self.family,
                            covariates=self.covariates, baseline=self.baseline,
                            levels=self.levels, trials=self.trials,
                            modifiers=self.modifiers)

    def basis(self, design: Design) -> TimeBasis:
        """The time basis for a design."""
        return TimeBasis.build(self.time, design.waves, design.schedule, self.knots)

    def prior_scales(self, design: Design) -> dict[str, dict[str, Any]]:
        """Prior settings per part (``""`` and ``"pos_"``), defaults overridden by ``priors``.

        Every value is a float except ``level_loc``: the per-wave centres
        ``{wave label: m_t}`` on the link's conditional scale (see
        :mod:`dtors_bayes.models.priors`).
        For the logit link, ``m_t = logit(pbar_t) sqrt(1 + 0.346 s^2)`` with ``pbar_t`` wave
        t's observed proportion (non-zero share for hurdles) and ``s`` the prior mean of the
        random-intercept sd; for the log link ``m_t = log(ybar_t) - s^2/2`` (a lognormal
        positive part: the wave's mean log); for the identity link ``m_t = ybar_t``. The
        centres use the scales after the user's overrides (``s`` follows ``sigma_person``).

        Raises
        ------
        ModelError
            For an unknown name or a ``level_loc`` table naming waves that are not modelled.
        """
        fam = self.family_obj
        y = design.y
        hurdle = fam.parts == ("eta", "eta_pos")
        # per part: link, the data its centres come from, and the centre's location kind
        data: dict[str, tuple[str, np.ndarray, str]] = {}
        if fam.link == "logit":  # the logit prior is centred on observed proportions
            if hurdle:
                prop = np.where(np.isnan(y), np.nan, ((1.0 - y) if self.family == "eq5d"
                                                      else y) > 0)
            else:
                prop = y / (design.trials if fam.kind == "bounded_count" else 1.0)
            data[""] = ("logit", prop, "mean")
        else:
            data[""] = (fam.link, y, "mean")
        if hurdle:
            pos = (1.0 - y) if self.family == "eq5d" else y
            pos = np.where(np.isnan(pos) | ~(pos > 0), np.nan, pos)
            data["pos_"] = ("log", pos, "mean" if self.family == "hurdle_gamma" else "log_mean")
        out: dict[str, dict[str, Any]] = {pre: default_priors(link, vals)
                                          for pre, (link, vals, _) in data.items()}
        if self.modifiers:
            for pre, (link, vals, _) in data.items():
                out[pre].update(modifier_priors(link, vals))
        loc_override: dict[str, Any] = {}
        for key, val in self.priors.items():
            prefix = "pos_" if key.startswith("pos_") else ""
            name = key[len(prefix):]
            if name in MODIFIER_PRIOR_NAMES and not self.modifiers:
                raise ModelError(f"priors: {key!r} is a prior of effect modifiers, but "
                                 "modifiers=(); allowed: set it together with modifiers=; "
                                 f"fix: add modifiers=[...] or drop {key!r}")
            if prefix not in out or (name not in out[prefix] and name not in fam.aux):
                raise ModelError(f"priors: unknown name {key!r}; allowed: "
                                 f"{', '.join(PRIOR_NAMES)} (prefix pos_ for hurdles) and "
                                 f"{', '.join(fam.aux) or 'no auxiliary parameters'}")
            if name == "level_loc":
                loc_override[prefix] = val
            elif name in out[prefix]:
                out[prefix][name] = float(val)
        person = design.y.shape[1] > 1
        for prefix, (link, vals, location) in data.items():
            s = latent_sd(out[prefix], person=person, levels=self.levels)
            centres = wave_centres(link, vals, design.waves, s, location=location)
            if prefix in loc_override:
                centres.update(parse_level_loc(loc_override[prefix], design.waves,
                                               name=prefix + "level_loc"))
            out[prefix]["level_loc"] = centres
        return out

    def coords(self, design: Design, basis: TimeBasis) -> dict:
        """Coordinates of the PyMC model."""
        c = {"person": [str(p) for p in design.person_ids], "modality": design.modality_labels,
             "covariate": design.covariate_names, "time_basis": basis.names}
        for lvl in self.levels:
            c[lvl] = getattr(design, f"{lvl}_labels")
        for m, labels in zip(design.modifier_names, design.modifier_labels, strict=True):
            c[m] = list(labels)
        return c

    def build(self, cohort_or_design) -> Any:
        """Build the PyMC model (a ``pm.Model``) for a cohort or a :class:`Design`."""
        design = cohort_or_design if isinstance(cohort_or_design, Design) else \
            self.design(cohort_or_design)
        return self._build(design)[0]

    def build_quadrature(self, design: Design, nodes) -> tuple[Any, PersonIntegral]:
        """The model with the person effect integrated over ``nodes`` and its
        :class:`~dtors_bayes.models.quadrature.PersonIntegral` (the per-person terms).

        ``nodes``: standard-normal node values, (K,) or a (n_person, G) PyTensor matrix
        (the conditional of ``z_person``, :func:`~dtors_bayes.models.quadrature.
        draw_person_effects`). The model's ``person_marginal`` potential uses Gauss-Hermite
        weights and is only meaningful for the Gauss-Hermite nodes.
        """
        return self._build(design, nodes=nodes)

    def integrates_person(self, design: Design) -> bool:
        """Whether the built model integrates the person effect out (quadrature, and a
        person effect at all)."""
        return self.person_effect == "quadrature" and design.y.shape[1] > 1

    def _build(self, design: Design, nodes=None) -> tuple[Any, PersonIntegral | None]:
        import pymc as pm
        import pytensor.tensor as pt

        basis = self.basis(design)
        fam = self.family_obj
        scales = self.prior_scales(design)
        p_idx, t_idx = design.observed_cells()
        cells = design.cells(basis, p_idx, t_idx, design.months[p_idx, t_idx])
        coords = self.coords(design, basis)
        coords["obs"] = np.arange(p_idx.size)
        integral = None
        if nodes is not None or self.integrates_person(design):
            x, log_w = gauss_hermite(self.quadrature_nodes)
            integral = PersonIntegral(design.n_person, x if nodes is None else nodes, log_w)
        with pm.Model(coords=coords) as model:
            etas = {}
            for part, prefix in zip(fam.parts, ("", "pos_"), strict=False):
                params = self._parameters(prefix, scales[prefix], design, basis,
                                          sample_person=integral is None)
                lead = {prefix + k: pt.shape_padleft(v) for k, v in params.items()}
                etas[part] = linear_predictor(lead, cells, prefix=prefix,
                                              by_time=self.modality_by_time)[0]
            aux_scale = aux_defaults(self.family, design.y)
            aux_scale.update({k: v for k, v in self.priors.items() if k in fam.aux})
            aux = fam.make_aux(aux_scale)
            y_obs = design.y[p_idx, t_idx]
            if integral is None:
                fam.observe("y", etas, aux, y_obs, trials=design.trials)
            else:
                at_nodes = {part: etas[part][:, None] + integral.offset(model, prefix, p_idx)
                            for part, prefix in zip(fam.parts, ("", "pos_"), strict=False)}
                terms = fam.logp_terms(at_nodes, aux, y_obs, trials=design.trials)
                for part, (idx, lp) in terms.items():
                    integral.add("pos_" if part == "eta_pos" else "",
                                 p_idx if idx is None else p_idx[idx], lp)
            if not isinstance(self.attrition, str):
                self.attrition.add_to_model(model, self, design, etas, integral=integral)
            if integral is not None and nodes is None:
                integral.finish()
        return model, integral

    def _parameters(self, prefix: str, s: dict[str, float], design: Design,
                    basis: TimeBasis, *, sample_person: bool = True) -> dict:
        """Create the parameters of one linear predictor (names prefixed for hurdles)."""
        import pymc as pm
        import pytensor.tensor as pt

        # Every basis coefficient is a level (at a wave or a knot month): mu_time[b] is the
        # modality-average level, centred on the wave-specific m_b (see dtors_bayes.models.priors).
        loc = basis_centres(s["level_loc"], design.waves, design.schedule, basis)
        n_mod = len(design.modality_labels)
        p: dict[str, Any] = {}
        p["mu_time"] = pm.Normal(f"{prefix}mu_time", mu=loc, sigma=s["level"],
                                 dims="time_basis")
        if self.modality_by_time:
            if n_mod > 1 and self.modality_pooling == "none":
                p["delta_modality_time"] = pm.ZeroSumNormal(
                    f"{prefix}delta_modality_time", sigma=s["modality"],
                    dims=("time_basis", "modality"))
            elif n_mod > 1:
                p["sigma_modality"] = pm.HalfNormal(f"{prefix}sigma_modality",
                                                    s["sigma_modality"])
                p["z_modality"] = pm.ZeroSumNormal(f"{prefix}z_modality", sigma=1.0,
                                                   dims="modality")
                p["sigma_modality_time"] = pm.HalfNormal(f"{prefix}sigma_modality_time",
                                                         s["sigma_modality_time"])
                # ZeroSumNormal constrains its last axis: modality, hence the transposed dims
                p["z_modality_time"] = pm.ZeroSumNormal(f"{prefix}z_modality_time", sigma=1.0,
                                                        dims=("time_basis", "modality"))
            p["beta_time"] = pm.Deterministic(
                f"{prefix}beta_time", trajectory_levels(p, by_time=True),
                dims=("modality", "time_basis"))
        else:
            p["beta_time"] = pm.Deterministic(f"{prefix}beta_time",
                                              trajectory_levels(p, by_time=False),
                                              dims="time_basis")
            if n_mod > 1:
                p["beta_modality"] = pm.ZeroSumNormal(f"{prefix}beta_modality",
                                                      sigma=s["modality"], dims="modality")
            else:
                p["beta_modality"] = pt.zeros(1)
        if design.X.shape[1]:
            p["beta_covariate"] = pm.Normal(f"{prefix}beta_covariate", 0.0, s["covariate"],
                                            dims="covariate")
        if design.y.shape[1] > 1:
            p["sigma_person"] = pm.HalfNormal(f"{prefix}sigma_person", s["sigma_person"])
            if sample_person:  # else integrated out (dtors_bayes.models.quadrature)
                p["z_person"] = pm.Normal(f"{prefix}z_person", 0.0, 1.0, dims="person")
        for lvl in self.levels:
            p[f"sigma_{lvl}"] = pm.HalfNormal(f"{prefix}sigma_{lvl}", s[f"sigma_{lvl}"])
            p[f"z_{lvl}"] = pm.Normal(f"{prefix}z_{lvl}", 0.0, 1.0, dims=lvl)
        for lvl in self.random_change:
            p[f"sigma_{lvl}_change"] = pm.HalfNormal(f"{prefix}sigma_{lvl}_change",
                                                     s["sigma_change"])
            p[f"z_{lvl}_change"] = pm.Normal(f"{prefix}z_{lvl}_change", 0.0, 1.0, dims=lvl)
        p.update(modifier_parameters(prefix, s, design))
        return p

    # ------------------------------------------------------------------ fitting
    def fit(self, cohort, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
            random_seed: int | None = None, sampler: str = "nutpie",
            progressbar: bool = True, target_accept: float | None = None,
            cores: int | None = None, nuts: dict | None = None, backend: str = "numba"):
        """Sample the posterior and return a :class:`~dtors_bayes.models.fit.Fit`.

        Parameters
        ----------
        cohort : Cohort
            The data.
        draws, tune, chains : int
            Sampler settings. Defaults 1000, 1000, 4.
        random_seed : int, optional
            Seed; a fresh one is drawn and recorded when omitted.
        sampler : {"nutpie", "pymc", "numpyro"}
            NUTS implementation. Defaults to nutpie.
        progressbar : bool
            Show the sampler's progress bar.
        target_accept : float, optional
            NUTS target acceptance; default 0.9 (``constants.TARGET_ACCEPT``: the partially
            pooled modality scales diverge now and then at 0.8). Raise towards 0.95 after
            divergences.
        cores : int, optional
            Chains run in parallel on this many cores (default: one per chain, up to every
            CPU the process may use; ``sampling.default_cores``).
        nuts : dict, optional
            Further sampler options, e.g. ``{"adaptation": "low_rank"}`` for nutpie.
        backend : {"numba", "jax"}
            nutpie's compiler; ``"jax"`` needs the ``jax`` extra and compiles much faster
            (useful for many small fits, e.g. coverage studies).

        Returns
        -------
        Fit
        """
        from dtors_bayes.models.fit import Fit
        from dtors_bayes.models.sampling import effective_target_accept, sample_model

        design = self.design(cohort)
        model = self.build(design)
        if random_seed is None:
            random_seed = int(np.random.SeedSequence().generate_state(1)[0])
        accept = effective_target_accept(target_accept, nuts)
        tree, seconds = sample_model(model, draws=draws, tune=tune, chains=chains,
                                     random_seed=random_seed, sampler=sampler,
                                     progressbar=progressbar, target_accept=accept,
                                     cores=cores, nuts=nuts, backend=backend)
        if self.integrates_person(design):
            import time

            from dtors_bayes.models.quadrature import attach_person_effects

            t0 = time.perf_counter()
            tree = attach_person_effects(self, design, tree, seed=random_seed + 1)
            seconds += time.perf_counter() - t0
        fit = Fit.from_sampling(self, design, tree, cohort=cohort, seconds=seconds,
                                settings={"draws": draws, "tune": tune, "chains": chains,
                                          "random_seed": random_seed, "sampler": sampler,
                                          "target_accept": accept,
                                          "nuts": nuts or {},
                                          "backend": backend})
        fit.warn_if_trouble()
        return fit

    # ------------------------------------------------------------------ simulating
    def simulate(self, cohort_or_design, params: dict[str, np.ndarray], *,
                 seed: int | None = None) -> np.ndarray:
        """Draw an outcome matrix (person x wave) from the model at given parameter values.

        ``params`` maps the model's variable names (``beta_time``, ``z_person``, ``sigma``,
        ...) to values without a sample axis, e.g. one prior or posterior draw. Same
        parameterisation as the likelihood, so fitting the result recovers ``params``.
        When ``beta_time`` is missing (a draw of the free variables only) it is computed from
        ``mu_time`` and the modality deviations (:func:`trajectory_levels`).
        """
        design = cohort_or_design if isinstance(cohort_or_design, Design) else \
            self.design(cohort_or_design)
        basis = self.basis(design)
        fam = self.family_obj
        n, t = design.y.shape
        p_idx, t_idx = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
        cells = design.cells(basis, p_idx, t_idx, design.months[p_idx, t_idx])
        params = dict(params)
        for prefix in ("", "pos_")[:len(fam.parts)]:
            # a draw of the free variables only (e.g. pm.draw of free_RVs): derive beta_time
            if prefix + "beta_time" not in params and prefix + "mu_time" in params:
                vals = {k: np.asarray(v) for k, v in params.items()}
                params[prefix + "beta_time"] = trajectory_levels(
                    vals, prefix=prefix, by_time=self.modality_by_time)
        lead = {k: np.asarray(v)[None] for k, v in params.items()}
        etas = {part: linear_predictor(lead, cells, prefix=prefix,
                                       by_time=self.modality_by_time)[0]
                for part, prefix in zip(fam.parts, ("", "pos_"), strict=False)}
        aux = {k: float(np.asarray(params[k])) for k in fam.aux}
        rng = np.random.default_rng(seed)
        return fam.simulate(rng, etas, aux, trials=design.trials).reshape(n, t)
