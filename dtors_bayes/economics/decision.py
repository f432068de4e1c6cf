r"""The decision layer on any draws: net benefit, EIB, CEAC/CEAF, ICER with quadrants, EVPI,
and the strong / extended dominance frontier.

Notation. ``S`` draws (``C`` chains x ``D`` draws when a chain axis is given), options
``d = 1..O`` with effects ``e_sd`` (e.g. QALYs) and costs ``c_sd``; ``k`` is the willingness to
pay per unit of effect. For each draw and option the net (monetary) benefit is

.. math::

    NB_{sd}(k) = k\,e_{sd} - c_{sd},

and against the reference option ``r`` the incremental quantities are
``De_sd = e_sd - e_sr``, ``Dc_sd = c_sd - c_sr`` and ``IB_sd(k) = k De_sd - Dc_sd``.

- ``expected_nb`` = :math:`\bar{NB}_d(k) = S^{-1}\sum_s NB_{sd}(k)`; ``eib`` =
  :math:`S^{-1} \sum_s IB_{sd}(k)`, the expected incremental benefit of ``d`` *over* the
  reference (dampack's and hesim's orientation; BCEA's ``eib`` is the reference minus the
  comparator, Baio 2012, so its sign is the opposite for the same pair).
- ``ceac`` = :math:`P(d = \arg\max_j NB_{sj}(k))`, the probability of being the best option
  (BCEA ``multi.ce``'s ``p_best_interv``; dampack ``ceac()``'s ``Proportion``). A draw in which
  several options tie for the maximum is shared equally among them (BCEA counts it for each,
  dampack's ``max.col`` picks one at random); continuous draws never tie.
- ``ceaf`` = 1 for the option with the largest expected net benefit at ``k``, else 0
  (dampack's ``On_Frontier``; Fenwick, Claxton & Sculpher 2001); ``ceaf_prob`` is ``ceac`` on
  that row and 0 elsewhere, so summing it over options gives the acceptability frontier
  curve. BCEA's ``ceaf`` vector is ``max_d ceac_d``, which equals it except where the option
  most likely to be best is not the one with the largest expected net benefit (skewed
  draws).
- ``icer`` = :math:`\overline{Dc}_d / \overline{De}_d`, the ratio of mean increments against
  the reference (BCEA ``ICER``, dampack ``calculate_icers`` on the means), always reported with
  the quadrant probabilities of the cost-effectiveness plane: ``p_ne`` = P(De > 0, Dc > 0)
  (more effective, more costly), ``p_se`` = P(De > 0, Dc <= 0) (dominant), ``p_nw`` =
  P(De <= 0, Dc > 0) (dominated), ``p_sw`` = P(De <= 0, Dc <= 0) (less effective, cheaper).
  A negative ICER means the SE or NW quadrant and cannot be read against ``k`` alone (dampack
  issue #160): read ``eib`` and the quadrants.
- ``evpi`` = :math:`S^{-1}\sum_s \max_d NB_{sd}(k) - \max_d \bar{NB}_d(k)`, the expected value of
  perfect information per person (BCEA ``evi``, dampack ``calc_evpi``); the same on every row
  of a ``k``.

Monte Carlo error. MCMC draws are autocorrelated, so the MCSE of each mean is
:math:`sd / \sqrt{ESS}` with the ESS of that quantity's own draws over chains (ArviZ's
``mcse(method="mean")``, :func:`arviz_stats.base.array_stats.mcse`): ``mcse_nb`` for
``expected_nb``, ``mcse_eib``, ``mcse_ceac`` (the ESS of the indicator "d is best") and
``mcse_evpi`` (the MCSE of the mean of :math:`\max_d NB_{sd}`; the error of the second term
is ignored). A quantity constant over draws has MCSE 0. Plain ``(draw, option)`` arrays are
one chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.constants import CI_PROB
from dtors_bayes.exceptions import SpecError

#: Columns of :func:`cea`'s table, in order.
CEA_COLUMNS = [
    "option", "reference", "wtp", "mean_effect", "mean_cost", "inc_effect", "inc_cost",
    "expected_nb", "mcse_nb", "eib", "eib_lb", "eib_ub", "mcse_eib", "ceac", "mcse_ceac",
    "ceaf", "ceaf_prob", "icer", "p_ne", "p_nw", "p_se", "p_sw", "evpi", "mcse_evpi",
]
#: Columns of :func:`frontier`'s table (dampack ``calculate_icers``), in order.
FRONTIER_COLUMNS = ["option", "cost", "effect", "inc_cost", "inc_effect", "icer", "status"]


# ---------------------------------------------------------------------------- inputs
def _from_table(t: pd.DataFrame, what: str, options: Sequence[str] | None
                ) -> tuple[np.ndarray, list[str]]:
    """A tidy (``option``, ``value``, ``draw``[, ``chain``]) or wide (one column per option)
    table as a (C, D, O) array."""
    if "option" in t.columns:
        val = "value" if "value" in t.columns else what
        if val not in t.columns or "draw" not in t.columns:
            raise SpecError(f"{what}: a tidy table needs columns option, draw and value "
                            f"(or {what!r}); got {list(t.columns)}")
        idx = ["chain", "draw"] if "chain" in t.columns else ["draw"]
        wide = t.pivot_table(index=idx, columns="option", values=val, aggfunc="first",
                             sort=True)
        labels = list(options) if options is not None else list(wide.columns)
        missing = [o for o in labels if o not in wide.columns]
        if missing:
            raise SpecError(f"{what}: options {missing} have no rows")
        arr = wide[labels].to_numpy(dtype=float)
        if wide.isna().any().any():
            raise SpecError(f"{what}: some (draw, option) cells are missing")
        n_chain = wide.index.get_level_values("chain").nunique() if "chain" in idx else 1
        return arr.reshape(n_chain, -1, len(labels)), [str(x) for x in labels]
    labels = list(options) if options is not None else [str(c) for c in t.columns]
    return t.to_numpy(dtype=float).reshape(1, len(t), -1), labels


def as_draws(values: Any, what: str = "effects", options: Sequence[str] | None = None
             ) -> tuple[np.ndarray, list[str]]:
    """Draws of one quantity per option as a (chain, draw, option) array and option labels.

    Accepts a (draw, option) or (chain, draw, option) array, an ``xarray.DataArray`` with an
    ``option`` dimension (and ``draw``, optionally ``chain``), a wide DataFrame (one column
    per option, rows are draws) or a tidy one (``option``, ``draw``, ``value``, optionally
    ``chain``).
    """
    if isinstance(values, pd.DataFrame):
        arr, labels = _from_table(values, what, options)
    elif hasattr(values, "dims") and "option" in getattr(values, "dims", ()):
        dims = [d for d in ("chain", "draw", "option") if d in values.dims]
        arr = np.asarray(values.transpose(*dims).values, dtype=float)
        labels = [str(x) for x in values["option"].values] if options is None else list(options)
        if arr.ndim == 2:
            arr = arr[None]
    else:
        arr = np.asarray(values, dtype=float)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise SpecError(f"{what}: expected (draw, option) or (chain, draw, option) draws; "
                            f"got shape {np.shape(values)}")
        labels = list(options) if options is not None else [f"option_{j}"
                                                              for j in range(arr.shape[2])]
    if arr.shape[2] != len(labels):
        raise SpecError(f"{what}: {arr.shape[2]} options in the draws, {len(labels)} labels")
    if len(set(labels)) != len(labels):
        raise SpecError(f"{what}: option labels repeat: {labels}")
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{what}: {int((~np.isfinite(arr)).sum())} non-finite draws")
    return arr, [str(x) for x in labels]


def paired_draws(effects: Any, costs: Any, options: Sequence[str] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Effects and costs as matching (chain, draw, option) arrays (same options, same order)."""
    e, le = as_draws(effects, "effects", options)
    c, lc = as_draws(costs, "costs", options if options is not None else le)
    if set(le) != set(lc):
        raise SpecError(f"effects options {le} and costs options {lc} differ")
    c = c[:, :, [lc.index(o) for o in le]]
    if e.shape != c.shape:
        raise SpecError(f"effects draws {e.shape} and costs draws {c.shape} differ in shape "
                        "(chain, draw, option)")
    return e, c, le


# ---------------------------------------------------------------------------- MCSE
def mcse_mean(x: np.ndarray) -> np.ndarray:
    """MCSE of the mean of draws ``x`` (..., chain, draw), from their ESS over chains.

    ``sd / sqrt(ESS)`` as ArviZ computes it (``arviz_stats.base.array_stats.mcse``,
    method ``"mean"``); 0 where the draws are constant, NaN with fewer than 4 draws.
    """
    from arviz_stats.base import array_stats

    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape[:-2])
    if x.shape[-1] < 4:
        return np.full(x.shape[:-2], np.nan)
    flat = x.reshape(*x.shape[:-2], -1)
    varies = np.ptp(flat, axis=-1) > 1e-12 * np.maximum(1.0, np.abs(flat).max(axis=-1))
    if varies.any():
        out[varies] = np.asarray(array_stats.mcse(x[varies], chain_axis=-2, draw_axis=-1,
                                                  method="mean"))
    return out


# ---------------------------------------------------------------------------- the CEA table
def _best_share(nb: np.ndarray) -> np.ndarray:
    """Per draw, 1/(number tied) for the options at the maximum, else 0 (same shape)."""
    top = nb.max(axis=-1, keepdims=True)
    tie = np.isclose(nb, top, rtol=0.0, atol=1e-9 * np.maximum(1.0, np.abs(top)))
    return tie / tie.sum(axis=-1, keepdims=True)


def cea(effects: Any, costs: Any, *, wtp: float | Sequence[float], reference: str,
        options: Sequence[str] | None = None, ci_prob: float = CI_PROB) -> pd.DataFrame:
    r"""Cost-effectiveness table per option and willingness to pay, from draws.

    Parameters
    ----------
    effects, costs : array, DataArray or DataFrame
        Draws per option: (draw, option) or (chain, draw, option) arrays, a DataArray with an
        ``option`` dimension, a wide DataFrame (a column per option) or a tidy one
        (``option``, ``draw``, ``value``[, ``chain``]). Draw ``s`` of every option is one
        joint draw (the same posterior draw), which is what makes ``ceac`` and ``evpi``
        meaningful.
    wtp : float or sequence of float
        Willingness to pay per unit of effect (e.g. GBP per QALY), ``k``.
    reference : str
        The option the increments, ``eib``, ``icer`` and the quadrants are taken against
        (named in every row).
    options : sequence of str, optional
        Labels for array input (default ``option_0``, ...), or a subset/order of a table's.
    ci_prob : float
        Probability of the equal-tailed interval of the incremental benefit
        (``eib_lb``, ``eib_ub``).

    Returns
    -------
    DataFrame
        One row per (wtp, option) with :data:`CEA_COLUMNS`; the definitions are in the module
        docstring (:mod:`dtors_bayes.economics.decision`). ``attrs`` hold ``reference``,
        ``n_chain``, ``n_draw`` and ``ci_prob``.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([[0.0, 0.05], [0.0, 0.05]]); c = np.array([[0.0, 4531.0], [0.0, 4531.0]])
    >>> t = cea(e, c, wtp=[30000], reference="option_0")
    >>> float(t.loc[1, "icer"]), float(t.loc[1, "eib"])
    (90620.0, -3031.0)
    """
    e, c, labels = paired_draws(effects, costs, options)
    if reference not in labels:
        raise SpecError(f"reference={reference!r} is not an option; options: {labels}")
    if not 0 < ci_prob < 1:
        raise SpecError(f"ci_prob must be in (0, 1); got {ci_prob!r}")
    k = np.atleast_1d(np.asarray(wtp, dtype=float))
    if k.ndim != 1 or not np.all(np.isfinite(k)):
        raise SpecError(f"wtp must be finite numbers; got {wtp!r}")
    r = labels.index(reference)
    n_c, n_d, n_o = e.shape
    de, dc = e - e[:, :, [r]], c - c[:, :, [r]]               # (C, D, O)
    nb = k[:, None, None, None] * e[None] - c[None]           # (K, C, D, O)
    ib = k[:, None, None, None] * de[None] - dc[None]
    best = _best_share(nb)
    enb = nb.mean(axis=(1, 2))                                # (K, O)
    optimal = enb.argmax(axis=1)
    maxnb = nb.max(axis=-1)                                   # (K, C, D)
    # >= 0 exactly (a mean of maxima is at least the maximum of means): clip rounding only
    evpi = np.maximum(maxnb.mean(axis=(1, 2)) - enb.max(axis=1), 0.0)
    # (K, C, D, O) -> (K, O, C, D) for the MCSE over (chain, draw)
    mc_nb, mc_ib, mc_best = (mcse_mean(np.moveaxis(a, -1, 1)) for a in (nb, ib, best))
    mc_evpi = mcse_mean(maxnb)
    lo, hi = (1 - ci_prob) / 2, 1 - (1 - ci_prob) / 2
    ib_q = np.quantile(ib.reshape(len(k), -1, n_o), [lo, hi], axis=1)   # (2, K, O)
    east, north = de > 0, dc > 0
    quad = {"p_ne": east & north, "p_nw": ~east & north, "p_se": east & ~north,
            "p_sw": ~east & ~north}
    quad = {q: v.mean(axis=(0, 1)) for q, v in quad.items()}
    mde, mdc = de.mean(axis=(0, 1)), dc.mean(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        icer = np.where(mde != 0, mdc / np.where(mde != 0, mde, 1.0), np.nan)
    rows = []
    for i, kk in enumerate(k):
        for j, lab in enumerate(labels):
            ref = j == r
            on = float(optimal[i] == j)
            p_best = float(best[i, ..., j].mean())
            rows.append({
                "option": lab, "reference": reference, "wtp": float(kk),
                "mean_effect": float(e[..., j].mean()), "mean_cost": float(c[..., j].mean()),
                "inc_effect": float(mde[j]), "inc_cost": float(mdc[j]),
                "expected_nb": float(enb[i, j]), "mcse_nb": float(mc_nb[i, j]),
                "eib": float(ib[i, ..., j].mean()), "eib_lb": float(ib_q[0, i, j]),
                "eib_ub": float(ib_q[1, i, j]), "mcse_eib": float(mc_ib[i, j]),
                "ceac": p_best, "mcse_ceac": float(mc_best[i, j]), "ceaf": on,
                "ceaf_prob": on * p_best, "icer": np.nan if ref else float(icer[j]),
                **{q: np.nan if ref else float(v[j]) for q, v in quad.items()},
                "evpi": float(evpi[i]), "mcse_evpi": float(mc_evpi[i]),
            })
    out = pd.DataFrame(rows, columns=CEA_COLUMNS)
    out.attrs.update({"reference": reference, "n_chain": n_c, "n_draw": n_d,
                      "ci_prob": ci_prob})
    return out


def evpi_curve(effects: Any, costs: Any, *, wtp: Sequence[float],
               options: Sequence[str] | None = None, population: float = 1.0) -> pd.DataFrame:
    r"""EVPI per person (and for a population) over willingness-to-pay values.

    ``evpi(k) = mean_s max_d NB_sd(k) - max_d mean_s NB_sd(k)``, ``population_evpi`` = ``evpi``
    times ``population`` (e.g. the annual number of treatment entrants, undiscounted).
    """
    e, c, labels = paired_draws(effects, costs, options)
    t = cea(e, c, wtp=wtp, reference=labels[0], options=labels)
    out = t.groupby("wtp", sort=True)[["evpi", "mcse_evpi"]].first().reset_index()
    out["population_evpi"] = out["evpi"] * float(population)
    return out


# ---------------------------------------------------------------------------- frontier
def frontier(effects: Any, costs: Any, options: Sequence[str] | None = None) -> pd.DataFrame:
    r"""Strong and extended dominance and the ICERs of the efficient frontier.

    The algorithm of dampack's ``calculate_icers`` (Alarid-Escudero et al.), on the mean
    cost and effect of each option (draws are averaged first; 1-D inputs are means):

    1. Sort by cost (ascending), ties by effect (descending).
    2. *Strong dominance* (``D``): an option costing at least as much as another with an equal
       or lower effect (``e_j <= e_i`` for a cheaper-or-equal ``i`` before it).
    3. *Extended dominance* (``ED``): among the remaining options in cost order, the ICER of
       each against the previous one, :math:`(c_i - c_{i-1}) / (e_i - e_{i-1})`; an interior
       option whose ICER exceeds the next one's is extendedly dominated (a mix of its
       neighbours does better). Repeated until none is found.
    4. The non-dominated options (``ND``) form the frontier; ``inc_cost``, ``inc_effect`` and
       ``icer`` are against the previous frontier option (NaN for the first and for dominated
       options).

    Returns
    -------
    DataFrame
        :data:`FRONTIER_COLUMNS`, ordered as dampack: frontier by cost, then ``ED``, then
        ``D`` (each by cost).
    """
    e = np.asarray(effects, dtype=float) if not isinstance(effects, pd.DataFrame) else None
    if e is not None and e.ndim == 1:
        labels = list(options) if options is not None else [f"option_{j}" for j in range(len(e))]
        me, mc = e, np.asarray(costs, dtype=float)
        if mc.shape != me.shape or len(labels) != me.size:
            raise SpecError("frontier: effects, costs and options must have the same length")
    else:
        ee, cc, labels = paired_draws(effects, costs, options)
        me, mc = ee.mean(axis=(0, 1)), cc.mean(axis=(0, 1))
    df = pd.DataFrame({"option": labels, "cost": mc, "effect": me})
    df = df.sort_values(["cost", "effect"], ascending=[True, False], kind="stable")
    df = df.reset_index(drop=True)
    n = len(df)
    dominated: set[str] = set()
    for i in range(n - 1):
        for j in range(i + 1, n):
            if df.loc[j, "effect"] <= df.loc[i, "effect"]:
                dominated.add(df.loc[j, "option"])
    ext: set[str] = set()
    while True:
        nd = df[~df["option"].isin(dominated | ext)].reset_index(drop=True)
        if len(nd) <= 2:
            break
        icers = _icers(nd)
        new = [nd.loc[i, "option"] for i in range(1, len(nd) - 1)
               if icers[i] > icers[i + 1]]
        if not new:
            break
        ext.update(new)
    nd = df[~df["option"].isin(dominated | ext)].reset_index(drop=True)
    inc_c = nd["cost"].diff().to_numpy()
    inc_e = nd["effect"].diff().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        nd = nd.assign(inc_cost=inc_c, inc_effect=inc_e, icer=inc_c / inc_e, status="ND")
    rest = [df[df["option"].isin(s)].assign(inc_cost=np.nan, inc_effect=np.nan, icer=np.nan,
                                           status=lab)
            for s, lab in ((ext, "ED"), (dominated, "D"))]
    out = pd.concat([nd, *rest], ignore_index=True)[FRONTIER_COLUMNS]
    return out


def _icers(nd: pd.DataFrame) -> np.ndarray:
    """ICER of each option against the previous one (NaN for the first)."""
    dc, de = nd["cost"].diff().to_numpy(), nd["effect"].diff().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return dc / de


def frontier_probabilities(effects: Any, costs: Any, options: Sequence[str] | None = None
                           ) -> pd.DataFrame:
    """Per option, the share of draws in which it is on the frontier (``ND``), extendedly
    dominated (``ED``) or dominated (``D``): :func:`frontier` applied draw by draw."""
    e, c, labels = paired_draws(effects, costs, options)
    ee, cc = e.reshape(-1, len(labels)), c.reshape(-1, len(labels))
    counts = {lab: {"ND": 0, "ED": 0, "D": 0} for lab in labels}
    for s in range(ee.shape[0]):
        f = frontier(ee[s], cc[s], labels)
        for lab, st in zip(f["option"], f["status"], strict=True):
            counts[lab][st] += 1
    out = pd.DataFrame([{"option": lab, **{f"p_{k.lower()}": v / ee.shape[0]
                                             for k, v in counts[lab].items()}}
                        for lab in labels])
    return out


__all__ = ["CEA_COLUMNS", "FRONTIER_COLUMNS", "as_draws", "cea", "evpi_curve", "frontier",
           "frontier_probabilities", "mcse_mean", "paired_draws"]
