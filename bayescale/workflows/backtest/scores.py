"""Scores of held-out points: coverage, width, PIT, CRPS, interval score and log error of the median."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

LEVELS = (0.5, 0.8, 0.9)


METHODS = ("bayescale", "bayescale+prior", "bayescale+disc", "ls", "ls_bootstrap", "loglinear", "bnsl",
           "bnsl_signed")


DISTANCE_BINS = (0.0, 0.1, 0.25, 0.5, 1.0, np.inf)


def crps_from_draws(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of each column of ``draws`` (shape ``(m, n)``) against ``y`` (shape ``(n,)``)."""
    m = draws.shape[0]
    term1 = np.mean(np.abs(draws - y[None, :]), axis=0)
    s = np.sort(draws, axis=0)
    weights = (2 * np.arange(1, m + 1) - m - 1)[:, None]
    term2 = np.sum(weights * s, axis=0) / m**2
    return term1 - term2


def score_draws(y: np.ndarray, draws: np.ndarray) -> pd.DataFrame:
    """Scores of held-out values ``y`` under predictive ``draws`` (shape ``(m, n)``); one row per point."""
    y = np.asarray(y, dtype=float)
    draws = np.asarray(draws, dtype=float)
    median = np.median(draws, axis=0)
    log_y = np.log(y)
    out = {"median": median, "log_err": np.log(np.maximum(median, 1e-300)) - log_y,
           "abs_rel_err": np.abs(median - y) / np.abs(y),
           "crps_log": crps_from_draws(np.log(np.maximum(draws, 1e-300)), log_y)}
    point = draws.shape[0] == 1
    out["pit"] = np.full(len(y), np.nan) if point else np.mean(draws < y, axis=0) + 0.5 * np.mean(draws == y, axis=0)
    for level in LEVELS:
        tag = int(round(level * 100))
        if point:
            for column in ("lower", "upper", "covered", "width"):
                out[f"{column}{tag}"] = np.full(len(y), np.nan)
            continue
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out[f"lower{tag}"], out[f"upper{tag}"] = lo, hi
        out[f"covered{tag}"] = ((y >= lo) & (y <= hi)).astype(float)
        out[f"width{tag}"] = (hi - lo) / np.abs(median)
        if tag == 90:
            log_lo, log_hi = np.log(np.maximum(lo, 1e-300)), np.log(np.maximum(hi, 1e-300))
            out["interval_score90"] = (log_hi - log_lo) + 2 / (1 - level) * (np.maximum(log_lo - log_y, 0)
                                                                             + np.maximum(log_y - log_hi, 0))
    if point:
        out["interval_score90"] = np.full(len(y), np.nan)
    return pd.DataFrame(out)


def distance_bin(d: np.ndarray) -> pd.Categorical:
    labels = [f"{a:g}-{b:g}" if np.isfinite(b) else f">{a:g}" for a, b in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:],
                                                                               strict=True)]
    return pd.cut(np.maximum(d, 0.0), list(DISTANCE_BINS), labels=labels, right=False, include_lowest=True)


def summarise(points: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Coverage, width, CRPS and point errors of ``points`` per method and ``by`` columns."""
    keys = [*by, "method"]

    def stats(g: pd.DataFrame) -> pd.Series:
        row = {"n_points": len(g), "n_curves": g["curve"].nunique()}
        for level in LEVELS:
            tag = int(round(level * 100))
            row[f"coverage{tag}"] = g[f"covered{tag}"].mean()
        row["width90"] = g["width90"].median()
        row["interval_score90"] = g["interval_score90"].mean()
        row["crps_log"] = g["crps_log"].mean()
        row["rmsle"] = float(np.sqrt(np.mean(g["log_err"] ** 2)))
        row["abs_rel_err"] = g["abs_rel_err"].mean()
        row["mean_distance"] = g["distance"].mean()
        return pd.Series(row)

    order = {m: i for i, m in enumerate(METHODS)}
    table = points.groupby(keys, observed=True, sort=False)[list(points.columns)].apply(stats).reset_index()
    table["_order"] = table["method"].map(order)
    return table.sort_values([*by, "_order"]).drop(columns="_order").reset_index(drop=True)
