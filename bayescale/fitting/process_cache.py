"""nutpie's numba model, with C callbacks that numba caches on disk across processes.

``nutpie.compile_pymc_model(model, backend="numba")`` wraps PyTensor's compiled log-density
in two numba ``cfunc`` callbacks (log-density with gradient, and the expansion of a draw
into the trace). Their code closes over literal field names, shapes and Python objects, so
numba cannot cache them: every process typed and compiled them again, 7-20 s of a fresh
process's fit (power to broken law) even when PyTensor's own functions came from the disk cache.

:func:`compile_model` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel`, but
its callbacks are generated source (the rank and dtype of each data container and the
number of parameters are literals, nothing else) that numba caches under PyTensor's
``base_compiledir``, keyed by a hash of that source and of PyTensor's own cache keys of the
two wrapped graphs. A process whose disk cache holds them loads the machine code instead of
compiling it. The callbacks compute exactly what nutpie's do: they call the same PyTensor
function on the same arrays and return the same codes.

Numba writes a cache entry to a temporary file and renames it into place, so processes
sharing the cache do not corrupt it; two that compile one entry at once write the same code.
The loaded code is the code a cold process compiled (and fastmath is off, see
:mod:`bayescale`), so draws do not depend on whether the cache was warm.

Generated source. PyTensor writes the Python source of every numba function it builds, also
one it then loads from the cache, to a new file in the system's temporary folder and never
removes it: 9 files per fresh ``bayescale fit``, thousands per test run. Unless the user chose
``generated_src_dir``, :func:`compile_model` sets it to ``generated_src`` in PyTensor's
compile directory, where files are named by their content and PyTensor prunes old ones.

Counters (:func:`disk_cache_info`): ``compiled`` callbacks this process compiled, ``loaded``
callbacks it read from the disk cache, ``fallback`` models compiled by nutpie itself (a graph
PyTensor cannot key, or a nutpie whose private helpers changed).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from typing import Any

_STATS = {"compiled": 0, "loaded": 0, "fallback": 0, "graphs_saved": 0, "graphs_loaded": 0}
_LOCK = threading.Lock()
VERSION = 1  # bump when the generated source changes meaning without changing its text


def disk_cache_info() -> dict[str, int]:
    """Callbacks of this process ``compiled`` or ``loaded`` from disk, and nutpie ``fallback`` models."""
    with _LOCK:
        return dict(_STATS)


def _count(name: str, n: int = 1) -> None:
    with _LOCK:
        _STATS[name] += n


def _as_voidptr():
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def as_voidptr(typingctx, address):
        """The integer ``address`` as a ``void*`` (what ``numba.carray`` reads data from)."""
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return types.voidptr(address), codegen

    return as_voidptr


_AS_VOIDPTR = None


def _arrays(layout: list[tuple[int, int, list[int], str]], indices: list[int]) -> tuple[list[str], list[str]]:
    """Source lines that view shared variable ``i`` of ``user_data`` (read as uint64 words) as an array."""
    lines, names = [], []
    for i in indices:
        data, _size, shape, dtype = layout[i]
        dims = "".join(f"int(u[{w}]), " for w in shape)
        lines.append(f"a{i} = numba.carray(as_voidptr(u[{data}]), ({dims}), np.{dtype})")
        names.append(f"a{i}")
    return lines, names


def _source(n_dim: int, n_expanded: int, words: int, layout, logp_shared: list[int],
            expand_shared: list[int]) -> str:
    """The two callbacks; their bodies are nutpie's (``_make_c_logp_func``, ``_make_c_expand_func``)."""
    logp_lines, logp_args = _arrays(layout, logp_shared)
    expand_lines, expand_args = _arrays(layout, expand_shared)
    pad = "\n        "
    return f"""
def bayescale_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        u = numba.carray(user_data_, ({words},), np.uint64)
        {pad.join(logp_lines) or "pass"}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        logp_val, grad = logp_fn(x, {", ".join(logp_args)})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0


def bayescale_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        u = numba.carray(user_data_, ({words},), np.uint64)
        {pad.join(expand_lines) or "pass"}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = expand_fn(x, {", ".join(expand_args)})
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def _layout(user_data, keys: list[str], shared_data: dict) -> tuple[int, list]:
    """Where each shared variable's pointer, size and shape sit in ``user_data``, in uint64 words."""
    import numpy as np

    shared = user_data.dtype["shared"]
    base = user_data.dtype.fields["shared"][1]
    if user_data.dtype.itemsize % 8:
        raise ValueError("nutpie's user data is not made of 64-bit words")

    def word(group: str, key: str) -> int:
        sub, offset = shared.fields[group]
        dtype, field_offset = sub.fields[key][:2]
        if dtype.base.itemsize != 8 or (base + offset + field_offset) % 8:
            raise ValueError(f"unexpected field {group}.{key} in nutpie's user data")
        return (base + offset + field_offset) // 8

    layout = []
    for key in keys:
        value = shared_data[key]
        shape0 = word("shape", key)
        layout.append((word("data", key), word("size", key), [shape0 + d for d in range(value.ndim)],
                       np.dtype(value.dtype).name))
    return user_data.dtype.itemsize // 8, layout


def _pytensor_key(function) -> str | None:
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    return CACHED_SRC_FUNCTIONS.get(getattr(function.vm.jit_fn, "py_func", None))


def _callbacks(n_dim, n_expanded, logp_pt, expand_pt, user_data, shared_var_keys, shared_data):
    """The two ``cfunc`` callbacks, from the disk cache where it holds them; ``None`` if not cacheable."""
    import numba
    import numpy as np
    import pytensor
    from pytensor.link.numba.cache import compile_numba_function_src

    global _AS_VOIDPTR
    logp_key, expand_key = _pytensor_key(logp_pt), _pytensor_key(expand_pt)
    if logp_key is None or expand_key is None or not pytensor.config.numba__cache:
        return None
    keys = list(shared_var_keys.values())
    try:
        words, layout = _layout(user_data, keys, shared_data)
    except (KeyError, ValueError):  # nutpie changed its user-data record: let nutpie compile
        return None
    logp_shared = [keys.index(shared_var_keys[v]) for v in logp_pt.get_shared()]
    expand_shared = [keys.index(shared_var_keys[v]) for v in expand_pt.get_shared()]
    src = _source(n_dim, n_expanded, words, layout, logp_shared, expand_shared)
    # this module's path is in the key: a cached entry pickles it, and one written by another layout would not load
    parts = [VERSION, __name__, src, logp_key, expand_key, numba.__version__]
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    if _AS_VOIDPTR is None:
        _AS_VOIDPTR = _as_voidptr()
    env = {"__name__": __name__, "numba": numba, "np": np, "as_voidptr": _AS_VOIDPTR,
           "logp_fn": logp_pt.vm.jit_fn, "expand_fn": expand_pt.vm.jit_fn}
    ptr = numba.types.CPointer(numba.types.double)
    u64, void = numba.types.uint64, numba.types.voidptr
    signatures = {"bayescale_logp": numba.types.int64(u64, ptr, ptr, ptr, void),
                  "bayescale_expand": numba.types.int64(u64, u64, ptr, ptr, void)}
    out = []
    for name, signature in signatures.items():
        # one module per callback: numba keys a cached entry by the function's name and this key
        function = compile_numba_function_src(src, name, global_env=dict(env), cache_key=f"{name}_{key}")
        try:
            callback = numba.cfunc(signature, cache=True)(function)
        except (ImportError, AttributeError, EOFError, pickle.UnpicklingError):  # an unreadable cache entry
            return None
        _count("loaded" if callback._cache_hits else "compiled")
        out.append(callback)
    return out


def _functions(model, pymc_initial_point_fn) -> tuple:
    """``nutpie.compile_pymc._make_functions`` for the numba backend, its rewritten graphs from disk when there."""
    import pytensor
    from nutpie.compile_pymc import _make_functions, _rv_dict_to_flat_array_wrapper

    from bayescale.fitting import graph_cache
    from bayescale.fitting.initial_point import variable_shapes

    key = (graph_cache.graph_key(model, variable_shapes(model, pymc_initial_point_fn(0)))
           if pytensor.config.numba__cache else None)
    loaded = graph_cache.load(key, model, {"logp": "NUMBA", "expand": "NUMBA"}) if key else None
    if loaded is not None:
        functions, meta = loaded
        _count("graphs_loaded")
        names, _slices, shapes = meta["shape_info"]
        n_free = len(model.free_RVs)
        initial_point_fn = _rv_dict_to_flat_array_wrapper(pymc_initial_point_fn, names=names[:n_free],
                                                          shapes=shapes[:n_free])
        return (meta["n_dim"], meta["n_expanded"], functions["logp"], functions["expand"], initial_point_fn,
                meta["shape_info"], meta["reparameterized"])
    out = _make_functions(model, mode="NUMBA", compute_grad=True, join_expanded=True,
                          pymc_initial_point_fn=pymc_initial_point_fn)
    n_dim, n_expanded, logp_pt, expand_pt, _, shape_info, reparameterized = out
    meta = {"n_dim": n_dim, "n_expanded": n_expanded, "shape_info": shape_info, "reparameterized": reparameterized}
    if key is not None and graph_cache.save(key, model, {"logp": logp_pt, "expand": expand_pt}, meta):
        _count("graphs_saved")
    return out


def compile_model(model: Any) -> Any:
    """``nutpie.compile_pymc_model(model, backend="numba")`` with disk-cached callbacks.

    Parameters
    ----------
    model : pymc.Model
        The model to compile; its ``pm.Data`` containers stay swappable (``with_data``).

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        The same object nutpie builds, sampled by ``nutpie.sample`` as usual.
    """
    import nutpie
    import pytensor

    if not pytensor.config.generated_src_dir:
        pytensor.config.generated_src_dir = str(pytensor.config.compiledir / "generated_src")

    try:
        from nutpie.compile_pymc import (  # noqa: F401 -- the helpers of _functions too, to fall back here
            CompiledPyMCModel,
            _make_functions,
            _prepare_dims_and_coords,
            _rv_dict_to_flat_array_wrapper,
            _wrap_with_lock,
            make_user_data,
        )
    except ImportError:  # nutpie's private helpers moved: compile the uncached way
        _count("fallback")
        return nutpie.compile_pymc_model(model, backend="numba")
    import numpy as np

    from bayescale.fitting.initial_point import initial_point_function

    # compile_pymc_model's defaults for the numba backend: support points, every free variable jittered
    initial_point_fn = _wrap_with_lock(initial_point_function(model, jitter=True))
    n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparameterized = _functions(
        model, initial_point_fn)
    shared_data, shared_var_keys = {}, {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        key = f"shared{len(shared_var_keys)}"
        shared_data[key] = np.array(var.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
        shared_var_keys[var] = key
    user_data = make_user_data(shared_var_keys, shared_data)
    callbacks = _callbacks(n_dim, n_expanded, logp_pt, expand_pt, user_data, shared_var_keys, shared_data)
    if callbacks is None:
        _count("fallback")
        return nutpie.compile_pymc_model(model, backend="numba")
    dims, coords = _prepare_dims_and_coords(model, shape_info, reparameterized)
    return CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=callbacks[0], compiled_expand_func=callbacks[1], initial_point_func=initial_point_fn,
        shared_data=shared_data, shared_var_keys=shared_var_keys, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_pt, expand_func=expand_pt, reparameterized_names=reparameterized,
    )
