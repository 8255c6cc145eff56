"""Verdicts: a claimed value against posterior draws, and a claimed event against its probability.

Two rules, each stated in the output next to the verdict it gave:

- a claimed **value** (a parameter, a prediction, an emergence scale, an aggregate): the
  two-sided tail probability of the value, :math:`2 \\min(P(q \\le v), P(q \\ge v))`;
  **supported** if ``tail >= 0.10`` (inside the central 90% posterior interval), **weakly
  supported** if ``0.01 <= tail < 0.10``, **not supported** below;
- a claimed **event** ("reached by S", "the gap shrinks", "never worse", "abrupt"): its
  posterior probability ``P``; **supported** if ``P >= 0.9``, **not supported** if
  ``P <= 0.1``, **inconclusive** in between (the data cannot tell).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SUPPORTED = 0.10
WEAK = 0.01
NARROW = 0.5
P_SUPPORTED = 0.9
P_REFUTED = 0.1
VERDICT_TEXT = (f"supported: tail >= {SUPPORTED}; weakly supported: {WEAK} <= tail < {SUPPORTED}; "
                f"not supported: tail < {WEAK} (tail = two-sided posterior tail probability of the claimed value)")
PROBABILITY_TEXT = (f"supported: P >= {P_SUPPORTED}; inconclusive: {P_REFUTED} < P < {P_SUPPORTED}; "
                    f"not supported: P <= {P_REFUTED} (P = posterior probability that the claim holds)")
VALUE_RULE = f"tail >= {SUPPORTED}: supported; >= {WEAK}: weakly; below: not"
EVENT_RULE = f"P >= {P_SUPPORTED}: supported; P <= {P_REFUTED}: not; between: inconclusive"

COLUMNS = ["item", "kind", "claim", "claimed", "claimed_lower", "claimed_upper", "prob", "posterior_median",
           "posterior_lower", "posterior_upper", "p_interval", "tail", "z", "probability", "verdict", "rule",
           "evidence", "flags", "width_ratio", "runs_needed", "notes"]


def tail(draws: np.ndarray, value: float) -> float:
    return float(min(1.0, 2 * min(np.mean(draws <= value), np.mean(draws >= value))))


def z_score(draws: np.ndarray, value: float) -> float:
    if np.all(draws > 0) and value > 0:
        draws, value = np.log(draws), math.log(value)
    sd = float(np.std(draws))
    return float((value - np.mean(draws)) / sd) if sd > 0 else float("nan")


def verdict(tail_probability: float) -> str:
    """Words for a tail probability (thresholds in :data:`VERDICT_TEXT`)."""
    if tail_probability >= SUPPORTED:
        return "supported"
    if tail_probability >= WEAK:
        return "weakly supported"
    return "not supported"


def event_verdict(p: float) -> str:
    """Words for the posterior probability of a claimed event (thresholds in :data:`PROBABILITY_TEXT`)."""
    if p >= P_SUPPORTED:
        return "supported"
    if p <= P_REFUTED:
        return "not supported"
    return "inconclusive"


def empty_row(item, claim_text: str = "") -> dict[str, Any]:
    """A row with every column of the items table, to fill in."""
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(item=item.name, kind=item.kind, claim=claim_text, prob=item.prob, verdict="", rule="",
               evidence="", flags="", notes=[])
    return row


def event_row(item, claim_text: str, p: float, evidence: str) -> dict[str, Any]:
    """A row judged by the posterior probability ``p`` that the claim holds."""
    row = empty_row(item, claim_text)
    row.update(probability=float(p), verdict=event_verdict(p), rule=EVENT_RULE, evidence=evidence)
    return row


def evaluate_item(draws: np.ndarray, item, n_obs: int) -> dict[str, Any]:
    """Compare one claimed value (and/or interval) with its posterior draws."""
    lo_q, hi_q = (1 - item.prob) / 2, 1 - (1 - item.prob) / 2
    post_lo, post_med, post_hi = np.quantile(draws, [lo_q, 0.5, hi_q])
    row = empty_row(item)
    row.update({
        "claimed": item.value,
        "claimed_lower": item.interval[0] if item.interval else np.nan,
        "claimed_upper": item.interval[1] if item.interval else np.nan,
        "posterior_median": float(post_med), "posterior_lower": float(post_lo), "posterior_upper": float(post_hi),
        "rule": VALUE_RULE,
    })
    if item.value is not None:
        row["tail"] = tail(draws, item.value)
        row["z"] = z_score(draws, item.value)
        row["verdict"] = verdict(row["tail"])
        if row["tail"] == 0:
            row["notes"].append(f"tail < 1/{draws.size} (no draw as extreme); |z| = {abs(row['z']):.1f}")
    if item.interval is not None:
        lo, hi = item.interval
        row["p_interval"] = float(np.mean((draws >= lo) & (draws <= hi)))
        if item.value is None:  # an interval alone: judged by its posterior mass, doubled as a two-sided tail
            row["verdict"] = verdict(min(1.0, 2 * row["p_interval"]))
            row["rule"] = f"2 x P(interval) >= {SUPPORTED}: supported; >= {WEAK}: weakly; below: not"
        claimed_width, post_width = hi - lo, float(post_hi - post_lo)
        if post_width > 0:
            row["width_ratio"] = claimed_width / post_width
            row["runs_needed"] = (n_obs * (post_width / claimed_width) ** 2 if claimed_width > 0 else math.inf)
        if item.value is not None and not lo <= item.value <= hi:
            row["notes"].append(f"claimed value {item.value:g} lies outside its own interval [{lo:g}, {hi:g}]")
    claimed = f"{item.value:.4g}" if item.value is not None else ""
    if item.interval is not None:
        claimed += f" [{item.interval[0]:.4g}, {item.interval[1]:.4g}] at {item.prob:g}"
    row["claim"] = claimed.strip()
    row["evidence"] = (f"posterior {post_med:.4g} [{post_lo:.4g}, {post_hi:.4g}]"
                       + (f"; tail {row['tail']:.3g}" if item.value is not None else "")
                       + (f"; P(interval) {row['p_interval']:.3g}" if item.interval is not None else ""))
    return row


def width_flag(row: dict[str, Any], n_obs: int) -> list[dict]:
    """``interval_too_narrow`` when the claimed interval is under half the posterior's width."""
    if math.isnan(row["width_ratio"]) or row["width_ratio"] >= NARROW:
        return []
    return [{"code": "interval_too_narrow", "severity": "warning", "item": row["item"],
             "message": f"claimed interval is {row['width_ratio']:.3g}x the posterior's; it would "
                        f"need about {row['runs_needed']:.3g} runs, not {n_obs}",
             "value": row["width_ratio"]}]
