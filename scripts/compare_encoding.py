"""Old encoders against the one encoder (models/encoding.py), on the example cohort.

The three encoders before it (``design._covariate_matrix``, ``weighting.response_design``,
``mrp.cell_design``) are read from a git revision (``--rev``, default the commit before the
encoder) into a temporary folder and run beside the package's current code on
``dtors_bayes.load_example()``: the design of every bundled spec (and a few covariate
requests with ``age_group``, formulas and interactions), the response design (default
columns, and with missing values, a boolean and a constant column), and the population cells
of every bundled spec. Prints one line per case; exits 1 if any differs. ``FIX`` marks a case
the old code refused and the encoder encodes (MRP with ``center()``/``scale()``).

Usage::

    python scripts/compare_encoding.py [--rev 6a74e1c]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def old_modules(rev: str, folder: Path) -> tuple[types.ModuleType, ...]:
    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True,
                              capture_output=True, text=True).stdout

    (folder / "old_design.py").write_text(show("dtors_bayes/models/design.py"))
    (folder / "old_response.py").write_text(show("dtors_bayes/weighting/response.py"))
    (folder / "old_mrp.py").write_text(show("dtors_bayes/weighting/mrp.py").replace(
        "from dtors_bayes.models.design import", "from old_design import"))
    sys.path.insert(0, str(folder))
    import old_design
    import old_mrp
    import old_response

    return old_design, old_response, old_mrp


def report(label: str, names_old, names_new, X_old, X_new, tol: float) -> bool:
    same_names = list(names_old) == list(names_new)
    same_shape = np.shape(X_old) == np.shape(X_new)
    diff = float(np.max(np.abs(X_old - X_new), initial=0.0)) if same_shape else np.inf
    ok = same_names and same_shape and diff <= tol
    print(f"{'ok  ' if ok else 'DIFF'} {label:<64} cols={np.shape(X_new)[1]:>3} "
          f"names={'same' if same_names else 'DIFFER'} max|diff|={diff:.3g}")
    if not same_names:
        print("     old:", list(names_old), "\n     new:", list(names_new))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", default="6a74e1c")
    args = ap.parse_args()
    import dtors_bayes as db
    from dtors_bayes.models.design import build_design
    from dtors_bayes.weighting import mrp, response
    from dtors_bayes.workflow.spec import load_spec

    tmp = Path(tempfile.mkdtemp())
    old_design, old_response, old_mrp = old_modules(args.rev, tmp)
    cohort = db.load_example()
    ok = True
    specs = sorted((ROOT / "dtors_bayes" / "workflow" / "specs").glob("*.toml"))
    models = [(s.stem, load_spec(s).model()) for s in specs]
    extra = [["age_group", "sex"], ["age", "age_group", "sex", "modality"],
             "age_group + sex", "age + sex + primary_drug",
             "C(sex) + scale(age) + center(age):sex + referral_route*primary_drug",
             "age * sex + primary_drug", "0 + primary_drug + sex", "standardize(age) + sex"]
    from dtors_bayes.models.change_model import ChangeModel

    models += [(f"extra {c!r}", ChangeModel("acquisitive_crime", "bernoulli", covariates=c))
               for c in extra]
    print("-- change-model design (tolerance 1e-12)")
    designs = {}
    for label, m in models:
        kw = {"outcome": m.outcome, "family": m.family, "covariates": m.covariates,
              "baseline": m.baseline, "levels": m.levels, "trials": m.trials}
        d_old = old_design.build_design(cohort, **kw)
        d_new = build_design(cohort, **kw)
        designs[label] = (m, d_new)
        ok &= report(f"{label} X", d_old.covariate_names, d_new.covariate_names, d_old.X,
                     d_new.X, 1e-12)
        ok &= bool(np.array_equal(d_old.person_ids, d_new.person_ids))
    print("-- population cells (cell_design; tolerance 1e-12)")
    cells = cohort.population[cohort.population["count"] > 0].reset_index(drop=True)
    for label, (m, d) in designs.items():
        if label.startswith("extra") and "0 +" in label:
            continue  # no-intercept formula: not a model MRP is for
        fake = types.SimpleNamespace(model=m, design=d)
        idx = pd.Index(cohort.persons["person_id"]).get_indexer(pd.Index(d.person_ids))
        persons = cohort.persons.iloc[idx].reset_index(drop=True)
        try:
            X_old = old_mrp.cell_design(fake, cells, persons)
        except Exception as err:  # noqa: BLE001
            X_old = err
        for stored in (True, False):  # the kept encoding, and a fit saved before it
            f = types.SimpleNamespace(model=m, design=d if stored else types.SimpleNamespace(
                **{**d.__dict__, "encoding": None}))
            try:
                X_new = mrp.cell_design(f, cells, persons)
            except Exception as err:  # noqa: BLE001
                X_new = err
            tag = f"{label} cells ({'kept encoding' if stored else 'refitted'})"
            if isinstance(X_old, Exception) and not isinstance(X_new, Exception):
                # center()/scale() were recomputed on persons + cells stacked, so the persons
                # no longer reproduced X; the encoder keeps the persons' mean and sd.
                print(f"FIX  {tag:<64} old raised {type(X_old).__name__}; new encodes")
            elif isinstance(X_old, Exception) or isinstance(X_new, Exception):
                same = type(X_old) is type(X_new) and str(X_old) == str(X_new)
                print(f"{'ok  ' if same else 'DIFF'} {tag:<64} both raise: {X_old!r}"
                      if same else f"DIFF {tag}: old {X_old!r} new {X_new!r}")
                ok &= same
            else:
                ok &= report(tag, d.covariate_names, d.covariate_names, X_old, X_new, 1e-12)
    print("-- response design (tolerance 1e-8)")
    p = cohort.persons
    rng = np.random.default_rng(0)
    holes = p.copy()
    holes["age"] = holes["age"].mask(rng.random(len(p)) < 0.1)
    holes["sex"] = holes["sex"].mask(rng.random(len(p)) < 0.05)
    holes["flag"] = rng.random(len(p)) < 0.3
    holes["constant"] = 3.0
    holes["score"] = rng.integers(0, 2, len(p)).astype(float)
    for label, frame, cols in [("default columns", p, None),
                               ("modality only", p, ["modality"]),
                               ("with missing/bool/constant", holes, None),
                               ("no columns", p, [])]:
        X_old, n_old = old_response.response_design(frame, cols)
        X_new, n_new = response.response_design(frame, cols)
        ok &= report(f"response: {label}", n_old, n_new, X_old, X_new, 1e-8)
    print("all identical" if ok else "DIFFERENCES")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
