r"""A smoothly broken power law whose segments may rise or fall (``law="turning"``).

The curve is the BNSL of Caballero et al. (2023),

.. math:: y = a + b\, x^{-c_0} \prod_{i=1}^{k} \big(1 + (x / d_i)^{1/f_i}\big)^{-c_i f_i},

with the changes :math:`c_i` free in sign, so that a segment exponent
:math:`\alpha_i = c_0 + \dots + c_i` may be negative and the curve turns up: double descent
(two breaks: falls, rises to a peak, falls again), inverse scaling and U shapes, isoFLOP
valleys (loss against parameters at fixed compute: :math:`E + A N^{-a} + B' N^{b}` is exactly
one break with :math:`\alpha_0 = a`, :math:`\alpha_1 = -b`, :math:`f = 1/(a + b)`) and data
repetition. It is the model of :mod:`bayescale.laws.broken` (same anchored form, break window,
sharpness bounds, pooled offsets and floor, data containers: one compiled program per
structure), with one prior changed, as data: the segment exponents are
:math:`\alpha_i \sim \mathrm{Normal}(0, 0.5)` instead of ``HalfNormal(0.5)``.

Where it turns. The local log-log slope of the reducible part :math:`r = y - a` is

.. math:: \frac{d \log r}{d u} = -\alpha_0 - \sum_{i=1}^{k} (\alpha_i - \alpha_{i-1})\,
          \sigma\!\big((u - \beta_i) / f_i\big),

the same for every group (offsets and the floor do not move it). The curve has a minimum where
this slope crosses zero upwards (it fell, it rises) and a maximum where it crosses downwards.
:func:`turn_table` (``fit.turns()``) finds the first crossing of each kind per posterior draw on
a fine grid over the observed :math:`\log x` range widened by its span on each side, and reports
its location with an interval over the draws that turn there, the probability that the curve
turns there at all, and the value of the curve at the turn: for an isoFLOP curve, the
compute-optimal size at that budget and the loss it reaches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.posterior import flat, power_parameters
from bayescale.errors import LawError
from bayescale.laws import broken
from bayescale.laws.configure import configure_curve_law
from bayescale.laws.priors import prior

# the model, its curve and its parameters are the broken law's; only the exponents' prior differs
build_model = broken.build_model
curve = broken.curve
user_parameters = broken.user_parameters

EXPONENT_SD = 0.5  # sd of the signed segment exponents, as broken's HalfNormal(0.5) scale
TURN_GRID = 600  # points of the grid on which turns are found (over three spans of the data)
KINDS = ("minimum", "maximum")
FLOOR_SHARE = (2.0, 2.0)  # Beta prior of the floor's share of the curve's value at x_ref


def prepare(df, **settings):
    """Validate ``df`` and resolve the fit's configuration (``settings``: :func:`bayescale.fit`'s arguments)."""
    return configure_curve_law(df, law="turning", **settings)


def default_priors(data, config) -> dict:
    """The broken law's priors with signed segment exponents: ``alpha ~ Normal(0, 0.5)`` per segment."""
    from pymc_extras.prior import Prior

    if config.floor != "shared":
        raise LawError("the turning law shares its floor across groups; use floor='shared'")
    priors = broken.default_priors(data, config)
    priors["alpha"] = Prior("Normal", mu=0.0, sigma=EXPONENT_SD, dims="segment")
    del priors["log_E"], priors["log_A_mu"]
    priors["log_level_mu"] = prior("Normal", mu=0.0, sigma=1.0)
    priors["floor_share"] = prior("Beta", alpha=FLOOR_SHARE[0], beta=FLOOR_SHARE[1])
    return priors


def log_slope(u: np.ndarray, alpha: np.ndarray, log_break: np.ndarray, width: np.ndarray) -> np.ndarray:
    r"""Local slope :math:`d \log(y - a) / d \log x` of the BNSL at ``u`` per draw, shape (draws, len(u)).

    ``alpha`` is (draws, k + 1), ``log_break`` and ``width`` (draws, k), ``u`` the grid of
    ``log(x / x_ref)``. The derivative of :func:`bayescale.laws.formulas.log_broken_reducible`.
    """
    from scipy.special import expit

    u = np.asarray(u, dtype=float)[None, :]
    out = -alpha[:, :1] + 0.0 * u
    for i in range(log_break.shape[1]):
        out = out - (alpha[:, i + 1, None] - alpha[:, i, None]) * expit((u - log_break[:, i, None]) / width[:, i, None])
    return out


def turn_draws(posterior: xr.Dataset, data) -> dict[str, np.ndarray]:
    """Per draw, ``log(x / x_ref)`` of the first minimum and the first maximum (``nan``: no such turn).

    Searched on :data:`TURN_GRID` points over the observed range widened by its span on each
    side; the zero of the slope is interpolated linearly inside its grid cell.
    """
    alpha, log_break, width = (flat(posterior, name) for name in ("alpha", "log_break", "width"))
    u_obs = np.log(data.x / data.x_ref)
    lo, hi = float(u_obs.min()), float(u_obs.max())
    span = hi - lo
    grid = np.linspace(lo - span, hi + span, TURN_GRID)
    slope = log_slope(grid, alpha, log_break, width)
    out = {}
    for kind, crossed in (("minimum", (slope[:, :-1] < 0) & (slope[:, 1:] >= 0)),
                          ("maximum", (slope[:, :-1] > 0) & (slope[:, 1:] <= 0))):
        has = crossed.any(axis=1)
        j = np.argmax(crossed, axis=1)
        rows = np.arange(len(j))
        s0, s1 = slope[rows, j], slope[rows, j + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(s1 != s0, s0 / (s0 - s1), 0.5)
        u = grid[j] + frac * (grid[j + 1] - grid[j])
        out[kind] = np.where(has, u, np.nan)
    return out


def turn_table(fit, prob: float = 0.9) -> pd.DataFrame:
    """Where the curve turns: its first minimum and first maximum, with intervals, per group.

    Returns one row per (group, kind) that occurs in any draw: ``group``, ``kind``
    (``"minimum"``: falls, then rises; ``"maximum"``: rises, then falls), ``median``, ``lower``,
    ``upper`` (central ``prob`` interval of the turn's location in units of x, over the draws
    that turn there), ``decades`` (width of that interval), ``prob_turn`` (share of draws that
    turn there within the observed range widened by its span on each side), ``inside_data``
    (share of all draws whose turn lies inside the observed range), ``y_median``, ``y_lower``,
    ``y_upper`` (the mean curve at the turn, units of y: at a minimum, the lowest value the
    curve reaches), ``prob``. Turns do not depend on the group (exponents and breaks are
    shared); their values do. Empty when no draw turns.
    """
    if fit.config.law != "turning":
        raise LawError(f"turns() needs a fit of the turning law (law='turning'), not {fit.config.law!r}")
    from bayescale.laws.formulas import log_broken_reducible

    post, data = fit.posterior, fit.data
    turns = turn_draws(post, data)
    alpha, log_break, width = (flat(post, name) for name in ("alpha", "log_break", "width"))
    k = log_break.shape[1]
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    u_lo, u_hi = np.log(np.array(data.x_range) / data.x_ref)
    rows = []
    for code, group in enumerate(data.groups):
        p = power_parameters(post, data.n_groups, code, fit._rng(None, salt=code + 1))
        for kind in KINDS:
            u = turns[kind]
            has = np.isfinite(u)
            if not has.any():
                continue
            uu = u[has][:, None]
            log_r = log_broken_reducible(
                uu, p["log_A"][has, None], [alpha[has, i, None] for i in range(k + 1)],
                [log_break[has, i, None] for i in range(k)], [width[has, i, None] for i in range(k)],
                lambda z: np.logaddexp(0.0, z),
            )[:, 0]
            y = (p["E"][has] + np.exp(log_r)) * data.y_scale
            q = np.quantile(data.x_ref * np.exp(u[has]), [lo_q, 0.5, hi_q])
            qy = np.quantile(y, [lo_q, 0.5, hi_q])
            rows.append({"group": group, "kind": kind, "median": q[1], "lower": q[0], "upper": q[2],
                         "decades": float(np.log10(q[2] / q[0])), "prob_turn": float(has.mean()),
                         "inside_data": float(np.mean(has & (u >= u_lo) & (u <= u_hi))),
                         "y_median": qy[1], "y_lower": qy[0], "y_upper": qy[2], "prob": prob})
    columns = ["group", "kind", "median", "lower", "upper", "decades", "prob_turn", "inside_data", "y_median",
               "y_lower", "y_upper", "prob"]
    return pd.DataFrame(rows, columns=columns)


def breaks_and_turns(fit, prob: float = 0.9) -> pd.DataFrame:
    """``fit.breaks()``: each break (:func:`bayescale.laws.broken.break_table`); for the turning law (signed
    exponents either side) then each turn of :func:`turn_table` (its location only: turns are shared by
    the groups), told apart by ``kind`` (``"break"``, ``"minimum"``, ``"maximum"``)."""
    if fit.config.law != "turning":
        return broken.break_table(fit, prob)
    breaks = broken.break_table(fit, prob).assign(kind="break")
    turns = turn_table(fit, prob).drop_duplicates("kind")
    turns = turns[["kind", "median", "lower", "upper", "decades", "inside_data", "prob_turn", "prob"]]
    return pd.concat([breaks, turns.assign(**{"break": turns["kind"]})], ignore_index=True)
