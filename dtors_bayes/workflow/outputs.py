"""What the analysis commands share: resolving bundled names, writing and reading their results.

:func:`resolve_named` finds a file by path or by the name of a bundled one (``employed``,
``dtors_illustrative``); :func:`write_outputs` writes a command's result bundle (tables as
CSV, figures as PNG, its metadata as JSON) and :func:`read_outputs` reads one back, so
``dtors-bayes causal`` and ``dtors-bayes economics`` write their folders the same way and
``report --causal/--economics`` read them the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dtors_bayes.exceptions import SpecError


def resolve_named(name_or_path: str | Path, folder: Path, what: str) -> Path:
    """``name_or_path`` if it exists, else the bundled ``folder/<name>.toml``.

    Raises
    ------
    FileNotFoundError
        Neither exists; the message names ``what`` and the folder searched.
    """
    p = Path(name_or_path)
    if p.exists():
        return p
    bundled = folder / f"{str(name_or_path).removesuffix('.toml')}.toml"
    if p.suffix != ".toml" and bundled.exists():
        return bundled
    raise FileNotFoundError(f"{what} {str(name_or_path)!r}: no such file (nor a bundled one "
                            f"of that name in {folder})")


def write_outputs(res: Mapping[str, Any], out: str | Path, *, table_prefix: str,
                  figure_prefix: str, meta_name: str) -> list[Path]:
    """Write ``res["tables"]`` as ``<table_prefix><name>.csv``, each ``(name, figure,
    caption)`` of ``res["figures"]`` as ``<figure_prefix><name>.png`` (110 dpi) and
    ``res["meta"]`` as ``meta_name`` (JSON) into ``out``; return the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in res["tables"].items():
        paths.append(out / f"{table_prefix}{name}.csv")
        df.to_csv(paths[-1], index=False, lineterminator="\n")
    for name, fig, _ in res["figures"]:
        paths.append(out / f"{figure_prefix}{name}.png")
        fig.savefig(paths[-1], dpi=110)
    paths.append(out / meta_name)
    paths[-1].write_text(json.dumps(res["meta"], indent=2, default=str) + "\n",
                         encoding="utf-8")
    return paths


def read_outputs(folder: str | Path, *, tables: Sequence[str], table_prefix: str,
                 figure_prefix: str, meta_name: str, command: str) -> dict[str, Any]:
    """Read back a folder written by :func:`write_outputs`: ``meta`` (``meta_name``), the
    ``tables`` of those names that are there (``<table_prefix><name>.csv``; empty cells read
    as missing, no other text does) and ``figures`` as ``(name, PNG path, caption)`` for each
    ``[name, caption]`` of ``meta["figures"]`` whose ``<figure_prefix><name>.png`` is there.

    Raises
    ------
    FileNotFoundError
        No ``meta_name`` in ``folder`` (not a folder written by ``dtors-bayes <command>``).
    SpecError
        The metadata or a table cannot be read.
    """
    import pandas as pd

    folder = Path(folder)
    meta_path = folder / meta_name
    if not meta_path.exists():
        raise FileNotFoundError(f"{str(folder)!r}: no {meta_name} (not a folder written by "
                                f"dtors-bayes {command})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        read = {n: pd.read_csv(folder / f"{table_prefix}{n}.csv", keep_default_na=False,
                               na_values=[""]) for n in tables
                if (folder / f"{table_prefix}{n}.csv").exists()}
    except (ValueError, OSError) as err:
        raise SpecError(f"{str(folder)!r}: cannot read the {command} results: {err}") from None
    figures = [(n, folder / f"{figure_prefix}{n}.png", alt) for n, alt in meta.get("figures", [])
               if (folder / f"{figure_prefix}{n}.png").exists()]
    return {"tables": read, "figures": figures, "meta": meta}
