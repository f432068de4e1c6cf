"""Subgroup estimands (``fit.estimate(by=column)``): the codes, the differences, the labels.

Every subgroup estimand is the overall estimand's definition
(:func:`dtors_bayes.estimands.engine.assemble_estimands`; the differences are
:func:`~dtors_bayes.estimands.engine.subgroup_differences`) applied to the per-draw weighted
averages of ``mu`` over the subgroup's persons only: for subgroup ``G`` of column ``m``,

.. math::

    L^{(s)}_{G,t} = \\frac{\\sum_{i \\in G} w_i^{(s)} \\mu^{(s)}_{it}}
                         {\\sum_{i \\in G} w_i^{(s)}},

the same persons' own posterior person, site and area effects and the same weights as the
overall rows (the adjusted rows give every person of ``G`` modality ``a``). Rows carry
``subgroup = "m=G"``. The subgroup differences are computed draw by draw,

.. math::

    D^{(s)}_t(G, H) = C^{(s)}_{G,t} - C^{(s)}_{H,t}

for ``change`` and for each ``modality_contrast`` ``A - B`` (then ``C`` is that contrast
within the subgroup), one row per pair of levels ``G - H`` (``G`` before ``H`` in the
levels' order), with ``estimand = "subgroup_difference"``, ``contrast = "G - H"``,
``subgroup = m`` and ``modality`` ``""`` (change) or the modality contrast ``"A - B"``.

With MRP (``fit.estimate("mrp", by=m)``) the units are population cells, not persons: ``m``
must be a population cell variable and subgroup ``G`` is the cells with ``m = G``,

.. math::

    L^{(s)}_{G,t} = \\frac{\\sum_{c: m_c = G} N_c \\bar\\mu^{(s)}_{ct}}
                         {\\sum_{c: m_c = G} N_c}

(:func:`cell_subgroup_codes`; :func:`dtors_bayes.weighting.mrp.mrp_draws`), with the same
rows and differences as above.

Without ``modifiers=[m]`` in the model, the trajectories do not depend on ``m``: subgroup
differences then come only from the covariates (and the person, site and area effects) that
differ between the subgroups, i.e. mostly from the covariates and the prior; the
``assumption`` column says so (:data:`NO_MODIFIER_NOTE`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dtors_bayes.estimands.engine import ADJUSTED_ASSUMPTION, SUBGROUP_DIFFERENCE
from dtors_bayes.exceptions import FitError


def no_modifier_note(column: str) -> str:
    """The ``assumption`` note of subgroup rows when ``column`` is not a model modifier."""
    return (f"{column} is not a modifier of the model (modifiers=[]): trajectories and "
            "modality contrasts do not differ by it, so subgroup differences come only from "
            "the covariates and person, site and area effects that differ between the "
            "subgroups (mostly the covariates and the prior talking); refit with "
            f"modifiers=[{column!r}] to let them differ")


MODIFIER_NOTE = ("subgroups partially pooled by the model's modifier terms "
                 "(zero-sum, HalfNormal scales)")


def subgroup_codes(fit, by: str, cohort=None) -> tuple[np.ndarray, list[str], bool]:
    """Each modelled person's subgroup code for ``by``, the labels, and whether ``by`` is a
    modifier of the model.

    A modifier's codes come from the fit's design (so a loaded fit needs no cohort); any
    other person-level column is read from ``cohort`` (or the fit's own), aligned by
    ``person_id``.

    Raises
    ------
    FitError
        ``by`` not a string; no cohort for a non-modifier column; a column that is not
        person-level; a missing value among the modelled persons.
    """
    from dtors_bayes.models.design import level_codes

    design = fit.design
    if not isinstance(by, str):
        raise FitError(f"by={by!r}; allowed: the name of a person-level column, e.g. "
                       "by='referral_route'")
    if by in design.modifier_names:
        k = design.modifier_names.index(by)
        return design.modifier_codes[:, k].astype(int), list(design.modifier_labels[k]), True
    cohort = cohort if cohort is not None else getattr(fit, "cohort", None)
    if cohort is None:
        raise FitError(f"by={by!r}: the column is not a modifier of the model "
                       f"(modifiers: {design.modifier_names or 'none'}) and no cohort is in "
                       "memory to read it from; fix: pass cohort=")
    persons = cohort.persons
    if by not in persons.columns or by == "person_id":
        allowed = ", ".join(c for c in persons.columns if c != "person_id")
        raise FitError(f"by={by!r} is not a person-level column of the cohort; allowed: "
                       f"{allowed}; fix: name one of these")
    col = persons.set_index("person_id")[by]
    ids = pd.Index(design.person_ids)
    missing_ids = ids.difference(col.index)
    if len(missing_ids):
        raise FitError(f"by={by!r}: {len(missing_ids)} modelled person(s) are not in the cohort "
                       f"(first: {list(missing_ids[:5])}); fix: pass the cohort the fit was "
                       "made from")
    values = col.reindex(ids)
    if pd.api.types.is_float_dtype(values) and \
            not np.allclose(values.dropna(), np.round(values.dropna())):
        raise FitError(f"by={by!r} is a numeric column with non-integer values, not a "
                       "categorical one; allowed: a person-level categorical column (e.g. "
                       "'referral_route', 'age_group'); fix: cut it into groups first")
    if values.isna().any():
        first = list(ids[values.isna().to_numpy()][:5])
        raise FitError(f"by={by!r}: {int(values.isna().sum())} modelled person(s) have no "
                       f"value (first: {first}); allowed: a value for every modelled person; "
                       "fix: fill them in or use another column")
    codes, labels = level_codes(values.reset_index(drop=True))
    if len(labels) < 2:
        raise FitError(f"by={by!r} has one level ({labels[0]!r}) among the modelled persons; "
                       "allowed: two or more levels")
    return codes, labels, False


def cell_subgroup_codes(cells: pd.DataFrame, by: str, fit=None
                        ) -> tuple[np.ndarray, list[str], bool]:
    """Each population cell's subgroup code for ``by`` (MRP), the labels, and whether ``by`` is
    a modifier of the model.

    Parameters
    ----------
    cells : DataFrame
        The population cells MRP poststratifies to (their category columns and ``count``).
    by : str
        A population cell variable (e.g. ``"referral_route"``).
    fit : Fit, optional
        For the modifier flag (``by`` among ``fit.design.modifier_names``).

    Returns
    -------
    codes : ndarray of int (n_cell,)
    labels : list of str
        Sorted levels (categories' order for a categorical column) with cells.
    modelled : bool

    Raises
    ------
    FitError
        ``by`` not a string, not a column of the cells (the message names the cell
        variables), or with fewer than two levels among the cells.
    """
    from dtors_bayes.models.design import level_codes

    variables = [c for c in cells.columns if c != "count"]
    if not isinstance(by, str) or by not in variables:
        raise FitError(f"by={by!r} with weighting='mrp': MRP averages over population cells, "
                       "so a subgroup must be a population cell variable (subgroup = the "
                       f"cells with that level); the cells have: {', '.join(variables)}; "
                       "fix: choose one of these, or use weighting 'none', 'fixed' or "
                       "'propagated' for subgroups of the modelled persons")
    codes, labels = level_codes(cells[by].reset_index(drop=True))
    if len(labels) < 2:
        raise FitError(f"by={by!r} has one level ({labels[0]!r}) among the population cells; "
                       "allowed: two or more levels")
    modelled = fit is not None and by in fit.design.modifier_names
    return codes, labels, modelled


def label_subgroups(table: pd.DataFrame, column: str, codes: np.ndarray, labels: list[str],
                    modelled: bool) -> None:
    """Subgroup rows' ``n_persons`` and ``assumption`` (in place).

    ``n_persons`` of a subgroup row is its persons, of a difference row both subgroups'.
    Adjusted differences of modality contrasts keep the adjusted rows' assumption; every
    subgroup row adds :data:`MODIFIER_NOTE` or :func:`no_modifier_note`.
    """
    counts = {lab: int((codes == g).sum()) for g, lab in enumerate(labels)}
    note = MODIFIER_NOTE if modelled else no_modifier_note(column)
    sub = table["subgroup"].astype(str)
    for lab, n in counts.items():
        table.loc[sub == f"{column}={lab}", "n_persons"] = n
    diff = table["estimand"] == SUBGROUP_DIFFERENCE
    for idx in np.flatnonzero(diff.to_numpy()):
        a, b = str(table["contrast"].iloc[idx]).split(" - ", 1)
        table.iloc[idx, table.columns.get_loc("n_persons")] = counts.get(a, 0) + counts.get(b, 0)
        if table["modality"].iloc[idx]:
            base = table["assumption"].iloc[idx]
            extra = ADJUSTED_ASSUMPTION if not base else f"{base}; {ADJUSTED_ASSUMPTION}"
            table.iloc[idx, table.columns.get_loc("assumption")] = extra
    rows = sub != ""
    table.loc[rows, "assumption"] = [f"{x}; {note}" if x else note
                                     for x in table.loc[rows, "assumption"]]
