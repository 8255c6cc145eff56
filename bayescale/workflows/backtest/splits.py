"""Where each curve of a backtest is cut into the part that is fitted and the part that is scored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import DataError, SpecError

MIN_TRAIN = 5  # the power law has 4 parameters (E, A, alpha, sigma): every method gets the same curves


@dataclass(frozen=True)
class Cutoff:
    """One way to cut a curve: ``kind`` in ``frac``, ``x``, ``last``, ``column``."""

    kind: str
    value: Any

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value:g}" if isinstance(self.value, float) else f"{self.kind}:{self.value}"


def _one_cutoff(item) -> Cutoff:
    if isinstance(item, Cutoff):
        return item
    if isinstance(item, bool):
        raise SpecError(f"split must be a fraction, 'frac:F', 'x:X', 'last:K' or 'column:NAME', got {item!r}")
    if isinstance(item, int | float):
        kind, value = "frac", item
    elif isinstance(item, Mapping) and len(item) == 1:
        kind, value = next(iter(item.items()))
    elif isinstance(item, str) and ":" in item:
        kind, value = item.split(":", 1)
    else:
        raise SpecError(f"split must be a fraction, 'frac:F', 'x:X', 'last:K' or 'column:NAME', got {item!r}")
    kind = str(kind).strip()
    try:
        if kind == "frac":
            value = float(value)
            if not 0 < value < 1:
                raise SpecError(f"split fraction must be in (0, 1), got {value!r}")
        elif kind == "x":
            value = float(value)
            if not (np.isfinite(value) and value > 0):
                raise SpecError(f"split cutoff x must be finite and > 0, got {value!r}")
        elif kind == "last":
            if float(value) != int(float(value)) or int(float(value)) < 1:
                raise SpecError(f"split 'last' needs a whole number of points >= 1, got {value!r}")
            value = int(float(value))
        elif kind == "column":
            value = str(value)
        else:
            raise SpecError(f"unknown split kind {kind!r}; use frac, x, last or column")
    except SpecError:
        raise
    except (TypeError, ValueError):
        raise SpecError(f"bad split value {value!r} for kind {kind!r}") from None
    return Cutoff(kind, value)


def parse_split(split) -> list[Cutoff]:
    """Normalise a split argument to a list of :class:`Cutoff` (several: a rolling origin)."""
    if isinstance(split, str) and "," in split and split.split(":", 1)[0] != "column":
        kind, values = split.split(":", 1) if ":" in split else ("frac", split)
        items = [f"{kind}:{v}" for v in values.split(",")]
    elif isinstance(split, list | tuple):
        items = list(split)
    else:
        items = [split]
    if not items:
        raise SpecError("split must name at least one cutoff")
    cutoffs = [_one_cutoff(item) for item in items]
    if len({c.label for c in cutoffs}) != len(cutoffs):
        raise SpecError(f"split lists the same cutoff twice: {[c.label for c in cutoffs]}")
    return cutoffs


def _bool_column(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        raise DataError(f"train column {column!r} is not in the data; columns are {', '.join(map(str, df.columns))}")
    values = df[column]
    if values.dtype == bool:
        return values
    words = {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}
    out = values.map(lambda v: bool(v) if isinstance(v, bool | np.bool_) else words.get(str(v).strip().lower()))
    bad = out.isna()
    if bad.any():
        rows = [int(i) for i in np.flatnonzero(bad.to_numpy())[:10]]
        raise DataError(f"train column {column!r} must be boolean (true/false, 1/0); bad values at rows {rows}")
    return out.astype(bool)


def train_mask(x: np.ndarray, cutoff: Cutoff, column: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the training rows of one curve with scales ``x``."""
    x = np.asarray(x, dtype=float)
    if cutoff.kind == "column":
        return np.asarray(column, dtype=bool)
    if cutoff.kind == "x":
        return x < cutoff.value
    if cutoff.kind == "last":
        mask = np.ones(len(x), dtype=bool)
        k = min(cutoff.value, len(x))
        mask[np.argsort(x, kind="stable")[len(x) - k:]] = False
        return mask
    lx = np.log10(x)
    return lx <= lx.min() + cutoff.value * (lx.max() - lx.min()) + 1e-12


def inner_mask(x: np.ndarray, frac: float) -> np.ndarray:
    """Rows of a training curve refitted by the in-sample backtest: the first ``frac`` of its log-x
    range, widened to the ``MIN_TRAIN`` smallest distinct scales when that range holds fewer.

    The floor matters for checkpoints spaced evenly in steps, which crowd the top of the log-x
    range: without it, their curves would never contribute to the discrepancy.
    """
    x = np.asarray(x, dtype=float)
    lx = np.log10(x)
    mask = lx <= lx.min() + frac * (lx.max() - lx.min()) + 1e-12
    distinct = np.unique(x)
    if len(np.unique(x[mask])) < MIN_TRAIN <= len(distinct):
        mask = x <= distinct[MIN_TRAIN - 1]
    return mask
