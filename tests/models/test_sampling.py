"""The sampler's core default: one chain per CPU the process may use (no sampling here)."""

from __future__ import annotations

import os

import pytest

from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import available_cores, default_cores


def test_available_cores_follows_the_affinity_mask(monkeypatch):
    # PyMC's guess (cpu_count // 2) gave 1 core on a 2-CPU machine; ours is the affinity mask,
    # so a process pinned to 3 of 8 CPUs gets 3, not 4 (half of 8) or 8.
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    assert available_cores() == 3
    monkeypatch.delattr(os, "sched_getaffinity")  # not on Linux: every CPU
    assert available_cores() == 8


def test_default_cores_one_per_chain_up_to_the_cpus():
    n = available_cores()
    assert default_cores(None, chains=1) == 1
    assert default_cores(None, chains=4) == min(4, n)
    assert default_cores(None, chains=64) == n
    assert default_cores(3, chains=4) == 3  # an explicit choice is kept


def test_default_cores_refuses_nonpositive():
    with pytest.raises(FitError, match="cores=0"):
        default_cores(0, chains=4)
