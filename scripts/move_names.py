"""Rewrite ``from OLD import a, b`` statements when some names move to NEW (refactor tool).

Usage: ``python scripts/move_names.py OLD NEW name1,name2 PATHS...``. Handles one-line and
parenthesised multi-line imports, function-local ones included (indentation kept), and
``OLD.name`` attribute chains in text (docs, strings). Run ``ruff check --fix`` afterwards
to sort the imports.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def rewrite(text: str, old: str, new: str, names: set[str]) -> str:
    pat = re.compile(r"^(?P<ind>[ \t]*)from " + re.escape(old)
                     + r" import (?:\((?P<multi>[^)]*)\)|(?P<one>[^\n]*))", re.M)

    def sub(m: re.Match) -> str:
        body = m.group("multi") if m.group("multi") is not None else m.group("one")
        body = re.sub(r"#[^\n]*", "", body)
        items = [x.strip() for x in body.replace("\n", " ").split(",") if x.strip()]
        keep = [x for x in items if x.split(" as ")[0].strip() not in names]
        move = [x for x in items if x.split(" as ")[0].strip() in names]
        if not move:
            return m.group(0)
        ind = m.group("ind")
        out = []
        if keep:
            out.append(f"{ind}from {old} import {', '.join(keep)}")
        out.append(f"{ind}from {new} import {', '.join(move)}")
        return "\n".join(out)

    text = pat.sub(sub, text)
    for n in names:
        text = re.sub(re.escape(old) + r"\." + re.escape(n) + r"\b", f"{new}.{n}", text)
    return text


def main(argv: list[str]) -> None:
    old, new, names, *paths = argv
    wanted = set(names.split(","))
    for p in paths:
        f = Path(p)
        if not f.is_file():
            continue
        t = f.read_text()
        n = rewrite(t, old, new, wanted)
        if n != t:
            f.write_text(n)
            print("rewrote", f)


if __name__ == "__main__":
    main(sys.argv[1:])
