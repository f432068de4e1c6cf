#!/usr/bin/env bash
# Create a virtual environment with the Python named by .python-version (>= 3.12).
# Looks for, in order: pyenv's interpreter for that version, python<ver> on PATH, python3 on PATH.
set -euo pipefail
venv="$1"; want="$2"
candidates=()
if command -v pyenv >/dev/null 2>&1; then
  p="$(pyenv root)/versions"
  for d in "$p/$want" "$p/$want".*; do [ -x "$d/bin/python" ] && candidates+=("$d/bin/python"); done
fi
for c in "python$want" python3 python; do command -v "$c" >/dev/null 2>&1 && candidates+=("$(command -v "$c")"); done
for py in "${candidates[@]}"; do
  if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "using $py ($("$py" --version 2>&1)) for $venv"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    exit 0
  fi
done
echo "error: no Python >= 3.12 found (wanted $want from .python-version)." >&2
echo "Install one, e.g. 'pyenv install $want' (then re-run make), or your OS package python$want," >&2
echo "or put a python3 >= 3.12 first on PATH." >&2
exit 1
