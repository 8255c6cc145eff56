"""nutpie's rewritten log-density and expansion graphs, kept on disk so that a new process skips the rewrites.

Before numba compiles (or loads from its cache) a model's log density with gradient and the
expansion of a draw into the trace, PyTensor rewrites both graphs, in every process and for
every structure, even when numba then finds the machine code in its disk cache. Rewriting and
linking took 1.7-3.0 s for the power, broken and sigmoid laws on the 2-core machine; loading
and linking 0.5-0.9 s, plus 0.1-0.6 s for the key. This module stores the rewritten graphs
under PyTensor's ``base_compiledir`` (next to numba's cache) and rebuilds the two PyTensor
functions from them without rewriting, as ``Function.copy`` does. The rebuilt graph is the
rewritten one, node for node, so numba generates the same source, finds the same cache entry
and computes the same bits.

The key is a SHA-256 of the model's graphs *before* rewriting (log density and the traced
variables: every node's op by its type and PyTensor's ``__props__``, every constant by its
bytes, each ``pm.Data`` container by its name and type), the shapes of the traced variables,
the settings that steer the rewrites, and the versions of PyTensor, PyMC, nutpie and numba: a
change to a law's formula, a prior family, a dimension's size or a library gives another key.
An op that PyTensor compares by identity cannot be keyed; its model is rewritten as before.

Stored graphs refer to data containers by name; a loaded graph uses the containers of the
model being compiled, so no data is stored. Entries are written to a temporary file and
renamed into place, so concurrent processes never read a partial one; an entry that cannot be
read is ignored (the graphs are rewritten, and the entry replaced). Like numba's own cache,
entries are pickles: the folder must not be writable by anyone the user does not trust.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

VERSION = 1  # bump when what is stored changes meaning


class _ByName(pickle.Pickler):
    """Pickles data containers (and their storage) as references by name."""

    def __init__(self, file, containers: dict[int, str]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.containers = containers

    def persistent_id(self, obj):
        from pytensor.compile.sharedvalue import SharedVariable

        if isinstance(obj, SharedVariable):
            return ("shared", obj.name)
        if id(obj) in self.containers:
            return ("container", self.containers[id(obj)])
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, shared: dict[str, Any]):
        super().__init__(file)
        self.shared = shared

    def persistent_load(self, pid):
        kind, name = pid
        variable = self.shared[name]  # KeyError: the entry refers to a container this model lacks
        return variable if kind == "shared" else variable.container


def _shared(model) -> dict[str, Any]:
    return {var.name: var for var in model.data_vars}


def _dumps(obj, model) -> bytes:
    shared = _shared(model)
    buffer = io.BytesIO()
    _ByName(buffer, {id(var.container): name for name, var in shared.items()}).dump(obj)
    return buffer.getvalue()


def folder() -> Path:
    import pytensor

    return Path(pytensor.config.base_compiledir) / "bayescale_graphs"


def _canonical(value) -> object:
    """A plain, process-independent description of an op, type or constant (for :func:`graph_key`)."""
    import numpy as np

    if isinstance(value, np.ndarray | np.generic):
        array = np.ascontiguousarray(value)
        return ("array", str(array.dtype), array.shape, hashlib.sha256(array.tobytes()).hexdigest())
    if isinstance(value, tuple | list):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items()))
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    cls = type(value)
    props = getattr(cls, "__props__", None)
    if props is not None:  # PyTensor's own notion of equal ops (and what its merge rewrite relies on)
        return (cls.__module__, cls.__qualname__, tuple(_canonical(getattr(value, p)) for p in props))
    if isinstance(value, type) or (callable(value) and "<" not in getattr(value, "__qualname__", "<")):
        return ("named", value.__module__, value.__qualname__)  # a class or a module-level function
    text = repr(value)
    if " at 0x" in text:  # an object compared by identity: no key
        raise TypeError(f"cannot key {cls.__qualname__}")
    return (cls.__module__, cls.__qualname__, text)


def _describe(outputs) -> list:
    """The graph of ``outputs`` node by node, each variable by its position (no names of the process's counters)."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import graph_inputs, toposort

    position, lines = {}, []
    for var in graph_inputs(outputs):
        position[var] = len(position)
        if isinstance(var, SharedVariable):
            lines.append(("shared", var.name, str(var.type)))
        elif isinstance(var, Constant):
            lines.append(("constant", str(var.type), _canonical(var.data)))
        else:
            lines.append(("input", var.name, str(var.type)))
    for node in toposort(outputs):
        for out in node.outputs:
            position[out] = len(position)
        lines.append((_canonical(node.op), [position[v] for v in node.inputs], [str(o.type) for o in node.outputs]))
    lines.append(("outputs", [position[v] for v in outputs]))
    return lines


def graph_key(model, shapes: dict[str, tuple[int, ...]]) -> str | None:
    """The key of ``model``'s rewritten graphs, or None if its graphs cannot be keyed."""
    import numba
    import nutpie
    import pymc
    import pytensor

    config = pytensor.config
    try:
        graph = _describe([model.logp(), *model.unobserved_value_vars])
    except TypeError:
        return None
    parts = [VERSION, pytensor.__version__, pymc.__version__, nutpie.__version__, numba.__version__,
             model.check_bounds, config.floatX, config.optimizer_including, config.optimizer_excluding,
             config.optimizer_requiring, [v.name for v in model.unobserved_value_vars],
             sorted((k, tuple(int(d) for d in v)) for k, v in shapes.items()), graph]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _parts(function) -> tuple:
    maker = function.maker
    return (maker.inputs, maker.outputs, maker.fgraph.inputs, maker.fgraph.outputs, maker.fgraph.update_mapping)


def save(key: str, model, functions: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Store the rewritten graphs of ``functions`` (PyTensor functions of ``model``) and ``meta`` under ``key``."""
    names = set(_shared(model))
    try:
        if any(var.name not in names for f in functions.values() for var in f.get_shared()):
            return False  # a container the model does not name: the entry could not be loaded
        blob = _dumps({"meta": meta, **{name: _parts(f) for name, f in functions.items()}}, model)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return False
    path = folder() / f"{key}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
        os.replace(tmp, path)  # atomic: a reader sees no entry or a whole one
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def load(key: str, model, modes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The functions stored under ``key``, rebuilt on ``model``'s data containers, and their meta; None if absent."""
    from pytensor.compile.maker import FunctionMaker
    from pytensor.graph.fg import FunctionGraph

    path = folder() / f"{key}.pkl"
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            stored = _Unpickler(f, _shared(model)).load()
        functions = {}
        for name, mode in modes.items():
            ins, outs, fg_inputs, fg_outputs, update_mapping = stored[name]
            fgraph = FunctionGraph(fg_inputs, fg_outputs, clone=False)
            fgraph.update_mapping = update_mapping
            functions[name] = FunctionMaker(
                inputs=ins, outputs=outs, fgraph=fgraph, mode=mode, on_unused_input="ignore",
                accept_inplace=True, no_fgraph_prep=True,  # the graph is already rewritten
            ).create([i.value for i in ins])
        return functions, stored["meta"]
    except Exception:  # noqa: BLE001 -- an unreadable entry (truncated, foreign, another layout): rewrite instead
        return None
