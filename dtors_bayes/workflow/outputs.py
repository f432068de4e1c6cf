"""What the analysis commands share: resolving bundled names and writing their results.

:func:`resolve_named` finds a file by path or by the name of a bundled one (``employed``,
``dtors_illustrative``); :func:`write_outputs` writes a command's result bundle (tables as
CSV, figures as PNG, its metadata as JSON), so ``dtors-bayes causal`` and ``dtors-bayes
economics`` write their folders the same way and ``report --causal/--economics`` read them
back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


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
