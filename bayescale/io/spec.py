"""TOML study specs: data, law, grouping, priors, sampling, targets and outputs as data.

A spec is parsed with :mod:`tomllib` and validated key by key; nothing in it is ever
evaluated as code. Layout (every table but ``[data]`` and ``[model]`` is optional)::

    title = "Do all communities gain equally from scale?"

    [data]
    dataset = "olmo_domains"          # a bundled dataset, or: path = "runs.csv" (relative to the spec)
    filter = { model = "OLMo-7B" }    # keep rows equal to a value, or in a list of values
    range = { step = { min = 2e4 } }  # keep rows with min <= value <= max

    [model]                           # keyword arguments of bayescale.fit
    law = "power"
    x = "step"
    y = "loss"
    group = "domain"
    floor = "group"
    # discrepancy = true              # chinchilla only: learn s by forward chaining; forecasts use it
    [model.priors]
    alpha = { dist = "LogNormal", mu = -1.2, sigma = 0.7 }

    [sampling]                        # draws, tune, chains, seed, sampler, target_accept
    seed = 1

    [predict]
    at = [1e6, 2e6]
    prob = 0.9
    groups = ["pile", "4chan"]        # default: every group
    discrepancy = 0.02                # optional: log y sd per decade beyond the data (bayescale backtest)

    [reach]                           # the scale at which the mean curve reaches each target (fit.reach)
    targets = [2.1, 2.0]
    group = "pile"                    # or a list; default: every group

    [plan]                            # which runs narrow a forecast most per FLOP (fit.plan)
    at = 1e9                          # or reach = 2.0, or compute = 1e23 (chinchilla); group = "pile"
    budget = 1e21                     # total cost of the batch (FLOPs, 6 N D)
    candidates = [2e8, 5e8, 1e9]      # optional; also axis, max_scale, cost_per_unit, sims, seed, plot

    [output]                          # paths relative to the working directory
    plot = "out/olmo_domains.png"
    save = "out/olmo_domains.nc"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bayescale.errors import SpecError

TABLES = {
    "data": {"dataset", "path", "filter", "range"},
    "model": {"law", "x", "y", "group", "noise", "slopes", "floor", "pooling", "priors", "breaks", "trials",
              "discrepancy", "measure", "axis", "drift_prior"},
    "sampling": {"draws", "tune", "chains", "seed", "sampler", "target_accept"},
    "predict": {"at", "prob", "groups", "discrepancy"},
    "output": {"plot", "save", "report"},
    "reach": {"targets", "group"},
    "plan": {"at", "reach", "compute", "group", "budget", "candidates", "axis", "max_scale", "cost_per_unit",
             "sims", "seed", "plot"},
}
TOP_LEVEL = {"title", "description", *TABLES}


@dataclass
class Spec:
    """A validated study spec."""

    path: Path
    title: str
    data: dict[str, Any]
    model: dict[str, Any]
    sampling: dict[str, Any] = field(default_factory=dict)
    predict: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    reach: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)

    def fit_kwargs(self) -> dict[str, Any]:
        return {**self.model, **self.sampling}


def check_table(raw: dict, name: str, where: str) -> dict:
    """The ``[name]`` table of a parsed spec, refusing keys bayescale does not know."""
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise SpecError(f"{where}: [{name}] must be a table, got {type(value).__name__}")
    unknown = set(value) - TABLES[name]
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(sorted(f'{name}.{k}' for k in unknown))}; "
            f"expected some of {', '.join(sorted(TABLES[name]))}"
        )
    return dict(value)


def read_toml(path, kind: str = "spec") -> dict:
    """Parse a TOML file, turning a missing file or bad syntax into a one-line :class:`SpecError`."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{kind} file {str(path)!r} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: malformed TOML: {exc}") from exc


def load_spec(path) -> Spec:
    """Read and validate a TOML spec, raising :class:`SpecError` naming the field at fault."""
    path = Path(path)
    raw = read_toml(path)
    where = str(path)
    unknown = set(raw) - TOP_LEVEL
    if "claim" in unknown:
        raise SpecError(f"{where} is a claim file (it has a [claim] table), not a study spec; "
                        f"run 'bayescale audit {where}'")
    if unknown:
        raise SpecError(f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                        f"expected some of {', '.join(sorted(TOP_LEVEL))}")
    tables = {name: check_table(raw, name, where) for name in TABLES}
    data, model = tables["data"], tables["model"]
    if ("dataset" in data) == ("path" in data):
        raise SpecError(f"{where}: [data] needs exactly one of 'dataset' (bundled) or 'path' (CSV file)")
    for key in ("x", "y"):
        if key not in model:
            raise SpecError(f"{where}: [model] needs '{key}' (the column of the {'scale' if key == 'x' else 'metric'})")
    check_values(tables, where)
    check_learned_discrepancy(model, where)
    disc = tables["predict"].get("discrepancy")
    if disc is not None and disc is not False and (
            isinstance(disc, bool) or not isinstance(disc, int | float) or not 0 <= disc < float("inf")):
        raise SpecError(f"{where}: predict.discrepancy must be a number >= 0 (sd of log y per decade beyond "
                        f"the data, as learned by 'bayescale backtest --discrepancy'), or false for the "
                        f"posterior alone (default: the learned drift prior), got {disc!r}")
    check_reach(tables["reach"], model, where)
    check_plan(tables["plan"], where)
    return Spec(path=path, title=str(raw.get("title", path.stem)), **tables)


def check_learned_discrepancy(model: dict, where: str) -> None:
    """Refuse ``[model] discrepancy`` that is not a bool, or true for a law that does not learn it at fit time."""
    from bayescale.core.registry import LAWS

    learn = model.get("discrepancy", False)
    if not isinstance(learn, bool):
        raise SpecError(f"{where}: model.discrepancy must be true (learn s by refits) or false, got {learn!r}; "
                        "a known s goes to predict.discrepancy")
    able = [name for name, spec in LAWS.items() if spec.discrepancy is not None]
    law = model.get("law", "power")
    if learn and (not isinstance(law, str) or law not in able):
        raise SpecError(f"{where}: model.discrepancy = true applies to the {' or '.join(able)} law, not {law!r}; "
                        "learn s for one-input laws with 'bayescale backtest --discrepancy'")


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_values(tables: dict, where: str) -> None:
    """Refuse, before any data is read, values of the wrong kind in ``[model]``, ``[predict]``, ``[output]``."""
    priors = tables["model"].get("priors")
    if priors is not None and not isinstance(priors, dict):
        raise SpecError(f"{where}: model.priors must be a table of priors by parameter name, got {priors!r}")
    predict = tables["predict"]
    at = predict.get("at")
    if at is not None and (not isinstance(at, list) or not all(_number(v) and 0 < v < float("inf") for v in at)):
        raise SpecError(f"{where}: predict.at must be a list of finite numbers > 0, got {at!r}")
    prob = predict.get("prob")
    if prob is not None and not (_number(prob) and 0 < prob < 1):
        raise SpecError(f"{where}: predict.prob must be a number between 0 and 1, got {prob!r}")
    groups = predict.get("groups")
    if groups is not None and not (isinstance(groups, list) and groups and all(isinstance(g, str) for g in groups)):
        raise SpecError(f"{where}: predict.groups must be a list of group names, got {groups!r}")
    for key, value in tables["output"].items():
        if not isinstance(value, str) or not value:
            raise SpecError(f"{where}: output.{key} must be a file name, got {value!r}")


def check_groups(spec: Spec, frame: pd.DataFrame, names, key: str) -> None:
    """Refuse group names (``key`` in the spec) that are not in the data's group column."""
    from bayescale.core.posterior import NEW_GROUP

    if names is None:
        return
    column = spec.model.get("group")
    if column is None:
        raise SpecError(f"{spec.path}: {key} needs a grouped fit ([model] group = ...); this one has no groups")
    if column not in frame.columns:
        return  # bayescale.fit names the missing group column
    wanted = [names] if isinstance(names, str) else list(names)
    known = set(map(str, frame[column]))
    unknown = [g for g in wanted if g not in known and g != NEW_GROUP]
    if unknown:
        raise SpecError(f"{spec.path}: {key} {', '.join(map(repr, unknown))} not in the data's column {column!r}")


def check_plan(plan: dict, where: str) -> None:
    """Validate a ``[plan]`` table: a positive ``budget`` and exactly one quantity."""
    if not plan:
        return
    budget = plan.get("budget")
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget < float("inf"):
        raise SpecError(f"{where}: [plan] needs 'budget', a positive number (the batch's total cost), got {budget!r}")
    given = [k for k in ("at", "reach", "compute") if k in plan]
    if len(given) != 1:
        raise SpecError(f"{where}: [plan] needs exactly one of 'at', 'reach', 'compute'; got {given or 'none'}")


def check_reach(reach: dict, model: dict, where: str) -> None:
    """Validate a ``[reach]`` table: ``targets`` the law can reach, ``group`` one name or a list of names."""
    from bayescale.errors import DataError
    from bayescale.results.reach import check_targets

    if not reach:
        return
    if "targets" not in reach:
        raise SpecError(f"{where}: [reach] needs 'targets' (a list of values of the metric)")
    law = model.get("law", "power")
    auto = ["sigmoid"] if model.get("measure") == "accuracy" else ["power", "broken", "turning"]
    laws = law if isinstance(law, list) else auto if law == "auto" else [law]
    for name in laws:
        try:
            check_targets(reach["targets"], law=str(name), noise=model.get("noise"), name="reach.targets")
        except DataError as exc:
            raise SpecError(f"{where}: {exc}") from None
    group = reach.get("group")
    if group is not None:
        if not (isinstance(group, str) or isinstance(group, list) and group and all(isinstance(g, str) for g in group)):
            raise SpecError(f"{where}: reach.group must be a group name or a list of names, got {group!r}")
        if law == "chinchilla" or "group" not in model:
            raise SpecError(f"{where}: reach.group needs a grouped fit ([model] group = ...); this one has no groups")


def read_csv(path, what: str = "data file") -> pd.DataFrame:
    """Read a comma-separated file, refusing in one line a missing, empty, binary or ``;``-separated one."""
    from bayescale.errors import DataError

    name = f"{what} {str(path)!r}"
    if not Path(path).is_file():
        raise DataError(f"{name} is a folder, not a file" if Path(path).is_dir() else f"{name} does not exist")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty") from None
    except UnicodeDecodeError:
        raise DataError(f"{name} is not a text CSV file (it holds bytes that are not UTF-8)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot read {name} as CSV: {' '.join(str(exc).split())}") from exc
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        for sep, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in header:
                raise DataError(f"{name} has one column {header!r}: it looks separated by {label}; "
                                "bayescale reads comma-separated files")
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no rows")
    return frame


def load_data(spec: Spec) -> pd.DataFrame:
    """Load the spec's data and apply its ``filter`` and ``range`` selections."""
    from bayescale import datasets

    data = spec.data
    if "dataset" in data:
        frame = datasets.load(data["dataset"])
    else:
        csv = (spec.path.parent / data["path"]).resolve()
        if not csv.is_file():
            raise SpecError(f"{spec.path}: data.path {data['path']!r} not found (looked at {csv})")
        frame = read_csv(csv)
    for column, wanted in data.get("filter", {}).items():
        if column not in frame.columns:
            raise SpecError(f"{spec.path}: data.filter column {column!r} is not in the data")
        values = wanted if isinstance(wanted, list) else [wanted]
        missing = [v for v in values if v not in set(frame[column])]
        if missing:
            raise SpecError(f"{spec.path}: data.filter.{column} values {missing} do not occur in the data")
        frame = frame[frame[column].isin(values)]
    for column, bounds in data.get("range", {}).items():
        if column not in frame.columns:
            raise SpecError(f"{spec.path}: data.range column {column!r} is not in the data")
        if not isinstance(bounds, dict) or set(bounds) - {"min", "max"}:
            raise SpecError(f"{spec.path}: data.range.{column} must be a table with 'min' and/or 'max'")
        if "min" in bounds:
            frame = frame[frame[column] >= bounds["min"]]
        if "max" in bounds:
            frame = frame[frame[column] <= bounds["max"]]
    return frame.reset_index(drop=True)
