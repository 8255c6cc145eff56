"""One compile cache for every fit: a model is compiled once per structure, then fed new data.

Compiling a model (PyTensor graph rewrites, then numba) costs seconds; sampling a small
scaling-law model with nutpie costs a tenth of that. Every law builds its model with its
observations, scales and numeric prior parameters in ``pm.Data`` containers, so one compiled
program serves any data set of the same *structure*; a fit only swaps the values in
(nutpie's ``with_data``) and samples. :func:`bayescale.fit`, :func:`bayescale.fit_many`,
and through them backtests, audits and stacking all sample here when ``sampler="nutpie"``.

The key of a compiled program (:func:`structure_key`) is what the program depends on: the
law, the noise, the prior families (numbers excluded, lists such as a Dirichlet's
concentrations included), every random variable's name, distribution and dims, the size of
every dimension but the observations, and the data containers' names, ranks and dtypes. The
number of observations is not part of it: one program serves curves of any length. The
pointwise log-likelihood (for LOO, stacking and the influence flags) is a second program of
the same entry, vectorised over all draws at once and built on its first use.

Hits and misses are counted (:func:`cache_info`). Across processes the compiled code comes
from PyTensor's own on-disk numba cache (``base_compiledir``), which numba writes
atomically, so processes that share it do not corrupt it. nutpie's own C callbacks around
that code cannot be cached, so :func:`bayescale.fitting.process_cache.compile_model` builds
cacheable ones: a fresh process loads them instead of compiling them for 6-20 s.

Adaptation. nutpie's low-rank modified mass matrix is used: on the pooled power law
(3 groups x 15 points, 2 x 300 draws) it gave 3-4 times the bulk ESS of nutpie's diagonal
default and about twice PyMC's, at the same cost per draw.

Determinism. A compiled program does not depend on the data it was first built with, and
bayescale turns numba's fastmath off (see :mod:`bayescale`), so a seed gives bitwise the
same draws whether this cache was hit or missed, warm or cold on disk, inline or in a worker.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OBSERVED = "y_obs"


@dataclass
class _Entry:
    compiled: Any  # nutpie's CompiledModel
    template: Any  # the pm.Model it was compiled from: its pm.Data give nutpie's initial points
    lock: threading.Lock
    log_likelihood: Any = None  # (function, free-variable names, data names), compiled on first use


_CACHE: dict[str, _Entry] = {}
_LOCK = threading.Lock()
_STATS = {"hits": 0, "misses": 0}


def cache_info() -> dict[str, int]:
    """Compile-cache counters of this process: ``hits``, ``misses`` (compilations) and ``size``."""
    with _LOCK:
        return {**_STATS, "size": len(_CACHE)}


def cache_clear() -> None:
    """Forget every compiled model of this process and reset the counters."""
    with _LOCK:
        _CACHE.clear()
        _STATS.update(hits=0, misses=0)


def _shape(priors: Mapping[str, Any]) -> dict:
    """Prior specifications with each top-level scalar parameter replaced by ``#``.

    Those are the numbers :func:`bayescale.laws.model._shared_prior` holds in ``pm.Data``; lists
    and nested priors are constants of the compiled program, so they stay in the key.
    """
    def scalar(v):
        return isinstance(v, int | float) and not isinstance(v, bool)

    return {
        name: {**spec, "kwargs": {k: "#" if scalar(v) else v for k, v in spec.get("kwargs", {}).items()}}
        for name, spec in priors.items()
    }


def structure_key(model: Any, config: Any) -> str:
    """What the compiled program of ``model`` depends on (see the module docstring)."""
    dims = model.named_vars_to_dims

    def describe(var) -> list:
        op = var.owner.op if var.owner is not None else None
        return [var.name, type(op).__name__, str(var.dtype), list(dims.get(var.name) or ())]

    variables = [describe(v) for v in (*model.free_RVs, *model.observed_RVs, *model.deterministics)]
    sizes = {str(d): len(c) for d, c in model.coords.items() if d != "obs" and c is not None}
    per_obs = any("obs" in (dims.get(v.name) or ()) for v in (*model.free_RVs, *model.deterministics))
    data = sorted([v.name, v.ndim, str(v.dtype)] for v in model.data_vars)
    return json.dumps(
        [config.law, config.noise, _shape(config.priors), variables, sizes, data,
         len(model.coords["obs"]) if per_obs else None],
        sort_keys=True, default=str,
    )


@functools.cache
def python_mode():
    """PyTensor's Python linker (NumPy ufuncs) without fusion or constant folding, one object per process.

    For graphs run once over all draws: compiling them with numba costs seconds. Fusion would
    merge the ufuncs into one scalar loop run in Python, and constant folding compiles C code,
    so both are left out. One object, so that a frozen PyMC model's cache of compiled
    functions (keyed by their arguments) finds the function compiled with it before.
    """
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer="fast_run").excluding("fusion", "constant_folding")


def _compile_log_likelihood(model):
    """``log p(y_obs_i | draw)`` for a batch of draws: (free values..., data...) -> (draws, obs).

    It runs once per fit, over all draws at once, so numpy's ufuncs (:func:`python_mode`)
    serve: 0.002-0.13 s for 4000 draws of the shipped laws, against numba's 1.4 s
    compile on an empty cache.
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.model.transform.conditioning import remove_value_transforms
    from pytensor.graph.replace import graph_replace, vectorize_graph

    umodel = remove_value_transforms(model)  # posterior draws are on the constrained scale
    logp = umodel.logp(vars=[umodel[OBSERVED]], sum=False)[0]
    values = [umodel.rvs_to_values[rv] for rv in umodel.free_RVs]
    batched = [pt.tensor(dtype=v.dtype, shape=(None, *v.type.shape), name=v.name) for v in values]
    logp = vectorize_graph(logp, replace=dict(zip(values, batched, strict=True)))
    data = list(umodel.data_vars)
    inputs = [var.type(name=var.name) for var in data]
    logp = graph_replace(logp, dict(zip(data, inputs, strict=True)), strict=False)
    function = pytensor.function(batched + inputs, logp, on_unused_input="ignore", mode=python_mode())
    return function, [v.name for v in values], [var.name for var in data]


def _log_likelihood(entry: _Entry, posterior, values: Mapping[str, Any]):
    import numpy as np

    if entry.log_likelihood is None:
        entry.log_likelihood = _compile_log_likelihood(entry.template)
    function, names, data_names = entry.log_likelihood
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    draws = [np.asarray(posterior[name].values).reshape(-1, *posterior[name].shape[2:]) for name in names]
    out = function(*draws, *(values[name] for name in data_names))
    return out.reshape(*shape, *out.shape[1:])


def _entry(key: str, build) -> _Entry:
    with _LOCK:
        entry = _CACHE.get(key)
        if entry is not None:
            _STATS["hits"] += 1
            return entry
        _STATS["misses"] += 1
        entry = _CACHE[key] = _Entry(None, None, threading.Lock())
        entry.lock.acquire()  # held until compiled: other threads wait on it, not on every key
    try:
        entry.template, entry.compiled = build()
    except BaseException:
        with _LOCK:
            _CACHE.pop(key, None)
        raise
    finally:
        entry.lock.release()
    return entry


def first_chain_seed(seed: int, chains: int) -> int:
    """The nutpie seed that ``pm.sample(random_seed=seed, nuts_sampler="nutpie")`` would use."""
    from pymc.util import get_random_generator

    rngs = get_random_generator(seed).spawn(chains)
    return int([rng.integers(2**30) for rng in rngs][0])


def sample_compiled(
    build: Callable[[], Any], config: Any, *, log_likelihood: bool = True, cores: int | None = None
) -> Any:
    """Sample the model ``build()`` returns with nutpie, compiling it only on a cache miss.

    Parameters
    ----------
    build : callable
        Returns a fresh ``pm.Model`` of this fit's data (observations, scales and prior
        parameters in ``pm.Data``). Called once per fit; a second time to make the
        template on a miss, so the compiled program never holds this fit's objects.
    config : FitConfig
        Law, noise, priors and sampler settings (draws, tune, chains, seed, target_accept).
    log_likelihood : bool
        Record the pointwise log-likelihood of ``y_obs`` (group ``log_likelihood``).
    cores : int, optional
        Threads for parallel chains (default: all cores, at most one per chain).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` (numeric statistics) and, if asked,
        ``log_likelihood``.
    """
    import os

    import nutpie
    import xarray as xr

    from bayescale.core import heap
    from bayescale.fitting.quiet import quiet_pymc
    from bayescale.fitting.trace import trace_datasets

    heap.settle()
    model = build()
    key = structure_key(model, config)

    def compile_template():
        from bayescale.fitting.process_cache import compile_model

        template = build()
        return template, compile_model(template)

    entry = _entry(key, compile_template)
    values = {var.name: var.get_value() for var in model.data_vars}
    cores = min(config.chains, os.cpu_count() or 1) if cores is None else cores
    with entry.lock, quiet_pymc():  # on a miss in another thread, this waits until it has compiled
        if entry.compiled is None:
            raise RuntimeError("the compilation of this model failed in another thread")
        known = {var.name for var in entry.compiled.shared_var_keys}
        # nutpie draws initial points from the template's own pm.Data: give it this fit's values
        for var in entry.template.data_vars:
            var.set_value(values[var.name])
        raw = nutpie.sample(
            entry.compiled.with_data(**{k: v for k, v in values.items() if k in known}),
            draws=config.draws, tune=max(config.tune, 1), chains=config.chains, cores=cores,
            seed=first_chain_seed(config.seed, config.chains), progress_bar=False,
            target_accept=config.target_accept, low_rank_modified_mass_matrix=True, save_warmup=False,
            return_raw_trace=True,
        )
        posterior, stats = trace_datasets(*raw.get_arrow_trace(), model.coords,
                                          entry.compiled.reparameterized_names)
        groups = {}
        if log_likelihood:
            dims = ("chain", "draw", *(model.named_vars_to_dims.get(OBSERVED) or ("obs",)))
            points = _log_likelihood(entry, posterior, values)
            coords = {d: posterior[d] for d in dims[:2]} | {
                d: list(model.coords[d]) for d in dims[2:] if model.coords.get(d) is not None}
            groups["log_likelihood"] = xr.Dataset({OBSERVED: (dims, points)}, coords=coords)
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats, **groups})
