"""Seeds, hashes and names of study tasks: what makes a study reproducible and resumable.

Seeds come from :class:`numpy.random.SeedSequence` keyed by ``(seed, scenario, replicate)``
(:func:`replicate_seeds`): the same replicate gets the same cohort and sampler seed whatever the
number of workers, the order tasks finish in, or which methods are run. Cache files are named
by :func:`settings_hash` of the settings that produce them; classes and functions enter that
hash by :func:`key_name`, which spells this room's modules as they were before the package
moved into rooms (:data:`KEY_MODULES`), so moving a definition does not invalidate a cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

__all__ = ["KEY_MODULES", "json_default", "key_name", "name_key", "replicate_seeds",
           "settings_hash"]

#: Module paths as cache keys spell them: this room's modules by the flat module they were
#: split from (``dtors_bayes.studies``, ``dtors_bayes.sbc``), which the caches of running
#: studies are keyed on. Any other module is spelled as it is.
KEY_MODULES = {
    **dict.fromkeys([f"dtors_bayes.studies.{m}" for m in
                     ("seeds", "design", "execute", "coverage", "files")],
                    "dtors_bayes.studies"),
    **dict.fromkeys([f"dtors_bayes.studies.{m}" for m in ("sbc", "sbc_ranks", "sbc_design")],
                    "dtors_bayes.sbc"),
}


# ---------------------------------------------------------------------------- seeds, hashes
def name_key(name: str) -> int:
    """A stable 32-bit integer for a name (``hash()`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def replicate_seeds(seed: int, scenario: str, replicate: int) -> tuple[int, int]:
    """Simulation and sampler seeds of one replicate.

    Derived with :class:`numpy.random.SeedSequence` from ``(seed, scenario, replicate)``
    only, so they do not depend on the number of workers, the task order or the methods.

    Parameters
    ----------
    seed : int
        Study seed.
    scenario : str
        Scenario name.
    replicate : int
        Replicate index (0-based).

    Returns
    -------
    (int, int)
        ``(sim_seed, fit_seed)``, each in ``[0, 2**32)``.
    """
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=(name_key(scenario),
                                                              int(replicate)))
    sim_seed, fit_seed = ss.generate_state(2, dtype=np.uint32)
    return int(sim_seed), int(fit_seed)


def settings_hash(obj: Any) -> str:
    """Hex SHA-256 (16 characters) of a JSON-able object, keys sorted."""
    text = json.dumps(obj, sort_keys=True, default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def json_default(o: Any) -> Any:
    """``default=`` of :func:`settings_hash`: its output is part of every cache key.

    Not :func:`dtors_bayes._format.json_default` (which writes files): callables are spelled by
    :func:`key_name`, objects with ``to_dict`` by it, arrays and sets by ``list``, the rest by
    ``repr``. Changing any of this renames every cached task, so it stays as it is.
    """
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, (np.ndarray, tuple, set)):
        return list(o)
    if callable(o):
        return key_name(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return repr(o)


def key_name(obj: Any) -> str:
    """``module.qualname`` of a class or function as cache keys spell it (:data:`KEY_MODULES`)."""
    module = getattr(obj, "__module__", "?")
    return f"{KEY_MODULES.get(module, module)}.{getattr(obj, '__qualname__', repr(obj))}"

