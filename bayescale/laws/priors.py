"""Default priors, as data, and merging of user priors.

Priors are :class:`pymc_extras.prior.Prior` objects (or plain dicts of the same shape,
``{"dist": "Normal", "kwargs": {"mu": 0, "sigma": 1}}``, or the flat
``{"dist": "Normal", "mu": 0, "sigma": 1}``). Priors on offsets and floors are on the
normalised scale ``x / x_ref``, ``y / y_scale`` (see ``fit.priors``), so the defaults
are weakly informative whatever the user's units; exponents are scale-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bayescale.errors import PriorError

PRIOR_DESCRIPTIONS = {
    "alpha": "exponent alpha (shared across groups)",
    "log_alpha_mu": "population mean of log alpha_g (varying slopes)",
    "log_alpha_sigma": "spread of log alpha_g across groups (varying slopes)",
    "log_A_mu": "population mean of log A_g at x = x_ref, in y_scale units",
    "log_A_sigma": "spread of log A_g across groups",
    "log_E": "log floor E, in y_scale units (shared floor)",
    "log_E_mu": "population mean of log E_g (per-group floor)",
    "log_E_sigma": "spread of log E_g across groups (per-group floor)",
    "log_level_mu": "log of the curve's value at x = x_ref, in y_scale units (turning law; mean over groups)",
    "floor_share": "share of the curve's value at x = x_ref that is the floor E (turning law)",
    "sigma": "noise scale (relative, on log y, for lognormal/studentt; in y_scale units for normal)",
    "nu": "Student-t degrees of freedom",
}


def prior(dist: str, **kwargs: float):
    """``Prior(dist, **kwargs)`` with float parameters (a default prior)."""
    # arviz_base's lazy import of numpyro walks the whole import stack (inspect.stack) when
    # numpyro is absent; imported first, at a shallow stack, it costs 0.3 s less than inside pymc_extras
    import arviz_base  # noqa: F401
    from pymc_extras.prior import Prior

    return Prior(dist, **{k: float(v) for k, v in kwargs.items()})


def power_law_priors(
    y_scaled: np.ndarray, *, noise: str, slopes: str, floor: str, n_groups: int
) -> dict[str, Any]:
    """Weakly informative defaults for the saturating power law on normalised data."""
    log_floor_guess = math.log(float(np.min(np.abs(y_scaled))) or 1e-3) - 1.0
    priors = {"log_A_mu": prior("Normal", mu=-1.0, sigma=1.5), "sigma": prior("HalfNormal", sigma=0.1)}
    if n_groups > 1:
        priors["log_A_sigma"] = prior("HalfNormal", sigma=1.0)
    if slopes == "varying" and n_groups > 1:
        priors["log_alpha_mu"] = prior("Normal", mu=math.log(0.3), sigma=0.7)
        priors["log_alpha_sigma"] = prior("HalfNormal", sigma=0.3)
    else:
        priors["alpha"] = prior("LogNormal", mu=math.log(0.3), sigma=0.7)
    if floor == "group" and n_groups > 1:
        priors["log_E_mu"] = prior("Normal", mu=log_floor_guess, sigma=1.0)
        priors["log_E_sigma"] = prior("HalfNormal", sigma=0.5)
    else:
        priors["log_E"] = prior("Normal", mu=log_floor_guess, sigma=1.0)
    if noise == "studentt":
        priors["nu"] = prior("Gamma", alpha=2.0, beta=0.1)
    return priors


def as_prior(name: str, value: Any):
    """Turn a user's prior (Prior, nested dict or flat dict) into a Prior."""
    from pymc_extras.prior import Prior

    if isinstance(value, Prior):
        return value
    if isinstance(value, Mapping):
        if "dist" not in value:
            raise PriorError(f"prior {name!r} must name a distribution with 'dist', got {dict(value)!r}")
        if "kwargs" in value:
            spec = dict(value)
        else:
            spec = {"dist": value["dist"], "kwargs": {k: v for k, v in value.items() if k != "dist"}}
        try:
            return Prior.from_dict(spec)
        except Exception as exc:  # pymc_extras raises several types here
            raise PriorError(f"prior {name!r} is not a valid distribution: {exc}") from exc
    raise PriorError(f"prior {name!r} must be a pymc_extras Prior or a dict, got {type(value).__name__}")


def merge_priors(defaults: Mapping[str, Any], user: Mapping[str, Any] | None) -> dict[str, Any]:
    """Replace defaults with the user's priors, refusing names the model does not have."""
    merged = dict(defaults)
    for name, value in (user or {}).items():
        if name not in defaults:
            raise PriorError(
                f"unknown prior {name!r} for this model; its parameters are: {', '.join(sorted(defaults))}"
            )
        merged[name] = as_prior(name, value)
    return merged


def priors_to_dict(priors: Mapping[str, Any]) -> dict[str, dict]:
    return {name: given.to_dict() for name, given in priors.items()}


def priors_from_dict(data: Mapping[str, Mapping]) -> dict[str, Any]:
    return {name: as_prior(name, spec) for name, spec in data.items()}
