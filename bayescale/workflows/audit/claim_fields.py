"""The pieces of a claim file: claimed items, and the checks of single fields (numbers, intervals, keys).

Each check raises :class:`~bayescale.errors.SpecError` with one line naming the item and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayescale.errors import SpecError

DEFAULT_PROB = 0.95
LAWS = ("power", "broken", "sigmoid", "chinchilla")
CLAIM_KEYS = {"prob", "source", "parameters", "predictions", "optimal", "runs", "reach", "emergence", "groups",
              "population", "trend"}
ITEM_KEYS = {"value", "interval", "prob"}
CHINCHILLA_PARAMETERS = ("E", "A", "B", "alpha", "beta", "a", "b")
PREDICTION_KEYS = {"params", "tokens", "compute", "value", "interval", "prob", "label"}
OPTIMAL_KEYS = {"compute", "params", "tokens", "tokens_per_param", "loss", "intervals", "prob", "label"}


@dataclass
class ClaimItem:
    """One claimed quantity: what it is, where in the file, and the claimed value and interval.

    ``fields`` holds the kind-specific settings of the newer kinds (``target``, ``by``,
    ``group``, ``range``, ...), already validated.
    """

    name: str
    kind: str  # parameter | prediction | optimal | reach | emergence | groups | population | trend
    value: float | None
    interval: tuple[float, float] | None
    prob: float
    where: str
    params: float | None = None
    tokens: float | None = None
    compute: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Claim:
    """A parsed claim file."""

    path: Path
    title: str
    source: str
    data: dict[str, Any]
    model: dict[str, Any]
    sampling: dict[str, Any]
    items: list[ClaimItem]
    runs: int = 5
    output: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)  # [plan]: options of audit(plan=...)

    @property
    def law(self) -> str:
        return self.model.get("law", "power")

    def targets(self) -> list[float] | None:
        """The scales the items name (compute budgets for Chinchilla), to mark on figures; None if none."""
        out: list[float] = []
        for item in self.items:
            f = item.fields
            out += [item.compute] if item.compute else []
            out += [f["by"]] if "by" in f else []
            out += [f["up_to"]] if "up_to" in f else []
            at = f.get("at")
            out += at if isinstance(at, list) else [at] if at else []
            out += list(f["range"]) if "range" in f else []
            if item.kind == "emergence":
                out += [item.value] if item.value is not None else list(item.interval)
        return sorted(set(out)) or None


# ---------------------------------------------------------------------------- field checks
def number(value, where: str, *, positive: bool = False) -> float:
    """A finite number (bools refused), optionally > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{where}: must be a number, got {value!r}")
    if positive and value <= 0:
        raise SpecError(f"{where}: must be > 0, got {value!r}")
    return float(value)


def probability(value, where: str) -> float:
    value = number(value, where)
    if not 0 < value < 1:
        raise SpecError(f"{where}: probabilities must be in (0, 1), got {value!r}")
    return value


def item_prob(spec: Mapping, where: str, default: float) -> float:
    """The item's own ``prob`` (checked, named ``<where>.prob``), or the claim's default."""
    return probability(spec["prob"], f"{where}.prob") if "prob" in spec else default


def interval(value, where: str, positive: bool) -> tuple[float, float]:
    """A ``[lower, upper]`` pair with lower <= upper."""
    if not isinstance(value, list) or len(value) != 2:
        raise SpecError(f"{where}: must be a list [lower, upper], got {value!r}")
    lo, hi = (number(v, where, positive=positive) for v in value)
    if lo > hi:
        raise SpecError(f"{where}: lower {lo:g} > upper {hi:g}")
    return lo, hi


def keys(table: Mapping, allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected some of "
                        f"{', '.join(sorted(allowed))}")


def value_and_interval(spec, where: str, default_prob: float, positive: bool):
    """A point ``x = 0.3`` or a table ``{value, interval, prob}``."""
    if isinstance(spec, Mapping):
        keys(spec, ITEM_KEYS, where)
        value = number(spec["value"], f"{where}.value", positive=positive) if "value" in spec else None
        bounds = interval(spec["interval"], f"{where}.interval", positive) if "interval" in spec else None
        prob = item_prob(spec, where, default_prob)
        if value is None and bounds is None:
            raise SpecError(f"{where}: give a value, an interval, or both")
        return value, bounds, prob
    return number(spec, where, positive=positive), None, default_prob


def array_of_tables(claim: Mapping, key: str, where: str):
    """Yield ``(field name, table)`` for each ``[[claim.<key>]]``, refusing anything else."""
    tables = claim.get(key, [])
    if not isinstance(tables, list):
        raise SpecError(f"{where}claim.{key}: must be an array of tables ([[claim.{key}]])")
    for i, spec in enumerate(tables):
        field_name = f"{where}claim.{key}[{i}]"
        if not isinstance(spec, Mapping):
            raise SpecError(f"{field_name}: must be a table")
        yield field_name, spec


# ---------------------------------------------------------------------------- Chinchilla kinds
