"""Checks of what users ask a fit for (a level, scales), and interval summaries of draws."""

from __future__ import annotations

import numpy as np

from bayescale.errors import DataError

QUANTITIES = ("predictive", "mean")


def interval_columns(draws: np.ndarray, prob: float) -> dict[str, np.ndarray]:
    """Median, central interval and mean of draws along axis 0."""
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    q = np.quantile(draws, [lo, 0.5, hi], axis=0)
    return {"median": q[1], "lower": q[0], "upper": q[2], "mean": draws.mean(axis=0)}


def check_prob(prob: float) -> float:
    if not isinstance(prob, int | float) or not 0 < prob < 1:
        raise DataError(f"prob must be a number in (0, 1), got {prob!r}")
    return float(prob)


def check_kind(kind: str) -> str:
    if kind not in QUANTITIES:
        raise DataError(f"kind must be one of {QUANTITIES}, got {kind!r}")
    return kind


def requested_groups(group, groups) -> list:
    """``group`` as a list: ``None`` means all ``groups``, a string one group, else the names given."""
    return list(groups) if group is None else [group] if isinstance(group, str) else list(group)


def positive_scales(x, name: str = "x") -> np.ndarray:
    values = np.atleast_1d(np.asarray(x, dtype=float))
    if values.ndim != 1 or values.size == 0:
        raise DataError(f"{name} must be a non-empty list of scales")
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        raise DataError(f"{name} must be finite and > 0; got {values[bad].tolist()}")
    return values


def scalar_stats(draws: np.ndarray, prob: float) -> dict[str, float]:
    stats = interval_columns(draws, prob)
    return {k: float(v) for k, v in stats.items()} | {"prob_positive": float(np.mean(draws > 0))}
