"""Scaling-specific plots: log-log data with posterior curves, bands and extrapolation zones."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def plot_fit(fit, *, at=None, prob: float = 0.9, groups: Sequence[str] | None = None, ax=None, discrepancy=None):
    """Data, posterior median curve and central band per group on log-log axes.

    Beyond the largest observed ``x`` the axis is shaded as the extrapolation zone;
    curves extend to the largest of ``at``. ``discrepancy`` widens the bands as in
    ``fit.predict``.
    """
    import matplotlib
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(7.5, 5))
        ax = fig.subplots()
    else:
        fig = ax.figure
    d = fit.data
    names = list(d.groups) if groups is None else list(groups)
    lo, hi = d.x.min(), d.x.max()
    top = max(hi, float(np.max(at))) if at is not None else hi * 10 ** 0.5
    grid = np.logspace(np.log10(lo), np.log10(top), 120)
    colors = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    for i, name in enumerate(names):
        color = colors(i % colors.N)
        if name in d.groups:
            mask = d.group_index == d.groups.index(name)
            ax.scatter(d.x[mask], d.y[mask], s=14, color=color, zorder=3)
        pred = fit.predict(grid, name, prob=prob, kind="predictive", discrepancy=discrepancy)
        ax.plot(grid, pred["median"], color=color, lw=1.6, label=name if fit.config.group else "median")
        ax.fill_between(grid, pred["lower"], pred["upper"], color=color, alpha=0.15, lw=0)
    ax.axvspan(hi, top, color="0.5", alpha=0.12, lw=0, label="extrapolation")
    if at is not None:
        for xv in np.atleast_1d(at):
            ax.axvline(xv, color="0.3", ls=":", lw=1)
    from bayescale.laws.broken import mark_breaks

    mark_breaks(fit, ax, prob)
    ax.set_xscale("log")
    ax.set_yscale("linear" if fit.config.law == "sigmoid" else "log")  # accuracies can be 0
    ax.set_xlabel(fit.config.x)
    ax.set_ylabel(fit.config.y)
    ax.set_title(f"{fit.config.law} law, {int(prob * 100)}% predictive bands"
                 + ("" if discrepancy is None else " with model discrepancy"))
    ax.legend(fontsize=7, ncol=2 if len(names) > 6 else 1, frameon=False)
    fig.tight_layout()
    return fig
