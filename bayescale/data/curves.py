"""Validate a tidy data frame and turn it into the arrays a model needs.

All checks run before any model is built, so a bad input ends in a
:class:`~bayescale.errors.DataError` that names the column and the rows at fault
instead of a sampler traceback. Nothing is dropped silently: rows with missing or
infinite values are an error, not a filter.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayescale.core.registry import law_spec
from bayescale.errors import DataError, DataWarning, LawError, TooFewPoints

NOISE_MODELS = ("lognormal", "studentt", "normal")
POSITIVE_Y_NOISE = ("lognormal", "studentt")
#: a run of at most ``MAX_ISOLATED`` points further than this (decades of x) from the rest is suspicious
ISOLATION_DECADES = 3.0
MAX_ISOLATED = 2
#: largest |x|: beyond it, plotting or extrapolating half a decade would overflow a float
MAX_ABS_X = 1e300


@dataclass(frozen=True)
class CurveData:
    """Validated observations plus the scaling used internally.

    ``x`` and ``y`` are in the user's units. Models work on ``x / x_ref`` and
    ``y / y_scale``; both are chosen from the data so default priors are weakly
    informative whatever the units.
    """

    frame: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    group_index: np.ndarray
    groups: tuple[str, ...]
    x_name: str
    y_name: str
    group_name: str | None
    x_ref: float
    y_scale: float

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def x_range(self) -> tuple[float, float]:
        return float(self.x.min()), float(self.x.max())


def _rows(index, limit: int = 8) -> str:
    index = list(index)
    shown = ", ".join(str(i) for i in index[:limit])
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return f"{shown}{more}"


def _numeric_column(df: pd.DataFrame, column: str) -> np.ndarray:
    if column not in df.columns:
        raise DataError(
            f"column {column!r} is not in the data; available columns: {', '.join(map(str, df.columns))}"
        )
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = raw.notna() & values.isna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].head(3))
        raise DataError(
            f"column {column!r} must be numeric; rows {_rows(df.index[bad])} hold {examples}"
        )
    values = values.to_numpy(dtype=float)
    missing = ~np.isfinite(values)
    if missing.any():
        raise DataError(
            f"column {column!r} has missing or infinite values in rows {_rows(df.index[missing])}; "
            "drop or fill them explicitly (bayescale never drops rows silently)"
        )
    return values


def isolated_points(x: np.ndarray, codes: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    """Points lying many decades of x away from the rest of their group.

    In each group, sorted log10 x is split at every gap; the smaller side is isolated when it
    holds at most ``MAX_ISOLATED`` points, the other side at least three, and the gap is wider
    than ``ISOLATION_DECADES`` and than the span of the other side. Returns, per finding, the
    group code, the positions (into ``x``) of the isolated points and of the rest, and the gap
    in decades.
    """
    found = []
    for code in np.unique(codes):
        where = np.flatnonzero(codes == code)
        order = where[np.argsort(np.log10(x[where]), kind="stable")]
        lx = np.log10(x[order])
        for i, gap in enumerate(np.diff(lx)):
            low, high = order[: i + 1], order[i + 1:]
            few, rest = (low, high) if low.size <= high.size else (high, low)
            if few.size > MAX_ISOLATED or rest.size < 3:
                continue
            if gap > ISOLATION_DECADES and gap > np.ptp(np.log10(x[rest])):
                found.append((int(code), few, rest, float(gap)))
    return found


def _warn_isolated(df: pd.DataFrame, x: str, xv: np.ndarray, codes: np.ndarray, groups, group) -> None:
    for code, few, rest, gap in isolated_points(xv, codes):
        where = f" of group {groups[code]!r}" if group else ""
        points = ", ".join(f"row {df.index[i]} ({x}={xv[i]:.3g})" for i in few)
        verb = "lies" if few.size == 1 else "lie"
        warnings.warn(
            f"{points} {verb} {gap:.1f} decades of {x!r} away from the other points{where} "
            f"({xv[rest].min():.3g} to {xv[rest].max():.3g}): a typo or a unit error? Such a point decides "
            "the fit alone; check it, or drop it explicitly",
            DataWarning,
            stacklevel=4,
        )


def check_noise(noise: str) -> str:
    if noise not in NOISE_MODELS:
        raise LawError(f"unknown noise model {noise!r}; expected one of: {', '.join(NOISE_MODELS)}")
    return noise


def prepare(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    group: str | None = None,
    law: str = "power",
    noise: str = "lognormal",
    n_params: int | None = None,
) -> CurveData:
    """Validate ``df`` for a one-axis law and return :class:`CurveData`.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy data, one row per observation.
    x, y : str
        Columns holding the scale and the metric.
    group : str, optional
        Column naming the group (data source, subgroup, model family) of each row.
    law : str
        Law name, used to check the domain of ``x`` and the number of parameters.
    noise : str
        Noise model; ``lognormal`` and ``studentt`` need ``y > 0``.
    n_params : int, optional
        Number of free parameters, to check there are more points than parameters.

    Raises
    ------
    DataError
        On any problem, naming the column and rows.
    """
    info = law_spec(law)
    check_noise(noise)
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise DataError("the data frame is empty")
    xv = _numeric_column(df, x)
    yv = _numeric_column(df, y)
    if info.positive_x and (xv <= 0).any():
        raise DataError(
            f"column {x!r} must be > 0 for the {law} law; rows {_rows(df.index[xv <= 0])} are <= 0"
        )
    if noise in POSITIVE_Y_NOISE and (yv <= 0).any():
        raise DataError(
            f"column {y!r} must be > 0 under {noise} noise; rows {_rows(df.index[yv <= 0])} are <= 0 "
            "(use noise='normal' for metrics that can be zero or negative)"
        )

    if group is None:
        codes = np.zeros(len(df), dtype=int)
        groups: tuple[str, ...] = ("all",)
    else:
        if group not in df.columns:
            raise DataError(
                f"group column {group!r} is not in the data; available columns: "
                f"{', '.join(map(str, df.columns))}"
            )
        labels = df[group]
        if labels.isna().any():
            raise DataError(f"group column {group!r} is missing in rows {_rows(df.index[labels.isna()])}")
        labels = labels.astype(str)
        cat = pd.Categorical(labels, categories=sorted(labels.unique()))
        codes = np.asarray(cat.codes, dtype=int)
        groups = tuple(str(c) for c in cat.categories)
        counts = pd.Series(codes).value_counts()
        lonely = [groups[i] for i in counts.index[counts < 2]]
        if lonely:
            raise DataError(
                f"groups {', '.join(map(repr, sorted(lonely)))} in column {group!r} have a single point; "
                "each group needs at least two distinct x values"
            )
        for g, name in enumerate(groups):
            if np.unique(xv[codes == g]).size < 2:
                raise DataError(
                    f"group {name!r} in column {group!r} has a single distinct {x!r} value; "
                    "a curve needs at least two"
                )

    if np.unique(xv).size < 2:
        raise DataError(f"column {x!r} has a single distinct value; a scaling law needs at least two")
    needed = (n_params if n_params is not None else info.n_params) + 1
    if len(df) < needed:
        raise TooFewPoints(
            f"{len(df)} points are fewer than the {needed} needed for the {law} law "
            f"({needed - 1} parameters plus one)"
        )

    keys = [x, y] + ([group] if group else [])
    dup = df.duplicated(subset=keys, keep=False)
    if dup.any():
        warnings.warn(
            f"rows {_rows(df.index[dup])} are duplicated in columns {keys}; they are kept and counted "
            "as separate observations",
            DataWarning,
            stacklevel=3,
        )
    if info.positive_x:
        _warn_isolated(df, x, xv, codes, groups, group)
    huge = np.abs(xv) > MAX_ABS_X
    if huge.any():
        raise DataError(
            f"column {x!r} holds {xv[huge][0]:.3g} in row {df.index[huge][0]}"
            + (f" (and {int(huge.sum()) - 1} more rows)" if huge.sum() > 1 else "")
            + f"; values beyond {MAX_ABS_X:.0e} overflow when plotted or extrapolated: rescale the column "
            "(e.g. to billions) or correct the row"
        )

    x_ref = float(np.exp(np.mean(np.log(xv)))) if info.positive_x else 1.0
    y_scale = float(np.median(np.abs(yv))) or 1.0
    return CurveData(
        frame=df.copy(),
        x=xv,
        y=yv,
        group_index=codes,
        groups=groups,
        x_name=x,
        y_name=y,
        group_name=group,
        x_ref=x_ref,
        y_scale=y_scale,
    )
