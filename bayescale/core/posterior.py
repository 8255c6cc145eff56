"""Posterior draws of the power-law parameters, per observed or new group, as NumPy arrays.

Everything downstream (predictions, contrasts, plots, flags) works on these flattened
draws, so no PyMC model has to be compiled again after sampling.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

NEW_GROUP = "(new group)"


def flat(posterior: xr.Dataset, name: str) -> np.ndarray:
    """Draws of ``name`` with chain and draw merged into a leading sample axis."""
    da = posterior[name]
    other = [d for d in da.dims if d not in ("chain", "draw")]
    return da.transpose("chain", "draw", *other).values.reshape(-1, *da.shape[2:])


def _per_group(posterior: xr.Dataset, name: str, n_groups: int, group: int, z: np.ndarray | None):
    """Draws of a (possibly pooled) parameter for one group, or a new one when ``group < 0``.

    Per-group parameters are stored as ``name`` with a group dim plus ``name_mu`` and
    ``name_sigma``; shared ones as a scalar ``name``.
    """
    if f"{name}_sigma" in posterior and n_groups > 1:
        if group >= 0:
            return flat(posterior, name)[:, group]
        return flat(posterior, f"{name}_mu") + flat(posterior, f"{name}_sigma") * z
    if name in posterior:
        return flat(posterior, name)
    return flat(posterior, f"{name}_mu")


def power_parameters(
    posterior: xr.Dataset, n_groups: int, group: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``log_A``, ``alpha`` and ``E`` draws (normalised scale) for one group.

    ``group = -1`` draws a new group from the population: fresh standard-normal
    deviates for every pooled parameter, one per posterior draw.
    """
    n = posterior.sizes["chain"] * posterior.sizes["draw"]

    def z():
        return rng.standard_normal(n) if group < 0 else None

    log_a = _per_group(posterior, "log_A", n_groups, group, z())
    if "log_alpha_sigma" in posterior and n_groups > 1:
        alpha = np.exp(_per_group(posterior, "log_alpha", n_groups, group, z()))
    else:
        alpha = flat(posterior, "alpha")
    if "log_E_sigma" in posterior and n_groups > 1:
        floor = np.exp(_per_group(posterior, "log_E", n_groups, group, z()))
    else:
        floor = flat(posterior, "E")
    return {"log_A": log_a, "alpha": alpha, "E": floor}


def sample_noise(
    mean: np.ndarray, posterior: xr.Dataset, noise: str, rng: np.random.Generator
) -> np.ndarray:
    """Posterior predictive draws around ``mean`` (samples x points, normalised scale)."""
    sigma = flat(posterior, "sigma")[:, None]
    if noise == "lognormal":
        return mean * np.exp(sigma * rng.standard_normal(mean.shape))
    if noise == "studentt":
        nu = flat(posterior, "nu")[:, None]
        return mean * np.exp(sigma * rng.standard_t(np.broadcast_to(nu, mean.shape)))
    return mean + sigma * rng.standard_normal(mean.shape)
