"""Parsing of the claim kinds beyond Chinchilla's, and their checks against the law and the data.

Each kind is refused with a one-line error naming the item and the field where it does not
apply to the law (``claim.emergence[0]`` on a power law), names a group the data lack, or
leaves a trend refit too few points, all before any sampling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import SpecError
from bayescale.workflows.audit.claim_fields import (
    CHINCHILLA_PARAMETERS,
    ClaimItem,
    array_of_tables,
    interval,
    item_prob,
    keys,
    number,
    probability,
)

PARAMETER_NAMES = {
    "power": ("alpha", "A", "E", "sigma", "nu", "log_A_sigma", "log_alpha_sigma", "log_E_sigma"),
    "broken": ("alpha", "break_x", "width_decades", "A_at_x_ref", "E", "sigma", "nu", "log_A_sigma", "log_E_sigma"),
    "sigmoid": ("floor", "ceiling", "steepness_per_decade", "midpoint_x", "midpoint_sigma_decades", "kappa"),
    "chinchilla": CHINCHILLA_PARAMETERS,
}
GROUP_KINDS = ("shared_slopes", "min_rate", "gap_shrinks", "never_worse", "equivalent")
GROUP_KEYS = {
    "shared_slopes": {"label", "kind"},
    "min_rate": {"label", "kind", "rate", "at"},
    "gap_shrinks": {"label", "kind", "a", "b", "range"},
    "never_worse": {"label", "kind", "a", "b", "range"},
    "equivalent": {"label", "kind", "a", "b", "range", "tolerance"},
}
REACH_KEYS = {"label", "target", "by", "group", "prob"}
EMERGENCE_KEYS = {"label", "scale", "interval", "abrupt", "within_decades", "group", "prob"}
POPULATION_KEYS = {"label", "weights", "at", "value", "interval", "rate", "prob"}
TREND_KEYS = {"label", "cutoff", "up_to"}
LAW_POINTS = {"power": 4, "broken": 6, "sigmoid": 4}  # bayescale.core.registry.LAWS[law].n_params
_INDEXED = re.compile(r"^(\w+)\[(.+)\]$")


# ---------------------------------------------------------------------------- parameters of any law
def parameter_dim(model: Mapping, name: str) -> str | int | None:
    """How a user-unit parameter is indexed: None, ``"group"``, or the size of a positional dimension."""
    law, grouped = model.get("law", "power"), "group" in model
    breaks = model.get("breaks", 1) if isinstance(model.get("breaks", 1), int) else 1
    by_group = {
        ("power", "alpha"): grouped and model.get("slopes") == "varying",
        ("power", "A"): grouped, ("broken", "A_at_x_ref"): grouped,
        ("power", "E"): grouped and model.get("floor") == "group",
        ("broken", "E"): grouped and model.get("floor") == "group",
        ("sigmoid", "midpoint_x"): grouped,
    }
    if by_group.get((law, name)):
        return "group"
    if law == "broken" and name == "alpha":
        return breaks + 1
    if law == "broken" and name in ("break_x", "width_decades"):
        return breaks
    return None


def check_parameter_name(key: str, where: str, model: Mapping) -> tuple[str, str | int | None]:
    """Split ``alpha`` / ``alpha[1]`` / ``A[pile]`` into the parameter and its index, checking both."""
    law = model.get("law", "power")
    match = _INDEXED.match(key)
    base, index = (match.group(1), match.group(2)) if match else (key, None)
    names = PARAMETER_NAMES[law]
    if base not in names:
        raise SpecError(f"{where}: unknown parameter {base!r}; expected one of {', '.join(names)}"
                        + ("" if law == "chinchilla" else f" (the {law} law's user-unit parameters)"))
    dim = parameter_dim(model, base)
    if dim is None:
        if index is not None:
            raise SpecError(f"{where}: {base} has no index in this model; write {base!r}")
        return base, None
    if dim == "group":
        if index is None:
            raise SpecError(f"{where}: {base} varies by group ({model['group']}); name one, e.g. '{base}[<group>]'")
        return base, index
    if index is None:
        if dim == 1:
            return base, 0
        raise SpecError(f"{where}: the {law} law has {dim} values of {base}; name one, e.g. '{base}[0]' "
                        f"(0 to {dim - 1})")
    if not index.isdigit() or int(index) >= dim:
        raise SpecError(f"{where}: index {index!r} of {base} must be an integer from 0 to {dim - 1}")
    return base, int(index)


# ---------------------------------------------------------------------------- the other kinds
def _label(spec: Mapping, default: str) -> str:
    return str(spec.get("label") or default)


def _group(spec: Mapping, where: str, model: Mapping, key: str = "group") -> str | None:
    if key not in spec:
        return None
    if "group" not in model:
        raise SpecError(f"{where}.{key}: the model has no groups; set group = <column> in [model]")
    return str(spec[key])


def _scale_range(spec: Mapping, where: str) -> tuple[float, float]:
    if "range" not in spec:
        raise SpecError(f"{where}.range: required, [x1, x2] (the scales the claim covers)")
    lo, hi = interval(spec["range"], f"{where}.range", positive=True)
    if lo == hi:
        raise SpecError(f"{where}.range: x1 < x2 needed, got [{lo:g}, {hi:g}]")
    return lo, hi


def _reach(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    law, items = model.get("law", "power"), []
    for name, spec in array_of_tables(claim, "reach", where):
        keys(spec, REACH_KEYS, name)
        for k in ("target", "by"):
            if k not in spec:
                raise SpecError(f"{name}.{k}: required ({'metric value to reach' if k == 'target' else 'scale'})")
        target = number(spec["target"], f"{name}.target")
        by = number(spec["by"], f"{name}.by", positive=True)
        if law == "sigmoid" and not 0 < target < 1:
            raise SpecError(f"{name}.target: {target:g} is outside (0, 1): the sigmoid's accuracies stay below "
                            "its ceiling of 1 and above 0")
        if law != "sigmoid" and model.get("noise") != "normal" and target <= 0:
            raise SpecError(f"{name}.target: must be > 0 for a positive metric, got {target:g}")
        if law == "chinchilla" and "group" in spec:
            raise SpecError(f"{name}.group: the chinchilla law is fitted without groups")
        if "group" in model and "group" not in spec:
            raise SpecError(f"{name}.group: required in a grouped model (a group of {model['group']!r}, "
                            "or '(new group)')")
        p = item_prob(spec, name, prob)
        group = _group(spec, name, model)
        items.append(ClaimItem(_label(spec, f"reach {target:g} by {by:.3g}"), "reach", by, None, p, name,
                               fields={"target": target, "by": by, "group": group}))
    return items


def _emergence(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    law, items = model.get("law", "power"), []
    for name, spec in array_of_tables(claim, "emergence", where):
        keys(spec, EMERGENCE_KEYS, name)
        if law not in ("sigmoid", "broken"):
            raise SpecError(f"{name}: emergence claims need law 'sigmoid' (midpoint) or 'broken' (break "
                            f"location), not {law!r}")
        scale = number(spec["scale"], f"{name}.scale", positive=True) if "scale" in spec else None
        bounds = interval(spec["interval"], f"{name}.interval", positive=True) if "interval" in spec else None
        if scale is None and bounds is None:
            raise SpecError(f"{name}: give the claimed emergence scale (scale = ...) or interval = [lo, hi]")
        abrupt = spec.get("abrupt", False)
        if not isinstance(abrupt, bool):
            raise SpecError(f"{name}.abrupt: must be true or false, got {abrupt!r}")
        within = number(spec.get("within_decades", 1.0), f"{name}.within_decades", positive=True)
        if "within_decades" in spec and not abrupt:
            raise SpecError(f"{name}.within_decades: only meaningful with abrupt = true")
        if law == "broken" and "group" in spec:
            raise SpecError(f"{name}.group: the broken law's breaks are shared by all groups")
        p = item_prob(spec, name, prob)
        where_text = f"{scale:.3g}" if scale is not None else f"[{bounds[0]:.3g}, {bounds[1]:.3g}]"
        items.append(ClaimItem(_label(spec, f"emergence at {where_text}"), "emergence", scale, bounds, p, name,
                               fields={"abrupt": abrupt, "within_decades": within,
                                       "group": _group(spec, name, model)}))
    return items


def _groups(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    law, items = model.get("law", "power"), []
    for name, spec in array_of_tables(claim, "groups", where):
        if "group" not in model:
            raise SpecError(f"{name}: a group claim needs groups; set group = <column> in [model]")
        kind = spec.get("kind")
        if kind not in GROUP_KINDS:
            raise SpecError(f"{name}.kind: must be one of {', '.join(GROUP_KINDS)}, got {kind!r}")
        keys(spec, GROUP_KEYS[kind], name)
        fields: dict[str, Any] = {"kind": kind}
        if kind == "shared_slopes" and law != "power":
            raise SpecError(f"{name}.kind: shared_slopes compares shared and varying exponents of the power law, "
                            f"not the {law!r} law")
        if kind == "min_rate":
            if "rate" not in spec:
                raise SpecError(f"{name}.rate: required, the least fractional improvement per decade (0 to 1)")
            fields["rate"] = probability(spec["rate"], f"{name}.rate")
            fields["at"] = number(spec["at"], f"{name}.at", positive=True) if "at" in spec else None
        if kind in ("gap_shrinks", "never_worse", "equivalent"):
            for k in ("a", "b"):
                if k not in spec:
                    raise SpecError(f"{name}.{k}: required (a group name)")
            fields |= {"a": str(spec["a"]), "b": str(spec["b"]), "range": _scale_range(spec, name)}
            if fields["a"] == fields["b"]:
                raise SpecError(f"{name}.b: compare two different groups, got {fields['a']!r} twice")
        if kind == "equivalent":
            if "tolerance" not in spec:
                raise SpecError(f"{name}.tolerance: required, the largest relative gap |a/b - 1| that counts "
                                "as equivalent")
            fields["tolerance"] = number(spec["tolerance"], f"{name}.tolerance", positive=True)
        items.append(ClaimItem(_label(spec, f"groups: {kind}"), "groups", None, None, prob, name, fields=fields))
    return items


def _population(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    items = []
    for name, spec in array_of_tables(claim, "population", where):
        keys(spec, POPULATION_KEYS, name)
        if "group" not in model:
            raise SpecError(f"{name}: a population claim re-weights groups; set group = <column> in [model]")
        weights = spec.get("weights")
        if not isinstance(weights, Mapping) or not weights:
            raise SpecError(f"{name}.weights: required, a table {{ group = weight, ... }}")
        w = {str(g): number(v, f"{name}.weights.{g}") for g, v in weights.items()}
        if any(v < 0 for v in w.values()):
            raise SpecError(f"{name}.weights: weights must be >= 0, got {w}")
        if abs(sum(w.values()) - 1) > 1e-6:
            raise SpecError(f"{name}.weights: must sum to 1, got {sum(w.values()):g}")
        if "at" not in spec:
            raise SpecError(f"{name}.at: required, the scale(s) of the aggregate claim")
        at = spec["at"] if isinstance(spec["at"], list) else [spec["at"]]
        at = [number(v, f"{name}.at", positive=True) for v in at]
        has_value = "value" in spec or "interval" in spec
        if has_value == ("rate" in spec):
            raise SpecError(f"{name}: claim either value (and/or interval) of the aggregate, or rate")
        value = number(spec["value"], f"{name}.value") if "value" in spec else None
        bounds = interval(spec["interval"], f"{name}.interval", positive=False) if "interval" in spec else None
        rate = probability(spec["rate"], f"{name}.rate") if "rate" in spec else None
        p = item_prob(spec, name, prob)
        items.append(ClaimItem(_label(spec, "population aggregate"), "population", value, bounds, p, name,
                               fields={"weights": w, "at": at, "rate": rate}))
    return items


def _trend(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    law, items = model.get("law", "power"), []
    for name, spec in array_of_tables(claim, "trend", where):
        keys(spec, TREND_KEYS, name)
        if law == "chinchilla":
            raise SpecError(f"{name}: trend claims need a law with one scale axis, not 'chinchilla'")
        for k in ("cutoff", "up_to"):
            if k not in spec:
                raise SpecError(f"{name}.{k}: required (a scale in units of x)")
        cutoff = number(spec["cutoff"], f"{name}.cutoff", positive=True)
        up_to = number(spec["up_to"], f"{name}.up_to", positive=True)
        if up_to <= cutoff:
            raise SpecError(f"{name}.up_to: must be above the cutoff {cutoff:g}, got {up_to:g}")
        items.append(ClaimItem(_label(spec, f"trend holds to {up_to:.3g}"), "trend", up_to, None, prob, name,
                               fields={"cutoff": cutoff, "up_to": up_to}))
    return items


def parse_kinds(claim: Mapping, where: str, prob: float, model: Mapping) -> list[ClaimItem]:
    """Items of ``[[claim.reach]]``, ``emergence``, ``groups``, ``population`` and ``trend``."""
    return [*_reach(claim, where, prob, model), *_emergence(claim, where, prob, model),
            *_groups(claim, where, prob, model), *_population(claim, where, prob, model),
            *_trend(claim, where, prob, model)]


# ---------------------------------------------------------------------------- against the data
def _known(name: str | None, groups: list[str], where: str, column: str, new: bool = False) -> None:
    from bayescale.core.posterior import NEW_GROUP

    if name is not None and name not in groups and not (new and name == NEW_GROUP):
        raise SpecError(f"{where}: unknown group {name!r} in column {column!r}; groups: {', '.join(groups)}")


def check_against_data(claim, frame: pd.DataFrame) -> None:
    """Group names, parameter indices and trend cutoffs against the rows to refit (before sampling)."""
    model = claim.model
    column = model.get("group")
    groups = sorted({str(v) for v in frame[column]}) if column else []
    x = frame[model["x"]].to_numpy(dtype=float) if isinstance(model["x"], str) else None
    for item in claim.items:
        f = item.fields
        if item.kind == "parameter" and parameter_dim(model, f["parameter"]) == "group":
            _known(f["index"], groups, item.where, column)
        for key in ("group", "a", "b"):
            if item.kind != "parameter" and f.get(key) is not None:
                _known(f[key], groups, f"{item.where}.{key}", column, new=item.kind == "reach")
        for g in f.get("weights", {}) if item.kind == "population" else ():
            _known(g, groups, f"{item.where}.weights", column)
        if item.kind == "trend":
            need = LAW_POINTS[claim.law]
            train = int(np.sum(x <= f["cutoff"]))
            if train < need:
                raise SpecError(f"{item.where}.cutoff: leaves {train} points at or below {f['cutoff']:g}; the "
                                f"{claim.law} law needs at least {need}")
            if not np.any((x > f["cutoff"]) & (x <= f["up_to"])):
                raise SpecError(f"{item.where}.up_to: no points between the cutoff {f['cutoff']:g} and "
                                f"{f['up_to']:g} to score")
            if column:
                below = {str(g) for g in frame.loc[x <= f["cutoff"], column]}
                missing = [g for g in groups if g not in below]
                if missing:
                    raise SpecError(f"{item.where}.cutoff: groups {', '.join(missing)} have no points at or below "
                                    f"{f['cutoff']:g}, so the refit cannot predict them")
