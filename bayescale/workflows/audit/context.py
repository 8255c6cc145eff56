"""What every evaluator of a claim kind gets (the fit, the rows, a way to refit) and gives back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

FLAG_COLUMNS = ["code", "severity", "item", "message", "value"]
TARGET_CODES = ("extrapolation", "wide_interval", "break_risk", "near_floor", "narrow_range", "few_points")


@dataclass
class Context:
    """The audited fit, the rows behind it, and the settings to refit them with."""

    fit: Any
    claim: Any
    frame: pd.DataFrame | None
    fit_kwargs: dict[str, Any]
    runs: int

    @property
    def n_obs(self) -> int:
        return len(self.fit.data.y)

    def refit(self, data: pd.DataFrame | None = None, **overrides):
        """Fit the claim's model again: on other rows, or with other options (laws, slopes, priors)."""
        from bayescale.fitting.dispatch import fit

        kwargs = {**self.fit_kwargs, **overrides}
        if kwargs.get("law") != "broken":
            kwargs.pop("breaks", None)
        return fit(self.frame if data is None else data, **kwargs)


@dataclass
class Outcome:
    """What judging one claimed item produced.

    ``rows`` are rows of the items table (one per judged statement); ``flags`` rows of the
    flags table; ``evidence`` the numbers a figure of the item needs (keyed by row name);
    ``candidates`` where more runs would narrow it (``group``, ``x``, ``runs``,
    ``width_factor``), if the rule applies.
    """

    rows: list[dict[str, Any]]
    flags: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    candidates: pd.DataFrame | None = None


def target_flags(fit, item_name: str, at: Sequence[float], groups: Sequence[str | None]) -> list[dict]:
    """The fit's flags at the item's scales (and data flags of its groups), as audit flag rows."""
    table = fit.flags(at=list(at))
    names = {g for g in groups if g is not None}
    out = []
    for row in table.itertuples(index=False):
        if row.code not in TARGET_CODES:
            continue
        if row.severity != "warning" and row.code != "extrapolation":
            continue
        if names and row.group is not None and row.group not in names:
            continue
        x = np.nan if row.x is None else float(row.x)
        if row.code in ("narrow_range", "few_points") or np.any(np.isclose(x, list(at))):
            message = f"{row.group}: {row.message}" if row.group is not None else row.message
            out.append({"code": row.code, "severity": row.severity, "item": item_name,
                        "message": message, "value": row.value})
    return out


def flag_codes(flags: list[dict]) -> str:
    """The codes of flag rows, once each, in order."""
    return ", ".join(dict.fromkeys(f["code"] for f in flags))


def central(draws: np.ndarray, prob: float) -> tuple[float, float, float]:
    """Median and central interval; ``inf`` draws (never) allowed."""
    lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
    q = np.quantile(np.asarray(draws, dtype=float), [lo, 0.5, hi], method="inverted_cdf")
    return float(q[1]), float(q[0]), float(q[2])
