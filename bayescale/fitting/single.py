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
    discrepancy: bool | None = None,
    measure: str | None = None,
    axis: str | None = None,
    drift_prior=None,
    **settings: Any,
) -> ScalingFit:
    """Fit one law (not a list of laws, nor ``"auto"``); arguments as :func:`bayescale.fit`
    (``settings``: its data, model and sampler arguments).

    The law's module (found in :data:`bayescale.core.registry.LAWS`) validates the frame and resolves
    the configuration; the compile cache samples; the registry names the fit object returned.
    ``discrepancy=True`` then learns the law's distance-growing discrepancy by refits, through the
    module its registry entry names (the Chinchilla law's :mod:`bayescale.fitting.chinchilla_drift`).
    Unless ``discrepancy=False``, the fit records the drift prior (``drift_prior``: a path, a
    :class:`~bayescale.laws.drift_prior.DriftPrior` or None for the shipped one) that its forecasts
    use beyond the data, with ``measure`` and ``axis`` as its covariates.
    """
    from bayescale.laws.drift_prior import check_axis, check_metric, load_drift_prior

    spec = law_spec(law)
    check_discrepancy(law, discrepancy)
    metric = "accuracy" if law == "sigmoid" else check_metric(measure)
    axis = check_axis(axis)
    prior = None if discrepancy is False else load_drift_prior(drift_prior)
    own = {"breaks": breaks, "trials": trials}
    for name, value in own.items():
        if value is not None and name not in spec.options:
            owner = next(other.name for other in LAWS.values() if name in other.options)
            raise LawError(f"{name}= applies to the {owner} law only, not to {law!r}")
    config, data = spec.function("prepare")(
        df, **settings, target_accept=spec.target_accept if target_accept is None else target_accept,
        **{name: value for name, value in own.items() if name in spec.options},
    )
    config.measure, config.axis = metric, axis
    config.drift = {} if prior is None else {"source": prior.source, "prior": prior.data}
    if discrepancy:
        spec.discrepancy_function("check")(data)  # enough runs to refit, before any sampling
    fit = run_fit(data, config, progress=progress, cores=cores)
    if discrepancy:
        spec.discrepancy_function("learn_at_fit")(fit, cores=cores)
    return fit


def check_discrepancy(law, discrepancy) -> None:
    """Refuse, before sampling, ``discrepancy=`` not None or a bool, or True for a law that cannot learn it
    at fit time."""
    if discrepancy is not None and not isinstance(discrepancy, bool):
        raise LawError(f"discrepancy= at fit time is None (the drift prior), False (the posterior alone) or True "
                       f"(learn s by refits), got {discrepancy!r}; a given s goes to fit.predict(..., discrepancy=s)")
    able = [name for name, other in LAWS.items() if other.discrepancy is not None]
    if discrepancy and (not isinstance(law, str) or law not in able):
        raise LawError(f"discrepancy=True at fit time applies to the {' or '.join(able)} law, not {law!r}; learn s "
                       "for one-input laws with bayescale.backtest(..., discrepancy=True)")


def run_fit(data: CurveData, config: FitConfig, *, progress: bool = True, cores: int | None = None) -> ScalingFit:
    """Sample a validated data set under a resolved configuration.

    With ``config.sampler == "nutpie"`` the compiled model is reused across fits of the
    same structure (:mod:`bayescale.fitting.compiled`).
    """
    idata = sample_fit(lambda: build_model(data, config), config, progress=progress, cores=cores)
    return law_spec(config.law).result_type()(idata, data, config)
