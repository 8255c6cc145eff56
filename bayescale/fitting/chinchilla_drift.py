"""Learning a Chinchilla fit's discrepancy scale ``s`` by forward chaining over compute (refits).

The model and what ``s`` means are in :mod:`bayescale.laws.chinchilla_drift`; the fit keeps and
uses the learned posterior through :mod:`bayescale.results.chinchilla_drift`. This module is
what :func:`bayescale.fit` calls with ``discrepancy=True`` (the law's registry entry names it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayescale.laws.chinchilla_drift import CUTS, check_distance, cut_sizes, distance, interval_variance
from bayescale.results import chinchilla_drift as kept


def forward_errors(fit, *, cuts: Sequence[float] = CUTS, kind: str = "compute", draws: int | None = None,
                   tune: int | None = None, chains: int | None = None, cores: int | None = None) -> pd.DataFrame:
    """Log errors of refits on the lowest ``cuts`` of the fitted runs' compute, scored on the rest.

    Each refit uses the fit's law, columns, noise and sampler settings (default priors, which
    depend on the refit's own runs) and the seed ``fit.config.seed + 1 + i`` for cut ``i``.
    Held-out runs (those not in ``fit``) never enter.

    Returns
    -------
    pandas.DataFrame
        One row per (cut, scored run): ``cut``, ``n_fit``, ``d`` (decades beyond the refit's
        runs), ``err`` (log loss minus the log predictive median), ``var`` (predictive
        variance of log loss, :func:`bayescale.laws.chinchilla_drift.interval_variance`).
    """
    from bayescale.fitting.single import fit_law

    check_distance(kind)
    data, cfg = fit.data, fit.config
    order = np.argsort(data.compute, kind="stable")
    rows = []
    for i, (cut, k) in enumerate(cut_sizes(cuts, len(order))):
        inner, rest = order[:k], order[k:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sub = fit_law(data.frame.iloc[inner], law=cfg.law, x=cfg.x, y=cfg.y, noise=cfg.noise,
                          draws=draws or cfg.draws, tune=tune or cfg.tune, chains=chains or cfg.chains,
                          seed=cfg.seed + 1 + i, sampler=cfg.sampler, target_accept=cfg.target_accept,
                          progress=False, cores=cores)
        pred = sub.predictive_draws(data.params[rest], data.tokens[rest], seed=cfg.seed + 1 + i)
        log_pred = np.log(np.maximum(pred, 1e-300))
        rows.append(pd.DataFrame({
            "cut": cut, "n_fit": k,
            "d": distance(data.params[inner], data.tokens[inner], data.params[rest], data.tokens[rest], kind),
            "err": np.log(data.y[rest]) - np.median(log_pred, axis=0), "var": interval_variance(log_pred)}))
    return pd.concat(rows, ignore_index=True)


def learn(fit, *, distance: str = "compute", cuts: Sequence[float] | None = None, draws: int | None = None,
          tune: int | None = None, chains: int | None = None, cores: int | None = None) -> pd.DataFrame:
    """Learn ``s`` for a Chinchilla ``fit`` by forward chaining and keep it in ``fit.idata``.

    ``distance`` is ``"compute"`` or ``"axes"``; ``cuts`` default to
    :data:`bayescale.laws.chinchilla_drift.CUTS`; ``draws``, ``tune``, ``chains`` default to the
    fit's. Bad options are refused before any sampling. Afterwards ``fit.calibrated`` is True
    and ``fit.predict(..., discrepancy=True)`` uses the learned ``s``.

    Returns
    -------
    pandas.DataFrame
        One row: ``distance``, ``cuts``, ``errors``, ``s`` (posterior mean), ``s_low``,
        ``s_high`` (5% and 95%), ``s_ml`` (maximum likelihood).
    """
    cuts = CUTS if cuts is None else cuts
    check_distance(distance)
    cut_sizes(cuts, len(fit.data.y))  # refuse bad cuts before the first refit
    errors = forward_errors(fit, cuts=cuts, kind=distance, draws=draws, tune=tune, chains=chains, cores=cores)
    kept.store(fit, errors, distance)
    return kept.summary(fit)


def check(data) -> None:
    """Before ``bayescale.fit(..., discrepancy=True)`` samples: refuse runs too few for the default cuts."""
    cut_sizes(CUTS, len(data.y))


def learn_at_fit(fit, *, cores: int | None = None) -> None:
    """After ``bayescale.fit(..., discrepancy=True)`` sampled: :func:`learn` with its defaults."""
    learn(fit, cores=cores)
