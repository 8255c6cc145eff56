"""Building blocks every law's PyMC model shares: prior parameters and observations held in ``pm.Data``
(so one compiled program serves any data, :mod:`bayescale.fitting.compiled`), the observed
scale of each noise, and partial pooling across groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

LOG_SCALE_NOISE = ("lognormal", "studentt")


def _shared_prior(name: str, prior):
    """The same prior with each numeric parameter held in a ``pm.Data`` named ``prior_<name>_<param>``.

    A model built this way can be compiled once and refitted to other curves by swapping
    data and prior parameters (data-dependent defaults such as the floor's prior mean)
    without rebuilding the graph; see :mod:`bayescale.fitting.compiled`.
    """
    params = {
        key: pm.Data(f"prior_{name}_{key}", float(value)) if isinstance(value, int | float) else value
        for key, value in prior.parameters.items()
    }
    return type(prior)(prior.distribution, dims=prior.dims, centered=prior.centered, transform=prior.transform,
                       **params)


def observed_data(observed: np.ndarray, noise: str):
    """``pm.Data("y_data")``: ``log v`` under log-scale noise, else ``v`` (inside a model context)."""
    values = np.log(observed) if noise in LOG_SCALE_NOISE else np.asarray(observed, dtype=float)
    return pm.Data("y_data", values, dims="obs")


def _pooled(name: str, priors: Mapping[str, Any], n_groups: int, dims: str, centered: bool = False):
    """Return a per-group vector ``mu + sigma * z`` (or the scalar ``mu`` for one group).

    The centred form draws ``name ~ N(mu, sigma)`` directly: it samples far better when
    every group has many informative points (the non-centred funnel disappears, but a
    ridge between ``z`` and ``sigma`` appears instead).
    """
    mu = priors[f"{name}_mu"].create_variable(f"{name}_mu")
    if n_groups == 1:
        return mu
    sigma = priors[f"{name}_sigma"].create_variable(f"{name}_sigma")
    if centered:
        return pm.Normal(name, mu, sigma, dims=dims)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims)
    return pm.Deterministic(name, mu + sigma * z, dims=dims)


def observe(mean, observed: np.ndarray, noise: str, priors: Mapping[str, Any]) -> None:
    """``y_obs`` with mean ``mean`` (on the scale of ``v``) under ``noise``, and its ``sigma`` (inside a model).

    Log-scale noise is on ``log v``: Normal (``lognormal``) or Student-t with ``nu``; ``normal`` is on ``v``.
    """
    sigma = priors["sigma"].create_variable("sigma")
    y_data = observed_data(observed, noise)
    if noise == "lognormal":
        pm.Normal("y_obs", pt.log(mean), sigma, observed=y_data, dims="obs")
    elif noise == "studentt":
        nu = priors["nu"].create_variable("nu")
        pm.StudentT("y_obs", nu=nu, mu=pt.log(mean), sigma=sigma, observed=y_data, dims="obs")
    else:
        pm.Normal("y_obs", mean, sigma, observed=y_data, dims="obs")
