"""Move top-level definitions (functions, classes, assignments) from one module to another.

Usage: ``python scripts/move_defs.py SRC.py DST.py name1,name2 [--doc "DST docstring"]``.
The definitions (with their decorators and the comment lines just above them) are cut from
SRC and appended to DST; DST gets a copy of SRC's import block (created with the docstring
when new), so ``ruff check --fix`` afterwards removes the imports DST does not use. SRC's
own uses of the moved names are not rewritten: import them back or run move_names.py.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def _span(src_lines: list[str], node: ast.stmt) -> tuple[int, int]:
    start = (node.decorator_list[0].lineno if getattr(node, "decorator_list", None)
             else node.lineno) - 1
    while start > 0 and src_lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return start, node.end_lineno


def _names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("names")
    ap.add_argument("--doc", default=None)
    a = ap.parse_args()
    wanted = set(a.names.split(","))
    text = a.src.read_text()
    lines = text.split("\n")
    tree = ast.parse(text)
    spans, found = [], set()
    imports_end = 0
    for node in tree.body:
        is_tc = isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        if isinstance(node, ast.Import | ast.ImportFrom) or is_tc:
            imports_end = node.end_lineno
        n = _names(node)
        if n & wanted:
            spans.append(_span(lines, node))
            found |= n & wanted
    missing = wanted - found
    if missing:
        raise SystemExit(f"not found in {a.src}: {sorted(missing)}")
    first_import = next(i for i, node in enumerate(tree.body)
                        if isinstance(node, ast.Import | ast.ImportFrom))
    import_block = "\n".join(lines[tree.body[first_import].lineno - 1: imports_end])
    moved = ["\n".join(lines[s:e]) for s, e in spans]
    for s, e in sorted(spans, reverse=True):
        del lines[s:e]
    a.src.write_text("\n".join(lines))
    if a.dst.exists():
        body = a.dst.read_text().rstrip("\n")
        dtree = ast.parse(body)
        last_imp = max((n.end_lineno for n in dtree.body
                        if isinstance(n, ast.Import | ast.ImportFrom)), default=None)
        dl = body.split("\n")
        if last_imp is None:
            doc_end = dtree.body[0].end_lineno if dtree.body and isinstance(
                dtree.body[0], ast.Expr) else 0
            dl[doc_end:doc_end] = ["", import_block]
        else:
            dl[last_imp:last_imp] = [import_block]
        out = "\n".join(dl) + "\n\n\n" + "\n\n\n".join(moved) + "\n"
    else:
        doc = a.doc or f"Moved from {a.src.name}."
        out = (f'"""{doc}"""\n\n{import_block}\n\n\n'
               + "\n\n\n".join(moved) + "\n")
    a.dst.write_text(out)
    print(f"moved {sorted(found)} from {a.src} to {a.dst}")


if __name__ == "__main__":
    main()
