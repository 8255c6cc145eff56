r"""PyMC model of the hierarchical saturating power law.

On normalised data (:math:`u = \log(x / x_{ref})`, :math:`v = y / y_{scale}`) the mean
of group :math:`g` is

.. math:: \mu_g(u) = E_g + \exp(\log A_g - \alpha_g u)

with non-centred partial pooling of the offsets,
:math:`\log A_g = \mu_A + \tau_A z_g`, :math:`z_g \sim N(0, 1)`. The exponent is
shared (:math:`\alpha_g = \alpha`) or pooled the same way on the log scale
(``slopes="varying"``); the floor is shared or pooled (``floor="group"``).

Noise: ``lognormal`` (:math:`\log v \sim N(\log \mu, \sigma)`), ``studentt``
(:math:`\log v \sim t_\nu(\log \mu, \sigma)`, robust like the Huber loss of Chinchilla
fits) or ``normal`` (:math:`v \sim N(\mu, \sigma)`). The observed variable is
``y_obs``; its log-likelihood is on ``log v`` for the first two and on ``v`` for
``normal``, so LOO compares fits only within one of those two scales.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayescale.laws.formulas import log_power_law

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


def create_power_model(
    log_x: np.ndarray,
    observed: np.ndarray,
    priors: Mapping[str, Any],
    coords: Mapping[str, Sequence],
    group_index: np.ndarray,
    *,
    noise: str = "lognormal",
    slopes: str = "shared",
    floor: str = "shared",
    shared_priors: bool = False,
    centered: bool = False,
) -> pm.Model:
    """Build the hierarchical saturating power-law model.

    Parameters
    ----------
    log_x : ndarray
        ``log(x / x_ref)`` per observation.
    observed : ndarray
        ``y / y_scale`` per observation.
    priors : mapping
        Prior objects by parameter name (see :func:`bayescale.laws.priors.power_law_priors`).
    coords : mapping
        Must hold ``"group"`` (group names) and ``"obs"`` (observation labels).
    group_index : ndarray of int
        Group code of each observation.
    noise, slopes, floor : str
        Likelihood, exponent pooling (``shared`` / ``varying``), floor pooling
        (``shared`` / ``group``).
    centered : bool
        Centred instead of non-centred pooling (see :func:`_pooled`).
    shared_priors : bool
        Hold the numeric prior parameters in ``pm.Data`` too, so one compiled model
        serves many curves (batch fitting). The log density is the same.

    Notes
    -----
    ``log_x``, ``group_index`` and the observed values (``y_data``: ``log v`` for
    log-scale noise, ``v`` for ``normal``) are ``pm.Data``, so they can be swapped with
    ``pm.set_data`` or ``nutpie``'s ``with_data`` without recompiling.
    """
    n_groups = len(coords["group"])
    with pm.Model(coords=coords) as model:
        if shared_priors:
            priors = {name: _shared_prior(name, prior) for name, prior in priors.items()}
        u = pm.Data("log_x", log_x, dims="obs")
        g = pm.Data("group_index", group_index.astype("int64"), dims="obs")

        if slopes == "varying" and n_groups > 1:
            alpha_g = pm.Deterministic(
                "alpha", pt.exp(_pooled("log_alpha", priors, n_groups, "group", centered)), dims="group"
            )
            alpha = alpha_g[g]
        else:
            alpha = priors["alpha"].create_variable("alpha")
        log_a = _pooled("log_A", priors, n_groups, "group", centered)
        log_a = log_a[g] if n_groups > 1 else log_a
        if floor == "group" and n_groups > 1:
            floor_g = pm.Deterministic("E", pt.exp(_pooled("log_E", priors, n_groups, "group", centered)), dims="group")
            e = floor_g[g]
        else:
            e = pm.Deterministic("E", pt.exp(priors["log_E"].create_variable("log_E")))

        mean = log_power_law(u, e, log_a, alpha, pt.exp)
        sigma = priors["sigma"].create_variable("sigma")
        y_data = observed_data(observed, noise)
        if noise == "lognormal":
            pm.Normal("y_obs", pt.log(mean), sigma, observed=y_data, dims="obs")
        elif noise == "studentt":
            nu = priors["nu"].create_variable("nu")
            pm.StudentT("y_obs", nu=nu, mu=pt.log(mean), sigma=sigma, observed=y_data, dims="obs")
        else:
            pm.Normal("y_obs", mean, sigma, observed=y_data, dims="obs")
    return model
