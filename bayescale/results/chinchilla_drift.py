"""A Chinchilla fit's learned discrepancy: kept in the fit, used by its forecasts; never refitted here.

The math is in :mod:`bayescale.laws.chinchilla_drift`; learning ``s`` needs refits and is
:func:`bayescale.fitting.chinchilla_drift.learn` (or ``bayescale.fit(..., discrepancy=True)``).
The learned posterior lives in ``fit.idata`` as the group
:data:`~bayescale.laws.chinchilla_drift.GROUP`, so ``fit.save`` / ``bayescale.load`` keep it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.errors import DataError
from bayescale.laws import discrepancy as disc
from bayescale.laws.chinchilla_drift import GROUP, distance, draw_scale, optimal_log_loss, posterior_dataset, summarise

NOT_LEARNED = ("this chinchilla fit has no learned discrepancy; fit with discrepancy=True or call "
               "bayescale.fitting.chinchilla_drift.learn(fit)")


def store(fit, errors: pd.DataFrame, kind: str) -> None:
    """Keep the grid posterior of ``s`` given forward-chaining ``errors`` in ``fit.idata``."""
    fit.idata[GROUP] = xr.DataTree(posterior_dataset(errors, kind))


def learned(fit) -> xr.Dataset | None:
    """The stored discrepancy posterior of ``fit``, or None."""
    return fit.idata[GROUP].to_dataset() if GROUP in fit.idata.children else None


def summary(fit) -> pd.DataFrame:
    """The learned ``s`` of ``fit`` as a one-row table (:func:`bayescale.laws.chinchilla_drift.summarise`)."""
    ds = learned(fit)
    if ds is None:
        raise DataError(NOT_LEARNED)
    return pd.DataFrame([summarise(ds)])


def scale_draws(fit, discrepancy, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Draws of ``s`` and the distance kind (``discrepancy`` True: the learned posterior; else a number or draws)."""
    ds = learned(fit)
    kind = ds.attrs["distance"] if ds is not None else "compute"
    if discrepancy is True:
        if ds is None:
            raise DataError(NOT_LEARNED)
        return draw_scale(ds, n, rng), kind
    if discrepancy is False:
        raise DataError("discrepancy must be True (the learned s), a number or draws of s; False means omit it")
    return disc.check_scale(discrepancy), kind


def widen(fit, draws: np.ndarray, params, tokens, discrepancy, rng: np.random.Generator) -> np.ndarray:
    """``draws`` of loss at ``(params, tokens)`` (shape ``(m, n)``) widened by the discrepancy."""
    s, kind = scale_draws(fit, discrepancy, draws.shape[0], rng)
    d = distance(fit.data.params, fit.data.tokens, params, tokens, kind)
    return disc.widen(draws, d, s, rng)


def calibrated_loss(fit, draws: np.ndarray, params: float, tokens: float) -> np.ndarray:
    """1-D ``draws`` of the loss at one point, widened by the learned discrepancy when ``fit`` has one."""
    if learned(fit) is None:
        return draws
    rng = fit._rng(None, salt=40_000)
    return widen(fit, np.asarray(draws)[:, None], [params], [tokens], True, rng)[:, 0]


def audit_note(fit) -> list[dict]:
    """An info flag saying the audit's loss predictions are on the calibrated posterior (empty without one)."""
    from bayescale.results.flags import _flag

    if learned(fit) is None:
        return []
    row = summary(fit).iloc[0]
    return [_flag("calibrated", "info",
                  f"loss predictions include the learned discrepancy: log-loss sd grows by s = {row.s:.3g} "
                  f"[{row.s_low:.3g}, {row.s_high:.3g}] per decade of {row.distance} beyond the fitted runs",
                  float(row.s))]


def reach_draws(fit, target: float, discrepancy, seed: int | None = None) -> np.ndarray:
    """Per draw, the compute at which the compute-optimal loss, drifting beyond the fitted compute, reaches ``target``.

    As :func:`bayescale.results.reach.falling_reach`: one slope drift ``s_i eps_i`` of log loss
    per decade of compute beyond the largest fitted compute (compute distance whatever the
    learned kind: along the compute-optimal frontier both axes grow with compute).
    """
    from bayescale.laws.chinchilla import LAW_PARAMETERS
    from bayescale.results.reach import LN10, beyond_horizon, chinchilla_reach, falling_reach

    p = fit.parameter_draws()
    n = len(p["E"])
    rng = fit._rng(seed, salt=30_000)
    s, _ = scale_draws(fit, discrepancy, n, rng)
    drift = np.log(disc.widen(np.ones((n, 1)), [1.0], s, rng)[:, 0])
    law = [p[k] for k in LAW_PARAMETERS]
    log_e, log_k, gamma = optimal_log_loss(*law)
    u_max = float(np.log(fit.data.compute.max()))
    start = np.log(chinchilla_reach(target, *law))
    u = falling_reach(lambda v: np.logaddexp(log_e, log_k - gamma * (v - np.log(6.0))), target, u_max, n,
                      lo=float(np.log(fit.data.compute.min())) - 20 * LN10, drift=drift, start=start)
    return np.exp(beyond_horizon(u, u_max))
