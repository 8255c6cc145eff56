"""The plan's figure (expected interval width against cumulative cost, the batch's runs marked) and its summary."""

from __future__ import annotations

import numpy as np
import pandas as pd


def plot_plan(table: pd.DataFrame, ax=None):
    """Expected width after each single candidate (grey, at its cost) and after the greedy batch (line).

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    a = table.attrs
    ax.scatter(table["cost"], table["expected_width"], color="0.6", s=18, label="one candidate alone")
    chosen = table[table["order"] > 0].sort_values("order")
    costs = np.r_[0.0, chosen["cumulative_cost"].to_numpy(dtype=float)]
    widths = np.r_[a["width_now"], chosen["batch_width"].to_numpy(dtype=float)]
    if len(chosen):
        ax.step(costs[1:], widths[1:], where="post", color="C0")
        ax.plot(costs[1:], widths[1:], "o", color="C0", label="greedy batch (cumulative cost)")
        scale = "x" if "x" in chosen else "params"
        for row in chosen.itertuples():
            ax.annotate(f"{row.order}: {getattr(row, scale):.2g}", (row.cumulative_cost, row.batch_width),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.axhline(a["width_now"], color="0.3", ls=":", label="width now")
    ax.axvline(a["budget"], color="C3", ls="--", lw=1, label="budget")
    ax.set_xscale("log")
    ax.set_xlabel(f"cost ({a['cost_unit']})")
    ax.set_ylabel(f"expected {int(round(a['prob'] * 100))}% interval width ({a['unit']})")
    ax.set_title(a["quantity"], fontsize=9)
    ax.legend(fontsize=7)
    return ax.figure


def plan_view(table: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """A plan as shown in a report or an audit: the batch in order (else the five best per cost), title, summary."""
    a = table.attrs
    chosen = table[table["order"] > 0].sort_values("order")
    shown = chosen if len(chosen) else table.sort_values("reduction_per_cost", ascending=False).head(5)
    keep = [c for c in ("order", "group", "x", "params", "tokens", "tokens_per_param", "cost", "cumulative_cost",
                        "expected_width", "batch_width") if c in shown]
    title = (f"Plan for {a['quantity']}: {a['prob']:.0%} interval width now {a['width_now']:.4g} {a['unit']}"
             f"; cost in {a['cost_unit']}").replace(" ;", ";")
    summary = (f"batch: {len(chosen)} runs for {a['batch_cost']:.4g} of budget {a['budget']:.4g}; expected width "
               f"{a['width_now']:.4g} -> {a['batch_width']:.4g}" if len(chosen) else
               f"no affordable run narrows the interval beyond its Monte Carlo error (budget {a['budget']:.4g})")
    return shown.reset_index(drop=True)[keep], title, summary
