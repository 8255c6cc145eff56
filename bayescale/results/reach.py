r"""The inverse question: at what scale does the metric reach a target?

For every posterior draw of a law's mean curve, the reach scale is the smallest :math:`x`
at which the curve gets to the target: from above for a falling metric (the loss or error
of the power, broken and Chinchilla laws), from below for a rising one (the sigmoid's
accuracy). The direction comes from the law, whose curves are monotone by construction
(positive exponents, ceiling above floor), except the turning law's, which is
reached at its first crossing from small scales. A draw that never gets there is ``inf``: a
target at or below the draw's floor, at or above the sigmoid's ceiling, or further than
:data:`HORIZON_DECADES` decades beyond the largest observed scale, where no extrapolation
means anything. A draw whose curve is already past the target at every scale (an accuracy
target at or below the chance floor) reaches it at ``0``.

Solutions, on the normalised scale :math:`u = \log(x / x_{ref})`:

- power law :math:`v = E + e^{\log A - \alpha u}`: :math:`u = (\log A - \log(T - E)) / \alpha`;
- sigmoid :math:`p = y_0 + (y_1 - y_0)\,\sigma(k (u - m))`:
  :math:`u = m + \operatorname{logit}((T - y_0)/(y_1 - y_0)) / k`;
- Chinchilla at the compute-optimal allocation: :math:`L^*(C) = E + K (C/6)^{-\gamma}` with
  :math:`\gamma = \alpha\beta/(\alpha+\beta)`, :math:`K = A G^{-\alpha} + B G^{\beta}`, so
  :math:`C = 6\,(K / (T - E))^{1/\gamma}`;
- the broken and turning laws, and any law under a model discrepancy: a scan of a grid in log x
  for the first grid cell where the curve passes the target, then bisection inside it
  (:func:`first_crossing`). A turning curve (:mod:`bayescale.laws.turning`) that falls and
  rises again is reached at its first crossing, and never where the target lies below its
  minimum (nor where it rises away beyond the data before getting there).

Model discrepancy (:mod:`bayescale.laws.discrepancy`) enters as a drift of the slope: each draw
gets one :math:`\varepsilon \sim N(0, 1)` and its :math:`\log y` becomes
:math:`\log y + s\, d\, \varepsilon` with :math:`d` the decades beyond the largest observed
scale. At any fixed scale this is exactly the widening of ``predict(discrepancy=s)``;
keeping one :math:`\varepsilon` along the whole curve (rather than fresh noise at every
scale) makes each draw a coherent curve, so its first crossing is defined. Inside the data
nothing changes. Beyond it a falling draw may now pass its floor, since a drifting slope
has no floor: the discrepancy says the law's form, floor included, is not known there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from bayescale.errors import DataError

HORIZON_DECADES = 20.0  # a target not reached this far beyond the largest observed x counts as never
GRID_DECADES = 0.05  # spacing of the scan for the first crossing
LN10 = float(np.log(10.0))


# ---------------------------------------------------------------------------- closed forms
def power_reach(target: float, floor, log_offset, exponent) -> np.ndarray:
    """``u`` at which ``floor + exp(log_offset - exponent * u)`` falls to ``target`` (``inf``: never).

    All on the normalised scale; parameter arrays broadcast (one entry per draw).
    """
    floor, log_offset, exponent = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                                        (floor, log_offset, exponent)))
    out = np.full(floor.shape, np.inf)
    ok = target > floor
    out[ok] = (log_offset[ok] - np.log(target - floor[ok])) / exponent[ok]
    return out


def sigmoid_reach(target: float, floor, ceiling, steepness, midpoint) -> np.ndarray:
    """``u`` at which the rising sigmoid gets up to ``target`` (``-inf``: at every scale, ``inf``: never)."""
    floor, ceiling, steepness, midpoint = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (floor, ceiling, steepness, midpoint)))
    out = np.where(target <= floor, -np.inf, np.inf)
    ok = (target > floor) & (target < ceiling)
    p = (target - floor[ok]) / (ceiling[ok] - floor[ok])
    out[ok] = midpoint[ok] + (np.log(p) - np.log1p(-p)) / steepness[ok]
    return out


def chinchilla_reach(target: float, E, A, B, alpha, beta) -> np.ndarray:
    """Compute ``C`` at which the compute-optimal loss ``L*(C)`` falls to ``target`` (user units; ``inf``: never).

    Uses the allocation of :func:`bayescale.laws.chinchilla.optimal_allocation` (``C = 6 N D``),
    under which ``L*(C) = E + K (C/6)^(-alpha beta / (alpha + beta))``.
    """
    E, A, B, alpha, beta = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (E, A, B, alpha, beta)))
    log_g = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B)) / (alpha + beta)
    log_k = np.logaddexp(np.log(A) - alpha * log_g, np.log(B) + beta * log_g)
    gamma = alpha * beta / (alpha + beta)
    out = np.full(E.shape, np.inf)
    ok = target > E
    with np.errstate(over="ignore"):
        out[ok] = 6.0 * np.exp((log_k[ok] - np.log(target - E[ok])) / gamma[ok])
    return out


# ---------------------------------------------------------------------------- numerical
def first_crossing(reached: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, n_draws: int, *,
                   step: float = GRID_DECADES * LN10, iterations: int = 40) -> np.ndarray:
    """Per draw, the smallest ``u`` in ``[lo, hi]`` at which ``reached(u)`` turns true.

    Parameters
    ----------
    reached : callable
        Takes ``u`` of shape ``(1, m)`` (a shared grid) or ``(n_draws, 1)`` (one value per
        draw) and returns a boolean array of shape ``(n_draws, m)``: whether each draw's
        curve is at or past the target there.
    lo, hi : float
        Search interval (normalised log scale).
    n_draws : int
        Number of draws.
    step : float
        Grid spacing of the scan; a crossing that goes and comes back within one step is
        missed, which for the smooth curves here needs a tangent touch.
    iterations : int
        Bisection steps inside the first cell (each halves it).

    Returns
    -------
    numpy.ndarray
        ``u`` per draw; ``-inf`` where the curve is past the target already at ``lo``,
        ``inf`` where it never is up to ``hi``.
    """
    grid = np.linspace(lo, hi, max(int(np.ceil((hi - lo) / step)) + 1, 2))
    hit = np.asarray(reached(grid[None, :]), dtype=bool)
    first = np.argmax(hit, axis=1)
    out = np.full(n_draws, np.inf)
    out[hit[:, 0]] = -np.inf
    todo = hit.any(axis=1) & ~hit[:, 0]
    a = grid[np.maximum(first - 1, 0)]  # not reached at a, reached at b
    b = grid[first]
    for _ in range(iterations):
        mid = 0.5 * (a + b)
        now = np.asarray(reached(mid[:, None]), dtype=bool)[:, 0]
        b = np.where(now, mid, b)
        a = np.where(now, a, mid)
    out[todo] = b[todo]
    return out


def drift_per_decade(n_draws: int, discrepancy, rng: np.random.Generator) -> np.ndarray:
    """One slope drift ``s_i * eps_i`` of ``log y`` per decade beyond the data, per draw.

    ``discrepancy`` is a number or draws of ``s`` as for ``predict``: drawn through
    :func:`bayescale.laws.discrepancy.widen` at one decade, so ``s`` is resampled the same way.
    """
    from bayescale.laws.discrepancy import widen

    return np.log(widen(np.ones((n_draws, 1)), [1.0], discrepancy, rng)[:, 0])


def falling_reach(log_mean: Callable[[np.ndarray], np.ndarray], target: float, u_max: float, n_draws: int, *,
                  lo: float, drift: np.ndarray | None = None, start: np.ndarray | None = None,
                  link: str = "log", y_scale: float = 1.0) -> np.ndarray:
    """First ``u`` at which a falling curve, optionally drifting beyond ``u_max``, gets down to ``target``.

    ``log_mean(u)`` gives ``log`` of each draw's mean (normalised) at ``u`` (shapes as in
    :func:`first_crossing`); ``drift`` adds ``drift_i * (u - u_max) / ln 10`` beyond
    ``u_max``. ``start``, a solution without drift, is kept where it lies inside the data
    (the drift cannot change a crossing there); only the other draws are searched. With
    ``link="logit"`` the drift acts on the log odds of the metric in its units (the mean times
    ``y_scale``), as for errors in :func:`bayescale.laws.discrepancy.widen`.
    """
    if target <= 0:
        return np.full(n_draws, np.inf)
    slope = np.zeros((n_draws, 1)) if drift is None else drift[:, None]
    if link == "logit":
        def scaled(u):
            log_p = np.minimum(log_mean(u) + np.log(y_scale), -1e-12)
            return log_p - np.log(-np.expm1(log_p))

        t_user = min(target * y_scale, 1 - 1e-12)
        log_t = float(np.log(t_user) - np.log1p(-t_user))
    else:
        scaled, log_t = log_mean, float(np.log(target))

    def reached(u):
        return scaled(u) + slope * np.maximum(u - u_max, 0.0) / LN10 <= log_t

    hi = u_max + HORIZON_DECADES * LN10
    if start is not None:
        inside = start <= u_max
        out = np.where(inside, start, np.inf)
        if (~inside).any():
            out[~inside] = first_crossing(reached, u_max, hi, n_draws)[~inside]
        return out
    return first_crossing(reached, lo, hi, n_draws)


def beyond_horizon(u: np.ndarray, u_max: float) -> np.ndarray:
    """``u`` with every crossing more than :data:`HORIZON_DECADES` beyond ``u_max`` set to never (``inf``)."""
    return np.where(u > u_max + HORIZON_DECADES * LN10, np.inf, u)


# ---------------------------------------------------------------------------- tables
def quantiles(draws: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Linear-interpolation quantiles of draws that may hold ``inf`` (an interpolation towards ``inf`` is ``inf``)."""
    s = np.sort(np.asarray(draws, dtype=float))
    out = []
    for q in probs:
        h = (len(s) - 1) * q
        i, j = int(np.floor(h)), int(np.ceil(h))
        frac = h - i
        if np.isinf(s[j]) and frac > 0 or np.isinf(s[i]):
            out.append(s[j] if frac > 0 else s[i])
        else:
            out.append(s[i] + frac * (s[j] - s[i]))
    return np.array(out)


def reach_row(draws: np.ndarray, *, group: str, target: float, prob: float, x_max: float) -> dict:
    """One row of a reach table from reach draws (units of x)."""
    lower, median, upper = quantiles(draws, [(1 - prob) / 2, 0.5, 1 - (1 - prob) / 2])
    with np.errstate(divide="ignore"):
        beyond = max(float(np.log10(median) - np.log10(x_max)), 0.0) if median > 0 else 0.0
    return {"group": group, "target": float(target), "median": float(median), "lower": float(lower),
            "upper": float(upper), "p_never": float(np.mean(np.isinf(draws))), "decades_beyond": beyond,
            "prob": prob}


COLUMNS = ["group", "target", "median", "lower", "upper", "p_never", "decades_beyond", "prob"]


def check_targets(target, *, law: str, noise: str | None = None, name: str = "target",
                  single: bool = False) -> list[float]:
    """``target`` (a number or, unless ``single``, a sequence) as a list of floats, refused where the law
    cannot reach it.

    Non-finite values are refused for every law, values <= 0 for metrics with log-scale
    noise (they are positive by the model) and values outside [0, 1] for accuracies.
    ``noise`` None stands for the law's default.
    """
    if noise is None:
        noise = "studentt" if law == "chinchilla" else "normal" if law == "sigmoid" else "lognormal"
    scalar = isinstance(target, int | float | np.number) or (isinstance(target, np.ndarray) and target.ndim == 0)
    values = [target.item() if isinstance(target, np.ndarray) else target] if scalar else target
    if single and not scalar:
        raise DataError(f"{name} must be one number, got {target!r}")
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
        raise DataError(f"{name} must be a number or a non-empty list of numbers, got {target!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float | np.number) or not np.isfinite(v):
            raise DataError(f"{name} must be a finite number, got {v!r}")
        v = float(v)
        if law == "sigmoid" and not 0 <= v <= 1:
            raise DataError(f"{name} {v:g} is not an accuracy in [0, 1] (the sigmoid law's metric)")
        if law != "sigmoid" and v <= 0 and (noise != "normal" or law == "chinchilla"):
            raise DataError(f"{name} must be > 0 for a positive metric ({law} law, {noise} noise), got {v:g}")
        out.append(v)
    return out


def reach_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------------------- per law
def _broken_log_mean(posterior, data, group_code: int, rng: np.random.Generator):
    """``log`` of the broken law's mean (normalised) as a function of ``u``, per draw (as in ``broken.curve``)."""
    from bayescale.core.posterior import flat, power_parameters
    from bayescale.laws.formulas import log_broken_reducible

    p = power_parameters(posterior, data.n_groups, group_code, rng)
    alpha, breaks, width = (flat(posterior, name) for name in ("alpha", "log_break", "width"))
    k = breaks.shape[1]
    log_floor = np.log(p["E"])[:, None]

    def log_mean(u):
        log_r = log_broken_reducible(
            u, p["log_A"][:, None], [alpha[:, i, None] for i in range(k + 1)], [breaks[:, i, None] for i in range(k)],
            [width[:, i, None] for i in range(k)], lambda z: np.logaddexp(0.0, z),
        )
        return np.logaddexp(log_floor, log_r)

    return log_mean


def law_reach(posterior, data, law: str, group_code: int, rng: np.random.Generator, target: float,
              x_range: tuple[float, float], drift: np.ndarray | None = None, link: str = "log") -> np.ndarray:
    """Reach scale (units of x) of ``target`` per draw of a one-axis law's mean curve.

    ``rng`` must be the generator ``curve`` gets for this group (it draws a new group's
    parameters); ``x_range`` is the group's observed range; ``drift`` (per draw, from
    :func:`drift_per_decade`) bends ``log y`` (``logit y`` with ``link="logit"``) beyond it.
    """
    from bayescale.core.posterior import _per_group, flat, power_parameters

    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    u_min, u_max = np.log(np.asarray(x_range, dtype=float) / data.x_ref)
    lo = u_min - HORIZON_DECADES * LN10
    t = target / data.y_scale
    if law == "power":
        p = power_parameters(posterior, data.n_groups, group_code, rng)
        u = power_reach(t, p["E"], p["log_A"], p["alpha"])
        if drift is not None:
            log_floor, log_a, alpha = np.log(p["E"])[:, None], p["log_A"][:, None], p["alpha"][:, None]
            u = falling_reach(lambda v: np.logaddexp(log_floor, log_a - alpha * v), t, u_max, n, lo=lo, drift=drift,
                              start=u, link=link, y_scale=data.y_scale)
    elif law in ("broken", "turning"):  # a turning curve: its first crossing, never below its minimum
        u = falling_reach(_broken_log_mean(posterior, data, group_code, rng), t, u_max, n, lo=lo, drift=drift,
                          link=link, y_scale=data.y_scale)
    elif law == "sigmoid":
        z = rng.standard_normal(n) if group_code < 0 else None  # as sigmoid.curve draws a new group
        mid = _per_group(posterior, "midpoint", data.n_groups, group_code, z)
        u = sigmoid_reach(t, flat(posterior, "floor"), flat(posterior, "ceiling"), flat(posterior, "steepness"), mid)
    else:
        raise DataError(f"reach is not defined for the {law!r} law")
    return data.x_ref * np.exp(beyond_horizon(u, u_max))


def reach_table(draws: Callable[[float, str], np.ndarray], targets: Sequence[float], groups: Sequence[str],
                prob: float, x_max: Callable[[str], float]) -> pd.DataFrame:
    """One row per (group, target) from ``draws(target, group)`` (see :func:`reach_row`)."""
    return reach_frame([reach_row(draws(t, g), group=g, target=t, prob=prob, x_max=x_max(g))
                        for g in groups for t in targets])


# ---------------------------------------------------------------------------- figure
def mark_reach(ax, table: pd.DataFrame, colors: dict | None = None) -> None:
    """Draw a reach table on a fit's plot: each target as a dotted level, each median reach within the
    axes as a point with its interval (an ``inf`` end runs to the edge of the axes).

    ``colors`` maps group names to colours (default: ``C0``, ``C1``, ... by the groups' order in the
    table, which matches ``fit.plot()`` for a table of every group). The axes keep their x limits.
    """
    limits = ax.get_xlim()
    order = list(dict.fromkeys(table["group"]))
    for target in table["target"].unique():
        ax.axhline(target, color="0.35", ls=":", lw=0.9)
    for row in table.itertuples(index=False):
        if not limits[0] <= row.median <= limits[1]:  # never reached, or off the axes
            continue
        color = (colors or {}).get(row.group, f"C{order.index(row.group) % 10}")
        upper = row.upper if np.isfinite(row.upper) else limits[1]
        ax.errorbar([row.median], [row.target], xerr=[[row.median - row.lower], [upper - row.median]],
                    fmt="D", ms=5, color=color, mec="black", mew=0.6, capsize=3, lw=1.2, zorder=4,
                    label=f"reach {row.target:g} ({row.group})" if len(table) <= 6 else None)
    ax.set_xlim(limits)
