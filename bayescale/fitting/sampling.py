"""Run NUTS on a built model and attach what later steps need (log-likelihood, stats)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pymc as pm
import xarray as xr

from bayescale.core import heap
from bayescale.fitting.compiled import python_mode
from bayescale.fitting.quiet import quiet_pymc


def sample_model(
    model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    sampler: str = "pymc",
    target_accept: float = 0.9,
    progress: bool = True,
    cores: int | None = None,
) -> xr.DataTree:
    """Sample ``model`` with NUTS and add the pointwise log-likelihood (for LOO).

    PyMC's own convergence warnings are silenced here: bayescale reports sampler
    problems itself, as flags with reasons (see :func:`bayescale.results.flags.sampler_flags`).
    ``cores=None`` runs chains in parallel on up to all cores.
    """
    if cores is None:
        cores = min(chains, os.cpu_count() or 1)
    heap.settle()
    with model, quiet_pymc():
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            progressbar=progress,
            nuts_sampler=sampler,
            target_accept=target_accept,
            compute_convergence_checks=False,
            var_names=[rv.name for rv in model.free_RVs],
        )
        add_deterministics(idata, model)
        pm.compute_log_likelihood(idata, model=model, progressbar=False, compile_kwargs={"mode": python_mode()})
    return idata


def add_deterministics(idata: xr.DataTree, model: pm.Model) -> None:
    """Compute ``model``'s deterministics from the traced free variables into ``idata.posterior``.

    Sample with ``var_names=[free variables]`` and call this after: a graph run once over all draws
    is cheaper with NumPy's ufuncs (:func:`~bayescale.fitting.compiled.python_mode`) than as a numba
    program compiled for that one call.
    """
    pm.compute_deterministics(idata.posterior, model=model, extend_dataset=True, progressbar=False,
                              compile_kwargs={"mode": python_mode()})


def sample_fit(
    build: Callable[[], pm.Model], config, *, progress: bool = True, cores: int | None = None
) -> xr.DataTree:
    """Sample the model of a fit with ``config.sampler``; every law's fit goes through here.

    ``nutpie`` (the default) compiles the model once per structure and reuses it
    (:mod:`bayescale.fitting.compiled`); the other samplers build and sample ``build()`` with
    :func:`sample_model`. Either way the result holds the posterior, the sampler
    statistics and the pointwise log-likelihood of ``y_obs``.
    """
    if config.sampler == "nutpie":
        from bayescale.fitting.compiled import sample_compiled

        return sample_compiled(build, config, cores=cores)
    return sample_model(
        build(), draws=config.draws, tune=config.tune, chains=config.chains, seed=config.seed,
        sampler=config.sampler, target_accept=config.target_accept, progress=progress, cores=cores,
    )
