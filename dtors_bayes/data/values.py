"""Reading cohort values for the checks and the build: numbers, booleans, ids in messages.

:func:`as_numeric` and :func:`as_bool` read a column without assuming it is clean (they return
the values and where a value was present but unreadable); :func:`first_ids` and
:func:`message` write the parts every problem message shares (the column, the row count, the
first few person ids, what is allowed and the fix). Used by
:mod:`dtors_bayes.data.validation` and :mod:`dtors_bayes.data.build`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Allowed values of the canonical ``referral_route`` column.
REFERRAL_ROUTES = ("criminal_justice", "other")
#: Allowed values of the canonical ``sex`` column.
SEX_VALUES = ("female", "male", "other")
#: Allowed spellings of a boolean column (``interviewed``, ``in_treatment``), lower case.
TRUE_WORDS = ("true", "1", "1.0", "yes", "y", "t")
FALSE_WORDS = ("false", "0", "0.0", "no", "n", "f")
#: Columns of the interviews table read as numbers (plus the outcomes).
NUMERIC_INTERVIEW_COLUMNS = ("wave", "months")
NUMERIC_PERSON_COLUMNS = ("age",)
ID_COLUMNS = ("person_id", "site_id", "area_id")
MAX_IDS = 5


def as_numeric(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read a column as float.

    Returns
    -------
    values : pandas.Series
        float64, NaN where missing or unreadable.
    bad : pandas.Series
        bool, True where a value is present but is not a number (text, say).
    """
    if pd.api.types.is_bool_dtype(s):
        values = s.astype(float)
    else:
        values = pd.to_numeric(s, errors="coerce").astype(float)
    bad = s.notna() & values.isna()
    return values, bad


def as_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Read a column as nullable boolean (``True``/``False``/``1``/``0``/``yes``/``no``).

    Returns ``(values, bad)`` as :func:`as_numeric` does; ``values`` has pandas' nullable
    ``boolean`` dtype.
    """
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), pd.Series(False, index=s.index)
    words = s.map(lambda v: str(v).strip().lower() if pd.notna(v) else None)
    values = pd.Series(pd.NA, index=s.index, dtype="boolean")
    values[words.isin(TRUE_WORDS)] = True
    values[words.isin(FALSE_WORDS)] = False
    bad = s.notna() & values.isna()
    return values, bad


def first_ids(ids: Sequence | pd.Series | np.ndarray, k: int = MAX_IDS) -> str:
    """The first ``k`` distinct ids, comma separated (for messages)."""
    seen: list = []
    for v in pd.unique(pd.Series(list(ids), dtype=object)):
        seen.append(str(v))
        if len(seen) == k:
            break
    return ", ".join(seen)


def message(column: str, rows: pd.DataFrame | pd.Series, what: str, allowed: str,
         fix: str) -> str:
    ids = rows["person_id"] if isinstance(rows, pd.DataFrame) and "person_id" in rows else rows
    return (
        f"column '{column}': {len(rows)} row(s) {what} (first person ids: {first_ids(ids)}); "
        f"allowed: {allowed}; fix: {fix}"
    )


def ids_of(df: pd.DataFrame, mask: pd.Series) -> pd.Series:
    if "person_id" in df:
        return df.loc[mask, "person_id"]
    return pd.Series(np.flatnonzero(mask.to_numpy()), dtype=object)


def waves_of(interviews: pd.DataFrame) -> list[float]:
    if "wave" not in interviews:
        return []
    values, _ = as_numeric(interviews["wave"])
    return sorted(values.dropna().unique().tolist())
