"""The house rules of the package layout, checked on the source (no imports executed).

Rooms (subpackages) sit in layers; a module may import its own room or a lower layer's, never
a sibling's or a higher one's, and modules inside a room form no cycle. Every import counts:
top-level, function-local and ``TYPE_CHECKING`` ones. Only ``models`` imports pymc/pytensor.
ARCHITECTURE.md draws the same table.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dtors_bayes"

#: Layer of each room; core modules are layer 0, the package's top (``__init__``,
#: ``__main__``, ``testing``) may import anything and nothing in the package imports it.
LAYERS = {
    "core": 0,
    "models": 1,
    "data": 2,
    "estimands": 3, "simulation": 3,
    "attrition": 4, "weighting": 4, "comparison": 4, "reporting": 4, "causal": 4,
    "studies": 5, "economics": 5,
    "workflow": 6,
    "top": 7,
}
TOP = {"__init__", "__main__", "testing"}
#: Third-party packages only one room may import.
CONFINED = {"pymc": "models", "pytensor": "models", "nutpie": "models"}


def room_of(module: str) -> str:
    """Room of a dotted module name inside the package (``dtors_bayes.models.fit`` -> models)."""
    parts = module.split(".")[1:]
    if not parts:
        return "top"
    if len(parts) == 1:
        return "top" if parts[0] in TOP else ("core" if parts[0] not in LAYERS else parts[0])
    return parts[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, sub.end_lineno + 1))
    return lines


def imports_of(path: Path, *, typing_only: bool = True) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement in a file, nested ones included.

    ``typing_only=False`` leaves out the imports under ``if TYPE_CHECKING:`` (they never run,
    so they cannot close a cycle; they still count for the direction of imports).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if typing_only else _type_checking_lines(tree)
    me = module_name(path)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            # ``from dtors_bayes.room import module`` names a module: count it as such
            mods = [f"{base}.{a.name}" for a in node.names
                    if (PACKAGE.parent / Path(*f"{base}.{a.name}".split("."))).with_suffix(
                        ".py").exists()]
            if len(mods) < len(node.names):
                out.append((node.lineno, base))
            out += [(node.lineno, m) for m in mods]
    return out


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def violations(modules: dict[str, Path] | None = None) -> list[str]:
    """Every upward or sideways import, every pymc import outside models."""
    modules = modules or package_modules()
    bad = []
    for me, path in sorted(modules.items()):
        mine = room_of(me)
        for line, target in imports_of(path):
            top = target.split(".")[0]
            if top in CONFINED and mine not in (CONFINED[top], "top"):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {top} "
                           f"outside {CONFINED[top]}/")
            if top != "dtors_bayes" or mine == "top":
                continue
            theirs = room_of(target)
            if theirs == mine or target == "dtors_bayes":
                if target == "dtors_bayes":
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports the package "
                               "top (dtors_bayes); import the defining module")
                continue
            if LAYERS[theirs] >= LAYERS[mine]:
                kind = "sideways" if LAYERS[theirs] == LAYERS[mine] else "upward"
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {kind} import "
                           f"{mine} -> {theirs} ({target})")
    return bad


def cycles(modules: dict[str, Path] | None = None) -> list[list[str]]:
    """Strongly connected components (size > 1) of the module import graph (Tarjan)."""
    modules = modules or package_modules()
    graph = defaultdict(set)
    for me, path in modules.items():
        for _, target in imports_of(path, typing_only=False):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != me and target.startswith("dtors_bayes."):
                graph[me].add(target)
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    return comps


def test_every_room_has_a_layer():
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert rooms <= set(LAYERS), f"rooms without a layer: {sorted(rooms - set(LAYERS))}"


def test_imports_run_one_way():
    bad = violations()
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_catch_a_planted_upward_import_and_cycle(tmp_path):
    """The guards are not vacuous: a copy of two modules with an added import fails them."""
    mods = package_modules()
    fit = mods["dtors_bayes.models.fit"]
    planted = tmp_path / "dtors_bayes" / "models" / "fit.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(fit.read_text() + "\nfrom dtors_bayes.workflow.spec import load_spec\n")
    spec = tmp_path / "dtors_bayes" / "workflow" / "spec.py"
    spec.parent.mkdir(parents=True)
    spec.write_text("from dtors_bayes.models.fit import Fit\n")
    global PACKAGE
    real = PACKAGE
    try:
        PACKAGE = tmp_path / "dtors_bayes"
        fake = {"dtors_bayes.models.fit": planted, "dtors_bayes.workflow.spec": spec}
        assert any("upward import models -> workflow" in b for b in violations(fake))
        assert ["dtors_bayes.models.fit", "dtors_bayes.workflow.spec"] in cycles(fake)
    finally:
        PACKAGE = real


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(
    p.relative_to(PACKAGE)))
def test_modules_stay_readable(path):
    """No module over 600 lines: a longer one holds more than one concept."""
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= 600, f"{path.relative_to(PACKAGE.parent)} has {n} lines; split it by concept"
