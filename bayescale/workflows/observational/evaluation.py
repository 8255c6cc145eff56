"""Checking the observational model: the paper's PCA baseline, simulated tables and the held-out protocol."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.workflows.observational.fit import observational
from bayescale.workflows.observational.model import score_mean
from bayescale.workflows.observational.result import ObservationalFit, _check_flag, _check_prob


def pca_baseline(
    features: np.ndarray,
    target: np.ndarray,
    train: np.ndarray,
    *,
    k: int = 3,
    floor: float = 0.0,
    prob: float = 0.9,
) -> pd.DataFrame:
    """Least-squares PCA baseline after Ruan et al. (2024), re-implemented from the paper's description.

    PCA (on the standardised, mean-imputed benchmark ``features`` of all models) gives
    ``k`` capability scores per model; a sigmoid ``floor + (1 - floor) sigmoid(w . pc + b)``
    is fitted to ``target`` on the ``train`` rows by nonlinear least squares. The interval
    is the point prediction plus or minus the normal quantile times the training residual
    sd (the paper gives no intervals; this is the plain least-squares one).

    Returns a frame with ``mean``, ``lower``, ``upper`` per row of ``features``.
    """
    from scipy.optimize import least_squares
    from scipy.stats import norm

    x = np.array(features, dtype=float)
    col_mean = np.nanmean(x, axis=0)
    x = np.where(np.isnan(x), col_mean, x)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-12)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    pcs = x @ vt[:k].T
    if np.corrcoef(pcs[:, 0], x.mean(axis=1))[0, 1] < 0:
        pcs[:, 0] *= -1
    train = np.asarray(train, dtype=bool)
    y = np.asarray(target, dtype=float)
    fit_rows = train & ~np.isnan(y)
    design = np.column_stack([pcs, np.ones(len(pcs))])

    def resid(p):
        return floor + (1 - floor) / (1 + np.exp(-design[fit_rows] @ p)) - y[fit_rows]

    sol = least_squares(resid, np.zeros(k + 1), method="lm" if fit_rows.sum() > k + 1 else "trf")
    pred = floor + (1 - floor) / (1 + np.exp(-design @ sol.x))
    dof = max(int(fit_rows.sum()) - (k + 1), 1)
    sd = math.sqrt(float(np.sum(sol.fun**2)) / dof)
    z = norm.ppf(0.5 + prob / 2)
    return pd.DataFrame({"mean": pred, "lower": pred - z * sd, "upper": pred + z * sd})


def simulate_table(
    n_families: int = 5,
    models_per_family: int | Sequence[int] = 6,
    n_benchmarks: int = 5,
    k: int = 2,
    *,
    noise: float = 0.02,
    missing: float = 0.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Simulate a benchmark table from the model (for tests and examples).

    Returns the table (columns ``Model``, ``Model Family``, ``FLOPs``, ``B1..Bn``) and the
    true parameters in the model's identification (``W`` lower triangular with unit
    diagonal, ``b`` with zeros for the first ``k`` benchmarks, ``alpha``,
    ``beta`` per family, ``capability`` per model, ``u`` standardised log compute).
    Floors are 0 except ``B1`` (0.25).
    """
    rng = np.random.default_rng(seed)
    sizes = ([int(models_per_family)] * n_families if np.isscalar(models_per_family)
             else [int(s) for s in models_per_family])
    n_families = len(sizes)
    fam_index = np.repeat(np.arange(n_families), sizes)
    n = len(fam_index)
    log_c = np.concatenate([np.sort(rng.uniform(0, 6, s)) for s in sizes])
    u = (log_c - log_c.mean()) / log_c.std()
    beta = 1.0 + 0.3 * rng.standard_normal((n_families, k))
    beta[:, 1:] *= 0.4
    alpha = 0.8 * rng.standard_normal((n_families, k))
    resid_sigma = np.full(k, 0.3)
    cap = alpha[fam_index] + beta[fam_index] * u[:, None] + resid_sigma * rng.standard_normal((n, k))
    w = rng.normal(0.8, 0.3, (n_benchmarks, k))
    w[:, 1:] = rng.normal(0.0, 0.7, (n_benchmarks, k - 1))  # later capabilities: mixed signs
    w = np.tril(w)
    w[np.arange(k), np.arange(k)] = 1.0
    b = rng.normal(0, 0.5, n_benchmarks)
    b[:k] = 0.0  # the anchors' intercepts (identification)
    floors = np.zeros(n_benchmarks)
    floors[0] = 0.25
    scores = score_mean(cap @ w.T + b, floors) + noise * rng.standard_normal((n, n_benchmarks))
    scores = np.clip(scores, 0, 1)
    complete = scores.copy()
    if missing > 0:
        scores[rng.random(scores.shape) < missing] = np.nan
    df = pd.DataFrame(scores, columns=[f"B{j + 1}" for j in range(n_benchmarks)])
    df.insert(0, "FLOPs", np.exp(log_c))
    df.insert(0, "Model Family", [f"F{f}" for f in fam_index])
    df.insert(0, "Model", [f"m{i}" for i in range(n)])
    truth = {"W": w, "b": b, "alpha": alpha, "beta": beta, "capability": cap, "u": u, "floors": floors,
             "resid_sigma": resid_sigma, "scores": complete, "family_index": fam_index}
    return df, truth


def holdout(
    df: pd.DataFrame,
    *,
    target: str,
    train: np.ndarray | pd.Series,
    benchmarks: Sequence[str],
    k: int = 3,
    prob: float = 0.9,
    discrepancy: bool = False,
    **fit_kwargs: Any,
) -> tuple[ObservationalFit, pd.DataFrame, pd.DataFrame]:
    """The paper's held-out protocol: hide ``target`` for the rows outside ``train``, fit, predict it.

    The Bayesian model sees every benchmark of every model except ``target`` on the
    held-out rows (it predicts those cells from each model's capability, inferred from
    its other benchmarks, its family and its compute). The baseline of :func:`pca_baseline`
    uses the same information: PCA of the other benchmarks of all models, sigmoid least
    squares on the training rows. ``discrepancy=True`` adds the Bayesian intervals widened
    by the target's drift learned by forward chaining on the training rows
    (:meth:`ObservationalFit.learn_drift`; 3 refits) as method ``bayesian_drift``.

    Returns
    -------
    fit : ObservationalFit
    table : DataFrame
        One row per held-out model with the observed ``truth`` and both methods'
        ``mean``/``lower``/``upper``.
    scores : DataFrame
        Per method: ``n``, ``mae``, ``rmse``, ``coverage`` (fraction of truths inside the
        central ``prob`` interval), ``mean_width``.
    """
    _check_prob(prob)
    _check_flag(discrepancy)
    benchmarks = list(benchmarks)
    if target not in benchmarks:
        raise DataError(f"target {target!r} must be one of the benchmarks {benchmarks}")
    train = np.asarray(train, dtype=bool)
    if train.shape != (len(df),):
        raise DataError(f"train mask has shape {train.shape}, expected ({len(df)},)")
    if train.all() or not train.any():
        raise DataError("train mask must keep some rows for fitting and hold out others")
    model_col = fit_kwargs.get("model", "Model")
    masked = df.copy()
    masked.loc[~train, target] = np.nan
    fit = observational(masked, benchmarks=benchmarks, k=k, **fit_kwargs)

    names = (df[model_col].astype(str) if model_col is not None else pd.Series(df.index.astype(str), index=df.index))
    kept = names.isin(fit.data.models).to_numpy()
    sub = df.loc[kept]
    sub_train = train[kept]
    truth = sub[target].to_numpy(dtype=float)
    others = [b for b in benchmarks if b != target]
    floor = float(fit.data.floors[benchmarks.index(target)])
    base = pca_baseline(sub[others].to_numpy(dtype=float), np.where(sub_train, truth, np.nan), sub_train,
                        k=min(k, len(others)), floor=floor, prob=prob)
    pred = fit.predict_missing(prob=prob)
    pred = pred[pred["benchmark"] == target].set_index("model")
    held = ~sub_train & ~np.isnan(truth)
    held_names = names[kept][held].tolist()
    table = pd.DataFrame({
        "model": held_names,
        "family": sub.loc[held, fit.columns["family"]].astype(str).to_numpy(),
        "truth": truth[held],
        "bayes_mean": pred.loc[held_names, "mean"].to_numpy(),
        "bayes_lower": pred.loc[held_names, "lower"].to_numpy(),
        "bayes_upper": pred.loc[held_names, "upper"].to_numpy(),
        "pca_mean": base["mean"].to_numpy()[held],
        "pca_lower": base["lower"].to_numpy()[held],
        "pca_upper": base["upper"].to_numpy()[held],
    })
    methods = ["bayes", "pca"]
    if discrepancy:
        calibrated = fit.predict_missing(prob=prob, discrepancy=True, benchmarks=[target]).set_index("model")
        for col in ("mean", "lower", "upper"):
            table[f"drift_{col}"] = calibrated.loc[held_names, col].to_numpy()
        methods.append("drift")
    names_out = {"bayes": "bayesian", "pca": "pca_least_squares", "drift": "bayesian_drift"}
    rows = []
    for method in methods:
        err = table[f"{method}_mean"] - table["truth"]
        inside = (table["truth"] >= table[f"{method}_lower"]) & (table["truth"] <= table[f"{method}_upper"])
        rows.append({"method": names_out[method], "n": len(table),
                     "mae": float(err.abs().mean()), "rmse": float(np.sqrt((err**2).mean())),
                     "coverage": float(inside.mean()),
                     "mean_width": float((table[f"{method}_upper"] - table[f"{method}_lower"]).mean())})
    return fit, table, pd.DataFrame(rows)
