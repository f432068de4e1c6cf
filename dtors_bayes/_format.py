"""Text formats of tables and values: the package's one Markdown, HTML and LaTeX writer.

A core module (imports nothing of the package). Every table the package writes as text goes
through :func:`format_cell`: empty for missing values, ``yes``/``no`` for booleans, lists
joined by commas, and floats either in the display format (about 4 significant digits,
whole numbers without a point) or in an explicit ``floatfmt`` such as ``".3f"``.

- :func:`markdown_table`: a GitHub pipe table (hand-written: ``DataFrame.to_markdown`` needs
  ``tabulate``, which is not a dependency).
- :func:`html_table`: ``DataFrame.to_html`` of the formatted cells.
- :func:`latex_table`: a ``booktabs`` table by ``Styler.to_latex`` (jinja2).
- :func:`json_default`: the ``default=`` of :func:`json.dumps` for files the package writes.
  (Cache keys of studies have their own, :func:`dtors_bayes.studies.seeds.json_default`,
  whose output must never change.)
- :func:`safe_name`: a name made fit for a file name or an HTML id.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["display_frame", "format_cell", "html_table", "json_default", "latex_escape",
           "latex_table", "markdown_table", "safe_name"]


# ---------------------------------------------------------------------------- cells
def format_cell(v: Any, floatfmt: str | None = None) -> str:
    """One table cell as text.

    Parameters
    ----------
    v : object
        The value. ``None``, NaN and other missing values give ``""``; booleans
        ``"yes"``/``"no"``; lists and tuples their items joined by ``", "``.
    floatfmt : str, optional
        A :func:`format` spec for floats (``".3f"``). Without it floats are shown whole when
        they are whole numbers, with 3 significant digits when ``>= 1e5`` or ``< 1e-3`` in
        size, 4 below 100 and 1 decimal otherwise.

    Returns
    -------
    str
    """
    if v is None:
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        if math.isnan(v):
            return ""
        if floatfmt is not None:
            return format(v, floatfmt)
        if v.is_integer() and abs(v) < 1e12:
            return str(int(v))
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4g}" if abs(v) < 100 else f"{v:.1f}"
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v))
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


def display_frame(df: pd.DataFrame, floatfmt: str | None = None) -> pd.DataFrame:
    """A copy with every cell formatted as text by :func:`format_cell`."""
    return pd.DataFrame({c: [format_cell(v, floatfmt) for v in df[c]] for c in df.columns},
                        index=df.index)


# ---------------------------------------------------------------------------- tables
def markdown_table(df: pd.DataFrame, floatfmt: str | None = None) -> str:
    """A GitHub-flavoured Markdown pipe table of ``df`` (index left out).

    Parameters
    ----------
    df : pandas.DataFrame
    floatfmt : str, optional
        Format spec for floats (:func:`format_cell`); the display format without it.

    Returns
    -------
    str
        Header, ``|---|`` rule and one line per row; ``|`` inside cells is escaped.
    """
    def cell(v: Any) -> str:
        return format_cell(v, floatfmt).replace("|", "\\|")

    head = [cell(str(c)) for c in df.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines)


def html_table(df: pd.DataFrame, max_rows: int | None = None,
               floatfmt: str | None = None) -> str:
    """An HTML table of the formatted cells (``DataFrame.to_html``, escaped, index left out).

    Parameters
    ----------
    df : pandas.DataFrame
    max_rows : int, optional
        Show only the first rows, with a note that every row is in the CSV file.
    floatfmt : str, optional
        Format spec for floats (:func:`format_cell`).
    """
    shown = display_frame(df if max_rows is None else df.head(max_rows), floatfmt)
    out = shown.to_html(index=False, escape=True, border=0, na_rep="")
    if max_rows is not None and len(df) > max_rows:
        out += (f'<p class="note">First {max_rows} of {len(df)} rows; every row is in the '
                "CSV file.</p>")
    return out


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in ``text``."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def latex_table(df: pd.DataFrame, caption: str | None = None, label: str | None = None) -> str:
    """A ``booktabs`` LaTeX table (needs ``\\usepackage{booktabs}``), by ``Styler.to_latex``.

    Numeric columns are right-aligned, others left-aligned; cells are formatted as in
    :func:`display_frame` and escaped, as are the header, ``caption`` and ``label``.
    """
    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) and
                    not pd.api.types.is_bool_dtype(df[c]) else "l" for c in df.columns)
    styler = (display_frame(df).style.hide(axis="index").format(escape="latex")
              .format_index(escape="latex", axis=1))
    return styler.to_latex(column_format=align, position="ht", position_float="centering",
                           hrules=True, caption=latex_escape(caption) if caption else None,
                           label=latex_escape(label) if label else None)


# ---------------------------------------------------------------------------- values, names
def json_default(o: Any) -> Any:
    """``default=`` for :func:`json.dumps`: numpy scalars and arrays as numbers and lists,
    anything else as its ``str``."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    return str(o)


def safe_name(name: Any, keep: str = "-_.") -> str:
    """``str(name)`` with every character but letters, digits and ``keep`` replaced by ``_``."""
    return "".join(ch if ch.isalnum() or ch in keep else "_" for ch in str(name))


def read_toml(path, what: str) -> dict:
    """A TOML file as a dict, or a ``SpecError`` naming the file and ``what`` it should be
    (missing file, unreadable, not valid TOML)."""
    import tomllib
    from pathlib import Path

    from dtors_bayes.exceptions import SpecError

    where = str(path)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{where}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"{where}: cannot read the {what}: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{where}: not valid TOML: {err}") from None
