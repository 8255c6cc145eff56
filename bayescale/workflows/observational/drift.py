r"""Calibrated intervals for the observational capability model: learned forecast drift.

The capability model's intervals for a held-out score (a benchmark hidden for the large
models, :func:`bayescale.workflows.observational.holdout`) carry the posterior of the target's
loadings and of each model's capability, but not the error of the model itself: the
target's sigmoid link, learned on the small models, drifts as it is used for more capable
ones, and a model's score on one benchmark has an idiosyncratic part the k capabilities do
not carry. Both are learned here by forward chaining inside the training models, the same
idea as :mod:`bayescale.laws.discrepancy` for loss curves.

Forward chaining: the models whose target score is observed are ordered by compute; for
each cut (a quantile of their log compute) the target is hidden for the models above the
cut as well, the model is refitted, and the hidden scores are predicted. Each hidden score
gives a truth, draws of the target's linear predictor :math:`\eta` (the logit of the
chance-corrected score) and a distance :math:`d` in decades of compute beyond the fitted
models' reach (:func:`decades_beyond`).

Drift, on the logit scale of the score:

.. math::

    \eta^\ast = \eta + \delta, \qquad \delta \sim N\big(0,\ s_0^2 + (s\, d)^2\big), \qquad
    y \sim N\big(\phi + (1 - \phi)\,\mathrm{sigmoid}(\eta^\ast),\ \sigma\big)
    \text{ censored to } [0, 1].

:math:`s_0` is the error of a hidden score at the edge of the fitted compute, :math:`s` its
growth per decade beyond. Their posterior is computed on a grid under uniform priors (on
:math:`[0, 3]` logit units and :math:`[0, 3]` per decade) with the likelihood of each hidden
truth averaged over the posterior draws. Where the score's noise is small on the logit
scale the density is logit-normal (exact in the drift, linear in the noise: Monte Carlo
draws of the drift would rarely land within the noise of the truth, which biases the
scale upward, by about 0.1 logit on simulated errors); near the floor and the ceiling,
where the noise dominates, it is averaged over draws of the drift (common random numbers
across the grid) under the censored noise, so the bounds and the chance floor enter.
Forecasts draw :math:`(s_0, s)` from the grid posterior. The logit-normal form of
:func:`bayescale.laws.discrepancy.posterior` does not fit: scores sit on their floor or near 1,
where a logit error is undefined.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.workflows.observational.model import compiled_model, initial_point, sample

S0_MAX = 3.0  # upper end of the uniform prior on s0 (logit units)
S_MAX = 3.0  # upper end of the uniform prior on s (logit units per decade of compute)
CUTS = (0.5, 0.65, 0.8)  # quantiles of the observed rows' log compute where the chain cuts
LINEAR = 0.5  # a score's noise below this many logit units: the logit-normal form of grid_posterior
EDGE = 0.9  # the fitted models' reach: this quantile of their log10 compute (robust to one outlier)


def decades_beyond(compute, reference, q: float = EDGE) -> np.ndarray:
    """Decades of ``compute`` beyond the ``q`` quantile of ``reference`` compute (0 inside)."""
    edge = np.quantile(np.log10(np.asarray(reference, dtype=float)), q)
    return np.maximum(np.log10(np.asarray(compute, dtype=float)) - edge, 0.0)


def eta_draws(fit, rows: np.ndarray, j: int) -> np.ndarray:
    """Draws (draws, n) of benchmark ``j``'s linear predictor for the fitted models ``rows``."""
    cap = fit.draws("capability_score")[:, rows, :]  # (s, n, k)
    return np.einsum("snk,sk->sn", cap, fit.draws("W")[:, j, :]) + fit.draws("b")[:, j][:, None]


def _refit(fit, scores: np.ndarray):
    """Refit ``fit``'s model, with its sampler settings, on the same table with ``scores`` instead."""
    data = dataclasses.replace(fit.data, scores=scores)
    settings = fit.settings
    model = compiled_model(data, k=fit.k, noise=settings["noise"])
    idata = sample(model, method=fit.method, draws=settings["draws"], tune=settings["tune"],
                   chains=settings["chains"], seed=fit.seed, progress=settings.get("progress", False),
                   cores=settings["cores"], advi_steps=settings["advi_steps"], initvals=initial_point(data, fit.k))
    # type(fit): an ObservationalFit, named without importing result.py (which imports this module)
    return type(fit)(idata=idata, data=data, k=fit.k, method=fit.method, seed=fit.seed,
                     columns=fit.columns, settings=settings)


@dataclass
class ChainCells:
    """Hidden scores of a forward chain: one row per (cut, model) plus the draws that predicted them."""

    table: pd.DataFrame
    eta: list[np.ndarray] = field(default_factory=list)  # per cut: (draws, n_cut)
    sigma: list[np.ndarray] = field(default_factory=list)  # per cut: (draws,)
    floor: float = 0.0


def forward_chain(fit, benchmark: str, cuts: Sequence[float] = CUTS) -> ChainCells:
    """Hide ``benchmark`` above each compute cut among its observed models, refit, collect the errors."""
    d = fit.data
    if benchmark not in d.benchmarks:
        raise DataError(f"benchmark {benchmark!r} was not fitted; fitted: {d.benchmarks}")
    cuts = [float(c) for c in cuts]
    if not cuts or any(not 0 < c < 1 for c in cuts):
        raise DataError(f"cuts must be quantiles in (0, 1), got {cuts}")
    j = d.benchmarks.index(benchmark)
    observed = np.flatnonzero(~np.isnan(d.scores[:, j]))
    if len(observed) < 8:
        raise DataError(f"benchmark {benchmark!r} has {len(observed)} observed scores; forward chaining "
                        "needs at least 8")
    log_c = np.log10(d.compute[observed])
    out = ChainCells(table=pd.DataFrame(), floor=float(d.floors[j]))
    splits = []  # (cut, models above it, models at or below it), for the cuts that leave enough on each side
    for c in cuts:
        cut = np.quantile(log_c, c)
        above, below = observed[log_c > cut], observed[log_c <= cut]
        if len(above) > 0 and len(below) >= 4:
            splits.append((c, above, below))
    frames = []
    for i, (c, above, below) in enumerate(splits):
        if fit.settings.get("progress"):
            print(f"learning {benchmark}'s drift: refit {i + 1} of {len(splits)}, its {len(above)} scores above "
                  f"the {c:g} quantile of compute hidden", file=sys.stderr, flush=True)
        scores = d.scores.copy()
        scores[above, j] = np.nan
        refit = _refit(fit, scores)
        eta = eta_draws(refit, above, j)
        out.eta.append(eta)
        out.sigma.append(refit.draws("sigma")[:, j])
        frames.append(pd.DataFrame({
            "cut": c, "model": [d.models[i] for i in above],
            "family": [d.families[d.family_index[i]] for i in above],
            "compute": d.compute[above], "decades": decades_beyond(d.compute[above], d.compute[below]),
            "truth": d.scores[above, j], "eta_mean": eta.mean(axis=0), "eta_sd": eta.std(axis=0),
        }))
    if not frames:
        raise DataError(f"no cut in {cuts} leaves models on both sides for {benchmark!r}")
    out.table = pd.concat(frames, ignore_index=True)
    return out


def _log_density(y: float, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log density of score ``y`` under N(mean, sigma) censored to [0, 1] (elementwise in mean)."""
    from scipy.stats import norm

    if y <= 0.0:
        return norm.logcdf(-mean / sigma)
    if y >= 1.0:
        return norm.logsf((1.0 - mean) / sigma)
    return norm.logpdf((y - mean) / sigma) - np.log(sigma)


def grid_posterior(truth, eta: np.ndarray, sigma: np.ndarray, decades, floor: float, *,
                   n_grid: int = 41, n_draws: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid posterior of ``(s0, s)`` from hidden scores (module docstring), uniform priors.

    Parameters
    ----------
    truth : array_like, shape (n,)
        Observed scores of the hidden cells.
    eta : numpy.ndarray, shape (draws, n)
        Posterior draws of each hidden cell's linear predictor.
    sigma : numpy.ndarray, shape (draws, n)
        Draws of the benchmark's score-noise sd for each cell (from the fit that predicted it).
    decades : array_like, shape (n,)
        Distance of each cell beyond the fitted models' compute.

    Returns
    -------
    s0, s, weights : numpy.ndarray
        The grid axes and the posterior probabilities, shape ``(len(s0), len(s))``.
    """
    from scipy.special import expit, logsumexp

    truth, decades = np.asarray(truth, dtype=float), np.asarray(decades, dtype=float)
    rng = np.random.default_rng(seed)
    pick = rng.choice(eta.shape[0], size=min(n_draws, eta.shape[0]), replace=False)
    eta, sigma = eta[pick], np.asarray(sigma, dtype=float)[pick]
    if truth.shape != (eta.shape[1],) or sigma.shape != eta.shape or np.shape(decades) != truth.shape:
        raise DataError(f"grid_posterior needs truth (n,), eta and sigma (draws, n), decades (n,); got "
                        f"{truth.shape}, {eta.shape}, {sigma.shape}, {np.shape(decades)}")
    s0 = np.linspace(0.0, S0_MAX, n_grid)
    s = np.linspace(0.0, S_MAX, n_grid)
    log_lik = np.zeros((n_grid, n_grid))
    z = rng.standard_normal(eta.shape)  # common random numbers across the grid
    for i, y in enumerate(truth):
        tau = np.sqrt(s0[:, None] ** 2 + (s[None, :] * decades[i]) ** 2)[..., None]  # (g, g, 1)
        p = (y - floor) / (1.0 - floor)
        slope = (1.0 - floor) * p * (1.0 - p)  # d score / d logit at the truth
        if 0.0 < p < 1.0 and np.median(sigma[:, i]) < LINEAR * slope:
            # noise small on the logit scale: the score's logit is N(eta, tau^2 + (sigma/slope)^2) (exact in the
            # drift, linear in the noise), where draws of the drift would rarely land within the noise of y
            var = tau**2 + (sigma[:, i] / slope) ** 2
            dens = -0.5 * (np.log(2 * np.pi * var) + (np.log(p / (1.0 - p)) - eta[:, i]) ** 2 / var) - np.log(slope)
        else:  # near the floor or the ceiling the noise dominates: average over draws of the drift
            dens = _log_density(y, floor + (1.0 - floor) * expit(eta[:, i] + tau * z[:, i]), sigma[:, i])
        log_lik += logsumexp(dens, axis=-1) - np.log(eta.shape[0])
    weights = np.exp(log_lik - log_lik.max())
    return s0, s, weights / weights.sum()


@dataclass
class Drift:
    """Learned drift of one benchmark's forecasts: grid posterior of ``(s0, s)`` and the chain's cells."""

    benchmark: str
    s0: np.ndarray
    s: np.ndarray
    weights: np.ndarray
    cells: pd.DataFrame

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws of ``(s0, s)`` from the grid posterior."""
        flat = rng.choice(self.weights.size, size=n, p=self.weights.ravel())
        i, k = np.unravel_index(flat, self.weights.shape)
        return self.s0[i], self.s[k]

    def summary(self, prob: float = 0.9) -> dict[str, float]:
        """Posterior mean and central ``prob`` interval of ``s0`` and ``s``, and the chain's cell count."""
        out: dict[str, float] = {"benchmark": self.benchmark, "n_cells": len(self.cells)}
        for name, grid, marginal in (("s0", self.s0, self.weights.sum(axis=1)),
                                     ("s", self.s, self.weights.sum(axis=0))):
            cdf = np.cumsum(marginal)
            out[name] = float((grid * marginal).sum())
            out[f"{name}_lower"] = float(grid[np.searchsorted(cdf, (1 - prob) / 2)])
            out[f"{name}_upper"] = float(grid[min(np.searchsorted(cdf, (1 + prob) / 2), len(grid) - 1)])
        return out


def learn(fit, benchmark: str, cuts: Sequence[float] = CUTS) -> Drift:
    """Learn ``benchmark``'s drift by forward chaining (``len(cuts)`` refits) and store it in ``fit.drift``."""
    chain = forward_chain(fit, benchmark, cuts)
    eta = np.concatenate(chain.eta, axis=1)
    sigma = np.concatenate([np.repeat(sd[:, None], e.shape[1], axis=1) for sd, e in zip(chain.sigma, chain.eta,
                                                                                         strict=True)], axis=1)
    s0, s, weights = grid_posterior(chain.table["truth"].to_numpy(), eta, sigma, chain.table["decades"].to_numpy(),
                                    chain.floor, seed=fit.seed)
    drift = Drift(benchmark=benchmark, s0=s0, s=s, weights=weights, cells=chain.table)
    fit.drift[benchmark] = drift
    return drift


def widen(fit, eta: np.ndarray, compute, columns: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Add learned drift to linear-predictor draws ``eta`` (draws, n, benchmarks) of models with ``compute``.

    Only the benchmark ``columns`` are widened; each one's drift is learned first if
    ``fit.drift`` lacks it (:func:`learn`: ``len(CUTS)`` refits). The distance of each model
    is taken against the models whose score on that benchmark was observed in the fit.
    """
    d = fit.data
    out = np.array(eta, dtype=float, copy=True)
    for j in sorted(set(int(c) for c in columns)):
        bench = d.benchmarks[j]
        drift = fit.drift[bench] if bench in fit.drift else learn(fit, bench)
        observed = ~np.isnan(d.scores[:, j])
        decades = decades_beyond(compute, d.compute[observed])
        s0, s = drift.sample(out.shape[0], rng)
        tau = np.sqrt(s0[:, None] ** 2 + (s[:, None] * decades[None, :]) ** 2)
        out[:, :, j] += tau * rng.standard_normal(tau.shape)
    return out
