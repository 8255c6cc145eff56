r"""Leave-future-out (LFO) weights for stacked laws: how well each law predicted the later points.

Forecasting is extrapolation, so a law should be weighted by how it predicts the *larger*
scales from the smaller ones, not by how it fits points inside the data (PSIS-LOO). This is
exact-refit LFO (Bürkner, Gabry & Vehtari 2020) with forward chaining over the scale axis:

1. For every origin :math:`o` in :data:`ORIGINS` (fractions of each curve's own
   :math:`\log x` range), every law is refitted to the rows with :math:`\log x` at or below
   the origin of their curve (few draws: :data:`REFIT`).
2. Each later row :math:`i` is scored once, by the refits from the latest origin before it
   (the rows up to the next origin; the last origin scores the rest of the curve): its log
   predictive density on :math:`y` in the user's units, :math:`\mathrm{lpd}_{i,l} = \log
   \frac1S \sum_s p_l(y_i \mid \theta_s)` (the same scale as
   :func:`bayescale.results.stacked.loo_on_y`). Scoring every later row from every origin
   instead lets the earliest origin, with the least data and the most rows, decide: on
   curves that bend late it gave the power law the weight although the broken law forecast
   each next stretch better (``benchmarks/results/backtest_auto_vs_power.md``).
3. The weights stack these predictive densities (Yao et al. 2018) over the scored rows:
   :math:`\max_w \sum_i \log \sum_l w_l \exp \mathrm{lpd}_{i,l}`. ``elpd_lfo`` (their
   sum per law) is reported beside them.

The fallback rule for curves that cannot support the comparison: an origin needs at least
:data:`MIN_LATER` later rows; a law whose refit fails at some origin (too few points before
it, or the sampler fails) is left out of the weighting; with no usable origin, or no law
left, the simplest fitted law (:data:`SIMPLEST_FIRST`) takes all the weight. Each case is
recorded as an ``lfo_fallback`` flag with its reason. (A one-standard-error rule, all weight on
the simplest law unless another beats it by more than one standard error of ``elpd_lfo``, was
tried and dropped: on the backtest's curves it cost the broken law weight where its forecasts
were better.) Laws with their own likelihood (the
sigmoid) have no held-out density here: their stack keeps the PSIS-LOO weights, flagged too.
Refits are seeded from the fit's seed, so the weights are reproducible.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from bayescale.results.stacked import LFOResult

ORIGINS = (0.6, 0.7, 0.8)
MIN_LATER = 2
REFIT = {"draws": 250, "tune": 300, "chains": 2}
SIMPLEST_FIRST = ("power", "sigmoid", "broken", "turning")
SCORED_LAWS = ("power", "broken", "turning")


def simplest(laws) -> str:
    """The simplest of ``laws`` (fewest parameters first: power, sigmoid, broken)."""
    return min(laws, key=lambda name: SIMPLEST_FIRST.index(name) if name in SIMPLEST_FIRST else len(SIMPLEST_FIRST))


def origin_masks(df: pd.DataFrame, *, x: str, group: str | None, origins=ORIGINS) -> list[tuple[float, np.ndarray]]:
    """Training rows (boolean mask) of each origin: ``log x`` at or below that fraction of its curve's range."""
    lx = np.log(pd.to_numeric(df[x]).to_numpy(dtype=float))
    keys = df[group].astype(str).to_numpy() if group else np.zeros(len(df), dtype=int)
    out = []
    for frac in origins:
        train = np.zeros(len(df), dtype=bool)
        for key in np.unique(keys):
            rows = keys == key
            lo, hi = lx[rows].min(), lx[rows].max()
            train[rows] = lx[rows] <= lo + frac * (hi - lo) + 1e-12
        out.append((float(frac), train))
    return out


def heldout_lpd(fit, df: pd.DataFrame, *, x: str, y: str, group: str | None) -> np.ndarray:
    """Log predictive density of each row of ``df`` under ``fit``, on ``y`` in the user's units."""
    from scipy import stats
    from scipy.special import logsumexp

    from bayescale.core.posterior import flat

    xs = pd.to_numeric(df[x]).to_numpy(dtype=float)
    ys = pd.to_numeric(df[y]).to_numpy(dtype=float)
    keys = df[group].astype(str).to_numpy() if group else np.full(len(df), fit.data.groups[0])
    sigma = flat(fit.posterior, "sigma")[:, None]
    noise, y_scale = fit.config.noise, fit.data.y_scale
    out = np.empty(len(df))
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        mean = fit.curve_draws(xs[rows], str(key))
        obs = ys[rows][None, :]
        if noise == "lognormal":
            logp = stats.norm.logpdf(np.log(obs), np.log(mean), sigma) - np.log(obs)
        elif noise == "studentt":
            nu = flat(fit.posterior, "nu")[:, None]
            logp = stats.t.logpdf(np.log(obs), nu, np.log(mean), sigma) - np.log(obs)
        else:
            logp = stats.norm.logpdf(obs / y_scale, mean / y_scale, sigma) - np.log(y_scale)
        out[rows] = logsumexp(logp, axis=0) - np.log(logp.shape[0])
    return out


def stacking_weights(lpd: np.ndarray) -> np.ndarray:
    """Stacking weights maximising ``sum_i log sum_l w_l exp(lpd[i, l])`` over the simplex."""
    from scipy.optimize import minimize
    from scipy.special import softmax

    lpd = np.asarray(lpd, dtype=float)
    if lpd.shape[1] == 1:
        return np.ones(1)
    dens = np.exp(lpd - lpd.max(axis=1, keepdims=True))

    def loss(z):
        w = softmax(np.append(z, 0.0))
        mix = dens @ w
        grad_w = -(dens / mix[:, None]).sum(axis=0)
        grad_z = w * (grad_w - w @ grad_w)  # chain rule through the softmax
        return -np.sum(np.log(mix)), grad_z[:-1]

    res = minimize(loss, np.zeros(lpd.shape[1] - 1), jac=True, method="L-BFGS-B")
    return softmax(np.append(res.x, 0.0))


def lfo_weights(df: pd.DataFrame, fits: dict, *, x: str, y: str, seed: int, options: dict[str, dict],
                origins=ORIGINS) -> LFOResult:
    """Exact-refit LFO scores and stacking weights of the laws in ``fits`` (see the module docstring).

    Parameters
    ----------
    df : pandas.DataFrame
        The rows every law in ``fits`` was fitted to.
    fits : dict of str -> ScalingFit
        The full fits (their configurations give the refits' noise; names give the laws).
    x, y : str
        Columns, as given to :func:`bayescale.fit`.
    seed : int
        The stacked fit's seed; the refit of law ``i`` at origin ``k`` uses ``seed + 1 + k + 100 i``.
    options : dict of str -> dict
        Per law, the other :func:`bayescale.fit` options of its full fit (group, priors, noise, ...),
        reused by its refits with the few draws of :data:`REFIT`.
    origins : sequence of float
        Fractions of each curve's ``log x`` range where the forecasts start.

    Returns
    -------
    LFOResult
        ``weights`` is None when the stack should keep its PSIS-LOO weights (laws not scored here).
    """
    from bayescale.fitting.single import fit_law as fit

    laws = list(fits)
    group = next(iter(options.values()), {}).get("group")
    empty = pd.DataFrame(columns=["elpd_lfo", "n_points", "n_origins", "weight_lfo"], index=pd.Index([], name="law"))
    pointwise_cols = ["law", "origin", "row", x, y, "lpd"]
    unscored = [name for name in laws if name not in SCORED_LAWS]
    if unscored:
        return LFOResult(empty, pd.DataFrame(columns=pointwise_cols), None,
                         [f"laws {unscored} have no held-out density for LFO; weights are PSIS-LOO stacking"])
    if len(laws) == 1:
        return LFOResult(empty, pd.DataFrame(columns=pointwise_cols), pd.Series({laws[0]: 1.0}), [])
    notes = []
    masks = origin_masks(df, x=x, group=group, origins=origins)
    usable = [(frac, train) for frac, train in masks if (~train).sum() >= MIN_LATER]
    fallback = simplest(laws)
    if not usable:
        counts = ", ".join(f"{int((~train).sum())} after {frac:g}" for frac, train in masks)
        notes.append(f"no origin leaves {MIN_LATER} later points to score ({counts}); all weight on the "
                     f"simplest law {fallback!r}")
        return LFOResult(empty, pd.DataFrame(columns=pointwise_cols), _all_on(laws, fallback), notes)

    records, failed, draws = [], {}, {}
    for law_i, name in enumerate(laws):
        for k, (frac, train) in enumerate(usable):
            block = ~train & _before_next(usable, k)
            if not block.any():
                continue
            later = df.loc[block]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    refit = fit(df.loc[train], law=name, x=x, y=y, seed=seed + 1 + k + 100 * law_i,
                                **{**options[name], **REFIT, "progress": False})
                    lpd = heldout_lpd(refit, later, x=x, y=y, group=group)
                    draws[name, frac] = log_predictive(refit, later, x=x, group=group, seed=seed + 1 + k)
            except (ValueError, RuntimeError, FloatingPointError) as exc:  # BayescaleError is a ValueError
                failed[name] = f"its refit at origin {frac:g} failed ({type(exc).__name__}: {exc})"
                break
            records.append(pd.DataFrame({"law": name, "origin": frac, "row": np.flatnonzero(block),
                                         x: later[x].to_numpy(), y: later[y].to_numpy(), "lpd": lpd}))
    kept = [name for name in laws if name not in failed]
    for name, why in failed.items():
        notes.append(f"law {name!r} left out of the LFO weights: {why}")
    pointwise = pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=pointwise_cols)
    pointwise = pointwise[pointwise["law"].isin(kept)] if len(pointwise) else pointwise
    if not kept:
        notes.append(f"no law could be scored; all weight on the simplest law {fallback!r}")
        return LFOResult(empty, pointwise, _all_on(laws, fallback), notes)
    wide = pointwise.pivot_table(index=["origin", "row"], columns="law", values="lpd")[kept]
    w = stacking_weights(wide.to_numpy())
    n_origins = wide.index.get_level_values("origin").nunique()
    table = pd.DataFrame({"elpd_lfo": wide.sum().to_numpy(), "n_points": len(wide), "n_origins": n_origins,
                          "weight_lfo": w}, index=pd.Index(kept, name="law"))
    weights = pd.Series(0.0, index=laws)
    weights[kept] = w
    forecasts = stacked_forecasts(df, usable, draws, weights, x=x, y=y, group=group)
    return LFOResult(table, pointwise.reset_index(drop=True), weights, notes, forecasts)


def log_predictive(fit, rows: pd.DataFrame, *, x: str, group: str | None, seed: int) -> np.ndarray:
    """Draws (draws, rows) of ``log y`` from ``fit``'s posterior predictive at the scales of ``rows``."""
    xs = pd.to_numeric(rows[x]).to_numpy(dtype=float)
    keys = rows[group].astype(str).to_numpy() if group else np.full(len(rows), fit.data.groups[0])
    out = None
    for key in np.unique(keys):
        at = np.flatnonzero(keys == key)
        d = np.log(np.maximum(np.asarray(fit.predictive_draws(xs[at], str(key), seed=seed), dtype=float), 1e-300))
        out = np.empty((d.shape[0], len(rows))) if out is None else out
        out[:, at] = d
    return out


def stacked_forecasts(df: pd.DataFrame, usable, draws: dict, weights: pd.Series, *, x: str, y: str,
                      group: str | None) -> pd.DataFrame:
    """The stacked forecast of each scored row, from the refits at its origin, mixed with the final weights.

    One row per scored row: ``origin``, ``row``, ``distance`` (decades of ``x`` beyond the largest
    fitted at that origin on the row's curve), ``error`` (``log y`` minus the median of the mixture's
    ``log y`` draws) and ``variance`` (of those draws). These are in-sample forward-chaining errors
    of the stacked predictive itself: :mod:`bayescale.workflows.backtest` learns its discrepancy
    from them for stacked laws.
    """
    lx = np.log10(pd.to_numeric(df[x]).to_numpy(dtype=float))
    ly = np.log(pd.to_numeric(df[y]).to_numpy(dtype=float))
    keys = df[group].astype(str).to_numpy() if group else np.zeros(len(df), dtype=int)
    frames = []
    for k, (frac, train) in enumerate(usable):
        laws = [name for name, w in weights.items() if w > 0 and (name, frac) in draws]
        if not laws:  # no row between this origin and the next: nothing was refitted here
            continue
        rows = np.flatnonzero(~train & _before_next(usable, k))
        pooled = np.concatenate([draws[name, frac] for name in laws])  # (sum of draws, rows)
        mass = np.concatenate([np.full(draws[name, frac].shape[0], weights[name] / draws[name, frac].shape[0])
                               for name in laws])
        order = np.argsort(pooled, axis=0)
        cum = np.cumsum(mass[order], axis=0)
        median = np.take_along_axis(pooled, order, axis=0)[(cum < 0.5 * cum[-1]).sum(axis=0), np.arange(len(rows))]
        mean = mass @ pooled / mass.sum()
        variance = mass @ (pooled - mean) ** 2 / mass.sum()
        edge = np.array([lx[train & (keys == keys[r])].max() for r in rows])
        frames.append(pd.DataFrame({"origin": frac, "row": rows, "distance": np.maximum(lx[rows] - edge, 0.0),
                                    "error": ly[rows] - median, "variance": variance}))
    columns = ["origin", "row", "distance", "error", "variance"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _before_next(usable: list[tuple[float, np.ndarray]], k: int) -> np.ndarray:
    """Rows at or before the origin after the ``k``-th (all rows after the last): the block origin ``k`` scores."""
    return usable[k + 1][1] if k + 1 < len(usable) else np.ones(len(usable[k][1]), dtype=bool)


def _all_on(laws, name: str) -> pd.Series:
    return pd.Series([1.0 if law == name else 0.0 for law in laws], index=laws)
