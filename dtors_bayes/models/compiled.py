"""Compile a model once per structure, then sample it on new data without recompiling.

A built PyMC model carries its data (outcomes, index arrays, covariate matrices, the
data-derived prior centres) as constants, so nutpie's numba backend compiles every fit
afresh: 5-20 s per model, about half the cost of a 400-person coverage-study fit. Here the
array constants of the model's graph are *lifted* to shared variables
(:func:`lift_constants`), which turns the graph into a function of its data. Two cohorts
whose models have the same structure (same model options, same numbers of persons,
modalities, covariate columns, sites and areas; any number of observed cells) then give the
same graph, and the second fit reuses the first one's compiled code with nutpie's
``CompiledPyMCModel.with_data`` (:func:`compiled_nutpie`). A per-process cache holds the
last :data:`CACHE_SIZE` compiled models.

What is lifted and what is not:

- every array constant (``ndim >= 1``) of the graph is data, with two exceptions that stay
  constants because they fix the shapes of the sampled parameters: the integer ``size`` of a
  free random variable, and any constant one of whose consumers is such a position. So the
  number of free parameters, which nutpie fixes at compile time, is part of the structure;
- integer shape arguments (an observed variable's ``size``, ``Reshape``/``Alloc``
  shapes) are lifted with their vector length fixed, so PyTensor can still count their
  entries; scalars are never lifted (rewrites such as ``1 - sigmoid(x)`` need them);
- a lifted array keeps the broadcastable dimensions of the constant it replaces.

The structure is compared by :func:`graph_signature`, a hash of every node's ``Op`` and of
how its inputs connect (constants by value, lifted data by name and type), so a cache hit
means an identical computation on other data. A model whose deterministics depend on lifted
data (their shapes could then change with the data, while nutpie fixes them at compile
time) is not cached. Draws are bitwise the same whether a fit found the cache or compiled
(``tests/models/test_compiled.py``); they are not the same draws as the constants-in-graph
model gives at the same seed (a different graph, the same posterior).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

#: Compiled models kept per process (each holds its numba code and a copy of its data).
CACHE_SIZE = 4
#: ``ModelVar`` ops print their transform with its address; the signature drops addresses.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: Ops whose integer inputs are shapes (lifted with a fixed vector length).
_SHAPE_OPS = frozenset({"Reshape", "Alloc", "AllocEmpty", "SpecifyShape"})


@dataclass
class Lifted:
    """A model with its array constants lifted to shared variables.

    Attributes
    ----------
    model : pymc.Model
        The lifted model (same log density as the original).
    shared : dict of str -> SharedVariable
        The lifted data, by name (``lifted_0``, ``lifted_1``, ... in graph order).
    signature : str
        :func:`graph_signature` of the lifted graph.
    cacheable : bool
        False when a deterministic depends on lifted data.
    """

    model: Any
    shared: dict[str, Any]
    signature: str
    cacheable: bool


@dataclass
class _Entry:
    compiled: Any
    lifted: Lifted
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE: OrderedDict[str, _Entry] = OrderedDict()
_STATS = {"hits": 0, "misses": 0, "uncacheable": 0}
_CACHE_LOCK = threading.Lock()


def _constant_kinds(fg) -> dict:
    """Constant -> "data" (lift), "shape" (lift, fixed vector length) or None (keep)."""
    from pymc.distributions.distribution import SymbolicRandomVariable
    from pymc.model.fgraph import ModelObservedRV
    from pytensor.graph.basic import Constant
    from pytensor.tensor.random.op import RandomVariable

    kinds: dict[Any, set] = {}
    for node in fg.toposort():
        is_rv = isinstance(node.op, RandomVariable | SymbolicRandomVariable)
        observed = is_rv and any(isinstance(getattr(c, "op", None), ModelObservedRV)
                                 for out in node.outputs for c, _ in fg.clients.get(out, []))
        for inp in node.inputs:
            if not isinstance(inp, Constant) or getattr(inp, "ndim", 0) < 1:
                continue
            integer = str(inp.dtype).startswith(("int", "uint"))
            if integer and is_rv:
                kind = "shape" if observed else None
            elif integer and type(node.op).__name__ in _SHAPE_OPS:
                kind = "shape"
            else:
                kind = "data"
            kinds.setdefault(inp, set()).add(kind)
    return {c: (None if None in k else "shape" if "shape" in k else "data")
            for c, k in kinds.items()}


def graph_signature(fg, data=frozenset()) -> str:
    """SHA-256 of a graph's structure: each node's ``Op`` and its inputs (earlier nodes'
    outputs by position, constants by value and type, the shared variables in ``data`` by
    name and type, other shared variables, e.g. PyMC's dimension lengths, also by value,
    other inputs by name and type), in topological order."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.tensor.random.type import RandomType

    h = hashlib.sha256()
    ids: dict[Any, str] = {}
    for i, node in enumerate(fg.toposort()):
        op = node.op
        parts = [_ADDRESS.sub("", str(op)), type(op).__qualname__]
        transform = getattr(op, "transform", None)
        if transform is not None:
            parts.append(f"{type(transform).__qualname__}{sorted(vars(transform).items())}")
        for inp in node.inputs:
            if inp in ids:
                parts.append(ids[inp])
            elif isinstance(inp, SharedVariable) and inp in data:
                parts.append(f"data:{inp.name}:{inp.type}")
            elif isinstance(inp.type, RandomType):  # generators: no part of the density
                parts.append(f"rng:{inp.type}")
            elif isinstance(inp, SharedVariable | Constant):
                value = np.ascontiguousarray(inp.get_value() if isinstance(inp, SharedVariable)
                                             else inp.data)
                parts.append(f"value:{inp.name}:{inp.type}:{value.dtype}{value.shape}:"
                             f"{hashlib.sha256(value.tobytes()).hexdigest()}")
            else:
                parts.append(f"input:{inp.name}:{inp.type}")
        for k, out in enumerate(node.outputs):
            ids[out] = f"n{i}.{k}:{out.type}"
        h.update(_ADDRESS.sub("", "|".join(parts)).encode())
    return h.hexdigest()


def lift_constants(model) -> Lifted:
    """The model with its array constants lifted to shared variables (see the module
    docstring for what is lifted), its :func:`graph_signature` and whether it may be cached.
    """
    import pytensor
    from pymc.model.fgraph import (
        ModelDeterministic,
        ModelFreeRV,
        fgraph_from_model,
        model_from_fgraph,
    )
    from pytensor.graph import FunctionGraph, clone_replace
    from pytensor.graph.basic import ancestors

    fg, _ = fgraph_from_model(model)
    replace_map = {}
    for const, kind in _constant_kinds(fg).items():
        if kind is None:
            continue
        value = np.asarray(const.data)
        shape = value.shape if kind == "shape" else \
            tuple(1 if b else None for b in const.type.broadcastable)
        replace_map[const] = pytensor.shared(value, name=f"lifted_{len(replace_map)}",
                                             shape=shape)
    outs = clone_replace(fg.outputs, replace=replace_map, rebuild_strict=False)
    new = FunctionGraph(outputs=outs, clone=False)
    new._coords, new._dim_lengths = fg._coords, fg._dim_lengths  # type: ignore[attr-defined]
    # value variables with the (possibly less static) types of their rebuilt variables, as
    # pymc.model.transform.optimization.freeze_dims_and_data does
    values = {}
    for node in new.apply_nodes:
        if isinstance(node.op, ModelFreeRV):
            rv, old, *_ = node.inputs
            t = node.op.transform
            v = rv.type() if t is None else t.forward(rv, *rv.owner.inputs).type()
            v.name = old.name
            values[old] = v
    new.replace_all(tuple(values.items()), import_missing=True)
    lifted = set(replace_map.values())
    # a deterministic's own graph, from the sampled variables on (not through their priors)
    dets = [n.outputs[0] for n in new.apply_nodes if isinstance(n.op, ModelDeterministic)]
    free = [n.outputs[0] for n in new.apply_nodes if isinstance(n.op, ModelFreeRV)]
    cacheable = not any(v in lifted for v in ancestors(dets, blockers=free))
    signature = graph_signature(new, lifted)
    shared = {v.name: v for v in replace_map.values()}
    return Lifted(model_from_fgraph(new, mutate_fgraph=True), shared, signature, cacheable)


@contextmanager
def compiled_nutpie(model) -> Iterator[Any]:
    """nutpie's compiled (numba) model for ``model``, holding this model's data and
    coordinates: from the cache when a model of the same structure was compiled in this
    process, else compiled (and cached). Sample inside the ``with`` block: the cached
    model's initial-point function reads the shared data, which the block holds set to
    ``model``'s (one fit at a time per cached model across threads)."""
    import nutpie
    from nutpie.compile_pymc import _prepare_dims_and_coords

    lifted = lift_constants(model)
    if not lifted.cacheable:
        with _CACHE_LOCK:
            _STATS["uncacheable"] += 1
        yield nutpie.compile_pymc_model(lifted.model, backend="numba")
        return
    with _CACHE_LOCK:
        entry = _CACHE.get(lifted.signature)
        if entry is not None:
            _CACHE.move_to_end(lifted.signature)
            _STATS["hits"] += 1
    if entry is None:
        entry = _Entry(nutpie.compile_pymc_model(lifted.model, backend="numba"), lifted)
        with _CACHE_LOCK:
            _STATS["misses"] += 1
            _CACHE[lifted.signature] = entry
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
        with entry.lock:
            yield entry.compiled
        return
    with entry.lock:
        values = {name: v.get_value() for name, v in lifted.shared.items()}
        for name, value in values.items():  # the initial-point function reads these
            entry.lifted.shared[name].set_value(value)
        known = {v.name for v in entry.compiled.shared_var_keys}
        compiled = entry.compiled.with_data(**{k: v for k, v in values.items() if k in known})
        _, coords = _prepare_dims_and_coords(lifted.model, compiled.shape_info,
                                             compiled.reparameterized_names)
        yield replace(compiled, _coords=coords)


def cache_info() -> dict[str, int]:
    """Hits, misses and uncacheable models since the last :func:`clear_cache`, and the
    number of compiled models held."""
    with _CACHE_LOCK:
        return {**_STATS, "size": len(_CACHE)}


def clear_cache() -> None:
    """Drop every compiled model and reset the counts."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _STATS.update(dict.fromkeys(_STATS, 0))
