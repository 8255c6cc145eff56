"""Reading and validating a claim file: every check runs here, before any sampling.

A claim file is a study spec (``[data]``, ``[model]``, ``[sampling]``, ``[output]``) plus
``[claim]`` with ``source``, ``prob`` (default level of claimed intervals, 0.95), ``runs``
(extra runs per candidate in the recommendations) and the claimed items, one table or array
of tables per kind (see :mod:`bayescale.audit` for each kind and how it is judged).
Errors are one line naming the file, the item (``claim.reach[2]``) and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

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
def _chinchilla_items(claim: Mapping, where: str, prob: float) -> list[ClaimItem]:
    items: list[ClaimItem] = []
    for field_name, spec in array_of_tables(claim, "predictions", where):
        keys(spec, PREDICTION_KEYS, field_name)
        scales = {k: number(spec[k], f"{field_name}.{k}", positive=True)
                  for k in ("params", "tokens", "compute") if k in spec}
        if set(scales) not in ({"params", "tokens"}, {"compute"}):
            raise SpecError(f"{field_name}: give params and tokens, or compute (a budget), got {sorted(scales)}")
        value, bounds, p = value_and_interval(
            {k: spec[k] for k in ("value", "interval", "prob") if k in spec}, field_name, prob, positive=True)
        label = spec.get("label") or (f"loss at C={scales['compute']:.3g}" if "compute" in scales
                                      else f"loss at N={scales['params']:.3g}, D={scales['tokens']:.3g}")
        items.append(ClaimItem(str(label), "prediction", value, bounds, p, field_name, **scales))

    for field_name, spec in array_of_tables(claim, "optimal", where):
        keys(spec, OPTIMAL_KEYS, field_name)
        if "compute" not in spec:
            raise SpecError(f"{field_name}.compute: the budget of a claimed optimal allocation is required")
        compute = number(spec["compute"], f"{field_name}.compute", positive=True)
        p = item_prob(spec, field_name, prob)
        intervals = spec.get("intervals", {})
        if not isinstance(intervals, Mapping):
            raise SpecError(f"{field_name}.intervals: must be a table of [lower, upper] per quantity")
        keys(intervals, {"params", "tokens", "tokens_per_param", "loss"}, f"{field_name}.intervals")
        quantities = [q for q in ("params", "tokens", "tokens_per_param", "loss") if q in spec or q in intervals]
        if not quantities:
            raise SpecError(f"{field_name}: claim at least one of params, tokens, tokens_per_param, loss")
        for q in quantities:
            value = number(spec[q], f"{field_name}.{q}", positive=True) if q in spec else None
            bounds = interval(intervals[q], f"{field_name}.intervals.{q}", True) if q in intervals else None
            items.append(ClaimItem(f"optimal {q} at C={compute:.3g}", "optimal", value, bounds, p,
                                   f"{field_name}.{q}", compute=compute))
    return items


def _parameter_items(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    from bayescale.audit.claim_kinds import check_parameter_name

    parameters = claim.get("parameters", {})
    if not isinstance(parameters, Mapping):
        raise SpecError(f"{where}claim.parameters: must be a table")
    items = []
    chinchilla = model.get("law", "power") == "chinchilla"
    for name, spec in parameters.items():
        field_name = f"{where}claim.parameters.{name}"
        base, index = check_parameter_name(str(name), field_name, model)
        value, bounds, p = value_and_interval(spec, field_name, prob, positive=chinchilla)
        items.append(ClaimItem(str(name), "parameter", value, bounds, p, field_name,
                               fields={"parameter": base, "index": index}))
    return items


def _parse_items(claim: Mapping, where: str, model: Mapping) -> tuple[list[ClaimItem], float]:
    from bayescale.audit.claim_kinds import parse_kinds

    prob = probability(claim["prob"], f"{where}claim.prob") if "prob" in claim else DEFAULT_PROB
    law = model.get("law", "power")
    items = _parameter_items(claim, where, prob, model)
    for kind in ("predictions", "optimal"):
        if kind in claim and law != "chinchilla":
            raise SpecError(f"{where}claim.{kind}: applies to the chinchilla law (L(N, D)), not {law!r}; "
                            "use claim.reach or claim.parameters")
    items += _chinchilla_items(claim, where, prob)
    items += parse_kinds(claim, where, prob, model)
    seen: dict[str, int] = {}
    for item in items:  # item names key the tables: keep them unique
        seen[item.name] = seen.get(item.name, 0) + 1
        if seen[item.name] > 1:
            item.name = f"{item.name} #{seen[item.name]}"
    if not items:
        raise SpecError(f"{where}claim: claims nothing; add claim.parameters, claim.reach, claim.emergence, "
                        "claim.groups, claim.population, claim.trend (or, for chinchilla, claim.predictions "
                        "or claim.optimal)")
    return items, prob


def _check_model(model: Mapping, where: str) -> None:
    law = model.get("law", "power")
    if law not in LAWS:
        raise SpecError(f"{where}model.law: audit supports one law of {', '.join(LAWS)}, got {law!r}")
    x = model.get("x")
    if law == "chinchilla":
        if not isinstance(x, list) or len(x) != 2 or not all(isinstance(v, str) for v in x):
            raise SpecError(f"{where}model.x: must be [params_column, tokens_column] (or compute), got {x!r}")
    elif not isinstance(x, str):
        raise SpecError(f"{where}model.x: the column of the scale is required (one name), got {x!r}")
    if not isinstance(model.get("y"), str):
        raise SpecError(f"{where}model.y: the {'loss' if law == 'chinchilla' else 'metric'} column is required")


def parse_claim(source, *, base: Path | None = None) -> Claim:
    """Read and validate a claim (TOML path or an already-parsed dict).

    Raises
    ------
    SpecError
        One line naming the field at fault.
    """
    from bayescale.spec import check_table, read_toml

    if isinstance(source, Mapping):
        raw, path = dict(source), (base or Path.cwd()) / "claim.toml"
    else:
        path = Path(source)
        raw = read_toml(path, kind="claim")
    where = f"{path}: " if not isinstance(source, Mapping) else ""
    allowed = {"title", "description", "data", "model", "sampling", "output", "claim"}
    unknown = set(raw) - allowed
    if unknown:
        raise SpecError(f"{where}unknown top-level key(s) {', '.join(sorted(unknown))}; "
                        f"expected some of {', '.join(sorted(allowed))}")
    tables = {name: check_table(raw, name, str(path)) for name in ("data", "model", "sampling")}
    output = raw.get("output", {})
    if not isinstance(output, Mapping) or set(output) - {"report"}:
        raise SpecError(f"{where}output: must be a table with 'report' (Markdown or HTML path)")
    _check_model(tables["model"], where)
    claim = raw.get("claim")
    if not isinstance(claim, Mapping):
        raise SpecError(f"{where}claim: the [claim] table is required")
    keys(claim, CLAIM_KEYS, f"{where}claim")
    items, _ = _parse_items(claim, where, tables["model"])
    runs = claim.get("runs", 5)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise SpecError(f"{where}claim.runs: must be a positive integer (extra runs per candidate), got {runs!r}")
    return Claim(path=path, title=str(raw.get("title", path.stem)), source=str(claim.get("source", "")),
                 data=tables["data"], model=tables["model"], sampling=tables["sampling"], items=items,
                 runs=runs, output=dict(output))


def load_claim_data(claim: Claim) -> pd.DataFrame:
    """The claim's rows (bundled dataset or CSV), with its columns and every item checked against them."""
    from bayescale.audit.claim_kinds import check_against_data
    from bayescale.spec import Spec, load_data

    if ("dataset" in claim.data) == ("path" in claim.data):
        raise SpecError(f"{claim.path}: data: needs exactly one of 'dataset' (bundled) or 'path' (CSV file)")
    frame = load_data(Spec(path=claim.path, title=claim.title, data=claim.data, model=claim.model))
    x = claim.model["x"]
    columns = [("model.x", c) for c in (x if isinstance(x, list) else [x])] + [("model.y", claim.model["y"])]
    columns += [("model.group", claim.model["group"])] if "group" in claim.model else []
    for key, column in columns:
        if column not in frame.columns:
            raise SpecError(f"{claim.path}: {key}: column {column!r} is not in the data; "
                            f"columns: {', '.join(map(str, frame.columns))}")
    check_against_data(claim, frame)
    return frame
