r"""Figures of a backtest: calibration (nominal vs empirical coverage) and error vs distance.

Calibration
    A point's central interval of mass :math:`p` contains the truth exactly when its PIT
    :math:`u` satisfies :math:`|u - 1/2| \le p/2`, so the empirical coverage at every
    nominal level comes from the PITs. With :math:`n` independent points and perfect
    calibration the covered count is Binomial(:math:`n`, :math:`p`); the grey band is its
    central 95% range divided by :math:`n` (points of one curve are correlated, so the band
    is a lower bound on honest scatter).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

COLORS = {"bayescale": "C0", "bayescale+disc": "C2", "ls": "C7", "ls_bootstrap": "C3", "loglinear": "C1", "bnsl": "C5",
          "bnsl_signed": "C4"}


def _methods(points: pd.DataFrame, methods: Sequence[str] | None) -> list[str]:
    from bayescale.workflows.backtest.scores import METHODS

    present = set(points["method"])
    return [m for m in (methods or METHODS) if m in present]


def coverage_curve(pit: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Empirical coverage of central intervals at ``levels`` from PIT values."""
    pit = np.asarray(pit, dtype=float)
    pit = pit[np.isfinite(pit)]
    return np.array([np.mean(np.abs(pit - 0.5) <= level / 2 + 1e-12) for level in levels])


def calibration(points: pd.DataFrame, *, methods: Sequence[str] | None = None, ax=None, title: str | None = None):
    """Nominal vs empirical coverage per method, with the binomial 95% band of a calibrated forecast."""
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    levels = np.linspace(0.05, 0.95, 19)
    shown = [m for m in _methods(points, methods) if points.loc[points["method"] == m, "pit"].notna().any()]
    n = int(points.loc[points["method"] == shown[0], "pit"].notna().sum()) if shown else 0
    if n:
        lo = binom.ppf(0.025, n, levels) / n
        hi = binom.ppf(0.975, n, levels) / n
        ax.fill_between(levels, lo, hi, color="0.85", label=f"binomial 95% band (n={n})")
    ax.plot([0, 1], [0, 1], color="0.4", lw=1, ls="--")
    for method in shown:
        pit = points.loc[points["method"] == method, "pit"].to_numpy()
        ax.plot(levels, coverage_curve(pit, levels), marker="o", ms=3, color=COLORS.get(method), label=method)
    ax.set_xlabel("nominal coverage of central interval")
    ax.set_ylabel("empirical coverage of held-out points")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title or "Calibration")
    ax.legend(loc="upper left", fontsize=8)
    return ax.figure


def error_vs_distance(points: pd.DataFrame, *, methods: Sequence[str] | None = None, ax=None,
                      title: str | None = None):
    """RMSLE of the median forecast per extrapolation-distance bin, one line per method."""
    import matplotlib.pyplot as plt

    from bayescale.workflows.backtest.scores import distance_bin

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    frame = points.assign(bin=distance_bin(points["distance"].to_numpy(dtype=float)))
    labels = list(frame["bin"].cat.categories)
    for method in _methods(points, methods):
        sub = frame[frame["method"] == method]
        rmsle = sub.groupby("bin", observed=False)["log_err"].apply(lambda e: np.sqrt(np.mean(e**2)) if len(e) else
                                                                    np.nan)
        ax.plot(range(len(labels)), rmsle.reindex(labels).to_numpy(), marker="o", color=COLORS.get(method),
                label=method)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("decades beyond the fitted range")
    ax.set_ylabel("RMSLE of the median")
    ax.set_yscale("log")
    ax.set_title(title or "Forecast error vs extrapolation distance")
    ax.legend(fontsize=8)
    return ax.figure
