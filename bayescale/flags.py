"""Reliability flags: where a fitted trend should not be trusted, each with its reason.

Every flag is a row with ``code``, ``severity`` (``info`` / ``warning``), ``group``,
``x`` (the target it concerns, if any), ``message`` in plain words and ``value`` (the
number behind it). An empty frame means nothing was found.
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
    """Every flag for ``fit``, with targets ``at`` (scales) when given."""
    rows = sampler_flags(fit) + data_flags(fit)
    if at is not None:
        rows += target_flags(fit, at)
    return pd.DataFrame(rows, columns=COLUMNS)
