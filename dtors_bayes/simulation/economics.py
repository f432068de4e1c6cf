r"""Known economic truth of a simulated cohort: QALYs, costs and net benefit per option.

The simulator's outcome process (:mod:`dtors_bayes.simulation.truth`) knows every person's
expected utility ``mu_eq5d`` and offending probability ``mu_acquisitive_crime`` at any month,
under their own modality or any other. The economic truth is the same arithmetic as
:mod:`dtors_bayes.economics.evaluation` (written again here, independently, so the coverage
study checks one against the other) applied to the true population means at the schedule
months 0, 4 and 12, with *known* (fixed) unit costs:

- paths: ``treated`` = mean over the population of each person's own-modality ``mu``; option
  ``m`` = mean of ``mu`` with everyone given ``m``;
- QALYs over ``H`` months: trapezoid of the baseline-adjusted curve
  ``u_o(t) - u_o(0) + u_treated(0)`` (held flat after the last wave), in years;
- ``no_treatment``: ``u_treated(0) + theta (u_treated(t) - u_treated(0))`` (``theta = 0``:
  carried on as before);
- costs per person: treatment (the modality mix for ``treated``), crime = unit cost per
  offending month x 12 x the area under the adjusted offending curve (``transfer``: unit cost
  x (1 - stolen share)).

Rows for ``population="target"`` (the simulated treated population) and ``"sample"`` (the
recruited persons), in the tidy form of :attr:`Truth.estimands` with ``outcome="economics"``,
``wave`` = the horizon in months and ``estimand`` one of ``qaly`` (per option, in
``modality``), ``inc_qaly``, ``inc_cost_health``, ``inc_cost_societal``, ``inb_health_<k>``,
``inb_societal_<k>`` (each option against no treatment, in ``contrast``: ``"o - no_treatment"``).

Where the paths come from
-------------------------
:func:`simulate_cohort <dtors_bayes.simulation.generate.simulate_cohort>` records them when
it draws the cohort (:func:`potential_paths`, in ``truth.paths``): for population ``P``
(``target``: every simulated person; ``sample``: the recruited ones), outcome ``k``, option
``o`` and schedule month ``t``,

.. math::

    \bar\mu_{k,o}(t) = \frac{1}{|P|} \sum_{i \in P} \mu_{ik}(t; z = o),

with ``z = o`` the person's own modality for ``o = "treated"``, together with the modality
shares ``pi_m = |{i in P: z_i = m}| / |P|``. So the truth is a function of the stored
simulation, not of re-running its random draws. ``source="replay"`` (and, for a
:class:`~dtors_bayes.simulation.truth.Truth` read back from JSON, which has no paths,
``"auto"``) rebuilds the outcome model instead by replaying the simulator's first draws from
its seed (population, recruitment, outcome parameters, the modifier shift):
:func:`outcome_model` checks that it reproduces the cohort's stored ``mu`` at intake and at
the follow-ups and raises if the simulator's draw order has changed. The tests compare the
stored and replayed truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dtors_bayes import constants
from dtors_bayes.exceptions import SpecError
from dtors_bayes.simulation.population import recruit, simulate_population
from dtors_bayes.simulation.truth import SCHEDULE, OutcomeModel

NONE, TREATED = "no_treatment", "treated"
SOURCES = ("auto", "stored", "replay")
PATH_COLUMNS = ["outcome", "population", "option", "wave", "months", "value", "share"]


def potential_paths(model: OutcomeModel, sample_rows: np.ndarray,
                    outcomes: Sequence[str]) -> pd.DataFrame:
    r"""True mean paths per outcome, population and option at the schedule months.

    Parameters
    ----------
    model : OutcomeModel
        The simulator's outcome model (with its confounder and modifier shift, if any).
    sample_rows : ndarray of int
        Population rows of the recruited persons.
    outcomes : sequence of str
        Outcomes to record.

    Returns
    -------
    DataFrame
        :data:`PATH_COLUMNS`: ``value`` is :math:`\bar\mu_{k,o}(t)` (module notes) for
        ``option`` ``"treated"`` and each modality present in the population, ``share`` the
        modality's share ``pi_m`` (1 for ``"treated"``), ``population`` ``"target"`` or
        ``"sample"``.
    """
    months = [SCHEDULE[t] for t in sorted(SCHEDULE)]
    records = []
    for pop, rows in (("target", np.arange(model.n)), ("sample", np.asarray(sample_rows))):
        for k in outcomes:
            options, values, shares = true_paths(model, rows, k)
            mods = list(constants.DTORS_MODALITIES)
            for o, row in zip(options, values, strict=True):
                share = 1.0 if o == TREATED else float(shares[mods.index(o)])
                for t, (w, m) in enumerate(zip(sorted(SCHEDULE), months, strict=True)):
                    records.append((k, pop, o, int(w), float(m), float(row[t]), share))
    return pd.DataFrame.from_records(records, columns=PATH_COLUMNS)


def stored_paths(sim, outcome: str, population: str
                 ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Options, mean paths (O, T) and modality shares (M,) from ``sim.truth.paths``.

    Raises
    ------
    KeyError
        If the simulation recorded no paths for ``outcome`` (e.g. a truth read from JSON, or
        an outcome not kept): use ``source="replay"``.
    """
    tab = getattr(sim.truth, "paths", None)
    if tab is None or tab.empty or not ((tab.outcome == outcome)
                                        & (tab.population == population)).any():
        raise KeyError(f"the simulation stored no true paths of {outcome!r} "
                       f"({population}); economic_truth(source='replay') rebuilds them")
    sel = tab[(tab.outcome == outcome) & (tab.population == population)]
    options = list(dict.fromkeys(sel["option"]))
    wide = sel.pivot(index="option", columns="wave", values="value").loc[options]
    mods = list(constants.DTORS_MODALITIES)
    share = sel.drop_duplicates("option").set_index("option")["share"]
    shares = np.array([float(share.get(m, 0.0)) for m in mods])
    return options, wide.to_numpy(dtype=float), shares


def outcome_model(sim) -> tuple[OutcomeModel, np.ndarray]:
    """The simulator's :class:`OutcomeModel` and the recruited rows, replayed from the seed."""
    s = sim.settings
    rng = np.random.default_rng(s["seed"])
    strength = float(s.get("confounder_strength", 0.0))
    extra = {}
    if strength:  # the unmeasured confounder's own stream, as simulate_cohort draws it
        u = np.random.default_rng([int(s["seed"]), 14]).normal(size=s["population_size"])
        extra = {"confounder": u, "confounder_strength": strength}
    pop, _ = simulate_population(rng, population_size=s["population_size"],
                                 n_population_areas=s["n_population_areas"],
                                 n_areas=s["n_areas"], n_sites=s["n_sites"],
                                 recruitment_bias=s["recruitment_bias"], **extra)
    attrs = dict(pop.attrs)
    pop.attrs.clear()
    rows = recruit(rng, pop, s["n_persons"], s["recruitment_bias"])
    model = OutcomeModel(rng, pop, **({"confounder": attrs.get("confounder"),
                                       "confounder_strength": strength} if strength else {}))
    if s.get("modifier_effects"):
        from dtors_bayes.simulation.modifiers import modifier_shift

        model.modifier_shift = modifier_shift(s["modifier_effects"], pop)
    comp = sim.truth.complete
    for k in s["outcomes"]:
        col = f"mu_{k}"
        if col in comp:
            for w in (0, 2):   # intake, and a follow-up (modifier and confounder terms)
                sel = comp[comp["wave"] == w]
                mu = model.mu(k, rows, sel["months"].to_numpy())
                if not np.allclose(mu, sel[col].to_numpy(), rtol=1e-9, atol=1e-12):
                    raise RuntimeError("economic truth: replaying the simulator did not "
                                       f"reproduce {col} at wave {w}; the simulator's draw "
                                       "order changed (use the stored truth.paths)")
            break
    return model, rows


def true_paths(model: OutcomeModel, rows: np.ndarray, outcome: str
               ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Options, true mean ``mu`` paths (O, T) at the schedule months, and modality shares."""
    months = [SCHEDULE[t] for t in sorted(SCHEDULE)]
    mods = list(constants.DTORS_MODALITIES)
    present = [j for j in range(len(mods)) if (model.z[rows] == j).any()]
    own = [model.mu(outcome, rows, m).mean() for m in months]
    per = [[model.mu(outcome, rows, m, z=j).mean() for m in months] for j in present]
    shares = np.array([(model.z[rows] == j).mean() for j in range(len(mods))])
    return [TREATED, *[mods[j] for j in present]], np.array([own, *per]), shares


def _area(curve: np.ndarray, months: np.ndarray, horizon: float) -> np.ndarray:
    """Trapezoid area in years over [0, horizon] (flat after the last month)."""
    out = []
    for row in np.atleast_2d(curve):
        grid = sorted({*[m for m in months if m < horizon], horizon})
        vals = np.interp(grid, months, row)
        out.append(sum((grid[i + 1] - grid[i]) * (vals[i] + vals[i + 1]) / 2
                       for i in range(len(grid) - 1)) / 12.0)
    return np.array(out)


def _adjusted(paths: np.ndarray, theta: float) -> np.ndarray:
    base = paths[0, 0]
    adj = paths - paths[:, :1] + base
    cf = base + theta * (paths[0] - paths[0, 0])
    return np.vstack([cf, adj])


def economic_truth(sim, *, treatment_cost: float | Mapping[str, float],
                   crime_unit_cost: float = 0.0, stolen_value: float = 0.0,
                   crime_costs: str = "loss", theta: float = 0.0,
                   wtp: Sequence[float] = (20000.0, 30000.0), horizon: float = 12.0,
                   utility: str = "eq5d", offending: str | None = "acquisitive_crime",
                   source: str = "auto") -> pd.DataFrame:
    """True QALYs, incremental costs and incremental net benefit per option (tidy rows).

    Parameters
    ----------
    sim : SimulatedCohort
    treatment_cost : float or dict of modality -> float
        Known treatment cost per person over the horizon.
    crime_unit_cost, stolen_value, crime_costs
        Known cost of an offending month, its stolen-goods share, and the convention
        (``"loss"`` or ``"transfer"``).
    theta : float
        Share of the treated change that happens without treatment (0: carried on).
    wtp : sequence of float
        Willingness-to-pay values of the ``inb_*`` rows.
    horizon : float
        Months.
    offending : str or None
        The offending outcome (None: no crime costs).
    source : {"auto", "stored", "replay"}
        Where the true mean paths come from: ``"stored"``, the simulation's ``truth.paths``
        (recorded by ``simulate_cohort``); ``"replay"``, the outcome model rebuilt from the
        seed (:func:`outcome_model`); ``"auto"`` (default), stored when recorded, else replay.

    Returns
    -------
    DataFrame
        ``outcome, estimand, wave, modality, contrast, population, value``.
    """
    if source not in SOURCES:
        raise SpecError(f"source={source!r}; allowed: {', '.join(SOURCES)}")
    if crime_costs not in ("loss", "transfer"):
        raise SpecError(f"crime_costs={crime_costs!r}; allowed: 'loss', 'transfer'")
    wanted = [utility] + ([offending] if offending is not None else [])
    tab = getattr(sim.truth, "paths", None)
    have = (tab is not None and not tab.empty
            and all((tab.outcome == k).any() for k in wanted))
    if source == "stored" and not have:
        raise KeyError(f"economic_truth(source='stored'): the simulation stored no true paths "
                       f"of {wanted}; use source='replay'")
    if source == "replay" or (source == "auto" and not have):
        model, sample = outcome_model(sim)

        def paths_of(k, pop):
            return true_paths(model, np.arange(model.n) if pop == "target" else sample, k)
    else:
        def paths_of(k, pop):
            return stored_paths(sim, k, pop)
    months = np.array([SCHEDULE[t] for t in sorted(SCHEDULE)])
    mods = list(constants.DTORS_MODALITIES)
    per_month = crime_unit_cost * ((1.0 - stolen_value) if crime_costs == "transfer" else 1.0)
    records = []
    for pop in ("target", "sample"):
        options, up, shares = paths_of(utility, pop)
        opts = [NONE, *options]
        qaly = _area(_adjusted(up, theta), months, horizon)
        if offending is not None:
            _, cp, _ = paths_of(offending, pop)
            crime = 12.0 * _area(_adjusted(cp, theta), months, horizon) * per_month
        else:
            crime = np.zeros(len(opts))
        tc = (dict(treatment_cost) if isinstance(treatment_cost, Mapping)
              else dict.fromkeys(mods, float(treatment_cost)))
        treat = np.array([0.0, sum(shares[j] * tc[m] for j, m in enumerate(mods)),
                          *[tc[o] for o in options[1:]]])
        health, societal = treat, treat + crime

        def rec(est, value, modality="", contrast="", pop=pop):
            records.append(("economics", est, int(horizon), modality, contrast, pop,
                            float(value)))

        for j, o in enumerate(opts):
            rec("qaly", qaly[j], modality=o)
            if o == NONE:
                continue
            con = f"{o} - {NONE}"
            dq, dh, ds = qaly[j] - qaly[0], health[j] - health[0], societal[j] - societal[0]
            rec("inc_qaly", dq, contrast=con)
            rec("inc_cost_health", dh, contrast=con)
            rec("inc_cost_societal", ds, contrast=con)
            for k in wtp:
                rec(f"inb_health_{int(k)}", k * dq - dh, contrast=con)
                rec(f"inb_societal_{int(k)}", k * dq - ds, contrast=con)
    return pd.DataFrame.from_records(
        records,
        columns=["outcome", "estimand", "wave", "modality", "contrast", "population", "value"])


__all__ = ["PATH_COLUMNS", "SOURCES", "economic_truth", "outcome_model", "potential_paths",
           "stored_paths", "true_paths"]
