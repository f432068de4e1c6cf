"""``dtors-bayes economics``: cost-effectiveness of saved fits, thin over
:mod:`dtors_bayes.economics`.

The command reads a utility fit (``eq5d``), optionally an offending fit
(``acquisitive_crime``, Bernoulli), and an *economics settings* TOML file, checked against
:data:`SCHEMA` like the analysis specs (:mod:`dtors_bayes.workflow.spec`): unknown sections or
keys, wrong types and impossible values are listed together in one ``SpecError``. Settings are
data, never code (``tomllib`` only). The bundled example
(``specs/economics/dtors_illustrative.toml``, package data) holds the illustrative values of
``notebooks/07_cost_effectiveness.ipynb``.

Settings (every key optional)::

    [economics]  name, description, counterfactual ("carried_on" | "spontaneous_improvement"),
                 improvement (a distribution; only with spontaneous_improvement),
                 crime_costs ("loss" | "transfer"), horizon (months), seed
    [costs]      treatment (a distribution, or a table modality -> distribution),
                 crime_unit_cost, stolen_value (distributions), care (table option -> distribution)
    [paths]      weighting ("none" | "fixed" | "propagated" | "mrp"), delta_utility,
                 delta_crime (a number, or {dist = "normal", mean, sd}: the pattern-mixture
                 shift; not with "mrp"), pairing ("index" | "estimated" | a number in
                 [-1, 1]: how the crime fit's draws are paired with the utility fit's;
                 "estimated" rank-couples at the person-level correlation of the two fits'
                 data, :func:`dtors_bayes.economics.pairing.pairing_correlation`)
    [decision]   wtp (array, or {from, to, n}), threshold, reference, option, options,
                 perspectives (array of "health", "societal"), ci_prob
    [evppi]      inputs (array), groups (table name -> array), wtp (array)

A distribution is a number (fixed) or a table ``{dist = "gamma", mean = 5000, sd = 1500}``
(``fixed``: ``value``; ``normal``/``gamma``/``lognormal``/``beta``: ``mean``, ``sd``;
``uniform``: ``low``, ``high``), :mod:`dtors_bayes.economics.inputs`.

Output folder: ``economics_summary.csv``, ``economics_cea.csv``, ``economics_frontier.csv``,
``economics_assumptions.csv``, ``economics_evppi.csv`` (with ``[evppi]``),
``economics_pairing.csv`` (with a crime fit: the societal net benefit at the threshold under
index pairing and rank coupling at -1, the estimated correlation and its interval, and +1,
:func:`dtors_bayes.economics.evaluation.pairing_sensitivity`; summarised in the ``pairing``
assumption; options that give one modality to everyone add a ``modality trajectories``
assumption, :func:`modality_pooling_text`), the figures
``ce_plane_<perspective>.png``, ``ceac_<perspective>.png``, ``evpi_<perspective>.png`` and
``economics.json`` (settings, fits and figure captions), which
:func:`load_results` reads back for ``dtors-bayes report --economics``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from dtors_bayes._format import read_toml
from dtors_bayes.exceptions import SpecError
from dtors_bayes.workflow.outputs import read_outputs, resolve_named, write_outputs
from dtors_bayes.workflow.spec import schema_problems, type_name

EXAMPLE_DIR = Path(str(files("dtors_bayes.workflow") / "specs" / "economics"))
EXAMPLE = "dtors_illustrative"
DIST_PARAMS = {"fixed": ("value",), "normal": ("mean", "sd"), "gamma": ("mean", "sd"),
               "lognormal": ("mean", "sd"), "beta": ("mean", "sd"), "uniform": ("low", "high")}
PERSPECTIVES = ("health", "societal")
DEFAULT_WTP = [float(x) for x in range(0, 150001, 5000)]
KNOWN_INPUTS = ("improvement", "treatment_cost", "crime_unit_cost", "stolen_value")
TABLES = ("summary", "cea", "frontier", "evppi", "assumptions", "pairing")


# ---------------------------------------------------------------------- value checks
def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def dist_problem(v: Any) -> str | None:
    """Why ``v`` is not a distribution (a number or a ``{dist = ...}`` table); None if it is."""
    if _num(v):
        return None
    if not isinstance(v, dict):
        return f"expected a number or a table {{dist = ..., ...}}, got {type_name(v)} {v!r}"
    kind = v.get("dist")
    if kind not in DIST_PARAMS:
        return f"dist = {kind!r} is not allowed; allowed: {', '.join(DIST_PARAMS)}"
    want = DIST_PARAMS[kind]
    bad = sorted(set(v) - {"dist", *want})
    missing = [k for k in want if k not in v]
    if bad or missing:
        return (f"dist {kind!r} takes {', '.join(want)}"
                + (f"; unknown {', '.join(bad)}" if bad else "")
                + (f"; missing {', '.join(missing)}" if missing else ""))
    if not all(_num(v[k]) for k in want):
        return f"dist {kind!r}: {', '.join(want)} must be numbers, got {v!r}"
    try:
        to_input(v)
    except SpecError as err:
        return str(err)
    return None


def to_input(v: Any):
    """A checked distribution as an economics input (a number or a ``Dist``)."""
    from dtors_bayes.economics.inputs import Dist

    if _num(v):
        return float(v)
    p = [float(v[k]) for k in DIST_PARAMS[v["dist"]]]
    return Dist(v["dist"], *p)


def _string(v):
    return None if isinstance(v, str) else f"expected a string, got {type_name(v)} {v!r}"


def _choice(*allowed):
    def check(v):
        return None if v in allowed else f"{v!r} is not allowed; allowed: {', '.join(allowed)}"
    return check


def _positive(v):
    return None if _num(v) and v > 0 else f"expected a number > 0, got {type_name(v)} {v!r}"


def _seed(v):
    ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
    return None if ok else f"expected an integer >= 0, got {type_name(v)} {v!r}"


def _probability(v):
    return None if _num(v) and 0 < v < 1 else f"expected a number in (0, 1), got {v!r}"


def _strings(v):
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
        return f"expected a non-empty array of strings, got {type_name(v)} {v!r}"
    return None if len(set(v)) == len(v) else f"items must be unique, got {v!r}"


def _wtps(v):
    if isinstance(v, dict):
        if set(v) != {"from", "to", "n"} or not all(_num(x) for x in v.values()):
            return f"a wtp grid table is {{from = number, to = number, n = integer}}; got {v!r}"
        if not (isinstance(v["n"], int) and v["n"] >= 2 and v["to"] > v["from"] >= 0):
            return f"need n >= 2 and 0 <= from < to; got {v!r}"
        return None
    if not isinstance(v, list) or not v or not all(_num(x) and x >= 0 for x in v):
        return f"expected an array of numbers >= 0 (or {{from, to, n}}), got {type_name(v)} {v!r}"
    return None


def _table_of(check, what):
    def inner(v):
        if not isinstance(v, dict) or not v:
            return f"expected a table of {what}, got {type_name(v)} {v!r}"
        msgs = [f"{k}: {m}" for k, x in v.items() if (m := check(x))]
        return "; ".join(msgs) or None
    return inner


def _treatment(v):
    if _num(v) or (isinstance(v, dict) and "dist" in v):
        return dist_problem(v)
    return _table_of(dist_problem, "modality = distribution")(v)


def _pairing(v):
    if v in ("index", "estimated") or (_num(v) and -1 <= v <= 1):
        return None
    return f"expected \"index\", \"estimated\" or a number in [-1, 1], got {type_name(v)} {v!r}"


def _delta(v):
    if _num(v) or (isinstance(v, dict) and v.get("dist") in ("fixed", "normal")):
        return dist_problem(v)
    return f"expected a number or {{dist = \"normal\", mean, sd}}, got {type_name(v)} {v!r}"


SCHEMA: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "economics": {"name": _string, "description": _string,
                  "counterfactual": _choice("carried_on", "spontaneous_improvement"),
                  "improvement": dist_problem, "crime_costs": _choice("loss", "transfer"),
                  "horizon": _positive, "seed": _seed},
    "costs": {"treatment": _treatment, "crime_unit_cost": dist_problem,
              "stolen_value": dist_problem,
              "care": _table_of(dist_problem, "option = distribution")},
    "paths": {"weighting": _choice("none", "fixed", "propagated", "mrp"),
              "delta_utility": _delta, "delta_crime": _delta, "pairing": _pairing},
    "decision": {"wtp": _wtps, "threshold": _positive, "reference": _string, "option": _string,
                 "options": _strings, "perspectives": _strings, "ci_prob": _probability},
    "evppi": {"inputs": _strings, "groups": _table_of(_strings, "name = [inputs]"),
              "wtp": _wtps},
}


def check_settings(data: Mapping[str, Any]) -> list[str]:
    """Every problem of a settings mapping (empty when it is valid)."""
    problems = schema_problems(data, SCHEMA)
    eco, dec = data.get("economics", {}), data.get("decision", {})
    if isinstance(eco, dict):
        cf = eco.get("counterfactual", "carried_on")
        if cf == "spontaneous_improvement" and "improvement" not in eco:
            problems.append("[economics] improvement is required with counterfactual = "
                            "\"spontaneous_improvement\" (the prior of the share theta)")
        if cf == "carried_on" and "improvement" in eco:
            problems.append("[economics] improvement is only used with counterfactual = "
                            "\"spontaneous_improvement\"")
    pth = data.get("paths", {})
    if isinstance(pth, dict) and pth.get("weighting") == "mrp":
        for k in ("delta_utility", "delta_crime"):
            if k in pth:
                problems.append(f"[paths] {k} is not available with weighting = \"mrp\" "
                                "(population cells have no interview pattern to shift)")
    if isinstance(dec, dict) and isinstance(dec.get("perspectives"), list):
        bad = [p for p in dec["perspectives"] if p not in PERSPECTIVES]
        if bad:
            problems.append(f"[decision] perspectives: {bad} not allowed; allowed: health, "
                            "societal")
    return problems


def load_settings(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """Read and check economics settings (a TOML file, a bundled name, or a mapping).

    Raises
    ------
    SpecError
        Listing every problem at once, each naming the file, section and key.
    """
    if isinstance(source, Mapping):
        data, where = dict(source), "<settings>"
    else:
        path = resolve_settings(source)
        where = str(path)
        data = read_toml(path, "settings")
    problems = check_settings(data)
    if problems:
        raise SpecError(f"{where}: {len(problems)} problem(s) in the economics settings:\n"
                        + "\n".join(f"  - {p}" for p in problems))
    return data


def resolve_settings(name_or_path: str | Path) -> Path:
    """A settings path, or the name of a bundled example (``dtors_illustrative``)."""
    return resolve_named(name_or_path, EXAMPLE_DIR, "economics settings")


def wtp_grid(v: Any) -> list[float]:
    """A checked wtp value (array or ``{from, to, n}``) as a list of numbers."""
    if isinstance(v, dict):
        step = (v["to"] - v["from"]) / (v["n"] - 1)
        return [float(v["from"] + i * step) for i in range(v["n"])]
    return [float(x) for x in v]


# ---------------------------------------------------------------------- the computation
def _delta_value(value: Any):
    if value is None or _num(value):
        return value
    return float(value["value"]) if value["dist"] == "fixed" else (float(value["mean"]),
                                                                     float(value["sd"]))


def run_economics(settings: Mapping[str, Any], utility_fit, crime_fit=None, *, cohort=None,
                  note: Callable[[str], None] = print) -> dict[str, Any]:
    """The economics of fits under checked ``settings``: draws, tables and figures.

    Returns
    -------
    dict
        ``draws`` (EconomicDraws), ``tables`` (name -> DataFrame), ``figures``
        (list of (name, Figure, caption)), ``meta`` (what ``economics.json`` holds).
    """
    import pandas as pd

    from dtors_bayes.economics import plots
    from dtors_bayes.economics.evaluation import NONE, economic_draws
    from dtors_bayes.economics.paths import TREATED, outcome_paths

    eco, costs = settings.get("economics", {}), settings.get("costs", {})
    pth, dec, vi = settings.get("paths", {}), settings.get("decision", {}), settings.get("evppi")
    if utility_fit.model.family != "eq5d":
        note(f"note: the utility fit's family is {utility_fit.model.family!r}, not 'eq5d': "
             "its response scale is taken as utility (1 = full health)")
    if crime_fit is not None and crime_fit.model.family != "bernoulli":
        raise SpecError(f"the crime fit must be a Bernoulli fit of offending (e.g. "
                        f"acquisitive_crime); got family {crime_fit.model.family!r}")
    if crime_fit is None and "delta_crime" in pth:
        raise SpecError("[paths] delta_crime is set but no crime fit was given (--crime)")
    if crime_fit is None and pth.get("pairing", "index") != "index":
        raise SpecError("[paths] pairing is set but no crime fit was given (--crime)")
    seed = int(eco.get("seed", 0))
    weighting = pth.get("weighting", "none")
    if weighting == "mrp" and cohort is None and getattr(utility_fit, "cohort", None) is None:
        raise SpecError("[paths] weighting = \"mrp\" needs the data the fits were made from "
                        "(--data): the persons' covariates and the population cells")
    pu = outcome_paths(utility_fit, weighting=weighting, cohort=cohort,
                       delta=_delta_value(pth.get("delta_utility")), seed=seed)
    pc = None if crime_fit is None else outcome_paths(
        crime_fit, weighting=weighting, cohort=cohort, delta=_delta_value(pth.get("delta_crime")),
        seed=seed + 1)
    treat = costs.get("treatment", 0.0)
    if isinstance(treat, dict) and "dist" not in treat:
        extra = sorted(set(treat) - set(pu.modalities))
        if extra:
            raise SpecError(f"[costs] treatment: unknown modalities {extra}; the fit's "
                            f"modalities: {pu.modalities}")
        treat = {m: to_input(v) for m, v in treat.items()}
    else:
        treat = to_input(treat)
    cf = eco.get("counterfactual", "carried_on")
    draw_kw = {
        "treatment_cost": treat,
        "crime_unit_cost": to_input(costs.get("crime_unit_cost", 0.0)),
        "stolen_value": to_input(costs.get("stolen_value", 0.0)),
        "crime_costs": eco.get("crime_costs", "loss"),
        "care_costs": {o: to_input(v) for o, v in costs.get("care", {}).items()} or None,
        "counterfactual": cf,
        "improvement": to_input(eco["improvement"]) if "improvement" in eco else None,
        "horizon": eco.get("horizon"), "seed": seed}
    pairing, corr = pth.get("pairing", "index"), None
    if pc is not None:
        from dtors_bayes.economics.pairing import pairing_correlation

        try:
            corr = pairing_correlation(utility_fit, crime_fit)
        except SpecError as err:
            if pairing == "estimated":
                raise SpecError(f"[paths] pairing = \"estimated\": {err}") from None
            note(f"note: no person-level correlation of utility and offending ({err})")
        if pairing == "estimated":
            pairing = corr["r"]
            note(f"note: crime draws rank-coupled to the utility draws at the person-level "
                 f"correlation r = {pairing:+.3f} ({corr['n_persons']} complete persons)")
    ed = economic_draws(pu, pc, pairing=pairing, **draw_kw)
    options = list(dec.get("options", [NONE, TREATED]))
    option = dec.get("option", TREATED if TREATED in options else options[-1])
    reference = dec.get("reference", NONE)
    unknown = [o for o in [*options, option, reference] if o not in ed.options]
    if unknown:
        raise SpecError(f"[decision] unknown options {sorted(set(unknown))}; options of these "
                        f"fits: {ed.options}")
    for o, what in ((reference, "reference"), (option, "option")):
        if o not in options:
            raise SpecError(f"[decision] {what} {o!r} is not among options {options}")
    if option == NONE:
        raise SpecError(f"[decision] option must be a treatment option, not {NONE!r}")
    threshold = float(dec.get("threshold", 30000.0))
    wtp = sorted({*wtp_grid(dec.get("wtp", DEFAULT_WTP)), threshold})
    persps = list(dec.get("perspectives", ["health", "societal"] if pc is not None
                          else ["health"]))
    ci_prob = float(dec.get("ci_prob", 0.9))
    cea, front, evppi, figures = [], [], [], []
    for p in persps:
        t = ed.cea(wtp, reference=reference, perspective=p, options=options)
        cea.append(t)
        front.append(ed.frontier(perspective=p, options=options).assign(perspective=p))
        idx = [ed.options.index(o) for o in options]
        label = f"{p} perspective"
        figures.append((f"ce_plane_{p}", plots.ce_plane(
            ed.effects[:, idx], ed.costs(p)[:, idx], reference=reference, wtp=threshold,
            options=options), f"Cost-effectiveness plane ({label}): incremental QALYs and "
            f"costs per draw against {reference}, GBP {threshold:,.0f} per QALY line"))
        figures.append((f"ceac_{p}", plots.ceac_plot(t), f"Acceptability curves ({label}): "
                        "probability of being the best option, with the frontier"))
        v = None
        if vi is not None:
            v = evppi_table(ed, vi, pu, pc, wtp=vi.get("wtp", [threshold]), perspective=p,
                            options=options, note=note if p == persps[0] else lambda s: None)
            if v is not None:
                evppi.append(v)
        figures.append((f"evpi_{p}", plots.evpi_plot(t, evppi=v), f"Value of information "
                        f"({label}): EVPI per person over willingness to pay"
                        + (", with EVPPI of the inputs named" if v is not None else "")))
    pooled = modality_pooling_text([utility_fit, crime_fit], options, pu.modalities)
    if pooled:
        ed.assumptions["modality trajectories"] = pooled
    if pc is not None:
        pair = _pairing_table(pu, pc, corr, threshold=threshold, option=option,
                              ci_prob=ci_prob, **draw_kw)
        ed.assumptions["pairing"] += "; " + _pairing_text(pair, threshold)
    tables = {"summary": ed.summary(option=option, ci_prob=ci_prob),
              "cea": pd.concat(cea, ignore_index=True),
              "frontier": pd.concat(front, ignore_index=True),
              "assumptions": pd.DataFrame({"assumption": list(ed.assumptions),
                                           "value": list(ed.assumptions.values())})}
    if evppi:
        tables["evppi"] = pd.concat(evppi, ignore_index=True)
    if pc is not None:
        tables["pairing"] = pair
    meta = {"name": eco.get("name", ""), "description": eco.get("description", ""),
            "option": option, "reference": reference, "threshold": threshold,
            "perspectives": persps, "ci_prob": ci_prob, "assumptions": ed.assumptions,
            "figures": [[n, alt] for n, _, alt in figures], "settings": dict(settings),
            "pairing_correlation": corr}
    return {"draws": ed, "tables": tables, "figures": figures, "meta": meta}


def modality_pooling_text(fits, options, modalities) -> str | None:
    """The assumption line on how the fits' modality trajectories were estimated, when a
    single-modality option ("everyone given residential") is among ``options``; else None.

    With ``modality_pooling="partial"`` (the default) small arms' trajectories are shrunk
    towards the average one: in 300-person simulated cohorts "everyone given residential"
    came out 0.036 QALY low with 90% coverage 0.73 (``benchmarks/results/
    economics_coverage/``), so the line then says to refit with ``modality_pooling="none"``
    for a single-modality decision.

    Parameters
    ----------
    fits : sequence of ChangeFit or None
        The utility fit and the crime fit (None when there is none).
    options : sequence of str
        The decision's options.
    modalities : sequence of str
        The modalities the paths hold (single-modality options).
    """
    single = [o for o in options if o in modalities]
    kinds = {f.model.outcome: f.model.modality_pooling for f in fits
             if f is not None and f.model.modality_by_time}
    if not single or not kinds:
        return None
    from dtors_bayes.reporting.findings import POOLING_WORDS, REFIT_UNPOOLED

    desc = "; ".join(f"{k}: {POOLING_WORDS[v]}" for k, v in kinds.items())
    text = f"single-modality options {', '.join(single)} from trajectories per modality ({desc})"
    if "partial" in kinds.values():
        text += (": partial pooling shrinks small arms towards the average trajectory, so "
                 "their QALYs and net benefits are pulled towards the cohort's; "
                 f"{REFIT_UNPOOLED} for a single-modality decision")
    return text


def _pairing_table(pu, pc, corr, *, threshold: float, option: str, ci_prob: float,
                   **draw_kw):
    """Societal net benefit at the threshold under index pairing and rank coupling at -1,
    the estimated correlation's interval and point, and +1 (``corr`` may be None)."""
    from dtors_bayes.economics.evaluation import pairing_sensitivity

    rhos = [-1.0, 1.0]
    if corr is not None:
        rhos += [float(corr[k]) for k in ("ci_lb", "r", "ci_ub") if math.isfinite(corr[k])]
    return pairing_sensitivity(pu, pc, rank_correlations=sorted(set(rhos)), wtp=threshold,
                               option=option, perspective="societal", ci_prob=ci_prob,
                               **draw_kw)


def _pairing_text(t, threshold: float) -> str:
    """One line of the pairing sensitivity (for the assumptions and the report)."""
    r = t[t["pairing"] == "rank"].set_index("rank_correlation")["width_ratio"]
    return (f"rank-coupling sensitivity of the societal net benefit at GBP {threshold:,.0f}: "
            f"interval width x{r.get(-1.0, math.nan):.2f} (rho = -1) to "
            f"x{r.get(1.0, math.nan):.2f} (rho = +1) of the index pairing's "
            "(economics_pairing.csv)")


def evppi_table(ed, vi: Mapping[str, Any], pu, pc, *, wtp, perspective: str, options,
                note: Callable[[str], None] = print):
    """EVPPI of the inputs / groups of ``[evppi]`` (``delta_utility`` / ``delta_crime`` name
    the fits' delta inputs), with a ``perspective`` column; None when no input named varies.

    Names that are no input of any setting are an error; inputs these settings do not draw
    (constant, or a crime input without a crime fit) are skipped with a note."""
    alias = {"delta_utility": f"delta_{pu.outcome}"}
    if pc is not None:
        alias["delta_crime"] = f"delta_{pc.outcome}"

    def names(xs):
        return [alias.get(x, x) for x in xs]

    groups = {g: names(xs) for g, xs in vi.get("groups", {}).items()}
    groups.update({alias.get(x, x): [alias.get(x, x)] for x in vi.get("inputs", [])})
    if not groups:
        raise SpecError("[evppi] names no inputs: give inputs = [...] or groups = {...}")
    varying = [c for c in ed.inputs.columns if ed.inputs[c].nunique() > 1]
    known = {*ed.inputs.columns, *alias, *alias.values(), *KNOWN_INPUTS}
    unknown = sorted({x for xs in groups.values() for x in xs
                      if x not in known and not x.startswith("treatment_cost_")})
    if unknown:
        raise SpecError(f"[evppi] unknown inputs {unknown}; inputs of these draws: "
                        f"{list(ed.inputs.columns)} (or delta_utility, delta_crime)")
    skipped = {g: xs for g, xs in groups.items() if not set(xs) <= set(varying)}
    if skipped:
        note(f"note: EVPPI of {', '.join(skipped)} skipped: not drawn under these settings "
             f"(inputs that vary: {', '.join(varying) or 'none'})")
    groups = {g: xs for g, xs in groups.items() if g not in skipped}
    if not groups:
        return None
    t = ed.evppi(wtp_grid(wtp), groups=groups, perspective=perspective, options=options)
    return t.assign(perspective=perspective)


def write_results(res: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Write the tables (CSV), figures (PNG) and ``economics.json`` to ``out``."""
    return write_outputs(res, out, table_prefix="economics_", figure_prefix="",
                         meta_name="economics.json")


def report_results(res: Mapping[str, Any]):
    """The report's view (:class:`dtors_bayes.reporting.findings.EconomicsResults`)."""
    from dtors_bayes.reporting.findings import EconomicsResults

    m = res["meta"]
    return EconomicsResults(
        tables=dict(res["tables"]), figures=list(res["figures"]),
        assumptions=dict(m["assumptions"]), option=m["option"], reference=m["reference"],
        threshold=float(m["threshold"]), perspectives=list(m["perspectives"]),
        name=m.get("name", ""), description=m.get("description", ""))


def load_results(folder: str | Path):
    """Read an ``economics`` output folder back as the report's view (PNG figures)."""
    return report_results(read_outputs(folder, tables=TABLES, table_prefix="economics_",
                                       figure_prefix="", meta_name="economics.json",
                                       command="economics"))


# ---------------------------------------------------------------------- the command
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``dtors-bayes economics``."""
    p.add_argument("--utility", required=True, metavar="FIT",
                   help="saved utility fit (.nc; outcome eq5d, family eq5d)")
    p.add_argument("--crime", default=None, metavar="FIT",
                   help="saved offending fit (.nc; Bernoulli, e.g. acquisitive_crime)")
    p.add_argument("--settings", required=True, metavar="TOML",
                   help=f"economics settings file, or a bundled example's name ({EXAMPLE})")
    p.add_argument("--data", default=None,
                   help="the data the fits were made from (checked by hash; needed by "
                        "weighting and by --report's cohort sections)")
    p.add_argument("--out", required=True, help="output folder (tables, figures)")
    p.add_argument("--report", nargs="?", const="", default=None, metavar="DIR",
                   help="also write an HTML report (default folder: OUT/report)")


def cmd_economics(args: argparse.Namespace, *, load_data: Callable, estimate: Callable,
                  say: Callable[[str], None] = print) -> int:
    """Run ``dtors-bayes economics`` (``load_data`` and ``estimate`` come from the CLI)."""
    import sys
    import warnings

    from dtors_bayes.models.io import load_fit

    settings = load_settings(args.settings)
    for f in filter(None, (args.utility, args.crime)):
        if not Path(f).exists():
            raise FileNotFoundError(f"fit {f!r}: no such file")
    cohort = load_data(args.data) if args.data else None
    fu = load_fit(args.utility, cohort)
    fc = load_fit(args.crime, cohort) if args.crime else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(Tight layout|tight_layout).*")
        res = run_economics(settings, fu, fc, cohort=cohort,
                            note=lambda s: print(f"dtors-bayes: {s}", file=sys.stderr))
    written = write_results(res, args.out)
    s = res["tables"]["summary"]
    inc = s[(s["quantity"] == "incremental_qaly") & (s["perspective"] == "health")]
    say(f"economics of {fu.outcome}" + (f" and {fc.outcome}" if fc is not None else "")
        + f": {len(written)} files written to {args.out}")
    if len(inc):
        r = inc.iloc[0]
        say(f"incremental QALYs ({res['meta']['option']} - no_treatment): {r['mean']:.4g} "
            f"({100 * r['ci_prob']:g}% interval {r['ci_lb']:.4g} to {r['ci_ub']:.4g})")
    if args.report is not None:
        from dtors_bayes.reporting.report import write_report

        fits = [f for f in (fu, fc) if f is not None]
        index = write_report(Path(args.report) if args.report else Path(args.out) / "report",
                             cohort=cohort, fits=fits,
                             estimates=[estimate(f, cohort) for f in fits],
                             economics=report_results(res),
                             title="dtors_bayes cost-effectiveness report"
                                   + (f": {res['meta']['name']}" if res["meta"]["name"] else ""))
        say(f"report written to {index}")
    return 0
