"""PSIS-LOO of a fit on the density of y in the user's units, so that laws fitted on other scales compare."""

from __future__ import annotations

import warnings

import numpy as np


def log_jacobian(fit) -> np.ndarray:
    """Per-observation shift putting ``fit``'s log-likelihood on the density of y (user units)."""
    if fit.config.law == "sigmoid":
        from bayescale.laws.sigmoid import log_likelihood_on_accuracy

        return log_likelihood_on_accuracy(fit)
    if fit.config.noise == "normal":
        return np.full(len(fit.data.y), -np.log(fit.data.y_scale))
    return -np.log(fit.data.y)


def loo_on_y(fit):
    """PSIS-LOO of ``fit`` on the density of y in the user's units (pointwise)."""
    import arviz_stats as azs
    import xarray as xr

    obs_dim = [d for d in fit.idata["log_likelihood"]["y_obs"].dims if d not in ("chain", "draw")][0]
    jac = xr.DataArray(log_jacobian(fit), dims=(obs_dim,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return azs.loo(fit.idata, pointwise=True, var_name="y_obs", log_jacobian=jac)
