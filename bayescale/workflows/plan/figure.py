"""The plan's figure: expected interval width against cumulative cost, the batch's runs marked."""

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
