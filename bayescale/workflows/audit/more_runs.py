"""Where more runs would narrow a claimed item most per unit cost: the planner of :mod:`bayescale.workflows.plan`.

For every item, the candidates are scored by preposterior reweighting (``method="reweight"``,
``runs`` replicate runs per candidate): the expected width of the item's interval after them
(``width_factor`` = expected width / width now, on the log scale for positive quantities; a
target never reached counts as 20 decades beyond the data) and the reduction per unit cost.
The recommendation is the candidate with the largest reduction per unit cost.

Candidates: one-input laws, nine log-spaced scales from the smallest observed to ten times the
largest (or the claim's target, when further), costed as :func:`bayescale.workflows.plan.plan`
costs them (FLOPs when x is compute or parameters); Chinchilla, ``(N, D)`` at 7 budgets from
the smallest observed compute to ten times the largest (or the targets) and 5, 20 and 80 tokens
per parameter, costing ``6 N D``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

CANDIDATE_RATIOS = (5.0, 20.0, 80.0)
N_CANDIDATES = 9
HORIZON = 20.0  # decades beyond the data at which a never-reached target is put
SEED_SALT = 44_000


def group_name(fit, group: str | None) -> str:
    """The group to draw curves for: the one named, else the only one of an ungrouped fit."""
    return group if group is not None else fit.data.groups[0]


def plan_input(table: pd.DataFrame, draws: np.ndarray, groups, targets) -> pd.DataFrame:
    """Attach what planning an item needs (its draws, groups, target scales) to its candidates table
    (for :func:`bayescale.workflows.audit.plan_items.plan_items`)."""
    table.attrs["plan_input"] = {"draws": np.asarray(draws, dtype=float), "groups": list(groups),
                                 "targets": [float(t) for t in targets if np.isfinite(t)]}
    return table


def candidate_scales(fit, targets: Sequence[float] = ()) -> np.ndarray:
    x = fit.data.x
    top = max([float(x.max()) * 10, *[float(t) for t in targets if np.isfinite(t)]])
    return np.geomspace(float(x.min()), top, N_CANDIDATES)


def candidate_runs(fit, targets: list[float]) -> pd.DataFrame:
    """Chinchilla candidates: budgets from the smallest observed compute to beyond the targets."""
    c = fit.data.compute
    top = max([c.max() * 10, *[t * 1.0 for t in targets]])
    rows = []
    for budget in np.logspace(np.log10(c.min()), np.log10(top), 7):
        for ratio in CANDIDATE_RATIOS:
            n = math.sqrt(budget / (6 * ratio))
            rows.append({"params": n, "tokens": ratio * n})
    return pd.DataFrame(rows)


def _on_plan_scale(q: np.ndarray) -> np.ndarray:
    """log of a positive quantity, a never-reached (inf) draw put 20 decades beyond the finite ones."""
    q = np.asarray(q, dtype=float)
    finite = np.isfinite(q)
    if np.all(q[finite] > 0):
        out = np.full(q.shape, np.nan)
        out[finite] = np.log(q[finite])
        top = out[finite].max() if finite.any() else 0.0
        return np.where(finite, out, top + HORIZON * math.log(10))
    return np.where(finite, q, np.nanmax(np.where(finite, q, np.nan)) + HORIZON)


def score(fit, q: np.ndarray, candidates: pd.DataFrame, runs: int) -> pd.DataFrame:
    """The planner's table for one item's draws ``q`` (posterior order) at ``candidates``."""
    from bayescale.workflows.plan import item_quantity, plan

    values = _on_plan_scale(q)
    quantity = item_quantity(lambda f: values, "claimed item")
    # no budget binds: every candidate is scored, none is bought
    return plan(fit, quantity=quantity, candidates=candidates, budget=1e300, batch=False, method="reweight",
                sims=64, draws=1000, runs=runs, seed=fit.config.seed + SEED_SALT)


def narrowing(fit, quantity: np.ndarray, groups: Sequence[str | None], runs: int,
              targets: Sequence[float] = ()) -> pd.DataFrame:
    """Expected ``width_factor`` and cost of ``runs`` runs at each candidate scale and group.

    Returns columns ``group`` (None for an ungrouped fit), ``x``, ``runs``, ``cost``,
    ``width_factor``, ``reduction_per_cost`` (empty when fewer than 20 finite draws); ``attrs["plan_input"]``
    holds the draws, groups and targets for :func:`bayescale.workflows.audit.plan_items.plan_items`.
    """
    q = np.asarray(quantity, dtype=float)
    if np.isfinite(q).sum() < 20:
        return pd.DataFrame(columns=["group", "x", "runs", "cost", "width_factor", "reduction_per_cost"])
    scales = candidate_scales(fit, targets)
    frames = []
    for g in groups:
        table = score(fit, q, pd.DataFrame({fit.config.x: scales, "group": group_name(fit, g)}), runs)
        frames.append(table.assign(group=g, runs=runs))
    out = pd.concat(frames, ignore_index=True)[["group", "x", "runs", "cost", "width_factor", "reduction_per_cost"]]
    return plan_input(out, q, groups, targets)  # for audit(plan=...): the item's draws, groups and targets


def expected_widths(fit, draws: dict[str, np.ndarray], candidates: pd.DataFrame, runs: int) -> pd.DataFrame:
    """Chinchilla: expected ``width_factor`` and cost of each item after ``runs`` runs at each candidate."""
    frames = []
    for name, q in draws.items():
        table = score(fit, q, candidates[["params", "tokens"]].reset_index(drop=True), runs)
        frames.append(table.assign(item=name, runs=runs))
    out = pd.concat(frames, ignore_index=True)
    return out[["item", "compute", "params", "tokens", "tokens_per_param", "runs", "cost", "width_factor",
                "reduction_per_cost"]]


def best_per_cost(widths: pd.DataFrame, by: str = "item") -> pd.DataFrame:
    """Per item, the candidate with the largest width reduction per unit cost (the narrowest on ties)."""
    ranked = widths.sort_values(["reduction_per_cost", "width_factor"], ascending=[False, True], kind="stable")
    return ranked.drop_duplicates(by).set_index(by).loc[list(dict.fromkeys(widths[by]))].reset_index()


def recommendations(fit, items: pd.DataFrame, draws_by_item: dict, targets: list[float],
                    runs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Chinchilla: the best candidate per item per unit cost (``recommendations``) and every candidate."""
    widths = expected_widths(fit, draws_by_item, candidate_runs(fit, targets), runs)
    best = best_per_cost(widths)
    table = items.set_index("item")
    best["width_now"] = [float(table.loc[n, "posterior_upper"] - table.loc[n, "posterior_lower"])
                         for n in best["item"]]
    best["width_after"] = best["width_now"] * best["width_factor"]
    recs = best[["item", "compute", "params", "tokens", "tokens_per_param", "runs", "cost", "width_now",
                 "width_after", "width_factor"]].reset_index(drop=True)
    return recs, widths
