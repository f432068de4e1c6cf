#!/usr/bin/env bash
# Render a report headless at 1280 px wide and save a screenshot of its first screen.
# Usage: scripts/screenshot_report.sh [REPORT_DIR] [OUT_PNG] [HEIGHT]
#   REPORT_DIR  a folder holding index.html (default: report, what `make demo` writes);
#               when it has no index.html, a report is built from the hand-made posterior
#               of dtors_bayes.testing (no sampling) into a temporary folder.
#   OUT_PNG     default docs/report_first_screen.png;  HEIGHT default 900 (px).
# Needs Chromium (Debian: apt-get install -y chromium). Run from the repository root.
# The report used for docs/report_first_screen.png:
#   .venv/bin/python -m dtors_bayes demo --out /tmp/demo_rep --draws 200 --tune 200 \
#       --chains 2 --specs acquisitive_crime_mar employed mental_health --no-progress
#   scripts/screenshot_report.sh /tmp/demo_rep docs/report_first_screen.png
set -euo pipefail
REPORT=${1:-report}
OUT=${2:-docs/report_first_screen.png}
HEIGHT=${3:-900}
PY=${PYTHON:-.venv/bin/python}
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$BROWSER" ]; then
  echo "no chromium found: apt-get install -y chromium" >&2
  exit 1
fi
if [ ! -f "$REPORT/index.html" ]; then
  REPORT=$(mktemp -d)
  echo "no $1/index.html: building a report from the hand-made posterior in $REPORT" >&2
  "$PY" scripts/example_report.py "$REPORT" > /dev/null
fi
mkdir -p "$(dirname "$OUT")"
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=1280,"$HEIGHT" --screenshot="$(realpath -m "$OUT")" \
  "file://$(realpath "$REPORT/index.html")" 2> /dev/null
echo "screenshot of $REPORT/index.html at 1280x$HEIGHT written to $OUT"
