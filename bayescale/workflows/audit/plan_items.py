"""``audit(..., plan=...)`` / ``bayescale audit claim.toml --plan``: a batch of next runs per claimed item.

For each claimed item whose draws the audit has (the items with a "more runs" recommendation),
the planner of :mod:`bayescale.workflows.plan` picks the greedy batch of runs under ``budget``
that most narrows the item's interval per unit cost: the item's draws on the audit's scale (log
for positive quantities, a never-reached target 20 decades out), candidates from the planner's
default grid (one-input laws: between and beyond the data of the item's group, or of each group a
group claim compares; Chinchilla: ``(N, D)`` on isoFLOP lines), costed in FLOPs (``6 N D``) where
the axes are parameters, tokens or compute. The item's draws are fixed numbers of the audited
posterior, so the plan reweights them (``method="reweight"``; a refit could not recompute them).

A claim file may hold the options as a ``[plan]`` table (``budget``, ``items``, ``max_scale``,
``sims``, ``seed``); ``--budget`` overrides its budget.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bayescale.errors import SpecError

PLAN_KEYS = ("budget", "items", "max_scale", "sims", "seed")
SEED_SALT = 33_000


def check_plan_table(plan, where: str, names: list[str]) -> dict:
    """Validate a claim's ``[plan]`` table (the budget may come from the command line instead)."""
    if not isinstance(plan, Mapping):
        raise SpecError(f"{where}plan: must be a table with some of {', '.join(PLAN_KEYS)}")
    unknown = sorted(set(plan) - set(PLAN_KEYS))
    if unknown:
        raise SpecError(f"{where}plan: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(PLAN_KEYS)}")
    for key in ("budget", "max_scale"):
        v = plan.get(key)
        if key in plan and (isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < float("inf")):
            raise SpecError(f"{where}plan.{key}: must be a positive number, got {v!r}")
    for key, least in (("sims", 8), ("seed", 0)):
        v = plan.get(key)
        if key in plan and (isinstance(v, bool) or not isinstance(v, int) or v < least):
            raise SpecError(f"{where}plan.{key}: must be an integer >= {least}, got {v!r}")
    items = plan.get("items", [])
    if not isinstance(items, list) or not all(isinstance(n, str) for n in items):
        raise SpecError(f"{where}plan.items: must be a list of claimed item names, got {items!r}")
    missing = [n for n in items if n not in names]
    if missing:
        raise SpecError(f"{where}plan.items: no claimed item {', '.join(map(repr, missing))}; "
                        f"items: {', '.join(names)}")
    return dict(plan)


def plan_options(claim, given: Mapping) -> dict:
    """The claim's ``[plan]`` with ``given`` (``audit(plan=...)``, the command line's budget) over it;
    a clear error without a budget."""
    options = {**(claim.plan or {}), **check_plan_table(given, "plan=", [it.name for it in claim.items])}
    if "budget" not in options:
        raise SpecError(f"{claim.path}: --plan needs a budget: give --budget B (FLOPs) or budget in the claim's "
                        "[plan] table")
    return options


def plan_items(fit, inputs: dict[str, dict], options: dict) -> dict[str, pd.DataFrame]:
    """The planner's table (with its greedy batch under ``options["budget"]``) per claimed item."""
    from bayescale.workflows.audit.more_runs import _on_plan_scale, group_name
    from bayescale.workflows.plan import item_quantity, plan
    from bayescale.workflows.plan.candidates import default_runs, run_cost

    wanted = options.get("items") or list(inputs)
    budget, max_scale = float(options["budget"]), options.get("max_scale")
    seed = int(options.get("seed", fit.config.seed + SEED_SALT))
    out = {}
    for name in [n for n in wanted if n in inputs]:
        given = inputs[name]
        values = _on_plan_scale(given["draws"])
        positive = bool(np.all(given["draws"][np.isfinite(given["draws"])] > 0))
        groups = [g for g in given["groups"] if g is not None]
        scale = max(given["targets"]) if given["targets"] else None
        candidates = None
        if len(groups) > 1:  # a group claim: runs of every group it compares
            frame = pd.concat([default_runs(fit, g, scale, max_scale) for g in groups], ignore_index=True)
            candidates = frame[run_cost(fit, frame["x"].to_numpy())[0] <= budget]
            candidates = candidates.rename(columns={"x": fit.config.x}).reset_index(drop=True)
        group = group_name(fit, groups[0] if groups else None) if fit.config.law != "chinchilla" else None
        q = item_quantity(lambda f, v=values: v, name, "log" if positive else "", group, scale)
        out[name] = plan(fit, quantity=q, candidates=candidates if candidates is None or len(candidates) else None,
                         budget=budget, max_scale=max_scale, method="reweight", sims=int(options.get("sims", 64)),
                         draws=1000, seed=seed)
    return out

