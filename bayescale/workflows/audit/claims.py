"""Reading and validating a claim file: every check runs here, before any sampling.

A claim file is a study spec (``[data]``, ``[model]``, ``[sampling]``, ``[output]``) plus
``[claim]`` with ``source``, ``prob`` (default level of claimed intervals, 0.95), ``runs``
(extra runs per candidate in the recommendations) and the claimed items, one table or array
of tables per kind (see :mod:`bayescale.workflows.audit` for each kind and how it is judged), and
optionally ``[plan]``, the options of the run planner per item (:mod:`bayescale.workflows.audit.plan_items`).
Errors are one line naming the file, the item (``claim.reach[2]``) and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from bayescale.errors import SpecError
from bayescale.workflows.audit.claim_fields import (
    CLAIM_KEYS,
    DEFAULT_PROB,
    LAWS,
    OPTIMAL_KEYS,
    PREDICTION_KEYS,
    Claim,
    ClaimItem,
    array_of_tables,
    interval,
    item_prob,
    keys,
    number,
    probability,
    value_and_interval,
)
from bayescale.workflows.audit.claim_kinds import check_against_data, check_parameter_name, parse_kinds
from bayescale.workflows.audit.plan_items import check_plan_table


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
    from bayescale.io.spec import check_learned_discrepancy, check_table, read_toml

    if isinstance(source, Mapping):
        raw, path = dict(source), (base or Path.cwd()) / "claim.toml"
    else:
        path = Path(source)
        raw = read_toml(path, kind="claim")
    where = f"{path}: " if not isinstance(source, Mapping) else ""
    allowed = {"title", "description", "data", "model", "sampling", "output", "claim", "plan"}
    unknown = set(raw) - allowed
    if unknown:
        raise SpecError(f"{where}unknown top-level key(s) {', '.join(sorted(unknown))}; "
                        f"expected some of {', '.join(sorted(allowed))}")
    tables = {name: check_table(raw, name, str(path)) for name in ("data", "model", "sampling")}
    output = raw.get("output", {})
    if not isinstance(output, Mapping) or set(output) - {"report"}:
        raise SpecError(f"{where}output: must be a table with 'report' (Markdown or HTML path)")
    _check_model(tables["model"], where)
    check_learned_discrepancy(tables["model"], where.removesuffix(": ") or "claim")
    claim = raw.get("claim")
    if not isinstance(claim, Mapping):
        raise SpecError(f"{where}claim: the [claim] table is required")
    keys(claim, CLAIM_KEYS, f"{where}claim")
    items, _ = _parse_items(claim, where, tables["model"])
    runs = claim.get("runs", 5)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise SpecError(f"{where}claim.runs: must be a positive integer (extra runs per candidate), got {runs!r}")
    plan = check_plan_table(raw.get("plan", {}), where, [item.name for item in items])
    return Claim(path=path, title=str(raw.get("title", path.stem)), source=str(claim.get("source", "")),
                 data=tables["data"], model=tables["model"], sampling=tables["sampling"], items=items,
                 runs=runs, output=dict(output), plan=plan)


def load_claim_data(claim: Claim) -> pd.DataFrame:
    """The claim's rows (bundled dataset or CSV), with its columns and every item checked against them."""
    from bayescale.io.spec import Spec, load_data

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
