"""Reliability flags: where a fitted trend should not be trusted, each with its reason.

Every flag is a row with ``code``, ``severity`` (``info`` / ``warning``), ``group``,
``x`` (the target it concerns, if any), ``message`` in plain words and ``value`` (the
number behind it). Warnings are problems; ``info`` rows are outputs worth reading
(the regime of each curve, the irreducible floor, the distance to it at a target).

Regimes come from the posterior local log-log slope (:func:`regime_table`); break risk from
the break posterior of the broken law (:func:`break_probability`); floors from ``E``
(:func:`floor_table`); law disagreement from the laws of a stacked fit
(:func:`disagreement_flags`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RHAT_LIMIT = 1.01
ESS_LIMIT = 400
MIN_DECADES = 1.0
FAR_DECADES = 1.0
WIDE_INTERVAL = 1.0

COLUMNS = ["code", "severity", "group", "x", "message", "value"]


def _flag(code, severity, message, value, group=None, x=None) -> dict:
    return {"code": code, "severity": severity, "group": group, "x": x, "message": message, "value": value}


def sampler_flags(fit) -> list[dict]:
    """r_hat above 1.01, any divergence, bulk or tail ESS below 400."""
    d = fit.diagnostics()
    out = []
    if d["max_r_hat"] > RHAT_LIMIT:
        out.append(_flag("sampler_rhat", "warning",
                         f"max r_hat {d['max_r_hat']:.3f} > {RHAT_LIMIT}: chains disagree; run more draws",
                         d["max_r_hat"]))
    if d["divergences"] > 0:
        out.append(_flag("sampler_divergences", "warning",
                         f"{d['divergences']} divergent transitions: the posterior may be biased; "
                         "raise target_accept or revisit priors", d["divergences"]))
    low = min(d["min_ess_bulk"], d["min_ess_tail"])
    if low < ESS_LIMIT:
        out.append(_flag("sampler_ess", "warning",
                         f"min bulk/tail ESS {low:.0f} < {ESS_LIMIT}: interval ends are noisy; run more draws",
                         low))
    return out


def data_flags(fit) -> list[dict]:
    """Too few points or less than a decade of x per group."""
    out = []
    d = fit.data
    for code, name in enumerate(d.groups):
        x = d.x[d.group_index == code]
        group = name if fit.config.group else None
        decades = float(np.log10(x.max() / x.min()))
        if decades < MIN_DECADES:
            out.append(_flag("narrow_range", "warning",
                             f"x spans only {decades:.2f} decades (< {MIN_DECADES}); exponent and floor "
                             "are weakly identified", decades, group))
        if x.size < 8:
            out.append(_flag("few_points", "warning",
                             f"only {x.size} points for a 4-parameter law; intervals lean on the priors",
                             float(x.size), group))
    return out


PARETO_K = 0.7
PARETO_K_WARN = 1.0
SHOWN_POINTS = 8


def _point(fit, i: int) -> str:
    """``row R (x=..., y=...)`` for observation ``i``, with the row label of the user's frame."""
    d = fit.data
    names = getattr(d, "x_names", None)  # two inputs (chinchilla)
    xs = (f"{names[0]}={d.params[i]:.3g}, {names[1]}={d.tokens[i]:.3g}" if names is not None
          else f"{d.x_name}={d.x[i]:.3g}")
    return f"row {d.frame.index[i]} ({xs}, {d.y_name}={d.y[i]:.4g})"


def influential_flags(fit) -> list[dict]:
    """``influential_points``: observations whose PSIS-LOO Pareto k exceeds 0.7, one row per group.

    Such a point pulls the posterior further than importance sampling can undo, so leaving
    it out cannot be approximated from the full fit. Above k = 1 the fit rests on the point
    (a gross outlier, a typo, a unit error, a run from another setup): ``warning``. Between
    0.7 and 1 it is ``info``: the end points of a short, precise curve often land there (in
    simulated clean curves of 15 to 30 points the largest k ranged from 0.5 to 0.92), while a
    gross outlier reached 1.5 and more. The message names each row (the label of the user's frame) with its
    x, y and k, worst first; ``value`` is the largest k. Empty without a log-likelihood.
    """
    from bayescale.results.loo import loo_on_y

    if "log_likelihood" not in fit.idata.children:
        return []
    k = np.asarray(loo_on_y(fit).pareto_k, dtype=float).ravel()
    d = fit.data
    codes = getattr(d, "group_index", np.zeros(k.size, dtype=int))
    out = []
    for code in np.unique(codes):
        bad = np.flatnonzero((codes == code) & (k > PARETO_K))
        if bad.size == 0:
            continue
        bad = bad[np.argsort(-k[bad], kind="stable")]
        shown = "; ".join(f"{_point(fit, i)}: k={k[i]:.2f}" for i in bad[:SHOWN_POINTS])
        more = f" and {bad.size - SHOWN_POINTS} more" if bad.size > SHOWN_POINTS else ""
        group = d.groups[code] if getattr(fit.config, "group", None) else None
        worst = float(k[bad[0]])
        if worst > PARETO_K_WARN:
            robust = "" if fit.config.law == "sigmoid" or fit.config.noise == "studentt" else \
                " (or refit with noise='studentt', robust to outliers)"
            message = (f"{bad.size} point(s) with Pareto k > {PARETO_K}, the worst above {PARETO_K_WARN:g}: "
                       f"{shown}{more}; the fit rests on them: check them for a typo, a unit error or a run "
                       f"from another setup{robust}")
        else:
            message = (f"{bad.size} point(s) with Pareto k between {PARETO_K} and {PARETO_K_WARN:g}: {shown}{more}; "
                       "the fit leans on them, as it often does on the end points of a short, precise curve; "
                       "leave-one-out comparisons are approximate there")
        out.append(_flag("influential_points", "warning" if worst > PARETO_K_WARN else "info",
                         message, worst, group))
    return out


def target_flags(fit, at) -> list[dict]:
    """Extrapolation distance and interval width at each target scale."""
    out = []
    d = fit.data
    y_range = float(d.y.max() - d.y.min()) or float(abs(d.y).max())
    groups = list(d.groups)
    pred = fit.predict(at, groups, prob=0.9)
    for xv, row in zip(pred[fit.config.x], pred.itertuples(index=False), strict=True):
        g = row.group if fit.config.group else None
        if row.decades_beyond > 0:
            severity = "warning" if row.decades_beyond > FAR_DECADES else "info"
            out.append(_flag("extrapolation", severity,
                             f"x={xv:.3g} is {row.decades_beyond:.2f} decades outside the observed range",
                             float(row.decades_beyond), g, xv))
        width = (row.upper - row.lower) / y_range
        if width > WIDE_INTERVAL:
            out.append(_flag("wide_interval", "warning",
                             f"90% interval at x={xv:.3g} is {width:.1f}x the observed range of y",
                             float(width), g, xv))
    return out


def all_flags(fit, at=None) -> pd.DataFrame:
    """Every flag for ``fit``, with targets ``at`` (scales) when given.

    Always: sampler problems, too few points / too narrow a range, points the fit rests on
    (``influential_points``), the regime of each group (``regime``) and, for laws with a
    floor, ``irreducible_floor``. With targets:
    ``extrapolation``, ``wide_interval``, ``distance_to_floor`` / ``near_floor`` and
    ``break_risk`` (broken law).
    """
    fixed = getattr(fit, "_fixed_flags", None)  # the draws never change; an audit asks once per claimed item
    if fixed is None:
        fixed = sampler_flags(fit) + data_flags(fit) + influential_flags(fit) + regime_flags(fit) + turn_flags(fit)
        fit._fixed_flags = fixed
    rows = [dict(row) for row in fixed] + floor_flags(fit, at)
    if at is not None:
        rows += target_flags(fit, at) + break_flags(fit, at)
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------- breaks, regimes, floors, laws
BREAK_RISK_INFO = 0.2
BREAK_RISK_WARN = 0.5
DISAGREEMENT = 0.5
NEAR_FLOOR = 0.05
SLOW_SLOPE = 0.03
SLOPE_RATIO = 0.25
REGIMES = ("cold start", "scaling", "plateau", "emergence", "slow scaling", "inverse scaling")
TURN_WEIGHT = 0.05  # a stack's turning law below this weight says nothing about turns


def _targets(at) -> np.ndarray:
    from bayescale.results.intervals import positive_scales

    return positive_scales(at, "at")


def break_probability(fit, at) -> np.ndarray:
    """Posterior probability that a material break lies between the largest observed x and each target.

    A break counts when the exponent changes there by more than 25% of the one before (or
    by 0.05). For a stacked fit this is the broken law's probability times its stacking
    weight (the other laws have no break; the broken and turning laws' add up). Laws without breaks give 0.
    """
    from bayescale.core.posterior import flat
    from bayescale.laws.broken import BREAK_LAWS, material_change

    xs = _targets(at)
    laws = fit.fits.items() if hasattr(fit, "fits") else [(fit.config.law, fit)]
    weights = fit.weights if hasattr(fit, "fits") else {fit.config.law: 1.0}
    out = np.zeros(xs.size)
    for name, one in laws:
        weight = float(weights.get(name, 0.0))
        if name not in BREAK_LAWS or weight == 0.0:
            continue
        log_break = flat(one.posterior, "log_break")
        alpha = flat(one.posterior, "alpha")
        material = material_change(alpha[:, :-1], alpha[:, 1:])
        u_max = np.log(one.data.x.max() / one.data.x_ref)
        for j, xv in enumerate(xs):
            inside = (log_break > u_max) & (log_break <= np.log(xv / one.data.x_ref)) & material
            out[j] += weight * float(inside.any(axis=1).mean())
    return out


def break_flags(fit, at) -> list[dict]:
    """``break_risk``: a break (slope change) may lie between the data and the target."""
    out = []
    for xv, p in zip(_targets(at), break_probability(fit, at), strict=True):
        if p >= BREAK_RISK_INFO:
            severity = "warning" if p >= BREAK_RISK_WARN else "info"
            out.append(_flag("break_risk", severity,
                             f"probability {p:.2f} that the slope changes between the largest observed x "
                             f"and x={xv:.3g}: the trend line may bend before the target", p, None, xv))
    return out


def regime_table(fit, *, seed: int | None = None) -> pd.DataFrame:
    """Regime of each group's curve over its observed range, with the probability of each label.

    From posterior draws of the mean curve, the local log-log slope of the metric (per
    decade, signed so that improvement is positive) is measured over the first, middle and
    last third of the group's observed log-x range. Per draw:

    - ``slow scaling``: the steepest of the three is below 0.03;
    - ``cold start`` (metric falls with x) or ``emergence`` (metric rises with x): the
      first third is below 25% of the steepest (flat, then it starts to move); a rising
      metric stays ``emergence`` even when it has saturated again by the last third;
    - ``plateau``: otherwise, when the last third is below 25% of the steepest (the curve
      flattens);
    - ``scaling``: otherwise (a steady power law);
    - ``inverse scaling``: whatever the above, the metric gets worse by more than 0.03 per decade
      over the last third or over the half decade beyond the data (a curve that turns up: the
      turning law, :mod:`bayescale.laws.turning`). For the turning law, alone or in a stack, the
      metric is read as one that falls with scale (a loss, an error); otherwise the direction is
      that of the median curve from the first to the last observed x.

    Returns one row per group: ``group``, ``regime`` (most probable label),
    ``probability`` (of it) and ``p_<label>`` for every label.
    """
    d = fit.data
    rows = []
    for code, name in enumerate(d.groups):
        x = d.x[d.group_index == code]
        lx = np.linspace(np.log10(x.min()), np.log10(x.max()), 7)
        lx = np.append(lx, lx[-1] + BEYOND_DECADES)
        m = np.clip(np.abs(fit.curve_draws(10**lx, name, seed=seed)), 1e-12, None)
        log_m = np.log10(m)
        rising = not _turns(fit) and np.median(log_m[:, 6] - log_m[:, 0]) > 0
        sign = 1.0 if rising else -1.0
        step = lx[2] - lx[0]
        s_start, s_mid, s_end = (sign * (log_m[:, i + 2] - log_m[:, i]) / step for i in (0, 2, 4))
        s_beyond = sign * (log_m[:, 7] - log_m[:, 6]) / BEYOND_DECADES
        s_max = np.maximum(np.maximum(s_start, s_mid), s_end)
        label = np.full(s_max.shape, "scaling", dtype=object)
        flat_start, flat_end = s_start < SLOPE_RATIO * s_max, s_end < SLOPE_RATIO * s_max
        label[flat_start] = "emergence" if rising else "cold start"
        # a falling metric that flattens out has reached a plateau; a rising one that was flat
        # at first has emerged, whether or not it has saturated since
        label[flat_end & ~(flat_start & rising)] = "plateau"
        label[s_max < SLOW_SLOPE] = "slow scaling"
        label[np.minimum(s_end, s_beyond) < -SLOW_SLOPE] = "inverse scaling"
        probs = {f"p_{r.replace(' ', '_')}": float(np.mean(label == r)) for r in REGIMES}
        best = max(REGIMES, key=lambda r: probs[f"p_{r.replace(' ', '_')}"])
        rows.append({"group": name, "regime": best, "probability": probs[f"p_{best.replace(' ', '_')}"], **probs})
    return pd.DataFrame(rows)


BEYOND_DECADES = 0.5  # how far beyond the data the regime looks for a curve that turns up


def _turns(fit) -> bool:
    """Whether ``fit`` is, or stacks, the turning law (its metric falls with scale, then may rise)."""
    return "turning" in (fit.fits if hasattr(fit, "fits") else [fit.config.law])


def regime_flags(fit) -> list[dict]:
    """``regime``: one row per group with its most probable regime (info; warning unless plain scaling)."""
    out = []
    for row in regime_table(fit).itertuples(index=False):
        g = row.group if fit.config.group else None
        severity = "info" if row.regime == "scaling" else "warning"
        advice = {
            "scaling": "a steady power law over the observed range",
            "plateau": "the curve flattens at the largest scales; extrapolating the early slope overshoots",
            "cold start": "flat at small scales, then scaling; the early points do not show the later slope",
            "emergence": "flat, then rising sharply: an emergent jump that the early points do not predict",
            "slow scaling": "improves less than 7% per decade; more scale buys little",
            "inverse scaling": "the metric gets worse with scale at the end of the data or just beyond it: "
                               "the curve turns, and more scale makes it worse",
        }[row.regime]
        out.append(_flag("regime", severity, f"regime: {row.regime} (probability {row.probability:.2f}): {advice}",
                         float(row.probability), g))
    return out


def _floor_draws(fit, code: int) -> np.ndarray | None:
    from bayescale.core.posterior import flat

    post = fit.posterior
    if fit.config.law not in ("power", "broken", "turning") or "E" not in post:
        return None
    e = flat(post, "E")
    if e.ndim == 2:
        e = e[:, code]
    return e * fit.data.y_scale


def floor_table(fit, at=None, *, prob: float = 0.9) -> pd.DataFrame:
    """The irreducible floor ``E`` of each group and the distance to it at each target.

    Returns one row per (group, target): ``group``, ``x``, ``floor_median`` / ``floor_lower``
    / ``floor_upper``, ``distance_median`` / ``distance_lower`` / ``distance_upper`` (mean
    curve minus floor at ``x``, units of y) and ``reducible_share`` (median share of the
    metric at ``x`` that is above the floor). Without targets, ``x`` is the largest observed
    scale. Empty for laws without a floor (sigmoid).
    """
    if hasattr(fit, "fits"):
        fit = fit.best
    d = fit.data
    xs = np.array([d.x.max()]) if at is None else _targets(at)
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    rows = []
    for code, name in enumerate(d.groups):
        e = _floor_draws(fit, code)
        if e is None:
            continue
        curve = fit.curve_draws(xs, name)
        dist = curve - e[:, None]
        fq = np.quantile(e, [lo, 0.5, hi])
        for i, xv in enumerate(xs):
            dq = np.quantile(dist[:, i], [lo, 0.5, hi])
            rows.append({"group": name, "x": xv, "floor_median": fq[1], "floor_lower": fq[0], "floor_upper": fq[2],
                         "distance_median": dq[1], "distance_lower": dq[0], "distance_upper": dq[2],
                         "reducible_share": float(np.median(dist[:, i] / curve[:, i]))})
    return pd.DataFrame(rows)


def floor_flags(fit, at=None) -> list[dict]:
    """``irreducible_floor`` (info, per group) and ``near_floor`` (warning) at targets within 5% of it."""
    table = floor_table(fit, at)
    out = []
    if table.empty:  # laws without a floor (sigmoid)
        return out
    grouped = fit.config.group
    for name, rows in table.groupby("group", sort=False):
        g = name if grouped else None
        first = rows.iloc[0]
        out.append(_flag("irreducible_floor", "info",
                         f"irreducible floor {first.floor_median:.4g} (90% {first.floor_lower:.4g} to "
                         f"{first.floor_upper:.4g}): no scale brings the metric below it",
                         float(first.floor_median), g))
        if at is None:
            continue
        for row in rows.itertuples(index=False):
            if row.reducible_share < NEAR_FLOOR:
                out.append(_flag("near_floor", "warning",
                                 f"at x={row.x:.4g} the metric is {row.distance_median:.3g} above its floor "
                                 f"({100 * row.reducible_share:.2g}% of the metric): more scale buys almost nothing",
                                 float(row.reducible_share), g, row.x))
            else:
                out.append(_flag("distance_to_floor", "info",
                                 f"at x={row.x:.4g} the metric is {row.distance_median:.3g} above its floor "
                                 f"({100 * row.reducible_share:.0f}% of it is reducible)",
                                 float(row.distance_median), g, row.x))
    return out


def turn_flags(fit) -> list[dict]:
    """``turn``: where a turning-law fit (or a stack's turning law of weight >= 0.05) turns, with its interval.

    One row per kind of turn (minimum, maximum) that at least half of the draws show, in the
    observed range widened by its span on each side (:func:`bayescale.laws.turning.turn_table`);
    ``value`` is the probability of the turn (times the law's weight in a stack). A warning when
    it is a minimum inside the data (beyond it the metric rises), info otherwise.
    """
    weight, law = 1.0, fit
    if hasattr(fit, "fits"):
        weight, law = float(fit.weights.get("turning", 0.0)), fit.fits.get("turning")
    if law is None or law.config.law != "turning" or weight < TURN_WEIGHT:
        return []
    table = law.turns().drop_duplicates("kind")
    out = []
    for row in table[table["prob_turn"] >= 0.5].itertuples(index=False):
        inside = row.kind == "minimum" and row.inside_data >= 0.5
        source = "" if weight == 1.0 else f" (turning law, weight {weight:.2f})"
        worse = ": beyond it the metric gets worse with scale" if row.kind == "minimum" else ""
        out.append(_flag("turn", "warning" if inside else "info",
                         f"the curve has a {row.kind} at x={row.median:.4g} (90% interval {row.lower:.4g} to "
                         f"{row.upper:.4g}, probability {row.prob_turn:.2f}, inside the data {row.inside_data:.2f})"
                         f"{source}{worse}",
                         weight * float(row.prob_turn)))
    return out


def disagreement_flags(stacked, at) -> list[dict]:
    """``law_disagreement``: spread of the per-law medians (laws with weight >= 5%) over the stacked interval."""
    pred = stacked.predict(at, prob=0.9, by_law=True)
    x_name = stacked.config.x
    heavy = [k for k, w in stacked.weights.items() if w >= 0.05]
    out = []
    for (g, xv), rows in pred.groupby(["group", x_name], sort=False):
        mix = rows[rows["law"] == "stacked"].iloc[0]
        laws = rows[rows["law"].isin(heavy)]
        width = float(mix["upper"] - mix["lower"]) or 1e-300
        spread = float(laws["median"].max() - laws["median"].min()) / width if len(laws) > 1 else 0.0
        if spread > DISAGREEMENT:
            out.append(_flag("law_disagreement", "warning",
                             f"at x={xv:.3g} the medians of {', '.join(laws['law'])} differ by {spread:.2f}x the "
                             "stacked 90% interval: the forecast depends on the law form",
                             spread, g if stacked.config.group else None, xv))
    return out


def stacked_flags(stacked, at=None) -> pd.DataFrame:
    """Flags of a :class:`~bayescale.results.stacked.StackedFit`: each law's sampler flags and influential
    points, data flags, stacked target flags, break risk, law disagreement, regimes and floors.
    """
    rows = []
    for name, f in stacked.fits.items():
        for row in sampler_flags(f) + influential_flags(f):
            row["message"] = f"{name} law: {row['message']}"
            rows.append(row)
    rows += data_flags(stacked.best) + regime_flags(stacked) + turn_flags(stacked) + floor_flags(stacked, at)
    if at is not None:
        rows += target_flags(stacked, at) + break_flags(stacked, at) + disagreement_flags(stacked, at)
    return pd.DataFrame(rows, columns=COLUMNS)
