"""Candidate runs, what each would observe ("atoms") and what it costs.

- One-input laws, ``axis="runs"``: new runs at scales between the data of the quantity's group
  (6, log-spaced) and beyond it (8, up to ten times the largest scale or the quantity's own
  scale, whichever is further). Cost: the scale itself when x is compute (FLOPs); ``6 N D``
  with ``D = 20 N`` when x is a parameter count; otherwise x in its own unit.
- ``axis="curve"`` (x is the step or tokens of one training run): extend the group's run from
  its last point ``t`` by doubling, ``2t, 4t, ...``; extending from ``t`` to ``t'`` costs
  ``t' - t`` (times ``cost_per_unit``, e.g. ``6 N`` FLOPs per token) and observes 4 log-spaced
  checkpoints in between. The extensions of one run form a *chain*: within it a batch pays
  only for its furthest extension and observes every checkpoint up to it.
- Chinchilla: ``(N, D)`` pairs on isoFLOP lines, 7 budgets from a hundredth of the largest
  fitted compute to ten times it (or the target) at 5, 10, 20, 40 and 80 tokens per
  parameter; cost ``6 N D``. ``max_scale`` caps the parameter count (the largest affordable model).
- Or the user's candidates: a list of scales, or a frame with the x column (or ``params`` and
  ``tokens``), optionally ``group``, ``cost`` and ``chain``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayescale.errors import DataError

TOKENS_PER_PARAM = 20.0
RATIOS = (5.0, 10.0, 20.0, 40.0, 80.0)
CHECKPOINTS = 4


@dataclass
class Candidates:
    """Candidate runs (``table``: one row each, with ``cost`` and ``chain``), the atoms they observe."""

    table: pd.DataFrame
    atoms: pd.DataFrame
    observes: list[np.ndarray]  # per candidate, the rows of ``atoms`` it observes
    cost_unit: str


def check_budget(budget) -> float:
    from bayescale.workflows.plan.quantity import positive

    return positive(budget, "budget", "the total cost of the batch")


def run_cost(fit, x: np.ndarray) -> tuple[np.ndarray, str]:
    name = fit.config.x.lower()
    if "flop" in name or "compute" in name:
        return x, "FLOPs"
    if "param" in name:
        return 6.0 * x * TOKENS_PER_PARAM * x, f"FLOPs (6 N D at D = {TOKENS_PER_PARAM:g} N)"
    return x, fit.config.x


def _scaled_costs(table: pd.DataFrame, raw: np.ndarray, cost) -> np.ndarray:
    if "cost" in table:
        return table["cost"].to_numpy(dtype=float)
    if callable(cost):
        return np.asarray(cost(table), dtype=float)
    return raw


def default_runs(fit, group: str, scale: float | None, max_scale: float | None) -> pd.DataFrame:
    lo, hi = fit._group_range(group)
    top = max(10 * hi, scale or 0.0)
    xs = np.r_[np.geomspace(lo, hi, 8)[1:-1], np.geomspace(hi, top, 9)[1:]]
    if max_scale is not None:
        xs = xs[xs <= max_scale]
    return pd.DataFrame({"group": group, "x": xs})


def one_axis(fit, quantity, candidates, *, axis: str, cost, cost_per_unit: float, max_scale) -> Candidates:
    """Candidates of a one-input law (see the module docstring)."""
    groups = list(fit.data.groups)
    group = quantity.group or groups[0]
    if axis == "curve":
        return _extensions(fit, group, quantity.scale, candidates, cost_per_unit, max_scale)
    if candidates is None:
        table = default_runs(fit, group, quantity.scale, max_scale)
    else:
        table = _user_frame(candidates, {fit.config.x: "x"}, ["x"])
        table["group"] = table.get("group", group)
        for g in set(table["group"]):
            fit._group_code(g)
    raw, unit = run_cost(fit, table["x"].to_numpy(dtype=float))
    table["cost"] = _scaled_costs(table, raw * cost_per_unit, cost)
    unit = "user cost" if ("cost" in getattr(candidates, "columns", ()) or callable(cost)) else unit
    table["chain"] = table["chain"] if "chain" in table else [f"run {i}" for i in range(len(table))]
    atoms = table[["group", "x"]].reset_index(drop=True)
    return Candidates(table.reset_index(drop=True), atoms, [np.array([i]) for i in range(len(table))], unit)


def _extensions(fit, group: str, scale, candidates, cost_per_unit: float, max_scale) -> Candidates:
    _, hi = fit._group_range(group)
    if candidates is None:
        top = max(64 * hi, scale or 0.0)
        ends = hi * 2.0 ** np.arange(1, int(np.ceil(np.log2(top / hi))) + 1)
    else:
        ends = np.sort(_user_frame(candidates, {fit.config.x: "x"}, ["x"])["x"].to_numpy(dtype=float))
        if np.any(ends <= hi):
            raise DataError(f"axis='curve' extends the run of {group!r} beyond its last {fit.config.x} = {hi:.4g}; "
                            f"candidates at or below it: {ends[ends <= hi].tolist()}")
    if max_scale is not None:
        ends = ends[ends <= max_scale]
    rows, observes, start = [], [], hi
    for end in ends:
        rows.extend(np.geomspace(start, end, CHECKPOINTS + 1)[1:])
        observes.append(np.arange(len(rows)))
        start = end
    table = pd.DataFrame({"group": group, "x": ends, "cost": (ends - hi) * cost_per_unit, "chain": f"extend {group}"})
    atoms = pd.DataFrame({"group": group, "x": np.asarray(rows, dtype=float)})
    unit = fit.config.x if cost_per_unit == 1 else f"{fit.config.x} x {cost_per_unit:g}"
    return Candidates(table, atoms, observes, unit)


def chinchilla(fit, quantity, candidates, *, cost, max_scale) -> Candidates:
    """Candidates of a Chinchilla fit: ``(N, D)`` on isoFLOP lines, or the user's pairs."""
    names = dict(zip(fit.data.x_names, ("params", "tokens"), strict=True))
    if candidates is None:
        top = max(10 * float(fit.data.compute.max()), quantity.scale or 0.0)
        budgets = np.geomspace(float(fit.data.compute.max()) / 100, top, 7)
        pairs = [(c, np.sqrt(c / (6 * r)), r) for c in budgets for r in RATIOS]
        table = pd.DataFrame({"params": [p[1] for p in pairs], "tokens": [p[1] * p[2] for p in pairs]})
        if max_scale is not None:
            table = table[table["params"] <= max_scale].reset_index(drop=True)
    else:
        table = _user_frame(candidates, names, ["params", "tokens"])
    table["compute"] = 6.0 * table["params"] * table["tokens"]
    table["tokens_per_param"] = table["tokens"] / table["params"]
    table["cost"] = _scaled_costs(table, table["compute"].to_numpy(), cost)
    table["chain"] = table["chain"] if "chain" in table else [f"run {i}" for i in range(len(table))]
    unit = "user cost" if ("cost" in getattr(candidates, "columns", ()) or callable(cost)) else "FLOPs (6 N D)"
    return Candidates(table, table[["params", "tokens"]].copy(), [np.array([i]) for i in range(len(table))], unit)


def _user_frame(candidates, rename: dict, needed: list[str]) -> pd.DataFrame:
    if isinstance(candidates, pd.DataFrame):
        table = candidates.rename(columns=rename).copy()
    else:
        values = np.atleast_1d(np.asarray(candidates, dtype=float))
        if len(needed) > 1 or values.ndim != 1:
            raise DataError(f"candidates must be a frame with columns {needed} (and optional cost, group, chain)")
        table = pd.DataFrame({needed[0]: values})
    missing = [c for c in needed if c not in table]
    if missing or not len(table):
        raise DataError(f"candidates need columns {needed} (and optional cost, group, chain); got "
                        f"{list(table.columns)} with {len(table)} rows")
    for c in needed:
        v = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(v) & (v > 0)):
            raise DataError(f"candidates' {c} must be positive finite numbers; bad rows "
                            f"{np.flatnonzero(~(np.isfinite(v) & (v > 0)))[:8].tolist()}")
        table[c] = v
    return table.reset_index(drop=True)


def within_budget(cands: Candidates, budget: float, user_given: bool) -> Candidates:
    """Refuse a user's candidate that costs more than the budget; drop such default ones."""
    cost = cands.table["cost"].to_numpy(dtype=float)
    if not np.all(np.isfinite(cost) & (cost > 0)):
        raise DataError(f"every candidate's cost must be a positive number; bad rows "
                        f"{np.flatnonzero(~(np.isfinite(cost) & (cost > 0)))[:8].tolist()}")
    over = cost > budget
    if user_given and over.any():
        rows = np.flatnonzero(over)
        raise DataError(f"candidates {rows[:8].tolist()} cost more than the budget {budget:.4g} ({cands.cost_unit}): "
                        f"{cost[rows[:3]].tolist()}; raise the budget or drop them")
    if over.all():
        raise DataError(f"every default candidate costs more than the budget {budget:.4g} ({cands.cost_unit}); "
                        f"the cheapest costs {cost.min():.4g}")
    keep = np.flatnonzero(~over)
    if cands.table["chain"].duplicated().any():  # a chain's extensions: keep its affordable prefix
        return Candidates(cands.table.iloc[keep].reset_index(drop=True), cands.atoms,
                          [cands.observes[i] for i in keep], cands.cost_unit)
    sizes = np.cumsum([0] + [len(cands.observes[i]) for i in keep])
    return Candidates(cands.table.iloc[keep].reset_index(drop=True),
                      cands.atoms.iloc[np.concatenate([cands.observes[i] for i in keep])].reset_index(drop=True),
                      [np.arange(sizes[j], sizes[j + 1]) for j in range(len(keep))], cands.cost_unit)


def replicate(cands: Candidates, runs: int) -> Candidates:
    """Each candidate as ``runs`` replicate runs: ``runs`` times its atoms and its cost."""
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise DataError(f"runs must be a positive integer (replicate runs per candidate), got {runs!r}")
    if runs == 1:
        return cands
    if cands.table["chain"].duplicated().any():
        raise DataError("runs > 1 replicates new runs; extensions of one training run (axis='curve') cannot be")
    table = cands.table.assign(cost=cands.table["cost"] * runs, runs=runs)
    atoms = cands.atoms.iloc[np.repeat(np.arange(len(cands.atoms)), runs)].reset_index(drop=True)
    observes = [np.concatenate([np.arange(a * runs, (a + 1) * runs) for a in obs]) for obs in cands.observes]
    return Candidates(table, atoms, observes, cands.cost_unit)
