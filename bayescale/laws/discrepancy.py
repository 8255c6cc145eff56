r"""Model discrepancy that grows with extrapolation distance.

A fitted law is an approximation; its error grows with the distance extrapolated. On the log
scale a forecast at :math:`d` decades beyond the fitted range gets an extra term

.. math:: \log y = \log \hat y + \delta, \qquad \delta \sim \mathcal N\!\left(0, (s\, d)^2\right),

as if the slope itself drifted. The scale :math:`s` (sd of :math:`\log y` per decade) is
learned from in-sample backtests (:func:`bayescale.workflows.backtest` with ``discrepancy=True``): log
errors :math:`e_j` at distances :math:`d_j`, with predictive log variance :math:`v_j`, inform

.. math:: e_j \sim \mathcal N\!\left(0,\; v_j + (s\, d_j)^2\right), \qquad s \sim \mathrm{Uniform}(0, 1),

the uniform prior on a standard deviation of Gelman (2006, Bayesian Analysis 1(3)). Its
posterior is computed on a grid, and forecasts draw :math:`s` from it: a few short-range
errors rarely rule out a sizeable :math:`s`, and a point estimate would then be 0.
"""

from __future__ import annotations

import numpy as np

from bayescale.errors import DataError

S_MAX = 1.0  # upper end of the uniform prior on s: log y sd per decade of extrapolation


def _finite_errors(d, err, var) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d, err, var = (np.asarray(a, dtype=float) for a in (d, err, var))
    keep = np.isfinite(d) & np.isfinite(err) & np.isfinite(var) & (d > 0)
    return d[keep], err[keep], np.maximum(var[keep], 1e-12)


def posterior(d, err, var, *, n_grid: int = 2001, log_prior=None) -> tuple[np.ndarray, np.ndarray]:
    """Grid posterior of ``s`` in ``err ~ N(0, var + (s d)^2)``.

    Parameters
    ----------
    d, err, var : array_like
        Distances (decades beyond the fitted range), errors of the median on the drift's scale,
        and predictive variances there; rows with ``d <= 0`` or non-finite values carry no information.
    log_prior : callable, optional
        Log density of ``log s`` (e.g. :meth:`bayescale.laws.drift_prior.DriftPrior.log_density`):
        the grid is then even in ``log s`` from 1e-4 to 3 and the errors update that prior (partial
        pooling toward the population). Default: ``s ~ Uniform(0, S_MAX)`` on an even grid.

    Returns
    -------
    grid, weights : numpy.ndarray
        Values of ``s`` and their posterior probabilities (the prior alone without errors).
    """
    d, err, var = _finite_errors(d, err, var)
    if log_prior is None:
        grid, log_w = np.linspace(0.0, S_MAX, n_grid), np.zeros(n_grid)
    else:
        log_grid = np.linspace(np.log(1e-4), np.log(3.0), n_grid)
        grid, log_w = np.exp(log_grid), np.asarray(log_prior(log_grid), dtype=float)
    total = var[None, :] + (grid[:, None] * d[None, :]) ** 2
    log_post = log_w - 0.5 * np.sum(np.log(total) + err[None, :] ** 2 / total, axis=1)
    weights = np.exp(log_post - log_post.max())
    return grid, weights / weights.sum()


def max_likelihood(d, err, var) -> float:
    """Maximum-likelihood ``s`` in ``err ~ N(0, var + (s d)^2)`` (0 when the errors need no extra spread)."""
    from scipy.optimize import minimize_scalar

    d, err, var = _finite_errors(d, err, var)
    if len(d) == 0:
        return 0.0

    def nll(log_s):
        total = var + (np.exp(log_s) * d) ** 2
        return 0.5 * np.sum(np.log(total) + err**2 / total)

    best = minimize_scalar(nll, bounds=(np.log(1e-6), np.log(20.0)), method="bounded")
    return float(np.exp(best.x)) if nll(best.x) < nll(np.log(1e-6)) - 1e-9 else 0.0


def check_scale(s) -> np.ndarray:
    """``s`` as a 1-D array of non-negative finite values (a number or draws of it); every law can be
    widened (bounded metrics on the logit scale)."""
    try:
        values = np.atleast_1d(np.asarray(s, dtype=float))
    except (TypeError, ValueError):
        raise DataError(f"discrepancy must be a number or an array of draws of s, got {s!r}") from None
    if values.ndim != 1 or values.size == 0:
        raise DataError(f"discrepancy must be a number or a 1-D array of draws of s, got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        raise DataError(f"discrepancy s must be finite and >= 0; bad values at positions {bad[:10].tolist()}: "
                        f"{values[bad[:3]].tolist()}")
    return values


BOUNDED_METRICS = ("error", "accuracy")


def link_name(metric: str | None) -> str:
    """The scale the discrepancy acts on: ``"logit"`` for errors and accuracies (bounded in (0, 1)),
    ``"log"`` for losses and anything else (the stated default when the metric is not known)."""
    return "logit" if metric in BOUNDED_METRICS else "log"


def link_fn(values, name: str) -> np.ndarray:
    """``log`` or ``logit`` of ``values`` (logit arguments clipped into (1e-9, 1 - 1e-9))."""
    values = np.asarray(values, dtype=float)
    if name == "logit":
        p = np.clip(values, 1e-9, 1 - 1e-9)
        return np.log(p) - np.log1p(-p)
    return np.log(np.maximum(values, 1e-300))


def inverse_link(values, name: str) -> np.ndarray:
    """The inverse of :func:`link_fn`."""
    values = np.asarray(values, dtype=float)
    return 1.0 / (1.0 + np.exp(-values)) if name == "logit" else np.exp(values)


def widen(draws: np.ndarray, decades, s, rng: np.random.Generator, link: str = "log") -> np.ndarray:
    """Add ``N(0, (s_i d_j)^2)`` to ``link(draws)`` (shape ``(m, n)``): multiply positive draws by
    ``exp(N(0, (s_i d_j)^2))`` (``link="log"``), or shift the log odds of draws in (0, 1) (``"logit"``).

    ``decades`` (length ``n``) is each column's distance beyond the fitted range (0 inside);
    ``s`` is a number, or draws of it: ``m`` draws are used one per row, any other number is
    resampled with replacement.
    """
    s = check_scale(s)
    draws = np.asarray(draws, dtype=float)
    d = np.maximum(np.asarray(decades, dtype=float), 0.0)
    m = draws.shape[0]
    s_rows = s if len(s) == m else s[rng.integers(len(s), size=m)] if len(s) > 1 else np.full(m, s[0])
    shift = rng.standard_normal(draws.shape) * s_rows[:, None] * d[None, :]
    if link == "logit":
        return np.where(d[None, :] > 0, inverse_link(link_fn(draws, "logit") + shift, "logit"), draws)
    return draws * np.exp(shift)
