"""Golden outputs for a refactor: fit every bundled spec at fixed seeds, save the fits and
their estimate tables, and later check that the same tables come back.

Only the public surface is used (the ``dtors-bayes`` CLI, ``import dtors_bayes as db``,
``db.load_fit``, ``fit.estimate``, ``fit.sensitivity``, ``fit.impute``,
``db.complete_case_estimates``), so the script itself survives a move of the modules.

Usage::

    python scripts/golden.py capture /work/golden        # before: fits + tables
    python scripts/golden.py check /work/golden          # after: tables from the saved fits
    python scripts/golden.py check /work/golden --refit  # after: refit at the same seeds too

``check`` compares every table to its golden copy: numeric columns with ``rtol=1e-9`` (the
saved posterior is the same, so only floating-point reordering may differ), text columns
exactly, and prints one line per table. ``--refit`` fits again at the same seeds; nutpie is
deterministic given the seed and the model graph, so equal tables mean the model graph did
not change either.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "models").glob("*.toml")) or sorted(
    (ROOT / "dtors_bayes" / "workflow" / "specs").glob("*.toml"))
SAMPLER = ["--draws", "100", "--tune", "150", "--chains", "2", "--no-progress"]


def fit_all(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).parent / "dtors-bayes"
    for spec in SPECS:
        out = folder / f"{spec.stem}.nc"
        subprocess.run([str(exe), "fit", str(spec), "--data", str(ROOT / "data"),
                        "--out", str(out), *SAMPLER], check=True)


def tables(fit_path: Path) -> dict[str, pd.DataFrame]:
    import dtors_bayes as db

    cohort = db.load_example()
    fit = db.load_fit(fit_path, cohort)
    out = {"none": fit.estimate(),
           "fixed": fit.estimate("fixed", cohort=cohort),
           "propagated": fit.estimate("propagated", cohort=cohort, seed=3)}
    try:
        out["mrp"] = fit.estimate("mrp", cohort=cohort)
    except Exception as e:  # noqa: BLE001 - a refused mode is part of the golden record
        out["mrp"] = pd.DataFrame({"error": [type(e).__name__ + ": " + str(e).splitlines()[0]]})
    if fit.model.attrition_label == "mar":
        out["sensitivity"] = fit.sensitivity([-1.0, 0.0, 1.0]).table
        imp = fit.impute(3)
        out["impute"] = imp
    out["complete_case"] = db.complete_case_estimates(cohort, fit.outcome, n_draws=200, seed=5)
    return out


def capture(folder: Path) -> None:
    fit_all(folder / "fits")
    est = folder / "estimates"
    est.mkdir(parents=True, exist_ok=True)
    for f in sorted((folder / "fits").glob("*.nc")):
        for name, t in tables(f).items():
            t.to_parquet(est / f"{f.stem}__{name}.parquet")
    import dtors_bayes as db

    (folder / "data_hash.txt").write_text(db.load_example().data_hash() + "\n")
    print(f"captured {len(list(est.glob('*.parquet')))} tables in {est}")


def compare(a: pd.DataFrame, b: pd.DataFrame) -> str:
    if list(a.columns) != list(b.columns):
        return f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"
    if len(a) != len(b):
        return f"rows {len(a)} != {len(b)}"
    worst = 0.0
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.to_numpy(float), y.to_numpy(float)
            if not np.array_equal(np.isnan(xv), np.isnan(yv)):
                return f"column {c}: missing values differ"
            ok = ~np.isnan(xv)
            if ok.any():
                d = np.max(np.abs(xv[ok] - yv[ok]) / np.maximum(1e-12, np.abs(yv[ok])))
                worst = max(worst, float(d))
        elif not (x.astype(str).fillna("") == y.astype(str).fillna("")).all():
            bad = np.flatnonzero((x.astype(str) != y.astype(str)).to_numpy())
            return f"column {c}: {len(bad)} text cells differ, e.g. {x.iloc[bad[0]]!r} != " \
                   f"{y.iloc[bad[0]]!r}"
    return "ok" if worst <= 1e-9 else f"max relative difference {worst:.2e}"


def check(folder: Path, refit: bool) -> int:
    import dtors_bayes as db

    bad = 0
    h = db.load_example().data_hash()
    want = (folder / "data_hash.txt").read_text().strip()
    print(f"data hash {'ok' if h == want else f'{h} != {want}'}")
    bad += h != want
    fits = folder / "fits"
    if refit:
        fits = folder / "refits"
        fit_all(fits)
    for f in sorted(fits.glob("*.nc")):
        for name, t in tables(f).items():
            g = pd.read_parquet(folder / "estimates" / f"{f.stem}__{name}.parquet")
            verdict = compare(t.reset_index(drop=True), g.reset_index(drop=True))
            keys = [c for c in ("estimand", "wave", "modality", "contrast", "delta", "group")
                    if c in t.columns and c in g.columns]
            if verdict != "ok" and keys:
                again = compare(t.sort_values(keys).reset_index(drop=True),
                                g.sort_values(keys).reset_index(drop=True))
                verdict = "ok (same rows, new order)" if again == "ok" else \
                    f"{again} (rows compared in key order)"
            bad += not verdict.startswith("ok")
            print(f"{f.stem:32s} {name:14s} {verdict}")
    print("all tables match" if not bad else f"{bad} table(s) differ")
    return int(bad > 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["capture", "check"])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--refit", action="store_true")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    if a.mode == "capture":
        capture(a.folder)
        return 0
    return check(a.folder, a.refit)


if __name__ == "__main__":
    raise SystemExit(main())
