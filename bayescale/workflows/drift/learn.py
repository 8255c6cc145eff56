r"""Learn how far scaling laws drift beyond their data, from many curves whose continuation is known.

Data: the errors of :func:`bayescale.workflows.drift.forecasts.forecast_errors`, one row per
held-out point :math:`i` of curve :math:`j` of data set :math:`k`: the error :math:`e_{ji}` of the
forecast's median on the drift's scale (log or logit), its predictive variance :math:`v_{ji}`
and its distance :math:`d_{ji} > 0` in decades beyond the fitted rows.

Model (data sets as a level, curves within them):

.. math::

    e_{ji} &\sim \mathcal N\!\left(0,\; v_{ji} + s_j^2 d_{ji}^2\right) \\
    \log s_j &\sim \mathcal N(\mu + x_j^\top \beta + \tau u_{k(j)},\; \kappa), \qquad u_k \sim \mathcal N(0, 1) \\
    \mu &\sim \mathcal N(\log 0.05, 1.5), \quad \beta \sim \mathcal N(0, 1), \quad
    \tau, \kappa \sim \mathrm{HalfNormal}(1)

with :math:`x_j` the curve's covariates (:data:`bayescale.laws.drift_prior.EFFECTS`: the metric
bounded or not, the law). Each curve's :math:`\log s_j` is integrated out on a grid (the
likelihood of a curve's errors is a one-dimensional function of it), so the sampled model
holds only the population and the data-set effects. A forecast for a new curve of a new data set
draws :math:`\log s = \mu + x^\top\beta + \tau u + \kappa \eta` with :math:`u, \eta \sim N(0, 1)`
(:class:`bayescale.laws.drift_prior.DriftPrior`).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.laws.drift_prior import EFFECTS, FORMAT, VERSION, DriftPrior, design_row

LOG_S_GRID = np.linspace(np.log(1e-4), np.log(3.0), 81)


def curve_log_likelihoods(errors: pd.DataFrame, grid: np.ndarray = LOG_S_GRID) -> tuple[pd.DataFrame, np.ndarray]:
    """Per curve, the log likelihood of its errors at every ``log s`` of ``grid``.

    Returns the curves (dataset, curve, metric, law) and an array of shape ``(n_curves, len(grid))``.
    """
    errors = errors[errors["d"] > 0]
    keys = ["dataset", "curve", "metric", "law"]
    curves, rows = [], []
    s2 = np.exp(2 * grid)[:, None]
    for key, g in errors.groupby(keys, sort=True):
        d, e, v = (g[c].to_numpy(float) for c in ("d", "err", "var"))
        total = np.maximum(v, 1e-12)[None, :] + s2 * d[None, :] ** 2
        rows.append(-0.5 * np.sum(np.log(2 * np.pi * total) + e[None, :] ** 2 / total, axis=1))
        curves.append(dict(zip(keys, key, strict=True)))
    return pd.DataFrame(curves, columns=keys), np.array(rows).reshape(len(rows), len(grid))


def _rounded(values: np.ndarray) -> list[float]:
    return [float(f"{v:.5g}") for v in np.asarray(values, dtype=float)]


def learn_drift(errors: pd.DataFrame, *, draws: int = 500, tune: int = 500, chains: int = 2, seed: int = 0,
                provenance: list[dict] | None = None, settings: dict | None = None) -> DriftPrior:
    """Fit the hierarchical drift model to corpus forecast errors; the learned population prior.

    Parameters
    ----------
    errors : pandas.DataFrame
        Columns ``dataset``, ``curve``, ``metric``, ``law``, ``d``, ``err``, ``var``
        (:func:`bayescale.workflows.drift.forecasts.forecast_errors`).
    draws, tune, chains, seed
        NUTS settings (nutpie).
    provenance, settings
        Stored in the result: where each data set comes from, and how the errors were made.
    """
    import pymc as pm
    import pytensor.tensor as pt

    missing = [c for c in ("dataset", "curve", "metric", "law", "d", "err", "var") if c not in errors.columns]
    if missing:
        raise DataError(f"drift errors are missing column(s) {missing}")
    curves, loglik = curve_log_likelihoods(errors)
    if len(curves) == 0:
        raise DataError("no forecast errors beyond the fitted range to learn the drift from")
    datasets = sorted(curves["dataset"].unique())
    k = curves["dataset"].map({n: i for i, n in enumerate(datasets)}).to_numpy()
    design = np.array([design_row(m, law) for m, law in zip(curves["metric"], curves["law"], strict=True)], float)
    used = [i for i, _ in enumerate(EFFECTS) if design[:, i].any() and not design[:, i].all()]
    step = LOG_S_GRID[1] - LOG_S_GRID[0]
    with pm.Model():
        mu = pm.Normal("mu", np.log(0.05), 1.5)
        beta = pm.Normal("beta", 0.0, 1.0, shape=len(used)) if used else None
        tau = pm.HalfNormal("tau", 1.0)
        kappa = pm.HalfNormal("kappa", 1.0)
        u = pm.Normal("u", 0.0, 1.0, shape=len(datasets))
        mean = mu + tau * u[k] + (pt.dot(design[:, used], beta) if used else 0.0)
        z = (LOG_S_GRID[None, :] - mean[:, None]) / kappa
        log_prior = -0.5 * z**2 - pt.log(kappa) - 0.5 * np.log(2 * np.pi) + np.log(step)
        pm.Potential("curves", pt.sum(pt.logsumexp(loglik + log_prior, axis=1)))
        idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, nuts_sampler="nutpie",
                          progressbar=False, target_accept=0.95)
    post = idata["posterior"].to_dataset() if hasattr(idata, "children") else idata.posterior
    flat = {name: post[name].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy()
            for name in ("mu", "tau", "kappa", "u")}
    betas = post["beta"].stack(sample=("chain", "draw")).transpose("sample", ...).to_numpy() if used else None
    effects = {name: (betas[:, used.index(i)] if i in used else np.zeros(len(flat["mu"])))
               for i, name in enumerate(EFFECTS)}
    import arviz_stats as azs

    diag = pd.DataFrame(azs.summary(idata, var_names=["mu", "tau", "kappa"], kind="diagnostics", round_to="none"))
    counts = errors[errors["d"] > 0].groupby("dataset").agg(curves=("curve", "nunique"), points=("d", "size"))
    by_set = {n: {"u_mean": float(flat["u"][:, i].mean()), "curves": int(counts.loc[n, "curves"]),
                  "points": int(counts.loc[n, "points"])} for i, n in enumerate(datasets)}
    return DriftPrior({
        "format": FORMAT, "version": VERSION,
        "created": _dt.date.today().isoformat(),
        "draws": {"mu": _rounded(flat["mu"]), "tau": _rounded(flat["tau"]), "kappa": _rounded(flat["kappa"]),
                  **{f"beta_{n}": _rounded(v) for n, v in effects.items()}},
        "effects_learned": [EFFECTS[i] for i in used],
        "datasets": by_set,
        "provenance": provenance or [],
        "settings": {**(settings or {}), "sampler": f"nutpie {chains}x{draws} (tune {tune}), seed {seed}",
                     "max_r_hat": float(diag["r_hat"].max()), "min_ess_bulk": float(diag["ess_bulk"].min())},
    })


def leave_one_out(errors: pd.DataFrame, **options) -> dict[str, DriftPrior]:
    """One prior per data set, learned from all the *other* data sets' errors (never its own)."""
    out = {}
    for name in sorted(errors["dataset"].unique()):
        rest = errors[errors["dataset"] != name]
        prior = learn_drift(rest, **options)
        assert name not in prior.data["datasets"]  # the held-out data set never sees itself
        out[name] = prior
    return out
