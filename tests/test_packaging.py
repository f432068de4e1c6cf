"""The package works when installed: data and specs are package data, read by resources."""

from __future__ import annotations

import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_example_files_and_specs_are_package_resources():
    from dtors_bayes.simulation.bundle import FILES
    from dtors_bayes.workflow.cli import DEMO_SPECS

    example = files("dtors_bayes.simulation") / "example"
    for name in FILES:
        assert (example / name).is_file(), f"example/{name} is not package data"
    specs = files("dtors_bayes.workflow") / "specs"
    for name in DEMO_SPECS:
        assert (specs / f"{name}.toml").is_file(), f"specs/{name}.toml is not package data"
    # the root paths the README uses are links into the package, not copies that could drift
    assert (ROOT / "data").resolve() == Path(str(example)).resolve()
    assert (ROOT / "models").resolve() == Path(str(specs)).resolve()


@pytest.mark.integration
def test_wheel_installed_outside_the_repository_runs_the_demo():
    """scripts/check_wheel.sh: build, install with --target, load_example hash, demo."""
    res = subprocess.run(["bash", str(ROOT / "scripts" / "check_wheel.sh"), sys.executable],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "index.html ok" in res.stdout
