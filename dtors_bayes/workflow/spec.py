"""Declarative analysis specs: one TOML file per named analysis (``models/*.toml``).

A spec is *data, never code*: it is read with :mod:`tomllib`, every key is checked against
a fixed schema, and a covariate formula may only use column names, ``+ - * : ( ) ~``, numbers
and a few named transformations (no attribute access, no strings), so opening a spec
received from elsewhere runs nothing.

Sections and keys (all but ``[model] outcome`` optional)::

    [analysis]   name, question
    [model]      outcome, family, covariates (list or formula string), time,
                 modality_by_time, modality_pooling, baseline, levels, random_change, knots,
                 priors (table), trials, attrition ("mar" or a table such as
                 {kind = "selection", kappa_mean = -1.0, kappa_sd = 0.5}),
                 modifiers (person-level columns), person_effect, quadrature_nodes
    [sampler]    draws, tune, chains, random_seed, target_accept, sampler
    [estimate]   weighting ("none" | "fixed" | "propagated" | "mrp"),
                 contrasts ("reference" | "pairs"), reference, ci_prob,
                 by (a person-level categorical column, e.g. "referral_route": subgroup
                 estimands, :mod:`dtors_bayes.estimands.subgroups`; with weighting "mrp" a
                 population cell variable)
    [sensitivity] deltas (list of numbers; pattern-mixture offsets of the report's
                 sensitivity section, :mod:`dtors_bayes.attrition.pattern_mixture`)

Every problem is collected and raised once as :class:`~dtors_bayes.exceptions.SpecError`,
each line naming the file, the section and the key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtors_bayes._format import read_toml
from dtors_bayes.constants import CI_PROB, INTERVIEW_ROLES, POPULATION_VARIABLES
from dtors_bayes.exceptions import DtorsError, SpecError
from dtors_bayes.models.families import FAMILIES
from dtors_bayes.models.selection import from_dict as attrition_from_dict
from dtors_bayes.models.time_basis import TIME_KINDS

#: Weighting modes a spec may name (every one dispatched by
#: :func:`dtors_bayes.workflow.analyses.estimate`, bound as ``Fit.estimate``).
WEIGHTINGS = ("none", "fixed", "propagated", "mrp")
CONTRASTS = ("reference", "pairs")
SAMPLERS = ("nutpie", "pymc", "numpyro")
LEVELS = ("site", "area")
#: Functions a covariate formula may call (formulae's stateful transforms and categorical).
FORMULA_FUNCTIONS = ("C", "center", "scale", "standardize")

SAMPLER_DEFAULTS: dict[str, Any] = {"draws": 1000, "tune": 1000, "chains": 4,
                                    "random_seed": None, "target_accept": None,
                                    "sampler": "nutpie"}
ESTIMATE_DEFAULTS: dict[str, Any] = {"weighting": "none", "contrasts": "reference",
                                     "reference": None, "ci_prob": CI_PROB}

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from dtors_bayes.data.cohort import Cohort
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.models.fit import Fit

Check = Callable[[Any], str | None]


# ---------------------------------------------------------------------- value checks
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def type_name(v: Any) -> str:
    """A TOML value's type in TOML's words (``string``, ``array``, ``table`` ...)."""
    return {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
            dict: "table"}.get(type(v), type(v).__name__)


def _string(v: Any) -> str | None:
    return None if isinstance(v, str) else f"expected a string, got {type_name(v)} {v!r}"


def _boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"expected true or false, got {type_name(v)} {v!r}"


def _one_of(*allowed: str) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str):
            return f"expected a string, got {type_name(v)} {v!r}; allowed: {', '.join(allowed)}"
        if v not in allowed:
            return f"{v!r} is not allowed; allowed: {', '.join(allowed)}"
        return None

    return check


def _positive_int(v: Any) -> str | None:
    if not _is_int(v):
        return f"expected an integer, got {type_name(v)} {v!r}"
    return None if v > 0 else f"must be > 0, got {v}"


def _seed(v: Any) -> str | None:
    if not _is_int(v):
        return f"expected an integer, got {type_name(v)} {v!r}"
    return None if v >= 0 else f"must be >= 0, got {v}"


def _probability(v: Any) -> str | None:
    if not _is_num(v):
        return f"expected a number, got {type_name(v)} {v!r}"
    if not 0 < v < 1:
        hint = f" (did you mean {v / 100:g}?)" if 1 < v < 100 else ""
        return f"must be between 0 and 1 (exclusive), got {v}{hint}"
    return None


def _list_of(item: Check, *, what: str, unique: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, list):
            return f"expected an array of {what}, got {type_name(v)} {v!r}"
        for i, x in enumerate(v):
            msg = item(x)
            if msg:
                return f"item {i}: {msg}"
        if unique and len(set(map(repr, v))) != len(v):
            return f"items must be unique, got {v!r}"
        return None

    return check


def _number(v: Any) -> str | None:
    return None if _is_num(v) else f"expected a number, got {type_name(v)} {v!r}"


def _level(v: Any) -> str | None:
    return _one_of(*LEVELS)(v)


_FORMULA_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)(\s*\()?|(\d+(?:\.\d+)?)|([-+*:()~,]))")


def formula_problem(text: str) -> str | None:
    """Why a covariate formula is not plain data (``None`` when it is acceptable).

    Allowed: column names, numbers, ``+ - * : ( ) ~ ,`` and calls of
    :data:`FORMULA_FUNCTIONS`. No attribute access, strings, indexing or other calls.
    """
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _FORMULA_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].strip()[:20]
            return (f"formula {text!r}: unexpected {bad!r}; a formula may use column names, "
                    "numbers, + - * : ( ) ~ and the functions "
                    f"{', '.join(FORMULA_FUNCTIONS)} (specs are data, never code)")
        name, call = m.group(1), m.group(2)
        if name and call and name not in FORMULA_FUNCTIONS:
            return (f"formula {text!r}: function {name!r} is not allowed; allowed: "
                    f"{', '.join(FORMULA_FUNCTIONS)} (specs are data, never code)")
        pos = m.end()
    return None


def _covariates(v: Any) -> str | None:
    if isinstance(v, str):
        return formula_problem(v)
    return _list_of(_string, what="column names", unique=True)(v)


#: Prior settings that are locations (any real number, or a table ``{wave = number}``), not
#: scales.
_PRIOR_LOCATIONS = ("level_loc",)


def _priors(v: Any) -> str | None:
    if not isinstance(v, dict):
        return f"expected a table of name = number, got {type_name(v)} {v!r}"
    problems = []
    for k, x in v.items():
        if k in _PRIOR_LOCATIONS:
            ok = _is_num(x) or (isinstance(x, dict) and x and all(_is_num(y)
                                                                   for y in x.values()))
            if not ok:
                problems.append(f"{k!r} is a centre: a number (e.g. {k} = -2.0) or a table "
                                f"of wave = number (e.g. {k} = {{1 = -1.8, 2 = -2.1}}), got "
                                f"{type_name(x)} {x!r}")
        elif not _is_num(x) or x <= 0:
            problems.append(f"{k!r} is a prior scale: a number > 0, got {type_name(x)} {x!r}")
    return "; ".join(problems) or None


#: Person-level columns that are not categorical, so no ``by =`` subgroups.
NUMERIC_PERSON_COLUMNS = ("age",)
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BY_ALLOWED = ("a person-level categorical column of the cohort, e.g. \"referral_route\", "
              "\"primary_drug\", \"sex\", \"age_group\" or \"modality\"")


def _by(v: Any) -> str | None:
    """``[estimate] by``: the name of a person-level categorical column (the cohort itself
    is checked when the estimates are made, :func:`dtors_bayes.estimands.subgroups.
    subgroup_codes`)."""
    if not isinstance(v, str):
        return f"expected a string, got {type_name(v)} {v!r}; allowed: {BY_ALLOWED}"
    if not _COLUMN_NAME.match(v):
        return f"{v!r} is not a column name; allowed: {BY_ALLOWED}"
    if v in INTERVIEW_ROLES:
        what = "the person identifier" if v == "person_id" else "an interview-level column"
        return f"{v!r} is {what}, not a subgroup; allowed: {BY_ALLOWED}"
    if v in NUMERIC_PERSON_COLUMNS:
        return (f"{v!r} is numeric, not categorical; allowed: {BY_ALLOWED} (for ages, "
                "\"age_group\")")
    return None


def _attrition(v: Any) -> str | None:
    if isinstance(v, str):
        return None if v == "mar" else (f"{v!r} is not allowed; allowed: 'mar' or a table "
                                        "such as {kind = \"selection\", kappa_mean = -1.0, "
                                        "kappa_sd = 0.5}")
    if not isinstance(v, dict):
        return f"expected 'mar' or a table, got {type_name(v)} {v!r}"
    if not isinstance(v.get("kind"), str):
        return "an attrition table needs kind = \"...\" (e.g. \"selection\")"
    bad = [k for k, x in v.items()
           if not (_is_num(x) or isinstance(x, str | bool)
                   or (isinstance(x, list) and all(_is_num(y) for y in x)))]
    if bad:
        return (f"attrition values must be numbers, strings, booleans or arrays of numbers; "
                f"check {', '.join(map(repr, bad))}")
    return None


#: The schema: section -> key -> check. ``[model] outcome`` is the only required key.
SCHEMA: dict[str, dict[str, Check]] = {
    "analysis": {"name": _string, "question": _string},
    "model": {
        "outcome": _string,
        "family": _one_of(*sorted(FAMILIES)),
        "covariates": _covariates,
        "time": _one_of(*TIME_KINDS),
        "modality_by_time": _boolean,
        "modality_pooling": _one_of("partial", "none"),
        "baseline": _one_of("outcome", "covariate"),
        "levels": _list_of(_level, what="levels", unique=True),
        "random_change": _list_of(_level, what="levels", unique=True),
        "knots": _list_of(_number, what="numbers (months)"),
        "priors": _priors,
        "trials": _positive_int,
        "attrition": _attrition,
        "modifiers": _list_of(_string, what="column names", unique=True),
        "person_effect": _one_of("sampled", "quadrature"), "quadrature_nodes": _positive_int,
    },
    "sampler": {
        "draws": _positive_int,
        "tune": _seed,
        "chains": _positive_int,
        "random_seed": _seed,
        "target_accept": _probability,
        "sampler": _one_of(*SAMPLERS),
    },
    "estimate": {
        "weighting": _one_of(*WEIGHTINGS),
        "contrasts": _one_of(*CONTRASTS),
        "reference": _string,
        "ci_prob": _probability,
        "by": _by,
    },
    "sensitivity": {"deltas": _list_of(_number, what="numbers", unique=True)},
}
REQUIRED = {("model", "outcome")}


# ---------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class AnalysisSpec:
    """A validated analysis spec (see the module docstring for the TOML layout).

    Attributes
    ----------
    name : str
        The analysis name (``[analysis] name``; defaults to the file's stem).
    question : str
        The question the analysis answers, in words.
    model_args : dict
        Keyword arguments of :class:`~dtors_bayes.models.change_model.ChangeModel` (``attrition``
        as ``"mar"`` or its table).
    sampler : dict
        ``draws``, ``tune``, ``chains``, ``random_seed``, ``target_accept``, ``sampler``
        (defaults filled in).
    estimate_args : dict
        ``weighting``, ``contrasts``, ``reference``, ``ci_prob`` (defaults filled in), and
        ``by`` when the spec asks for subgroup estimands.
    sensitivity : dict or None
        ``{"deltas": [...]}`` when the spec has a ``[sensitivity]`` section.
    source : str or None
        The file the spec was read from.
    """

    name: str
    question: str
    model_args: dict[str, Any]
    sampler: dict[str, Any] = field(default_factory=lambda: dict(SAMPLER_DEFAULTS))
    estimate_args: dict[str, Any] = field(default_factory=lambda: dict(ESTIMATE_DEFAULTS))
    sensitivity: dict[str, Any] | None = None
    source: str | None = None

    @property
    def outcome(self) -> str:
        """The outcome column the spec models."""
        return self.model_args["outcome"]

    def model(self) -> ChangeModel:
        """The :class:`~dtors_bayes.models.change_model.ChangeModel` this spec describes.

        Raises
        ------
        SpecError
            When the model arguments are inconsistent or the attrition model is not
            available in this version.
        """
        from dtors_bayes.models.change_model import ChangeModel

        args = copy.deepcopy(self.model_args)
        where = self.source or self.name
        if isinstance(args.get("attrition"), dict):
            args["attrition"] = _attrition_model(args["attrition"], where)
        for key in ("levels", "random_change", "knots", "modifiers"):
            if key in args:
                args[key] = tuple(args[key])
        try:
            return ChangeModel(**args)
        except DtorsError as err:
            raise SpecError(f"{where}: [model] {err}") from err

    def fit(self, cohort: Cohort, *, progressbar: bool = False, **overrides: Any) -> Fit:
        """Fit the spec's model to ``cohort`` with the spec's sampler settings.

        Parameters
        ----------
        cohort : Cohort
        progressbar : bool
            Show the sampler's progress bar.
        **overrides
            Sampler settings overriding the spec's (``draws``, ``tune``, ``chains``,
            ``random_seed``, ``target_accept``, ``sampler``, ``cores``); ``None`` values are
            ignored.

        Returns
        -------
        Fit
            With the spec stored as JSON in ``fit.tree.attrs["analysis_spec"]``.
        """
        import json

        settings = dict(self.sampler)
        settings.update({k: v for k, v in overrides.items() if v is not None})
        fit = self.model().fit(cohort, progressbar=progressbar, **settings)
        fit.tree.attrs["analysis_spec"] = json.dumps(self.to_dict())
        return fit

    def estimate(self, fit: Fit, *, cohort: Cohort | None = None,
                 **overrides: Any) -> pd.DataFrame:
        """Estimates of a fit with the spec's ``[estimate]`` settings.

        Every weighting mode goes through :func:`estimate_fit`, that is
        :func:`dtors_bayes.workflow.analyses.estimate` (``fit.estimate``).

        Parameters
        ----------
        fit : Fit
        cohort : Cohort, optional
            Needed by the weighting modes (population table, response model).
        **overrides
            ``weighting``, ``contrasts``, ``reference``, ``ci_prob``, ``by``; ``None`` is
            ignored.

        Returns
        -------
        pandas.DataFrame
            The estimates with a leading ``analysis`` column (the spec's name).
        """
        args = dict(self.estimate_args)
        args.update({k: v for k, v in overrides.items() if v is not None})
        table = estimate_fit(fit, cohort=cohort, **args)
        if "analysis" not in table.columns:
            table.insert(0, "analysis", self.name)
        return table

    def to_dict(self) -> dict[str, Any]:
        """The spec as a TOML-shaped dict (sections as tables); ``load_spec`` inverts it.

        Unset sampler/estimate values (``None``) are left out, as TOML has no null.
        """
        d: dict[str, Any] = {
            "analysis": {"name": self.name, "question": self.question},
            "model": copy.deepcopy(self.model_args),
            "sampler": {k: v for k, v in self.sampler.items() if v is not None},
            "estimate": {k: v for k, v in self.estimate_args.items() if v is not None},
        }
        if self.sensitivity is not None:
            d["sensitivity"] = copy.deepcopy(self.sensitivity)
        return d


def estimate_fit(fit: Fit, *, cohort: Cohort | None = None, weighting: str = "none",
                 contrasts: str = "reference", reference: str | None = None,
                 ci_prob: float = CI_PROB, by: str | None = None) -> pd.DataFrame:
    """Estimate a fit under a weighting mode (the one seam between specs and weighting).

    Parameters
    ----------
    fit : Fit
    cohort : Cohort, optional
        Passed to the weighting module (population, response model).
    weighting : {"none", "fixed", "propagated", "mrp"}
    contrasts : {"reference", "pairs"}
    reference : str, optional
    ci_prob : float
    by : str, optional
        Subgroup estimands by this person-level column (``fit.estimate(by=)``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    SpecError
        For an unknown weighting mode (``FitError`` when weights cannot be made).
    """
    if weighting not in WEIGHTINGS:
        raise SpecError(f"weighting={weighting!r}; allowed: {', '.join(WEIGHTINGS)}")
    # Fit.estimate dispatches every weighting mode (computed weights and MRP need the
    # cohort's population table).
    return fit.estimate(weighting, cohort=cohort, contrasts=contrasts, reference=reference,
                        ci_prob=ci_prob, by=by)


def _attrition_table(table: dict) -> dict:
    """Translate the spec's friendly keys to :func:`dtors_bayes.models.selection.from_dict`'s form.

    ``kind = "selection"`` with ``kappa_mean`` / ``kappa_sd`` (a normal prior; ``kappa_sd = 0``
    or a number ``kappa`` fixes it) becomes ``kappa = [[None, mean, sd]]``; other tables pass
    through unchanged.
    """
    d = dict(table)
    if d.get("kind") != "selection":
        return d
    kappa = d.get("kappa")
    if "kappa_mean" in d or "kappa_sd" in d:
        mean, sd = float(d.pop("kappa_mean", 0.0)), float(d.pop("kappa_sd", 0.0))
    elif _is_num(kappa):
        mean, sd = float(kappa), 0.0
    elif isinstance(kappa, list) and len(kappa) == 2 and all(_is_num(x) for x in kappa):
        mean, sd = float(kappa[0]), float(kappa[1])
    else:
        return d
    d["kappa"] = [[None, mean, sd]]
    d.setdefault("kappa_by", None)
    return d


def _attrition_model(table: dict, where: str):
    try:
        return attrition_from_dict(_attrition_table(table))
    except (DtorsError, ValueError, TypeError, KeyError) as err:
        raise SpecError(f"{where}: [model] attrition = {table!r}: {err}") from err


# ---------------------------------------------------------------------- loading
def load_spec(source: str | Path | Mapping[str, Any]) -> AnalysisSpec:
    """Read and validate an analysis spec.

    Parameters
    ----------
    source : str, Path or mapping
        A TOML file, or an already-parsed dict with the same sections.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    SpecError
        Listing every problem at once (unknown sections or keys, wrong types, values not
        allowed, a missing ``[model] outcome``, an inconsistent model), each naming the file
        and the key.

    Examples
    --------
    >>> spec = load_spec({"model": {"outcome": "employed", "time": "months"}})
    >>> spec.model().outcome
    'employed'
    """
    if isinstance(source, Mapping):
        data, where, stem = copy.deepcopy(dict(source)), "<spec>", "analysis"
    else:
        path = Path(source)
        where, stem = str(path), path.stem
        data = read_toml(path, "spec")
    problems = _check(data)
    if problems:
        raise SpecError(f"{where}: {len(problems)} problem(s) in the spec:\n"
                        + "\n".join(f"  - {p}" for p in problems))
    analysis = data.get("analysis", {})
    sampler = dict(SAMPLER_DEFAULTS)
    sampler.update(data.get("sampler", {}))
    estimate = dict(ESTIMATE_DEFAULTS)
    estimate.update(data.get("estimate", {}))
    spec = AnalysisSpec(
        name=analysis.get("name", stem),
        question=analysis.get("question", ""),
        model_args=dict(data["model"]),
        sampler=sampler,
        estimate_args=estimate,
        sensitivity=dict(data["sensitivity"]) if "sensitivity" in data else None,
        source=None if where == "<spec>" else where,
    )
    spec.model()  # cross-key checks (random_change within levels ...) and attrition
    return spec


def schema_problems(data: Mapping[str, Any], schema: Mapping[str, Mapping[str, Any]]
                    ) -> list[str]:
    """Every problem of a TOML mapping against ``schema`` (``{section: {key: check}}``).

    Unknown sections and keys, sections that are not tables, and every value whose check
    returns a message; one string per problem naming the section and key. Shared by the
    analysis specs and the economics settings (``workflow.economics_command``).
    """
    problems = []
    for section, body in data.items():
        if section not in schema:
            problems.append(f"unknown section [{section}]; allowed: "
                            + ", ".join(f"[{s}]" for s in schema))
            continue
        if not isinstance(body, dict):
            problems.append(f"[{section}] must be a table, got {type_name(body)} {body!r}")
            continue
        keys = schema[section]
        for key, value in body.items():
            if key not in keys:
                problems.append(f"[{section}] unknown key {key!r}; allowed: "
                                + ", ".join(keys))
            elif msg := keys[key](value):
                problems.append(f"[{section}] {key}: {msg}")
    return problems


def _check(data: dict) -> list[str]:
    problems = schema_problems(data, SCHEMA)
    for section, key in sorted(REQUIRED):
        body = data.get(section)
        if not isinstance(body, dict) or key not in body:
            problems.append(f"[{section}] {key} is required")
    problems.extend(_by_problems(data))
    return problems


def _by_problems(data: dict) -> list[str]:
    """Cross-key checks of ``[estimate] by`` (its own type is checked by :func:`_by`)."""
    est, model = data.get("estimate"), data.get("model")
    by = est.get("by") if isinstance(est, dict) else None
    if not isinstance(by, str) or _by(by) is not None:
        return []
    problems = []
    if isinstance(model, dict) and by == model.get("outcome"):
        problems.append(f"[estimate] by: {by!r} is the model's outcome (interview-level), "
                        f"not a subgroup; allowed: {BY_ALLOWED}")
    if est.get("weighting") == "mrp" and by not in POPULATION_VARIABLES:
        problems.append(f"[estimate] by: {by!r} with weighting = \"mrp\" is not a population "
                        "cell variable (MRP subgroups are the cells with that level); "
                        f"allowed: {', '.join(POPULATION_VARIABLES)}")
    return problems


def spec_files(directory: str | Path) -> list[Path]:
    """The ``*.toml`` specs of a folder, sorted by name."""
    return sorted(Path(directory).glob("*.toml"))
