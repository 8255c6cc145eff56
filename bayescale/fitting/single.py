"""Fitting one law: validate the frame, resolve priors, sample through the compile cache, return a fit."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bayescale.core.config import FitConfig
from bayescale.core.registry import LAWS, law_spec
from bayescale.data.curves import CurveData
from bayescale.errors import LawError
from bayescale.fitting.sampling import sample_fit
from bayescale.results.scaling import ScalingFit


def build_model(data: CurveData, config: FitConfig):
    """Build the PyMC model of ``config.law`` for validated ``data``."""
    return law_spec(config.law).function("build_model")(data, config)


def fit_law(
    df: pd.DataFrame,
    *,
    law: str = "power",
    target_accept: float | None = None,
    progress: bool = True,
    cores: int | None = None,
    breaks: int | None = None,
    trials: str | int | None = None,
    **settings: Any,
) -> ScalingFit:
    """Fit one law (not a list of laws, nor ``"auto"``); arguments as :func:`bayescale.fit`
    (``settings``: its data, model and sampler arguments).

    The law's module (found in :data:`bayescale.core.registry.LAWS`) validates the frame and resolves
    the configuration; the compile cache samples; the registry names the fit object returned.
    """
    spec = law_spec(law)
    own = {"breaks": breaks, "trials": trials}
    for name, value in own.items():
        if value is not None and name not in spec.options:
            owner = next(other.name for other in LAWS.values() if name in other.options)
            raise LawError(f"{name}= applies to the {owner} law only, not to {law!r}")
    config, data = spec.function("prepare")(
        df, **settings, target_accept=spec.target_accept if target_accept is None else target_accept,
        **{name: value for name, value in own.items() if name in spec.options},
    )
    return run_fit(data, config, progress=progress, cores=cores)


def run_fit(data: CurveData, config: FitConfig, *, progress: bool = True, cores: int | None = None) -> ScalingFit:
    """Sample a validated data set under a resolved configuration.

    With ``config.sampler == "nutpie"`` the compiled model is reused across fits of the
    same structure (:mod:`bayescale.fitting.compiled`).
    """
    idata = sample_fit(lambda: build_model(data, config), config, progress=progress, cores=cores)
    return law_spec(config.law).result_type()(idata, data, config)
