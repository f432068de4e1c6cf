"""The one covariate encoder: person columns to the numeric matrix of a model.

:class:`CovariateEncoding` is fitted once on a persons table and a covariate request (a list
of person columns, or a formula right-hand side such as ``"age + C(sex) + sex:age"``) and
records everything needed to encode *other* rows the same way: the person columns used, the
column order, each categorical variable's levels (the first is the reference, the one left
out when the variable's indicators would otherwise span the intercept), the numeric
centring and scaling, and how missing values are handled. :meth:`CovariateEncoding.transform`
then gives the same matrix for new rows (MRP's population cells, a saved fit's persons), and
:meth:`~CovariateEncoding.to_dict` / :meth:`~CovariateEncoding.from_dict` make it JSON, so it
is kept with the fit (an attribute of the design's ``constant_data``).

It serves the change model's design (``scaling="model"``: every column centred at the
persons' mean, columns with more than two distinct values scaled to sd 1, so priors are per
sd and levels sit at the mean), the response model of the fixed weights
(``scaling="response"``, ``missing="indicator"``: numeric columns standardised, constant
ones dropped, indicators left 0/1; the intercept is the caller's) and MRP's population cells.

Variables are found by name, never by substring: a list names its columns, and a formula's
variables are those the formula parser (``formulae``) reports, so ``age_group`` does not
also pull in ``age``. A list is coded by hand (numeric columns as they are; categorical ones
as indicators of every level but the first); a formula is parsed and its terms coded by
``formulae`` once, at fit (interactions, ``C()``, ``center()``, ``scale()`` or
``standardize()``, and which categorical factors keep every level), and the encoding records
each column as a product of factors (a numeric variable, ``(x - shift) / divide``, or the
indicator of one level) that it evaluates itself, checked at fit to reproduce formulae's
columns exactly.

Contents
--------
CovariateEncoding
    Fit on persons, transform new rows, to/from JSON-able dicts.
covariate_rhs
    The formula right-hand side of a covariate request (``None`` for no covariates).
covariate_variables
    The person columns a covariate request uses, in the persons' column order.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import ModelError

__all__ = ["MISSING_LEVEL", "CovariateEncoding", "covariate_rhs", "covariate_variables"]

#: The category a missing categorical value becomes under ``missing="indicator"``.
MISSING_LEVEL = "missing"
#: Version of :meth:`CovariateEncoding.to_dict`.
ENCODING_VERSION = 1
_MISSING = ("error", "indicator")
_SCALINGS = ("model", "response")


def covariate_rhs(covariates: str | Sequence[str] | None) -> str | None:
    """The formula right-hand side of a covariate request; ``None`` when there are none.

    A list becomes ``"a + b + c"``; a formula string loses anything up to ``~``.
    """
    if covariates is None or (not isinstance(covariates, str) and len(covariates) == 0):
        return None
    if isinstance(covariates, str):
        return covariates.split("~", 1)[-1].strip()
    return " + ".join(covariates)


def _formula_names(rhs: str) -> set[str]:
    try:
        from formulae import model_description

        return set(model_description(rhs).var_names)
    except Exception:  # noqa: BLE001 - fall back to identifiers; fit reports parse errors
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", rhs))


def covariate_variables(covariates: str | Sequence[str] | None, columns) -> list[str]:
    """Person columns a covariate request uses, in the order of ``columns``.

    Matched by name: a list's entries, or the variables a formula names (never a substring of
    the formula text, which would take ``age`` out of ``age_group``).
    """
    rhs = covariate_rhs(covariates)
    if rhs is None:
        return []
    names = set(covariates) if not isinstance(covariates, str) else _formula_names(rhs)
    return [c for c in columns if c in names]


# ------------------------------------------------------------------------------ factors
@dataclass(frozen=True)
class _Factor:
    """One factor of a term: a numeric variable ``(x - shift) / divide`` or the indicators of
    the ``columns`` levels of a categorical variable with ``levels``."""

    var: str
    kind: str  # "numeric" | "categorical"
    label: str  # as in the column names: 'age', 'scale(age)', 'C(sex)'
    levels: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    shift: float = 0.0
    divide: float = 1.0

    def names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.label]
        return [f"{self.label}[{lvl}]" for lvl in self.columns]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"var": self.var, "kind": self.kind, "label": self.label}
        if self.kind == "numeric":
            d.update(shift=float(self.shift), divide=float(self.divide))
        else:
            d.update(levels=list(self.levels), columns=list(self.columns))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Factor:
        return cls(var=d["var"], kind=d["kind"], label=d["label"],
                   levels=tuple(d.get("levels", ())), columns=tuple(d.get("columns", ())),
                   shift=float(d.get("shift", 0.0)), divide=float(d.get("divide", 1.0)))


def _is_numeric(s: pd.Series) -> bool:
    # formulae's rule: numeric dtypes (booleans included) are numeric, strings and
    # categoricals categorical.
    return bool(pd.api.types.is_numeric_dtype(s))


def _levels_of(s: pd.Series) -> list:
    """Levels in formulae's order: an ordered categorical's categories, else sorted values."""
    if isinstance(s.dtype, pd.CategoricalDtype) and s.dtype.ordered:
        return s.dtype.categories.tolist()
    return sorted(np.unique(s.to_numpy()).tolist())


def _interaction(blocks: list[np.ndarray]) -> np.ndarray:
    """Row-wise products of the factors' columns, the first factor's columns outermost."""
    out = blocks[0]
    for b in blocks[1:]:
        out = np.column_stack([out[:, i] * b[:, j] for i in range(out.shape[1])
                               for j in range(b.shape[1])])
    return out


def _unsupported(term: str, why: str) -> ModelError:
    return ModelError(
        f"covariate term {term!r}: {why}. The covariate encoder codes column names, C(), "
        "center(), scale(), standardize() and their interactions; put other transformations "
        "into a person column first")


def _formula_terms(rhs: str, frame: pd.DataFrame) -> tuple[list[tuple[_Factor, ...]],
                                                            list[str], np.ndarray]:
    """Terms of a formula as factors, with formulae's column names and matrix (to check)."""
    from formulae import design_matrices

    try:
        common = design_matrices(rhs, frame.reset_index(drop=True), na_action="error").common
    except Exception as err:  # formulae raises several types; make it ours
        raise ModelError(f"cannot build the covariate matrix from {rhs!r}: {err}") from err
    terms: list[tuple[_Factor, ...]] = []
    labels: list[str] = []
    for name, term in common.terms.items():
        if name == "Intercept":
            continue
        comps = getattr(term, "components", None)
        if not comps:
            raise _unsupported(name, "not a term of variables")
        factors = []
        for comp in comps:
            call = getattr(comp, "call", None)
            if call is None:
                var = comp.name
            else:
                args = list(getattr(call, "args", []))
                st = getattr(call, "stateful_transform", None)
                call_kind = "C" if call.callee == "C" else type(st).__name__  # Center, Scale
                if (len(args) != 1 or type(args[0]).__name__ != "LazyVariable"
                        or call_kind not in ("C", "Center", "Scale")):
                    raise _unsupported(name, f"{comp.name} is not supported")
                var = args[0].name
                if call.callee == "C" and getattr(call, "kwargs", None):
                    raise _unsupported(name, f"{comp.name}: C() with options is not supported")
            if comp.kind == "numeric":
                value = np.asarray(comp.value)
                if value.ndim != 1:
                    raise _unsupported(name, f"{comp.name} gives several columns")
                shift, divide = 0.0, 1.0
                if call is not None and call_kind == "Center":
                    shift = float(st.mean)
                elif call is not None and call_kind == "Scale":  # scale() and standardize()
                    shift, divide = float(st.mean), float(st.std)
                elif call is not None:
                    raise _unsupported(name, f"{comp.name} is not numeric here")
                factors.append(_Factor(var, "numeric", comp.name, shift=shift, divide=divide))
            elif comp.kind == "categoric":
                cm = comp.contrast_matrix
                levels = [str(x) for x in comp.levels]
                cols = [str(x) for x in cm.labels]
                ind = np.array([[float(lvl == c) for c in cols] for lvl in levels])
                if np.asarray(cm.matrix, float).shape != ind.shape or not np.array_equal(
                        np.asarray(cm.matrix, float), ind):
                    raise _unsupported(name, f"{comp.name}: only treatment (indicator) coding "
                                             "is supported")
                factors.append(_Factor(var, "categorical", comp.name, levels=tuple(levels),
                                       columns=tuple(cols)))
            else:
                raise _unsupported(name, f"{comp.name} is of kind {comp.kind!r}")
        terms.append(tuple(factors))
        labels.extend(term.labels)
    X = np.asarray(common.design_matrix, dtype=float)
    names = [n for t in common.terms.values() for n in t.labels]
    keep = [i for i, n in enumerate(names) if n != "Intercept"]
    return terms, labels, X[:, keep]


def _list_terms(covariates: Sequence[str], frame: pd.DataFrame) -> list[tuple[_Factor, ...]]:
    """Main effects of a list: numeric columns as they are, categorical ones as indicators of
    every level but the first (the intercept is always the model's)."""
    terms = []
    for c in dict.fromkeys(covariates):
        s = frame[c]
        if _is_numeric(s):
            terms.append((_Factor(c, "numeric", c),))
        else:
            levels = [str(x) for x in _levels_of(s)]
            terms.append((_Factor(c, "categorical", c, levels=tuple(levels),
                                  columns=tuple(levels[1:])),))
    return terms


# ----------------------------------------------------------------------------- encoding
@dataclass
class CovariateEncoding:
    """How person columns become a model's covariate matrix (module notes).

    Build with :meth:`fit`; encode rows with :meth:`transform`. ``names`` are the matrix's
    columns in order; ``variables`` the person columns it reads.
    """

    covariates: str | list[str] | None
    variables: list[str]
    terms: list[tuple[_Factor, ...]]
    names: list[str]
    centre: np.ndarray
    scale: np.ndarray
    missing: str = "error"
    scaling: str = "model"
    fill: dict[str, float] = field(default_factory=dict)
    keep: np.ndarray | None = None

    # ---- reading -------------------------------------------------------------------------
    @property
    def n_columns(self) -> int:
        return len(self.names)

    def levels(self, var: str) -> list[str]:
        """Levels of a categorical variable (the first is the reference), as strings."""
        for term in self.terms:
            for f in term:
                if f.var == var and f.kind == "categorical":
                    return list(f.levels)
        raise KeyError(f"{var!r} is not a categorical variable of this encoding")

    def is_categorical(self, var: str) -> bool:
        """Whether ``var`` enters only through categorical factors."""
        kinds = {f.kind for term in self.terms for f in term if f.var == var}
        return kinds == {"categorical"}

    def reference(self, var: str) -> str:
        """The reference (first) level of a categorical variable."""
        return self.levels(var)[0]

    # ---- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(cls, persons: pd.DataFrame, covariates: str | Sequence[str] | None, *,
            missing: str = "error", scaling: str = "model") -> CovariateEncoding:
        """Fit the encoding on ``persons`` (the rows whose mean and sd define the scale).

        Parameters
        ----------
        persons : DataFrame
        covariates : list of str, formula string or None
            Person columns, or a formula right-hand side (``"~"`` and what precedes it are
            ignored).
        missing : {"error", "indicator"}
            ``"error"``: a missing value in a used column is an error. ``"indicator"``: a
            missing numeric value takes the observed mean and a ``{column}_missing``
            indicator column (placed after the variable's first term; only for variables
            with missing values here), a missing categorical value is the category
            ``"missing"``.
        scaling : {"model", "response"}
            ``"model"``: centre every column, scale those with more than two distinct values
            to sd 1 (constant columns kept). ``"response"``: centre and scale every column
            with a numeric factor, dropping constant ones; indicators left 0/1.

        Raises
        ------
        ModelError
            A column the persons lack, missing values under ``missing="error"``, a formula
            that cannot be parsed or uses an unsupported transformation.
        """
        if missing not in _MISSING:
            raise ValueError(f"missing={missing!r}; allowed: {', '.join(map(repr, _MISSING))}")
        if scaling not in _SCALINGS:
            raise ValueError(f"scaling={scaling!r}; allowed: {', '.join(map(repr, _SCALINGS))}")
        rhs = covariate_rhs(covariates)
        stored = covariates if isinstance(covariates, str) or covariates is None \
            else list(covariates)
        if rhs is None:
            return cls(stored, [], [], [], np.zeros(0), np.ones(0), missing, scaling)
        if isinstance(covariates, str):
            variables = covariate_variables(covariates, persons.columns)
        else:
            absent = [c for c in covariates if c not in persons.columns]
            if absent:
                raise ModelError(f"covariates {absent} are not person-level columns; "
                                 f"available: {', '.join(map(str, persons.columns))}")
            variables = covariate_variables(covariates, persons.columns)
        frame, fill = _prepare(persons, variables, missing, None)
        if isinstance(covariates, str):
            terms, labels, X_formulae = _formula_terms(rhs, frame[variables])
        else:
            terms, labels, X_formulae = _list_terms(covariates, frame), None, None
        enc = cls(stored, variables, terms, [], np.zeros(0), np.ones(0), missing, scaling,
                  fill)
        raw, raw_names, numeric, indicator = enc._raw(frame)
        if X_formulae is not None:  # our evaluation of formulae's terms must be formulae's
            own = [i for i, ind in enumerate(indicator) if not ind]
            if [raw_names[i] for i in own] != labels or not np.array_equal(raw[:, own],
                                                                           X_formulae):
                raise ModelError(f"covariate formula {rhs!r}: the encoder does not reproduce "
                                 "the formula's columns; simplify the formula")
        enc.keep, enc.centre, enc.scale = _scales(raw, numeric, scaling)
        enc.names = [n for n, k in zip(raw_names, enc.keep, strict=True) if k]
        return enc

    # ---- encoding ------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, missing: str = "error") -> np.ndarray:
        """The encoded matrix of ``frame``'s rows (same columns as at fit).

        Parameters
        ----------
        frame : DataFrame
            Rows with (at least) the encoding's ``variables``.
        missing : {"error", "indicator"}
            ``"error"``: a missing value is an error. ``"indicator"``: as at fit (numeric
            values take the fit's fill value and 1 in the indicator column, which must
            exist; categorical values become ``"missing"``, which must be a level).

        Raises
        ------
        ModelError
            A variable the frame lacks, a level not seen at fit (naming the column and the
            level), or a missing value that cannot be encoded.
        """
        if missing not in _MISSING:
            raise ValueError(f"missing={missing!r}; allowed: {', '.join(map(repr, _MISSING))}")
        if not self.terms:
            return np.zeros((len(frame), 0))
        absent = [v for v in self.variables if v not in frame.columns]
        if absent:
            raise ModelError(f"cannot encode covariates: columns {absent} are missing")
        prepared, _ = _prepare(frame, self.variables, missing, self)
        raw = self._raw(prepared)[0]
        return (raw[:, self.keep] - self.centre) / self.scale

    def _raw(self, frame: pd.DataFrame
             ) -> tuple[np.ndarray, list[str], list[bool], list[bool]]:
        """Uncentred columns (missing indicators included), their names, whether each
        column has a numeric factor and whether it is a missing indicator."""
        n = len(frame)
        values: dict[str, Any] = {}
        problems: list[str] = []
        for term in self.terms:
            for f in term:
                if f in values:
                    continue
                s = frame[f.var]
                if f.kind == "numeric":
                    x = s.to_numpy(dtype=float, na_value=np.nan)
                    values[f] = (x - f.shift) / f.divide
                else:
                    lab = np.array([str(v) for v in s.to_numpy()], dtype=object)
                    codes = pd.Index(list(f.levels), dtype=object).get_indexer(lab)  # -1: new
                    unseen = sorted(set(lab[codes < 0]))
                    if unseen:
                        problems.append(
                            f"column '{f.var}': level(s) {', '.join(map(repr, unseen))} were not "
                            f"seen when the encoding was fit (levels: {', '.join(f.levels)}); "
                            "the model has no coefficient for them")
                        values[f] = np.zeros((n, len(f.columns)))
                        continue
                    sel = np.array([[float(lvl == c) for c in f.columns] for lvl in f.levels])
                    values[f] = sel[codes].reshape(n, len(f.columns))
        if problems:
            raise ModelError("cannot encode covariates:\n" + "\n".join(f"  - {p}"
                                                                      for p in problems))
        cols: list[np.ndarray] = []
        names: list[str] = []
        numeric: list[bool] = []
        indicator: list[bool] = []
        placed: set[str] = set()
        for term in self.terms:
            blocks = [np.asarray(values[f], float).reshape(n, -1) for f in term]
            block = blocks[0] if len(blocks) == 1 else _interaction(blocks)
            term_names = [":".join(p) for p in itertools.product(*(f.names() for f in term))]
            is_num = any(f.kind == "numeric" for f in term)
            for j, nm in enumerate(term_names):
                cols.append(block[:, j])
                names.append(nm)
                numeric.append(is_num)
                indicator.append(False)
            for f in term:
                if f.var in self.fill and f.var not in placed:
                    placed.add(f.var)
                    cols.append(frame[_indicator(f.var)].to_numpy(float))
                    names.append(f"{f.var}_missing")
                    numeric.append(False)
                    indicator.append(True)
        # Fortran order, as the matrix was before the encoder (formulae columns taken with a
        # column index): column means then sum the same way, to the last bit.
        raw = np.asfortranarray(np.column_stack(cols)) if cols else np.zeros((n, 0))
        return raw, names, numeric, indicator

    # ---- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (floats exact through ``json``); inverse :meth:`from_dict`."""
        return {
            "version": ENCODING_VERSION,
            "covariates": self.covariates,
            "variables": list(self.variables),
            "terms": [[f.to_dict() for f in term] for term in self.terms],
            "names": list(self.names),
            "centre": [float(x) for x in self.centre],
            "scale": [float(x) for x in self.scale],
            "missing": self.missing,
            "scaling": self.scaling,
            "fill": {k: float(v) for k, v in self.fill.items()},
            "keep": [bool(k) for k in (self.keep if self.keep is not None else [])],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CovariateEncoding:
        """Inverse of :meth:`to_dict`."""
        if int(d.get("version", 0)) > ENCODING_VERSION:
            raise ModelError(f"covariate encoding version {d.get('version')} is newer than "
                             f"this dtors_bayes reads ({ENCODING_VERSION}); upgrade dtors_bayes")
        return cls(
            covariates=d.get("covariates"),
            variables=list(d["variables"]),
            terms=[tuple(_Factor.from_dict(f) for f in term) for term in d["terms"]],
            names=list(d["names"]),
            centre=np.asarray(d["centre"], float),
            scale=np.asarray(d["scale"], float),
            missing=d.get("missing", "error"),
            scaling=d.get("scaling", "model"),
            fill={k: float(v) for k, v in d.get("fill", {}).items()},
            keep=np.asarray(d.get("keep", []), bool),
        )


def _indicator(var: str) -> str:
    return f"\0missing:{var}"


def _prepare(frame: pd.DataFrame, variables: list[str], missing: str,
             enc: CovariateEncoding | None) -> tuple[pd.DataFrame, dict[str, float]]:
    """The used columns with missing values handled; at fit (``enc=None``) the fill values.

    Under ``"indicator"`` a missing numeric value takes the fill value (the observed mean at
    fit) and an indicator column ``_indicator(var)``; a missing categorical value becomes
    :data:`MISSING_LEVEL`.
    """
    out: dict[str, Any] = {}
    fill: dict[str, float] = {} if enc is None else dict(enc.fill)
    problems = []
    for v in variables:
        s = frame[v].reset_index(drop=True)
        na = s.isna().to_numpy()
        numeric = _is_numeric(s) if enc is None else not enc.is_categorical(v)
        if na.any():
            if missing == "error":
                problems.append(f"column '{v}': {int(na.sum())} missing value(s); drop those "
                                "rows or use missing='indicator'")
            elif numeric:
                x = s.to_numpy(dtype=float, na_value=np.nan)
                if enc is None:
                    fill[v] = float(np.nanmean(x)) if (~na).any() else 0.0
                elif v not in fill:
                    problems.append(f"column '{v}': {int(na.sum())} missing value(s), but it "
                                    "had none when the encoding was fit, so it has no "
                                    "missing indicator")
                    continue
                s = pd.Series(np.where(na, fill[v], x))
            else:
                s = s.astype(object).where(~na, MISSING_LEVEL)
        out[v] = s
        if v in fill:
            out[_indicator(v)] = na.astype(float)
    if problems:
        raise ModelError("cannot encode covariates:\n" + "\n".join(f"  - {p}" for p in problems))
    return pd.DataFrame(out, index=range(len(frame))), fill


def _scales(raw: np.ndarray, numeric: list[bool], scaling: str
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept columns, their centres and their divisors, from the fit rows ``raw``."""
    p = raw.shape[1]
    if scaling == "model":
        centre = raw.mean(axis=0) if len(raw) else np.zeros(p)
        X = raw - centre
        scale = np.ones(p)
        for j in range(p):
            if np.unique(X[:, j]).size > 2:
                sd = X[:, j].std()
                if sd > 0:
                    scale[j] = sd
        return np.ones(p, bool), centre, scale
    keep = np.ones(p, bool)
    centre, scale = np.zeros(p), np.ones(p)
    for j in range(p):
        if numeric[j]:
            v = np.ascontiguousarray(raw[:, j])
            sd = v.std()
            if sd > 0:
                centre[j], scale[j] = v.mean(), sd
            else:
                keep[j] = False
    return keep, centre[keep], scale[keep]
