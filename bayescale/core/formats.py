"""Tables as text for pipes and notebooks: csv, json and markdown.

``json`` is one object with one entry per table (a list of row objects, NaN and missing values
as ``null``, infinities as the strings ``"inf"`` / ``"-inf"``), so ``pd.DataFrame(doc[name])``
gives back the frame the Python API returns.
"""

from __future__ import annotations

import json
import math
from numbers import Number

import numpy as np
import pandas as pd

from bayescale.core.tables import cell_text

#: what ``--format`` takes
FORMATS = ("table", "csv", "json", "markdown")
#: file suffix per machine format (``--output DIR`` writes one file per table)
SUFFIX = {"csv": ".csv", "json": ".json", "markdown": ".md"}


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """A named or non-default index becomes the first column (``parameter`` of a summary)."""
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        return frame.rename_axis(frame.index.name or "").reset_index()
    return frame


def _plain(value):
    """A JSON value: NaN/None -> null, infinities -> "inf"/"-inf", numpy scalars and arrays -> Python."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Number):
        return _plain(float(value))
    return str(value)


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows of ``frame`` as JSON-ready objects."""
    frame = flat(frame)
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, map(_plain, row), strict=True)) for row in frame.itertuples(index=False)]


def to_json(frames: dict[str, pd.DataFrame]) -> str:
    """One JSON object, one entry per table."""
    return json.dumps({name: records(frame) for name, frame in frames.items()}, indent=1, allow_nan=False)


def to_csv(frame: pd.DataFrame) -> str:
    return flat(frame).to_csv(index=False)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (numbers as the console shows them, ``|`` escaped)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell_text(v).replace("|", "\\|") for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def to_markdown(frame: pd.DataFrame, title: str = "") -> str:
    """The table under a ``###`` heading (no heading without a title)."""
    table = markdown_table(flat(frame))
    return f"### {title}\n\n{table}\n" if title else f"{table}\n"
