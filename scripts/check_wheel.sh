#!/usr/bin/env bash
# Build the wheel, install it outside the repository, and check that what a user of
# `pip install dtors-bayes` gets works: the bundled data and specs are inside the wheel,
# `load_example()` has the recorded data hash, and `dtors-bayes demo` writes its report.
# Usage: scripts/check_wheel.sh [PYTHON]   (default .venv/bin/python; run from the repo root)
# The third-party dependencies come from PYTHON's environment; dtors_bayes itself comes only
# from the wheel (installed with --target and put first on PYTHONPATH, asserted below).
set -euo pipefail
PY=${1:-.venv/bin/python}
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")
HASH=47d5843c4e52442ffb39fd01d4a965ce92ff5ff54248d385870bc321e918ea4c
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$PY" -m pip wheel . --no-deps --quiet -w "$T/whl"
WHL=$(ls "$T"/whl/*.whl)
echo "built $(basename "$WHL")"
# list once into a file: `unzip -l | grep -q` under pipefail fails when grep exits first
unzip -l "$WHL" > "$T/listing.txt"
for f in simulation/example/persons.csv simulation/example/interviews.csv \
         simulation/example/population.csv simulation/example/cohort.json \
         simulation/example/truth.json workflow/specs/acquisitive_crime_mar.toml \
         workflow/specs/drug_spend_hurdle.toml; do
  grep -q "dtors_bayes/$f" "$T/listing.txt" || { echo "missing from the wheel: $f"; exit 1; }
done
echo "wheel holds the example data and the bundled specs"
"$PY" -m pip install --quiet --no-deps --target "$T/site" "$WHL"
cd "$T"
export PYTHONPATH="$T/site"
"$PY" - <<PYEOF
import dtors_bayes as db
assert db.__file__.startswith("$T/site"), db.__file__
h = db.load_example().data_hash()
assert h == "$HASH", h
print("installed package:", db.__file__)
print("load_example() data hash ok:", h[:16])
PYEOF
"$PY" -m dtors_bayes demo --out "$T/report" --draws 50 --tune 50 --chains 2 \
  --specs acquisitive_crime_mar --core-only --no-progress > "$T/demo.log" 2>&1 \
  || { tail -20 "$T/demo.log"; exit 1; }
test -s "$T/report/index.html"
echo "dtors-bayes demo from the installed wheel wrote $(ls "$T/report" | wc -l) files, index.html ok"
