"""One-off rewrite of module paths for the [architecture] move (flat modules -> rooms).

Rewrites ``dtors_bayes.OLD`` dotted paths (imports, strings, docs) and
``from dtors_bayes import OLD [as X]`` statements. Run once: the new paths of the modules
whose old name is now a room (``attrition``, ``estimands``, ``weighting``, ``studies``)
would match again.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAP = {
    "families": "models.families", "time_basis": "models.time_basis", "priors": "models.priors",
    "design": "models.design", "change_model": "models.change_model",
    "diagnostics": "models.diagnostics", "fit": "models.fit", "attrition": "models.selection",
    "cohort": "data.cohort", "validation": "data.validation", "cohort_summary": "data.summary",
    "population": "simulation.population", "truth": "simulation.truth",
    "simulate": "simulation.generate", "datasets": "simulation.bundle",
    "estimands": "estimands.engine", "sensitivity": "attrition.sensitivity",
    "raking": "weighting.raking", "weighting": "weighting.weights", "mrp": "weighting.mrp",
    "compare": "comparison.compare", "plots": "reporting.figures", "report": "reporting.report",
    "studies": "studies.coverage", "sbc": "studies.sbc", "spec": "workflow.spec",
    "cli": "workflow.cli",
}
DOTTED = re.compile(r"\bdtors_bayes\.(" + "|".join(MAP) + r")\b(?!\.(?:engine|weights|coverage|"
                    r"selection)\b)")
FROM = re.compile(r"^(\s*)from dtors_bayes import ([\w, ]+?)\s*$", re.M)


def _from(m: re.Match) -> str:
    indent, names = m.group(1), [n.strip() for n in m.group(2).split(",")]
    out = []
    for n in names:
        base, _, alias = n.partition(" as ")
        base = base.strip()
        if base in MAP:
            pkg, _, mod = MAP[base].rpartition(".")
            out.append(f"{indent}from dtors_bayes.{pkg} import {mod} as {alias.strip() or base}")
        else:
            out.append(f"{indent}from dtors_bayes import {n}")
    return "\n".join(out)


def rewrite(text: str) -> str:
    text = FROM.sub(_from, text)
    return DOTTED.sub(lambda m: "dtors_bayes." + MAP[m.group(1)], text)


def main(paths: list[str]) -> None:
    for p in paths:
        f = Path(p)
        old = f.read_text()
        new = rewrite(old)
        if new != old:
            f.write_text(new)
            print("rewrote", f)


if __name__ == "__main__":
    main(sys.argv[1:])
