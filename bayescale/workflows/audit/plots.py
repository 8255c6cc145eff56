"""One figure per audited claim: the claimed point or interval drawn on the posterior.

Each function returns a :class:`matplotlib.figure.Figure` (made without pyplot, so nothing
is shown and nothing leaks between calls). The claim is drawn in red (a dashed line for a
claimed value, a shaded span between dashed lines for a claimed interval or range), the
posterior in blue (a histogram of the draws with its central interval, or a median curve
with its band).

- :func:`parameter_figure`: posterior density of a parameter with the claimed value or interval;
- :func:`reach_figure`: posterior of the scale at which the target is reached, with the
  claimed ``by`` and the share of draws that never reach it;
- :func:`emergence_figure`: the sigmoid's median and band over the data, the claimed
  emergence scale or interval, and the posterior interval of the midpoint;
- :func:`groups_figure`: group curves with bands over the claimed range and, for pairwise
  claims, the relative gap ``a / b - 1`` with its band and the tolerance;
- :func:`population_figure`: the re-weighted aggregate curve and the worst group's, with the
  claimed value at ``at``;
- :func:`trend_figure`: the refit on the points below the cutoff, its band out to ``up_to``,
  and the held-out points above the cutoff.

:mod:`bayescale.workflows.audit.figures` picks the figure of each row of an audit result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CLAIM = "#c62828"
POSTERIOR = "#1f5fa8"
HELD_OUT = "#e08e0b"
GRID_POINTS = 100


def _figure(ncols: int = 1, width: float = 6.4, height: float = 3.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _log_x(ax, lo: float, hi: float) -> None:
    """Log x axis; over less than 2 decades, labels at 1, 2, 5 x 10^k (more under one decade), no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    if hi / lo < 100:
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if hi / lo > 10 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}".replace("e+", "e")))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _y_scale(ax, y) -> None:
    """Log y only where the metric spans more than a decade (else a linear axis reads better)."""
    y = np.asarray(y, dtype=float)
    if np.all(y > 0) and y.max() / y.min() > 10:
        ax.set_yscale("log")


def _range_marks(ax, range_: Sequence[float], label: str = "claimed range") -> None:
    ax.axvspan(range_[0], range_[1], color=CLAIM, alpha=0.07, lw=0, label=label)
    for edge in range_:
        ax.axvline(edge, color=CLAIM, ls="--", lw=1.0)


def _central(draws: np.ndarray, prob: float) -> tuple[float, float]:
    lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2])
    return float(lo), float(hi)


def _claim_marks(ax, value: float | None, interval: Sequence[float] | None, *, label: str = "claimed") -> None:
    if interval is not None:
        _range_marks(ax, interval, label=f"{label} interval")
    if value is not None:
        ax.axvline(value, color=CLAIM, ls="--", lw=1.6, label=f"{label} value")


def _histogram(ax, draws: np.ndarray, prob: float, *, log: bool) -> None:
    values = np.log10(draws) if log else draws
    bins = np.linspace(*np.quantile(values, [0.001, 0.999]), 50) if np.ptp(values) > 0 else 10
    counts, edges = np.histogram(values, bins=bins, density=True)
    edges = 10 ** edges if log else edges
    ax.stairs(counts, edges, fill=True, color=POSTERIOR, alpha=0.35, label="posterior")
    lo, hi = _central(draws, prob)
    ax.axvspan(lo, hi, color=POSTERIOR, alpha=0.08, lw=0, label=f"central {prob:.0%}")
    ax.axvline(float(np.median(draws)), color=POSTERIOR, lw=1.2)
    ax.set_yticks([])
    if log:
        _log_x(ax, float(edges[0]), float(edges[-1]))


def _spans_decades(values: np.ndarray) -> bool:
    values = values[np.isfinite(values)]
    return bool(values.size and np.all(values > 0) and np.log10(values.max() / values.min()) > 1)


def parameter_figure(draws, *, name: str, value: float | None = None, interval: Sequence[float] | None = None,
                     prob: float = 0.9, verdict: str | None = None):
    """Posterior density of a parameter with the claimed value and/or interval.

    Parameters
    ----------
    draws : array of float
        Posterior draws of the parameter in the user's units.
    name : str
        The parameter's name (axis label).
    value, interval : float, [lower, upper], optional
        What the claim says.
    prob : float
        Mass of the shaded central posterior interval.
    verdict : str, optional
        Shown in the title.
    """
    draws = np.asarray(draws, dtype=float).ravel()
    marks = [v for v in (value, *(interval or ())) if v is not None]
    fig, (ax,) = _figure()
    _histogram(ax, draws, prob, log=_spans_decades(np.append(draws, marks)))
    _claim_marks(ax, value, interval)
    ax.set_xlabel(name)
    ax.set_title(_title(name, verdict))
    ax.legend(fontsize=8, loc="best")
    return fig


def reach_figure(draws, *, target: float, by: float, x_label: str = "scale", label: str = "",
                 prob: float = 0.9, verdict: str | None = None):
    """Posterior of the scale at which the metric reaches ``target``, with the claimed ``by``.

    Draws that never reach the target (``inf``) are not on the axis; their share is written
    on the figure, with the posterior probability of reaching it by ``by``.
    """
    draws = np.asarray(draws, dtype=float).ravel()
    finite = draws[np.isfinite(draws) & (draws > 0)]
    never = float(np.mean(draws == np.inf))
    by_prob = float(np.mean(draws <= by))
    fig, (ax,) = _figure()
    if finite.size:
        _histogram(ax, finite, prob, log=True)
    else:
        ax.set_xscale("log")
    ax.axvline(by, color=CLAIM, ls="--", lw=1.6, label=f"claimed by {by:.3g}")
    if finite.size:  # keep the claimed scale on the axis, with a margin
        lo, hi = min(float(finite.min()), by), max(float(finite.max()), by)
        pad = (hi / lo) ** 0.05
        ax.set_xlim(lo / pad, hi * pad)
    ax.text(0.02, 0.95, f"P(reached by {by:.3g}) = {by_prob:.2f}\nP(never reached) = {never:.2f}",
            transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xlabel(f"{x_label} at which the metric reaches {target:g}")
    ax.set_title(_title(label or f"reach {target:g}", verdict))
    ax.legend(fontsize=8, loc="upper right")
    return fig


def _grid(lo: float, hi: float) -> np.ndarray:
    return np.logspace(np.log10(lo), np.log10(hi), GRID_POINTS)


def _band(ax, x, draws: np.ndarray, prob: float, color: str, label: str | None = None) -> None:
    lo, mid, hi = np.quantile(draws, [(1 - prob) / 2, 0.5, (1 + prob) / 2], axis=0)
    ax.plot(x, mid, color=color, lw=1.6, label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)


def _group_points(fit, group: str | None):
    """The observations of ``group`` (all of them for an ungrouped fit or a new group)."""
    d = fit.data
    if group is None or d.n_groups < 2 or group not in d.groups:
        return d.x, d.y
    mask = d.group_index == list(d.groups).index(group)
    return d.x[mask], d.y[mask]


def _only_group(fit, group: str | None) -> str:
    if group is not None:
        return group
    return list(fit.data.groups)[0]


def emergence_figure(fit, *, midpoint_draws=None, scale: float | None = None,
                     interval: Sequence[float] | None = None, group: str | None = None, prob: float = 0.9,
                     label: str = "", verdict: str | None = None):
    """The law's median curve and band over the data, with the claimed emergence scale.

    ``midpoint_draws`` (the posterior of the sigmoid's midpoint or the broken law's break, in
    the user's units) is drawn as its central interval at the height of the curve there.
    """
    group = _only_group(fit, group)
    x, y = _group_points(fit, group)
    grid = _grid(float(x.min()), float(x.max()))
    fig, (ax,) = _figure(width=6.8, height=4.0)
    ax.scatter(x, y, s=12, color="0.35", zorder=3, label="observed")
    _band(ax, grid, fit.curve_draws(grid, group), prob, POSTERIOR, "posterior median")
    _claim_marks(ax, scale, interval, label="claimed emergence")
    if midpoint_draws is not None:  # the midpoint's interval, drawn at the height of the curve there
        mids = np.asarray(midpoint_draws, dtype=float).ravel()
        lo, hi = _central(mids, prob)
        mid = float(np.median(mids))
        level = float(np.median(fit.curve_draws([mid], group)))
        ax.errorbar([mid], [level], xerr=[[mid - lo], [hi - mid]], fmt="o", color="#0b2e59", capsize=4, lw=2,
                    zorder=5, label=f"{'break' if fit.config.law == 'broken' else 'midpoint'}, central {prob:.0%}")
    _log_x(ax, float(grid[0]), float(grid[-1]))
    ax.set_xlabel(fit.config.x)
    if fit.config.law != "sigmoid":
        _y_scale(ax, y)
    ax.set_ylabel(fit.config.y)
    ax.set_title(_title(label or "emergence", verdict))
    ax.legend(fontsize=8, loc="upper left")
    return fig


def groups_figure(fit, *, groups: Sequence[str] | None = None, range_: Sequence[float] | None = None,
                  pair: Sequence[str] | None = None, gap: str = "relative", tolerance: float | None = None,
                  at: float | None = None, prob: float = 0.9, label: str = "", verdict: str | None = None):
    """Group curves with bands and the claimed range; for a pair, their gap beside them.

    Parameters
    ----------
    fit : ScalingFit
        A grouped fit.
    groups : sequence of str, optional
        Groups to draw (default: all, or the pair).
    range_ : [lower, upper], optional
        The claimed range of scales (shaded).
    pair : (a, b), optional
        Adds a panel with the posterior of the gap between the two mean curves over the range.
    gap : {"relative", "absolute"}
        The gap drawn: ``mean_a / mean_b - 1`` or ``mean_a - mean_b``.
    tolerance : float, optional
        Draws the equivalence margin ``+-tolerance`` on the gap panel.
    at : float, optional
        A scale the claim is made at (dotted line).
    """
    import matplotlib

    names = list(groups) if groups is not None else list(pair) if pair is not None else list(fit.data.groups)
    x_all = fit.data.x
    lo = min([float(x_all.min()), *(range_ or ()), *([at] if at else [])])
    hi = max([float(x_all.max()), *(range_ or ()), *([at * 10] if at else [])])
    grid = _grid(lo, hi)
    fig, axes = _figure(ncols=2 if pair is not None else 1, width=10.5 if pair is not None else 6.8, height=4.0)
    ax = axes[0]
    colors = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    for i, name in enumerate(names):
        color = colors(i % colors.N)
        x, y = _group_points(fit, name)
        ax.scatter(x, y, s=9, color=color, alpha=0.7, zorder=3)
        _band(ax, grid, fit.curve_draws(grid, name), prob, color, str(name))
    if range_ is not None:
        _range_marks(ax, range_)
    if at is not None:
        ax.axvline(at, color=CLAIM, ls="--", lw=1.4, label=f"claimed at {at:.3g}")
    _log_x(ax, lo, hi)
    _y_scale(ax, fit.data.y)
    ax.set_xlabel(fit.config.x)
    ax.set_ylabel(fit.config.y)
    ax.legend(fontsize=7, ncols=2 if len(names) > 5 else 1)
    if pair is not None:
        a, b = pair
        span = _grid(*range_) if range_ is not None else grid
        ya, yb = fit.curve_draws(span, a), fit.curve_draws(span, b)
        relative = gap == "relative"
        _band(axes[1], span, ya / yb - 1 if relative else ya - yb, prob, POSTERIOR,
              f"{a} / {b} - 1" if relative else f"{a} - {b}")
        axes[1].axhline(0, color="0.4", lw=0.8)
        if tolerance is not None:
            axes[1].axhspan(-tolerance, tolerance, color=CLAIM, alpha=0.08, lw=0)
            for sign in (-1, 1):
                axes[1].axhline(sign * tolerance, color=CLAIM, ls="--", lw=1.2,
                                label=f"claimed tolerance +-{tolerance:g}" if sign > 0 else None)
        _log_x(axes[1], float(span[0]), float(span[-1]))
        axes[1].set_xlabel(fit.config.x)
        axes[1].set_ylabel("relative gap" if relative else f"gap in {fit.config.y}")
        axes[1].legend(fontsize=8)
    fig.suptitle(_title(label or "groups", verdict), fontsize=11)
    return fig


def population_figure(fit, *, weights: Mapping[str, float], at: float, value: float | None = None,
                      interval: Sequence[float] | None = None, prob: float = 0.9, label: str = "",
                      verdict: str | None = None):
    """The aggregate curve under ``weights`` and the worst group's curve, with the claim at ``at``.

    The worst group is the one with the highest median at ``at`` (metrics that fall with
    scale: loss, error).
    """
    names = list(weights)
    x_all = fit.data.x
    grid = _grid(min(float(x_all.min()), at), max(float(x_all.max()), at))
    w = np.array([weights[n] for n in names], dtype=float)
    curves = np.stack([fit.curve_draws(grid, n) for n in names])  # (group, draw, x)
    aggregate = np.tensordot(w, curves, axes=1)
    at_index = int(np.argmin(np.abs(np.log(grid) - np.log(at))))
    worst = names[int(np.argmax(np.median(curves[:, :, at_index], axis=1)))]
    fig, (ax,) = _figure(width=6.8, height=4.0)
    for name in names:
        x, y = _group_points(fit, name)
        ax.scatter(x, y, s=6, color="0.6", alpha=0.5, zorder=2)
    _band(ax, grid, aggregate, prob, POSTERIOR, "weighted aggregate")
    _band(ax, grid, curves[names.index(worst)], prob, HELD_OUT, f"worst group: {worst}")
    if interval is not None:
        ax.plot([at, at], interval, color=CLAIM, lw=5, alpha=0.5, solid_capstyle="butt", label="claimed interval")
    if value is not None:
        ax.plot([at], [value], marker="D", color=CLAIM, ls="none", label="claimed value")
    ax.axvline(at, color=CLAIM, ls=":", lw=1)
    _log_x(ax, float(grid[0]), float(grid[-1]))
    _y_scale(ax, fit.data.y)
    ax.set_xlabel(fit.config.x)
    ax.set_ylabel(fit.config.y)
    ax.set_title(_title(label or "population", verdict))
    ax.legend(fontsize=8)
    return fig


def trend_figure(fit, *, held_x, held_y, cutoff: float, up_to: float, held_groups=None, prob: float = 0.9,
                 label: str = "", verdict: str | None = None):
    """The refit on the points below ``cutoff``, its predictive band out to ``up_to``, and the
    held-out points above the cutoff (``held_groups``: their group, in a grouped fit)."""
    import matplotlib

    names = list(fit.data.groups) if fit.data.n_groups > 1 else [fit.data.groups[0]]
    held_x = np.asarray(held_x, dtype=float)
    held_y = np.asarray(held_y, dtype=float)
    held_groups = np.asarray(held_groups if held_groups is not None else [names[0]] * held_x.size, dtype=object)
    top = max(up_to, float(held_x.max()) if held_x.size else up_to)
    grid = _grid(float(fit.data.x.min()), top)
    fig, (ax,) = _figure(width=6.8, height=4.0)
    colors = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    for i, name in enumerate(names):
        color = POSTERIOR if len(names) == 1 else colors(i % colors.N)
        x, y = _group_points(fit, name)
        ax.scatter(x, y, s=12, color="0.3" if len(names) == 1 else color, zorder=3,
                   label="fitted (below cutoff)" if i == 0 else None)
        mine = held_groups == name
        if np.any(mine):
            ax.scatter(held_x[mine], held_y[mine], s=24, marker="x", color=HELD_OUT if len(names) == 1 else color,
                       zorder=4, label="held out (above cutoff)" if i == 0 else None)
        _band(ax, grid, fit.predictive_draws(grid, name), prob, color,
              f"predictive, central {prob:.0%}" if len(names) == 1 else str(name))
    ax.axvline(cutoff, color="0.4", ls=":", lw=1.2, label="cutoff")
    ax.axvline(up_to, color=CLAIM, ls="--", lw=1.6, label=f"claimed to hold up to {up_to:.3g}")
    _log_x(ax, float(grid[0]), float(grid[-1]))
    _y_scale(ax, np.concatenate([fit.data.y, held_y]))
    ax.set_xlabel(fit.config.x)
    ax.set_ylabel(fit.config.y)
    ax.set_title(_title(label or "trend", verdict))
    ax.legend(fontsize=8)
    return fig


def _title(label: str, verdict: str | None) -> str:
    return f"{label}: {verdict}" if verdict else label

