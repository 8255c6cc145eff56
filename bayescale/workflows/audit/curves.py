"""Claims on one curve: parameters of any law, the scale that reaches a target, emergence.

- ``[claim.parameters]``: each key a user-unit parameter of the law (``fit.summary()`` names),
  judged by the value rule (:mod:`bayescale.workflows.audit.judge`);
- ``[[claim.reach]]``: "``target`` is reached by scale ``by``": ``P = P(reach scale <= by)``
  from ``fit.reach_draws`` (a draw that never reaches it counts against), event rule;
- ``[[claim.emergence]]``: the emergence scale is the sigmoid's midpoint (``midpoint_x`` of the
  group, or of the population of groups) or the broken law's first break (``break_x[0]``); a
  claimed ``scale`` is judged by the value rule, an ``interval`` alone by the event rule on
  ``P(scale in interval)``. ``abrupt = true`` adds a second row, judged on two things:
  ``P`` that the jump is sharp (sigmoid: the 10%-90% rise, ``2 ln 9 / steepness_per_decade``
  decades, spans less than ``within_decades``, default 1; broken law: the bend is narrower than
  ``within_decades`` and the exponent changes materially) and PSIS-LOO against a smooth
  alternative (a sigmoid whose steepness is capped so its rise takes at least
  ``within_decades``; for the broken law the plain power law): supported when ``P >= 0.9`` and
  LOO favours the abrupt fit by more than 2 SE (:func:`bayescale.compare`), not supported when
  ``P <= 0.1`` or LOO favours the smooth fit by more than 2 SE, inconclusive otherwise.
"""

from __future__ import annotations

import math

import numpy as np

from bayescale.workflows.audit.context import Context, Outcome, central, flag_codes, target_flags
from bayescale.workflows.audit.judge import evaluate_item, event_row
from bayescale.workflows.audit.more_runs import group_name, narrowing

RISE = 2 * math.log(9.0)  # the logistic rises from 10% to 90% of its jump over 2 ln 9 / k


def parameter_draws(fit, base: str, index) -> np.ndarray:
    """Draws of one user-unit parameter, indexed by group name or position."""
    da = fit._user_parameters()[base]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if extra:
        da = da.sel({extra[0]: index}) if extra[0] == "group" else da.isel({extra[0]: int(index)})
    return da.transpose("chain", "draw").values.reshape(-1)


def parameter(ctx: Context, item) -> Outcome:
    draws = parameter_draws(ctx.fit, item.fields["parameter"], item.fields["index"])
    row = evaluate_item(draws, item, ctx.n_obs)
    group = item.fields["index"] if isinstance(item.fields["index"], str) else None
    candidates = narrowing(ctx.fit, draws, [group], ctx.runs)
    return Outcome([row], evidence={item.name: {"draws": draws}}, candidates=candidates)


def reach(ctx: Context, item) -> Outcome:
    fit, f = ctx.fit, item.fields
    calibrated = {"discrepancy": True} if getattr(fit, "calibrated", False) else {}  # a learned chinchilla s
    draws = fit.reach_draws(f["target"], group=f["group"], **calibrated)
    p = float(np.mean(draws <= f["by"]))
    never = float(np.mean(~np.isfinite(draws)))
    med, lo, hi = central(draws, item.prob)
    unit = "compute" if fit.config.law == "chinchilla" else fit.config.x
    text = f"{fit.config.y} reaches {f['target']:g} by {unit} = {f['by']:.3g}" + (
        f" ({f['group']})" if f["group"] else "")
    evidence = (f"reach {unit} {med:.3g} [{lo:.3g}, {hi:.3g}] at {item.prob:g}; P(never) {never:.2f}; "
                f"P(reached by {f['by']:.3g}) {p:.2f}")
    row = event_row(item, text, p, evidence)
    row.update(claimed=f["by"], posterior_median=med, posterior_lower=lo, posterior_upper=hi)
    if fit.config.law == "chinchilla":
        from bayescale.results.chinchilla import chinchilla_target_flags

        flags = [dict(fl, item=item.name) for fl in chinchilla_target_flags(fit, compute=[f["by"]])]
        candidates = None
    else:
        flags = target_flags(fit, item.name, [f["by"]], [f["group"]])
        candidates = narrowing(fit, draws, [f["group"]], ctx.runs, targets=[f["by"]])
    row["flags"] = flag_codes(flags)
    return Outcome([row], flags, {item.name: {"draws": draws, "target": f["target"], "by": f["by"],
                                              "group": f["group"], "p_never": never}}, candidates)


def emergence_draws(fit, group: str | None) -> np.ndarray:
    """Draws of the emergence scale: the sigmoid's midpoint or the broken law's first break."""
    from bayescale.core.posterior import flat

    post = fit.posterior
    if fit.config.law == "broken":
        return np.exp(flat(post, "log_break")[:, 0]) * fit.data.x_ref
    if group is None and "midpoint_mu" in post:  # the population of groups: its mean midpoint
        return np.exp(flat(post, "midpoint_mu")) * fit.data.x_ref
    mid = flat(post, "midpoint")
    if mid.ndim > 1:
        mid = mid[:, fit.data.groups.index(group_name(fit, group))]
    return np.exp(mid) * fit.data.x_ref


def _sharpness(fit, within: float) -> tuple[np.ndarray, str, dict]:
    """Per draw: is the jump sharper than ``within`` decades; a description; the smooth alternative."""
    from bayescale.core.posterior import flat

    if fit.config.law == "sigmoid":
        steep = flat(fit.posterior, "steepness")  # per unit of natural log x
        rise = RISE / (steep * math.log(10.0))
        cap = RISE / (within * math.log(10.0))
        smooth = {"priors": {**(fit.config.priors or {}),
                             "steepness": {"dist": "Uniform", "lower": cap / 100, "upper": cap}}}
        return rise < within, f"10-90% rise {np.median(rise):.2g} decades", smooth
    width = flat(fit.posterior, "width")[:, 0] / math.log(10.0)
    alpha = flat(fit.posterior, "alpha")
    change = np.abs(alpha[:, 1] - alpha[:, 0]) > np.maximum(0.25 * alpha[:, 0], 0.05)
    return (width < within) & change, f"bend width {np.median(width):.2g} decades", {"law": "power"}


def _abrupt(ctx: Context, item) -> tuple[dict, dict]:
    from bayescale.results.comparison import compare

    within = item.fields["within_decades"]
    sharp, described, smooth_options = _sharpness(ctx.fit, within)
    p = float(np.mean(sharp))
    smooth = ctx.refit(**smooth_options)
    table = compare(smooth, ctx.fit, names=["smooth", "abrupt"])
    lead = float(table["elpd"].iloc[0] - table["elpd"].iloc[1])
    se = float(table["dse"].iloc[1])
    clear = lead > 2 * se
    loo = "abrupt" if clear and table.index[0] == "abrupt" else "smooth" if clear else "neither"
    row = event_row(item, f"the jump takes under {within:g} decade(s)", p,
                    f"P(sharper than {within:g} decades) {p:.2f} ({described}); LOO: {table.attrs['verdict']}")
    row["item"] = f"{item.name}: abrupt"
    row["verdict"] = ("supported" if p >= 0.9 and loo == "abrupt"
                      else "not supported" if p <= 0.1 or loo == "smooth" else "inconclusive")
    row["rule"] = "P >= 0.9 and LOO favours abrupt (> 2 SE): supported; P <= 0.1 or LOO favours smooth: not"
    return row, {"sharp": p, "compare": table}


def emergence(ctx: Context, item) -> Outcome:
    fit, group = ctx.fit, item.fields["group"]
    draws = emergence_draws(fit, group)
    what = "break location" if fit.config.law == "broken" else "sigmoid midpoint"
    if item.value is not None:
        row = evaluate_item(draws, item, ctx.n_obs)
        row["claim"] = f"{what} at {row['claim']}"
    else:
        lo, hi = item.interval
        p = float(np.mean((draws >= lo) & (draws <= hi)))
        med, plo, phi = central(draws, item.prob)
        row = event_row(item, f"{what} between {lo:.3g} and {hi:.3g}", p,
                        f"{what} {med:.3g} [{plo:.3g}, {phi:.3g}]; P(in interval) {p:.2f}")
        row.update(claimed_lower=lo, claimed_upper=hi, posterior_median=med, posterior_lower=plo,
                   posterior_upper=phi, p_interval=p)
    at = [item.value] if item.value is not None else list(item.interval)
    flags = target_flags(fit, item.name, at, [group])
    row["flags"] = flag_codes(flags)
    rows, evidence = [row], {item.name: {"draws": draws, "claimed": item.value, "interval": item.interval}}
    if item.fields["abrupt"]:
        abrupt_row, detail = _abrupt(ctx, item)
        abrupt_row["flags"] = row["flags"]
        rows.append(abrupt_row)
        evidence[abrupt_row["item"]] = detail
    return Outcome(rows, flags, evidence, narrowing(fit, draws, [group], ctx.runs))
