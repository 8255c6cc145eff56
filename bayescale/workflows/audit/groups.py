r"""Claims across groups (``[[claim.groups]]``) and re-weighted to another population (``[[claim.population]]``).

"Better" follows the law: a lower metric for the falling laws (power, broken: losses and
errors), a higher one for the sigmoid (accuracies). The **reducible part** of a curve is its
distance to the asymptote it approaches with scale: ``y - E`` for the falling laws,
``ceiling - y`` for the sigmoid. The **rate per decade** at ``x`` is the fractional fall of the
reducible part over the next decade, :math:`r(x) = 1 - R(10x) / R(x)` (for the power law
:math:`1 - 10^{-\alpha}` at every ``x``).

Group claims (posterior probability ``P`` and the event rule unless said otherwise):

- ``shared_slopes``: shared against varying exponents by PSIS-LOO (:func:`bayescale.compare`);
  supported unless the varying-slope fit leads by more than 2 SE (then not supported);
- ``min_rate``: ``P(min over groups r_g(at) >= rate)``, ``at`` defaulting to the largest
  observed x;
- ``gap_shrinks``: ``P(|gap(x2)| < |gap(x1)|)`` for ``range = [x1, x2]``, from
  ``fit.contrast`` (the gap of the mean curves);
- ``never_worse``: ``P(a is no worse than b at every one of 25 log-spaced x in range)``;
- ``equivalent``: ``P(max over the range of |y_a / y_b - 1| <= tolerance)``.

A population claim weights the groups' mean curves, ``y_w(x) = sum_g w_g y_g(x)``, and
judges the claimed ``value`` (value rule) or ``rate`` (``P(r_w(at) >= rate)``) of the
aggregate at each ``at``. A second row asks whether the claim holds for every weighted group:
each group's own curve is judged by the same rule (value rule: supported; rate: ``P >= 0.9``),
supported only if every group passes; it names the worst group (its curve and interval).
"""

from __future__ import annotations

import numpy as np

from bayescale.workflows.audit.context import Context, Outcome, central, flag_codes, target_flags
from bayescale.workflows.audit.judge import EVENT_RULE, empty_row, evaluate_item, event_row
from bayescale.workflows.audit.more_runs import narrowing

GRID = 25


def _falling(fit) -> bool:
    return fit.config.law != "sigmoid"


def asymptote(fit, group: str) -> np.ndarray:
    """Draws of the level a group's curve approaches with scale (floor ``E`` or the sigmoid's ceiling)."""
    ds = fit._user_parameters()
    da = ds["ceiling"] if fit.config.law == "sigmoid" else ds["E"]
    if "group" in da.dims:
        da = da.sel(group=group)
    return da.transpose("chain", "draw").values.reshape(-1)


def rate_draws(fit, curves: dict[str, np.ndarray], at: float, weights: dict[str, float] | None = None):
    """Rate per decade at ``at`` per group (``curves``: group -> draws at [at, 10 at]), or of their weighted sum."""
    reducible = {g: np.abs(c - asymptote(fit, g)[:, None]) for g, c in curves.items()}
    if weights is None:
        return {g: 1 - r[:, 1] / r[:, 0] for g, r in reducible.items()}
    total = sum(weights[g] * r for g, r in reducible.items())
    return 1 - total[:, 1] / total[:, 0]


def _shared_slopes(ctx: Context, item) -> Outcome:
    from bayescale.core.posterior import flat
    from bayescale.results.comparison import compare

    fits = {ctx.fit.config.slopes: ctx.fit}
    other = "varying" if "shared" in fits else "shared"
    fits[other] = ctx.refit(slopes=other)
    table = compare(fits["shared"], fits["varying"], names=["shared", "varying"])
    spread = np.median(flat(fits["varying"].posterior, "log_alpha_sigma"))
    row = empty_row(item, "every group has the same exponent")
    row.update(verdict="not supported" if table.attrs["favours"] == "varying" else "supported",
               rule="PSIS-LOO: shared kept unless varying leads by > 2 SE",
               evidence=f"{table.attrs['verdict']}; spread of log alpha across groups {spread:.2g} (varying fit)")
    return Outcome([row], evidence={item.name: {"compare": table}})


def _pair(fit, item):
    f = item.fields
    xs = np.geomspace(*f["range"], GRID)
    return xs, fit.curve_draws(xs, f["a"]), fit.curve_draws(xs, f["b"])


def _group_claim(ctx: Context, item) -> tuple[dict, np.ndarray, list[str | None], list[float]]:
    """The row of a min_rate / gap / never_worse / equivalent claim, with the statistic behind it."""
    fit, f, kind = ctx.fit, item.fields, item.fields["kind"]
    if kind == "min_rate":
        at = f["at"] or float(fit.data.x.max())
        rates = rate_draws(fit, {g: fit.curve_draws([at, 10 * at], g) for g in fit.data.groups}, at)
        worst = np.min(np.column_stack(list(rates.values())), axis=1)
        p = float(np.mean(worst >= f["rate"]))
        slowest = min(rates, key=lambda g: np.median(rates[g]))
        med, lo, hi = central(rates[slowest], 0.9)
        text = f"every group's reducible part falls >= {f['rate']:.3g} per decade at {at:.3g}"
        evidence = f"slowest group {slowest!r}: {med:.3g} [{lo:.3g}, {hi:.3g}] per decade; P {p:.2f}"
        return event_row(item, text, p, evidence), worst, list(fit.data.groups), [at]
    a, b, (x1, x2) = f["a"], f["b"], f["range"]
    if kind == "gap_shrinks":
        if fit.config.law in ("power", "broken"):
            table = fit.contrast(a, b, at=[x1, x2])
            p = float(table.loc[table["quantity"] == "gap_shrinks", "mean"].iloc[0])
        else:  # the sigmoid has no log offset to contrast: the same gap, from the curves
            gap = fit.curve_draws([x1, x2], a) - fit.curve_draws([x1, x2], b)
            p = float(np.mean(np.abs(gap[:, 1]) < np.abs(gap[:, 0])))
        gap = fit.curve_draws([x1, x2], a) - fit.curve_draws([x1, x2], b)
        stat = np.abs(gap[:, 1]) - np.abs(gap[:, 0])
        evidence = (f"gap {a!r} - {b!r}: {np.median(gap[:, 0]):.3g} at {x1:.3g}, {np.median(gap[:, 1]):.3g} at "
                    f"{x2:.3g}; P(shrinks) {p:.2f}")
        return event_row(item, f"the gap between {a!r} and {b!r} shrinks from {x1:.3g} to {x2:.3g}", p,
                         evidence), stat, [a, b], [x1, x2]
    _, ya, yb = _pair(fit, item)
    if kind == "never_worse":
        excess = np.max((ya - yb) if _falling(fit) else (yb - ya), axis=1)
        p = float(np.mean(excess <= 0))
        evidence = f"largest excess of {a!r} over {b!r} in the range: median {np.median(excess):.3g}; P {p:.2f}"
        return event_row(item, f"{a!r} is never worse than {b!r} in [{x1:.3g}, {x2:.3g}]", p,
                         evidence), excess, [a, b], [x1, x2]
    gap = np.max(np.abs(ya / yb - 1), axis=1)
    p = float(np.mean(gap <= f["tolerance"]))
    med, lo, hi = central(gap, 0.9)
    evidence = f"largest |y_{a} / y_{b} - 1| in the range {med:.3g} [{lo:.3g}, {hi:.3g}]; P {p:.2f}"
    return event_row(item, f"{a!r} and {b!r} within {f['tolerance']:.3g} of each other in [{x1:.3g}, {x2:.3g}]",
                     p, evidence), gap, [a, b], [x1, x2]


def groups(ctx: Context, item) -> Outcome:
    if item.fields["kind"] == "shared_slopes":
        return _shared_slopes(ctx, item)
    row, stat, names, at = _group_claim(ctx, item)
    flags = target_flags(ctx.fit, item.name, at, names)
    row["flags"] = flag_codes(flags)
    candidates = narrowing(ctx.fit, stat, names, ctx.runs, targets=at)
    return Outcome([row], flags, {item.name: {"statistic": stat, **item.fields}}, candidates)


# ---------------------------------------------------------------------------- population
def _population_at(ctx: Context, item, x: float, name: str) -> tuple[list[dict], dict]:
    fit, f = ctx.fit, item.fields
    weights = {g: w for g, w in f["weights"].items() if w > 0}
    curves = {g: fit.curve_draws([x, 10 * x], g) for g in weights}
    falling = _falling(fit)
    worst = max(curves, key=lambda g: np.median(curves[g][:, 0]) * (1 if falling else -1))
    wmed, wlo, whi = central(curves[worst][:, 0], item.prob)
    aggregate = sum(weights[g] * c for g, c in curves.items())
    if f["rate"] is None:
        row = evaluate_item(aggregate[:, 0], item, ctx.n_obs)
        holds = {g: evaluate_item(c[:, 0], item, ctx.n_obs)["verdict"] == "supported" for g, c in curves.items()}
        row["claim"] = f"aggregate {fit.config.y} at {x:.3g}: {row['claim']}"
    else:
        agg = rate_draws(fit, curves, x, weights)
        p = float(np.mean(agg >= f["rate"]))
        row = event_row(item, f"aggregate reducible part falls >= {f['rate']:.3g} per decade at {x:.3g}", p,
                        f"aggregate rate {np.median(agg):.3g} per decade; P {p:.2f}")
        rates = rate_draws(fit, curves, x)
        holds = {g: float(np.mean(r >= f["rate"])) >= 0.9 for g, r in rates.items()}
    row["item"] = name
    failing = [g for g, ok in holds.items() if not ok]
    every = empty_row(item, f"the claim holds for every group at {x:.3g}")
    every.update(item=f"{name}: every group", verdict="not supported" if failing else "supported",
                 rule="each weighted group's own curve judged by the same rule; all must pass"
                      + ("" if f["rate"] is None else f" ({EVENT_RULE.split(';')[0]})"),
                 evidence=(f"worst group {worst!r}: {wmed:.4g} [{wlo:.4g}, {whi:.4g}] at {x:.3g}; "
                           + (f"fails for {', '.join(failing)}" if failing else "holds for all")),
                 posterior_median=wmed, posterior_lower=wlo, posterior_upper=whi)
    med, lo, hi = central(aggregate[:, 0], item.prob)
    evidence = {"x": x, "aggregate": (med, lo, hi), "worst": worst, "worst_curve": (wmed, wlo, whi),
                "failing": failing, "weights": weights, "claimed": item.value, "interval": item.interval,
                "rate": f["rate"]}
    return [row, every], evidence


def population(ctx: Context, item) -> Outcome:
    at = item.fields["at"]
    rows, evidence = [], {}
    for x in at:
        name = item.name if len(at) == 1 else f"{item.name} at {x:.3g}"
        pair, detail = _population_at(ctx, item, x, name)
        rows += pair
        evidence[name] = detail
    flags = target_flags(ctx.fit, item.name, at, list(item.fields["weights"]))
    for row in rows:
        row["flags"] = flag_codes(flags)
    return Outcome(rows, flags, evidence)
