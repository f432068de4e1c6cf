r"""QALYs, costs and the explicit counterfactual, draw by draw, from fitted paths.

Effects: QALYs as the area under the EQ-5D utility curve
-------------------------------------------------------
For option ``o`` and draw ``s`` the population mean utility at the wave months
:math:`t_0 = 0 < t_1 < \dots` is :math:`u_{so}(t_j)` (:mod:`dtors_bayes.economics.paths`). Over a
horizon ``H`` months the QALYs are the trapezoid area (Manca, Hawkins & Sculpher 2005; the
"area under the curve" of Richardson & Manca 2004), in years:

.. math::

    Q_{so} = \frac{1}{12} \sum_j (t_{j+1} - t_j)\,
             \frac{\tilde u_{so}(t_j) + \tilde u_{so}(t_{j+1})}{2},
    \qquad \tilde u_{so}(t) = u_{so}(t) - u_{so}(0) + \bar u_{s}(0)

with the curve held at its last wave's value beyond the last wave (and cut, by linear
interpolation, before it when ``H`` is shorter). *Baseline adjustment*: every option's curve
starts from the same intake utility :math:`\bar u_s(0)` (the treated population's), so QALY
differences are areas under differences in *change* from intake. Manca et al. show that an
imbalance at intake biases unadjusted QALY differences and adjust by regression on baseline
utility; in a g-computed comparison every option is the same population, so the intake
difference between options is pre-treatment noise of the model's modality terms and is
removed exactly by anchoring each curve at the common intake value.

The counterfactual (the comparator ``"no_treatment"``)
-----------------------------------------------------
DTORS had no untreated group; its economic report assumed that without treatment people
would have "carried on as before". With ``theta_s`` the share of the treated population's
change from intake that would have happened anyway,

.. math::

    u^{cf}_s(t) = \bar u_s(0) + \theta_s\,(u_{s,treated}(t) - u_{s,treated}(0))

and likewise for the offending probability. ``counterfactual="carried_on"`` is
:math:`\theta = 0` (the report's assumption: the intake state carried forward);
``"spontaneous_improvement"`` takes ``theta`` from a prior (``improvement=``, e.g.
``beta(0.3, 0.15)``; one draw per posterior draw), so the report's GBP 90,620 per QALY
becomes a distribution over that prior (:func:`improvement_curve` gives it as a curve over
fixed values).

Costs (per person over the horizon)
-----------------------------------
- *Treatment*: ``treatment_cost`` per modality (a :class:`~dtors_bayes.economics.inputs.Dist`,
  a number or draws; one for every modality, or a dict by modality). ``"treated"`` costs the
  modality mix (weighted shares, per draw); ``"no_treatment"`` costs 0.
- *Crime*: :math:`C^{crime}_{so} = k_s \cdot 12 \cdot A_{so}`, where :math:`A_{so}` is the
  area (in years) under the baseline-adjusted curve of the probability of having offended in
  the past four weeks (read as the probability that a month contains offending, so
  :math:`12 A` is the expected number of offending months), and :math:`k_s` is the cost to
  society of one offending month (``crime_unit_cost``, with its prior). ``crime_costs="loss"``
  counts the value of what was stolen as lost to society (the DTORS report's convention);
  ``"transfer"`` removes it (``stolen_value``: the stolen goods' share of the unit cost, a
  proportion with its prior), treating theft as a transfer between members of society, so
  :math:`k_s(1 - \pi_s)` per offending month.
- *Health and social care*: ``care_costs`` by option (dict option -> input), 0 when not
  given.

``perspective="health"`` counts treatment and care costs (QALYs against NHS/PSS costs);
``"societal"`` adds crime. The benefit-cost ratio (the report's "GBP 2.5 for every GBP 1")
is :math:`BCR_s = (\text{crime and care costs avoided against no treatment}) / \text{treatment
cost}`, per draw.

Pairing the draws of the two fits
---------------------------------
The utility and offending fits are separate models, so their posteriors are independent,
although a person's utility and offending are correlated. By default (``pairing="index"``)
draw ``s`` of one is paired with draw ``s`` of the other: the two posteriors are treated as
independent and the covariance of the QALY gain and the crime saving, which enters the
societal net benefit, is zero in expectation (the ``pairing`` assumption of every table says
so). ``pairing=rho`` rank-couples the offending fit's whole draws to the utility fit's by a
Gaussian copula (:mod:`dtors_bayes.economics.pairing`; ``rho`` e.g. the person-level
correlation :func:`~dtors_bayes.economics.pairing.pairing_correlation`), which leaves every
marginal summary unchanged and moves only joint ones (the societal net benefit's interval,
CEAC, EVPI); :func:`pairing_sensitivity` reports how far. The health perspective (QALYs and
treatment and care costs) does not involve the offending fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.constants import CI_PROB
from dtors_bayes.economics.decision import cea, frontier, mcse_mean
from dtors_bayes.economics.evppi import evppi
from dtors_bayes.economics.inputs import describe, draws_of
from dtors_bayes.economics.pairing import INDEX, coupled
from dtors_bayes.economics.paths import TREATED, Paths
from dtors_bayes.exceptions import SpecError

NONE = "no_treatment"
COUNTERFACTUALS = ("carried_on", "spontaneous_improvement")
SUMMARY_COLUMNS = ["quantity", "option", "perspective", "mean", "sd", "ci_lb", "ci_ub",
                   "ci_prob", "mcse_mean", "assumption"]


def area_under(values: np.ndarray, months: np.ndarray, horizon: float) -> np.ndarray:
    """Trapezoid area (years) of curves ``values`` (..., T) at ``months`` over [0, horizon].

    Held at the last value beyond the last month; cut by linear interpolation before it.
    """
    months = np.asarray(months, dtype=float)
    if months[0] != 0 or np.any(np.diff(months) <= 0):
        raise SpecError(f"wave months must start at 0 and increase; got {months.tolist()}")
    if horizon <= 0:
        raise SpecError(f"horizon must be > 0 months; got {horizon}")
    grid = np.unique(np.concatenate([months[months < horizon], [horizon]]))
    flat = values.reshape(-1, values.shape[-1])
    on_grid = np.stack([np.interp(grid, months, row) for row in flat])
    area = (np.diff(grid) * (on_grid[:, 1:] + on_grid[:, :-1]) / 2).sum(axis=1) / 12.0
    return area.reshape(values.shape[:-1])


def adjusted_curves(paths: Paths, theta: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Options ``["no_treatment", "treated", modalities...]`` and their baseline-adjusted
    curves (S, O, T): each anchored at the treated population's intake value; the
    counterfactual adds ``theta`` times the treated change."""
    v = paths.values
    base = v[:, [0], :1]                                    # treated intake, (S, 1, 1)
    adj = v - v[:, :, :1] + base
    treated = v[:, 0]
    cf = base[:, 0] + theta[:, None] * (treated - treated[:, :1])
    return [NONE, *paths.options], np.concatenate([cf[:, None], adj], axis=1)


@dataclass
class EconomicDraws:
    """Joint draws of effects, costs and the inputs behind them, per option.

    Attributes
    ----------
    options : list of str
        ``"no_treatment"`` (the counterfactual), ``"treated"`` (the cohort's modality mix),
        then each modality (everyone given it).
    effects : ndarray (S, O)
        QALYs per person over the horizon.
    components : dict of str -> ndarray (S, O)
        ``treatment``, ``care`` and ``crime`` costs per person.
    inputs : DataFrame (S rows)
        The per-draw inputs (theta, unit costs, delta, ...), for EVPPI.
    n_chain, n_draw : int
    assumptions : dict of str -> str
        Everything a number depends on, stated (counterfactual, crime-cost convention,
        horizon, weighting, attrition, unit costs).
    """

    options: list[str]
    effects: np.ndarray
    components: dict[str, np.ndarray]
    inputs: pd.DataFrame
    n_chain: int
    n_draw: int
    assumptions: dict[str, str] = field(default_factory=dict)
    horizon: float = 12.0

    def costs(self, perspective: str = "health") -> np.ndarray:
        """Cost draws (S, O): treatment + care (``"health"``), plus crime (``"societal"``)."""
        if perspective not in ("health", "societal"):
            raise SpecError(f"perspective={perspective!r}; allowed: 'health', 'societal'")
        out = self.components["treatment"] + self.components["care"]
        return out + self.components["crime"] if perspective == "societal" else out

    def _arrays(self, a: np.ndarray) -> np.ndarray:
        return a.reshape(self.n_chain, self.n_draw, -1)

    def cea(self, wtp: float | Sequence[float], *, reference: str = NONE,
            perspective: str = "health", options: Sequence[str] | None = None
            ) -> pd.DataFrame:
        """:func:`~dtors_bayes.economics.decision.cea` of these draws (chains kept for MCSE),
        with ``perspective`` and ``assumption`` columns."""
        idx = [self.options.index(o) for o in (options or self.options)]
        labels = [self.options[i] for i in idx]
        t = cea(self._arrays(self.effects)[..., idx],
                self._arrays(self.costs(perspective))[..., idx], wtp=wtp,
                reference=reference, options=labels)
        t["perspective"] = perspective
        t["assumption"] = self.assumption_text()
        return t

    def frontier(self, *, perspective: str = "health",
                 options: Sequence[str] | None = None) -> pd.DataFrame:
        """Dominance frontier of the mean costs and QALYs (:func:`decision.frontier`)."""
        idx = [self.options.index(o) for o in (options or self.options)]
        return frontier(self.effects[:, idx][None], self.costs(perspective)[:, idx][None],
                        [self.options[i] for i in idx])

    def evppi(self, wtp: float | Sequence[float], *, inputs: Sequence[str] | None = None,
              groups: Mapping[str, Sequence[str]] | None = None,
              perspective: str = "health", options: Sequence[str] | None = None
              ) -> pd.DataFrame:
        """EVPPI of the stated inputs (:func:`~dtors_bayes.economics.evppi.evppi`); inputs
        constant over the draws are left out."""
        names = list(inputs) if inputs is not None else [
            c for c in self.inputs.columns if np.ptp(self.inputs[c].to_numpy()) > 0]
        if not names and groups is None:
            raise SpecError("evppi: no input varies over the draws")
        idx = [self.options.index(o) for o in (options or self.options)]
        return evppi(self.effects[:, idx], self.costs(perspective)[:, idx],
                     self.inputs[names] if groups is None else self.inputs, wtp=wtp,
                     options=[self.options[i] for i in idx], groups=groups)

    def incremental(self, option: str = TREATED, reference: str = NONE,
                    perspective: str = "health") -> tuple[np.ndarray, np.ndarray]:
        """Per-draw incremental QALYs and costs of ``option`` against ``reference``."""
        i, r = self.options.index(option), self.options.index(reference)
        c = self.costs(perspective)
        return self.effects[:, i] - self.effects[:, r], c[:, i] - c[:, r]

    def bcr(self, option: str = TREATED) -> np.ndarray:
        """Benefit-cost ratio per draw: crime and care costs avoided against no treatment,
        over the option's treatment cost."""
        i, r = self.options.index(option), self.options.index(NONE)
        saved = sum(self.components[k][:, r] - self.components[k][:, i]
                    for k in ("crime", "care"))
        with np.errstate(divide="ignore", invalid="ignore"):
            return saved / self.components["treatment"][:, i]

    def estimates(self, wtp: Sequence[float] = (20000.0, 30000.0), *,
                  ci_prob: float = CI_PROB, low_prob: float = 0.5) -> pd.DataFrame:
        """Tidy rows keyed like the estimand tables (``outcome="economics"``, ``wave`` = the
        horizon): ``qaly`` per option (in ``modality``) and, per option against no treatment
        (``contrast`` ``"o - no_treatment"``), ``inc_qaly``, ``inc_cost_health``,
        ``inc_cost_societal``, ``inb_health_<k>``, ``inb_societal_<k>``; with ``mean``, ``sd``,
        the ``ci_prob`` and ``low_prob`` intervals (``ci_lb``/``ci_ub``, ``ci50_lb``/``ci50_ub``)
        and ``mcse_mean``. The same keys as
        :func:`dtors_bayes.simulation.economics.economic_truth`."""
        draws: list[tuple[str, str, str, np.ndarray]] = []
        for j, o in enumerate(self.options):
            draws.append(("qaly", o, "", self.effects[:, j]))
        for o in self.options:
            if o == NONE:
                continue
            con = f"{o} - {NONE}"
            dq, dh = self.incremental(o, NONE, "health")
            _, ds = self.incremental(o, NONE, "societal")
            draws += [("inc_qaly", "", con, dq), ("inc_cost_health", "", con, dh),
                      ("inc_cost_societal", "", con, ds)]
            for k in wtp:
                draws += [(f"inb_health_{int(k)}", "", con, k * dq - dh),
                          (f"inb_societal_{int(k)}", "", con, k * dq - ds)]
        arr = np.stack([d[3] for d in draws])
        q = np.quantile(arr, [(1 - ci_prob) / 2, (1 + ci_prob) / 2, (1 - low_prob) / 2,
                              (1 + low_prob) / 2], axis=1)
        mc = mcse_mean(arr.reshape(len(draws), self.n_chain, self.n_draw))
        return pd.DataFrame({
            "outcome": "economics", "estimand": [d[0] for d in draws],
            "wave": int(self.horizon), "modality": [d[1] for d in draws],
            "contrast": [d[2] for d in draws], "mean": arr.mean(axis=1),
            "sd": arr.std(axis=1, ddof=1), "ci_lb": q[0], "ci_ub": q[1], "ci50_lb": q[2],
            "ci50_ub": q[3], "ci_prob": ci_prob, "mcse_mean": mc,
            "assumption": self.assumption_text()})

    def assumption_text(self) -> str:
        """The assumptions as one line."""
        return "; ".join(f"{k}: {v}" for k, v in self.assumptions.items())

    def summary(self, *, option: str = TREATED, ci_prob: float = CI_PROB) -> pd.DataFrame:
        """Means, intervals and MCSE of QALYs, costs, increments against no treatment, the
        ICER (ratio of mean increments), the BCR and P(BCR > 1)."""
        lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
        rows = []

        def add(q, x, persp="", opt=option):
            x = np.asarray(x, dtype=float)
            ok = np.isfinite(x)
            rows.append({"quantity": q, "option": opt, "perspective": persp,
                         "mean": float(x[ok].mean()), "sd": float(x[ok].std(ddof=1)),
                         "ci_lb": float(np.quantile(x[ok], lo)),
                         "ci_ub": float(np.quantile(x[ok], hi)), "ci_prob": ci_prob,
                         "mcse_mean": float(mcse_mean(self._arrays(x)[..., 0][None])[0])
                         if ok.all() else np.nan,
                         "assumption": self.assumption_text()})

        i = self.options.index(option)
        add("qaly", self.effects[:, i])
        add("qaly", self.effects[:, self.options.index(NONE)], opt=NONE)
        for persp in ("health", "societal"):
            de, dc = self.incremental(option, NONE, persp)
            add("incremental_qaly", de, persp)
            add("incremental_cost", dc, persp)
            rows.append({**rows[-1], "quantity": "icer", "mean": float(dc.mean() / de.mean()),
                         "sd": np.nan, "ci_lb": np.nan, "ci_ub": np.nan, "mcse_mean": np.nan})
        for k, v in self.components.items():
            add(f"{k}_cost", v[:, i])
            add(f"{k}_cost", v[:, self.options.index(NONE)], opt=NONE)
        b = self.bcr(option)
        add("bcr", b, "societal")
        add("p_bcr_above_1", (b > 1).astype(float), "societal")
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _by_modality(value: Any, modalities: list[str], rng, n: int, what: str
                 ) -> dict[str, np.ndarray]:
    if isinstance(value, Mapping):
        missing = [m for m in modalities if m not in value]
        if missing:
            raise SpecError(f"{what}: no value for modalities {missing}")
        return {m: draws_of(value[m], rng, n, f"{what}[{m}]") for m in modalities}
    one = draws_of(value, rng, n, what)
    return dict.fromkeys(modalities, one)


def economic_draws(utility: Paths, crime: Paths | None = None, *,
                   treatment_cost: Any = 0.0,
                   crime_unit_cost: Any = 0.0, stolen_value: Any = 0.0,
                   crime_costs: str = "loss", care_costs: Mapping[str, Any] | None = None,
                   counterfactual: str = "carried_on", improvement: Any = None,
                   horizon: float | None = None, confounding: Mapping[str, Any] | None = None,
                   pairing: str | float = "index", seed: int = 0) -> EconomicDraws:
    r"""Joint draws of QALYs and costs per option (the module docstring has the definitions).

    Parameters
    ----------
    utility : Paths
        Utility paths (:func:`~dtors_bayes.economics.paths.outcome_paths` of an eq5d fit).
    crime : Paths, optional
        Paths of the offending probability (a Bernoulli fit, e.g. ``acquisitive_crime``);
        same number of draws. Without it crime costs are 0.
    treatment_cost : input or dict of modality -> input
        Treatment cost per person over the horizon (GBP).
    crime_unit_cost : input
        Cost to society of one month with offending, stolen goods included (GBP).
    stolen_value : input
        Share (0-1) of ``crime_unit_cost`` that is the value of goods stolen or defrauded.
    crime_costs : {"loss", "transfer"}
        Count stolen goods as lost to society (the report) or as a transfer (removed).
    care_costs : dict of option -> input, optional
        Health and social-care costs per person over the horizon, per option
        (``"no_treatment"``, ``"treated"`` or a modality); 0 for options not given.
    counterfactual : {"carried_on", "spontaneous_improvement"}
        The comparator's path: intake state carried forward, or a share ``theta`` of the
        treated change happening anyway.
    improvement : input, optional
        ``theta`` (a Dist such as ``beta(0.3, 0.15)``, a number or draws); required with
        ``"spontaneous_improvement"``.
    horizon : float, optional
        Months (default: the last wave's, 12 for DTORS).
    confounding : dict of option -> input, optional
        Unmeasured-confounding bias of an option's utility on the response scale (a
        confounding function, e.g. draws from :mod:`dtors_bayes.causal`): ``c_s`` is
        subtracted from that option's curve at every follow-up wave (``E[Y(a)] = mu_a - c``),
        and its draws become an EVPPI input ``confounding_<option>``.
    pairing : "index" or float
        How the crime fit's draws are paired with the utility fit's: ``"index"`` (default;
        draw ``s`` with draw ``s``, the posteriors independent) or a rank correlation
        ``rho`` in [-1, 1] (whole draws rank-coupled by a Gaussian copula on the treated QALY
        gain and offending months avoided; :mod:`dtors_bayes.economics.pairing`). Recorded in
        the ``pairing`` assumption.
    seed : int
        Seed of the input draws (and of the coupling).

    Returns
    -------
    EconomicDraws
    """
    if counterfactual not in COUNTERFACTUALS:
        raise SpecError(f"counterfactual={counterfactual!r}; allowed: "
                        f"{', '.join(COUNTERFACTUALS)}")
    if crime_costs not in ("loss", "transfer"):
        raise SpecError(f"crime_costs={crime_costs!r}; allowed: 'loss', 'transfer'")
    if counterfactual == "spontaneous_improvement" and improvement is None:
        raise SpecError("counterfactual='spontaneous_improvement' needs improvement= (the "
                        "prior of the share of the change that would have happened anyway)")
    if counterfactual == "carried_on" and improvement is not None:
        raise SpecError("improvement= is only used with counterfactual='spontaneous_improvement'")
    n = utility.n_sample
    if crime is not None:
        if crime.n_sample != n:
            raise SpecError(f"utility paths have {n} draws, crime paths {crime.n_sample}: "
                            "fit both with the same chains x draws")
        if crime.options != utility.options:
            raise SpecError(f"utility options {utility.options} and crime options "
                            f"{crime.options} differ")
        pops = [(p.labels.get("weighting") == "mrp", p.labels.get("population"))
                for p in (utility, crime)]
        if pops[0] != pops[1]:
            raise SpecError("utility and crime paths are for different populations "
                            f"(utility: weighting {utility.labels.get('weighting')!r}, "
                            f"{utility.labels.get('population')!r}; crime: "
                            f"{crime.labels.get('weighting')!r}, "
                            f"{crime.labels.get('population')!r}): QALYs and crime costs "
                            "must describe one population; compute both paths with the same "
                            "weighting")
    pairing_text = ""
    if crime is not None:
        crime, pairing_text, _ = coupled(utility, crime, pairing, seed)
    elif not (isinstance(pairing, str) and pairing == INDEX):
        raise SpecError("pairing= couples the crime fit's draws to the utility fit's: it needs "
                        "crime paths")
    rng = np.random.default_rng(seed)
    horizon = float(utility.months[-1]) if horizon is None else float(horizon)
    theta = np.zeros(n) if improvement is None else draws_of(improvement, rng, n, "improvement")
    options, curves = adjusted_curves(utility, theta)
    inputs: dict[str, np.ndarray] = {}
    for o, v in (confounding or {}).items():
        if o not in options or o == NONE:
            raise SpecError(f"confounding: unknown option {o!r}; options: {options[1:]}")
        bias = draws_of(v, rng, n, f"confounding[{o}]")
        curves[:, options.index(o), 1:] -= bias[:, None]
        inputs[f"confounding_{o}"] = bias
    effects = area_under(curves, utility.months, horizon)
    if improvement is not None:
        inputs["improvement"] = theta
    if utility.delta is not None:
        inputs[f"delta_{utility.outcome}"] = utility.delta
    mods = [o for o in options if o not in (NONE, TREATED)]
    tc = _by_modality(treatment_cost, utility.modalities, rng, n, "treatment_cost")
    treat = np.zeros((n, len(options)))
    for j, o in enumerate(options):
        if o == TREATED:
            treat[:, j] = sum(utility.shares[:, i] * tc[m]
                              for i, m in enumerate(utility.modalities))
        elif o != NONE:
            treat[:, j] = tc[o]
    if isinstance(treatment_cost, Mapping):
        inputs.update({f"treatment_cost_{m}": tc[m] for m in utility.modalities})
    elif utility.modalities:
        inputs["treatment_cost"] = tc[utility.modalities[0]]
    crime_c = np.zeros((n, len(options)))
    unit = draws_of(crime_unit_cost, rng, n, "crime_unit_cost")
    stolen = draws_of(stolen_value, rng, n, "stolen_value")
    if np.any((stolen < 0) | (stolen > 1)):
        raise SpecError("stolen_value is a share of the unit crime cost: draws must be in [0, 1]")
    if crime is not None:
        per_month = unit * (1.0 - stolen) if crime_costs == "transfer" else unit
        _, ccurves = adjusted_curves(crime, theta)
        crime_c = 12.0 * area_under(ccurves, crime.months, horizon) * per_month[:, None]
        if crime.delta is not None:
            inputs[f"delta_{crime.outcome}"] = crime.delta
        inputs["crime_unit_cost"] = unit
        if crime_costs == "transfer":
            inputs["stolen_value"] = stolen
    care = np.zeros((n, len(options)))
    for o, v in (care_costs or {}).items():
        if o not in options:
            raise SpecError(f"care_costs: unknown option {o!r}; options: {options}")
        care[:, options.index(o)] = draws_of(v, rng, n, f"care_costs[{o}]")
    assumptions = {
        "counterfactual": ("intake state carried forward (theta = 0)"
                           if counterfactual == "carried_on" else
                           f"a share theta ~ {describe(improvement)} of the treated change "
                           "happens without treatment"),
        "crime_costs": (f"{crime_costs}: unit cost per offending month {describe(crime_unit_cost)}"
                        + (f", stolen share {describe(stolen_value)} removed"
                           if crime_costs == "transfer" else ", stolen goods counted as lost")
                        if crime is not None else "none (no offending fit)"),
        "treatment_cost": (describe(treatment_cost) if not isinstance(treatment_cost, Mapping)
                           else ", ".join(f"{k} {describe(v)}" for k, v in
                                          treatment_cost.items())),
        "horizon": f"{horizon:g} months, trapezoid over waves at months "
                   f"{', '.join(f'{m:g}' for m in utility.months)}, baseline-adjusted",
        "weighting": f"{utility.labels.get('weighting')} ({utility.labels.get('population')})",
        "attrition": utility.labels.get("attrition", "")
        + (f" | crime: {crime.labels.get('attrition', '')}" if crime is not None else ""),
        "modalities": ("everyone given the modality: no unmeasured confounding given "
                       "covariates, site and area" if not confounding else
                       "everyone given the modality, with confounding bias "
                       + ", ".join(f"{k} {describe(v)}" for k, v in confounding.items()))
        if mods else "",
        "pairing": pairing_text,
    }
    return EconomicDraws(options=options, effects=effects,
                         components={"treatment": treat, "care": care, "crime": crime_c},
                         inputs=pd.DataFrame(inputs), n_chain=utility.n_chain,
                         n_draw=utility.n_draw,
                         assumptions={k: v for k, v in assumptions.items() if v},
                         horizon=horizon)


def improvement_curve(utility: Paths, crime: Paths | None = None, *,
                      thetas: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
                      wtp: float = 30000.0, option: str = TREATED, **kwargs: Any
                      ) -> pd.DataFrame:
    """The ICER and the decision over fixed values of the spontaneous-improvement share.

    For each ``theta``: incremental QALYs and costs of ``option`` against no treatment
    (health and societal perspectives), the ICER (ratio of means), P(NE quadrant), the
    expected incremental net benefit at ``wtp`` and P(cost-effective at ``wtp``). ``theta = 0``
    is the report's "carried on as before". Other keyword arguments go to
    :func:`economic_draws`.
    """
    rows = []
    for th in thetas:
        cf = ("carried_on", None) if th == 0 else ("spontaneous_improvement", float(th))
        ed = economic_draws(utility, crime, counterfactual=cf[0], improvement=cf[1], **kwargs)
        for persp in ("health", "societal"):
            de, dc = ed.incremental(option, NONE, persp)
            ib = wtp * de - dc
            rows.append({"theta": float(th), "perspective": persp,
                         "inc_qaly": float(de.mean()), "inc_cost": float(dc.mean()),
                         "icer": float(dc.mean() / de.mean()) if de.mean() != 0 else np.nan,
                         "p_ne": float(((de > 0) & (dc > 0)).mean()), "wtp": wtp,
                         "eib": float(ib.mean()), "p_cost_effective": float((ib > 0).mean())})
    return pd.DataFrame(rows)


PAIRING_COLUMNS = ["pairing", "rank_correlation", "achieved", "option", "perspective",
                   "wtp", "mean", "ci_lb", "ci_ub", "ci_prob", "width", "width_ratio",
                   "p_cost_effective"]


def pairing_sensitivity(utility: Paths, crime: Paths, *,
                        rank_correlations: Sequence[float] = (-1.0, -0.5, 0.5, 1.0),
                        wtp: float = 30000.0, option: str = TREATED,
                        perspective: str = "societal", ci_prob: float = CI_PROB,
                        **kwargs: Any) -> pd.DataFrame:
    r"""How much the pairing of the utility and crime draws moves the net benefit.

    The incremental net benefit of ``option`` against no treatment,
    :math:`\lambda \Delta Q_s - \Delta C_s`, under index pairing (the default of
    :func:`economic_draws`) and under rank coupling at each ``rho`` of ``rank_correlations``
    (:mod:`dtors_bayes.economics.pairing`). The coupling reorders whole draws of the crime
    fit, so the mean is the same under every pairing up to Monte Carlo error (the unit-cost
    draws meet other crime draws); the interval and P(cost-effective) are what change.
    ``width_ratio`` is the ``ci_prob`` interval's width over the index pairing's.

    Parameters
    ----------
    utility, crime : Paths
    rank_correlations : sequence of float
        Values of ``rho`` in [-1, 1] (e.g. with
        :func:`~dtors_bayes.economics.pairing.pairing_correlation`'s ``r`` and its interval).
    wtp : float
        Willingness to pay per QALY.
    option : str
        The option compared with no treatment.
    perspective : {"societal", "health"}
        ``"health"`` does not involve the crime fit (every row then equal).
    ci_prob : float
    **kwargs
        Passed to :func:`economic_draws` (costs, counterfactual, seed, ...).

    Returns
    -------
    DataFrame
        :data:`PAIRING_COLUMNS`; ``pairing`` ``"index"`` or ``"rank"``, ``achieved`` the rank
        correlation of the coupling keys after pairing.
    """
    if "pairing" in kwargs:
        raise SpecError("pairing_sensitivity sets pairing= itself; pass rank_correlations=")
    lo, hi = (1 - ci_prob) / 2, (1 + ci_prob) / 2
    rows, base = [], None
    for rho in [None, *rank_correlations]:
        ed = economic_draws(utility, crime, pairing=INDEX if rho is None else float(rho),
                            **kwargs)
        _, _, achieved = coupled(utility, crime, INDEX if rho is None else float(rho),
                                 kwargs.get("seed", 0))
        de, dc = ed.incremental(option, NONE, perspective)
        nb = wtp * de - dc
        q0, q1 = np.quantile(nb, [lo, hi])
        width = float(q1 - q0)
        base = width if rho is None else base
        rows.append({"pairing": "index" if rho is None else "rank",
                     "rank_correlation": np.nan if rho is None else float(rho),
                     "achieved": achieved, "option": option, "perspective": perspective,
                     "wtp": float(wtp), "mean": float(nb.mean()), "ci_lb": float(q0),
                     "ci_ub": float(q1), "ci_prob": ci_prob, "width": width,
                     "width_ratio": width / base if base else np.nan,
                     "p_cost_effective": float((nb > 0).mean())})
    return pd.DataFrame(rows, columns=PAIRING_COLUMNS)


__all__ = ["COUNTERFACTUALS", "NONE", "PAIRING_COLUMNS", "SUMMARY_COLUMNS", "EconomicDraws",
           "adjusted_curves", "area_under", "economic_draws", "improvement_curve",
           "pairing_sensitivity"]
