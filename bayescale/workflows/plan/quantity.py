"""What a plan pins down: a prediction, the scale that reaches a target, a compute-optimal allocation, an item.

Each is a function of a :class:`~bayescale.workflows.plan.model.Component` giving one value per
posterior draw, with the unit its interval width is measured in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.results.reach import HORIZON_DECADES


@dataclass
class Quantity:
    """A quantity to narrow: ``draws(component)`` (one per draw), a label and the unit of its width."""

    draws: Callable
    label: str
    unit: str
    group: str | None = None  # the group whose runs the default candidates extend
    scale: float | None = None  # where it sits on the x axis (or the compute), for the default candidates


def positive(value, name: str, what: str = "") -> float:
    """``value`` as one positive finite number, else a :class:`DataError` naming ``name``."""
    what = f" ({what})" if what else ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be a positive number{what}, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise DataError(f"{name} must be a positive finite number{what}, got {value!r}")
    return v


def at_quantity(fit, at, group: str | None, kind: str) -> Quantity:
    """The prediction at ``at`` (a scale; for Chinchilla a compute budget or ``{"params", "tokens"}``)."""
    if kind not in ("predictive", "mean"):
        raise DataError(f"kind must be 'predictive' or 'mean', got {kind!r}")
    y = fit.config.y
    if fit.config.law == "chinchilla":
        if isinstance(at, dict):
            n, d = positive(at.get("params"), "at['params']"), positive(at.get("tokens"), "at['tokens']")
            label, scale = f"{y} at N={n:.3g}, D={d:.3g}", 6 * n * d
        else:
            c = positive(at, "at (a compute budget)")
            label, scale = f"{y} of the compute-optimal run at C={c:.3g}", c

        def draws(comp):
            f = comp.fit
            if isinstance(at, dict):
                mean, dist = f.curve_draws([n], [d]), comp.distance(pd.DataFrame({"params": [n], "tokens": [d]}))
            else:
                opt = f.optimal_draws([c])
                mean = opt["loss"]
                dist = comp.distance(pd.DataFrame({"params": [np.median(opt["params"])],
                                                    "tokens": [np.median(opt["tokens"])]}))
            return _observed(comp, mean[comp.rows], dist, kind)

        return Quantity(draws, label, y, None, scale)
    x = positive(at, "at")
    group = _one_group(fit, group)

    def draws(comp):
        f = comp.fit
        dist = f._decades_beyond(np.array([x]), group)
        return _observed(comp, f.curve_draws([x], group)[comp.rows], dist, kind)

    return Quantity(draws, f"{y} at {fit.config.x}={x:.3g}" + (f" ({group})" if fit.data.n_groups > 1 else ""),
                    y, group, x)


def _observed(comp, mean: np.ndarray, distance: np.ndarray, kind: str) -> np.ndarray:
    """Mean draws (n, 1) with the component's drift and, for ``predictive``, one noise draw each."""
    mean = mean * np.exp(comp.drift[:, None] * np.asarray(distance)[None, :])
    if kind == "mean":
        return mean[:, 0]
    rng = np.random.default_rng([int(comp.fit.config.seed), 33_000])
    return comp.noise.sample(mean, np.arange(comp.n), rng)[:, 0]


def _one_group(fit, group: str | None) -> str:
    if group is None:
        if fit.data.n_groups > 1:
            raise DataError(f"group must name one group of this grouped fit ({', '.join(fit.data.groups)}); got None")
        return fit.data.groups[0]
    fit._group_code(group)  # raises naming the groups
    return group


def reach_quantity(fit, target, group: str | None, given: dict, seed: int) -> Quantity:
    """log10 of the scale at which ``group`` reaches ``target`` (never: the horizon, 20 decades out)."""
    chinchilla = fit.config.law == "chinchilla"
    group = None if chinchilla else _one_group(fit, group)
    t = float(target)
    probe = fit.reach_draws(t, group, seed=seed, **given)  # given: {"discrepancy": s} when the plan was given one
    if np.mean(np.isfinite(probe)) < 0.005:
        where = "" if group is None or fit.data.n_groups == 1 else f" for group {group!r}"
        raise DataError(f"no run reaches {fit.config.y} = {t:g}{where}: the target lies beyond every posterior draw's "
                        f"reach (at or past its floor or ceiling, or more than {HORIZON_DECADES} decades out), "
                        "so no experiment can pin down when it is reached")
    top = float(fit.data.compute.max() if chinchilla else fit._group_range(group)[1])

    def draws(comp):
        f = comp.fit
        r = np.asarray(f.reach_draws(t, group, seed=seed, **given), dtype=float)[comp.rows]
        return np.where(np.isfinite(r) & (r > 0), np.log10(np.where(r > 0, r, 1.0)),
                        np.where(r > 0, np.log10(top) + HORIZON_DECADES, -np.inf)).clip(min=-300)

    unit = "decades of compute" if chinchilla else f"decades of {fit.config.x}"
    return Quantity(draws, f"{fit.config.x if not chinchilla else 'compute'} reaching {fit.config.y} = {t:g}", unit,
                    group, float(np.nanmedian(np.where(np.isfinite(probe), probe, np.nan))))


def optimal_quantity(fit, compute, what: str = "params") -> Quantity:
    """log10 of the compute-optimal ``params`` (or ``tokens``, ``tokens_per_param``) at a budget."""
    if fit.config.law != "chinchilla":
        raise DataError(f"compute= (the compute-optimal allocation) needs a chinchilla fit, not law {fit.config.law!r}")
    c = positive(compute, "compute")
    if what not in ("params", "tokens", "tokens_per_param"):
        raise DataError(f"optimal must be 'params', 'tokens' or 'tokens_per_param', got {what!r}")
    return Quantity(lambda comp: np.log10(comp.fit.optimal_draws([c])[what][comp.rows, 0]),
                    f"compute-optimal {what} at C={c:.3g}", f"decades of {what}", None, c)


def item_quantity(draws: Callable, label: str, unit: str = "", group: str | None = None,
                  scale: float | None = None) -> Quantity:
    """An audit item, or any quantity: ``draws(fit)`` gives one value per posterior draw of ``fit``."""
    return Quantity(lambda comp: np.asarray(draws(comp.fit), dtype=float)[comp.rows], label, unit, group, scale)
