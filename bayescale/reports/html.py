"""HTML pieces of a report: a titled section, tables and figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Section:
    """One titled block of the page: text, tables (HTML) and figures (data URIs)."""

    title: str
    anchor: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (caption, html)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (alt text, data URI)
    details: list[tuple[str, str]] = field(default_factory=list)  # (summary, table html), collapsed


def _number(value) -> str:
    from bayescale.core.console import format_number

    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def table_html(frame: pd.DataFrame, *, index: bool | None = None) -> str:
    """``frame`` as an HTML table (escaped; numbers to 4 significant digits, right-aligned)."""
    from html import escape

    if index is None:
        index = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
    frame = frame.reset_index() if index else frame
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    head = "".join(f'<th{" class=num" if num else ""} scope="col">{escape(str(c))}</th>'
                   for c, num in zip(frame.columns, numeric, strict=True))
    rows = []
    for row in frame.itertuples(index=False):
        cells = "".join(f'<td{" class=num" if num else ""}>{escape(_number(v))}</td>'
                        for v, num in zip(row, numeric, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def figure_uri(fig, *, dpi: int = 110) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # noqa: BLE001 - Figure objects made without pyplot need no closing
        pass
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
