"""Terminal output: tables with rich when the output is a terminal, plain text otherwise."""

from __future__ import annotations

import os
import sys

import pandas as pd


def _use_rich(plain: bool | None) -> bool:
    if plain is None:
        plain = os.environ.get("BAYESCALE_PLAIN") == "1" or not sys.stdout.isatty()
    if plain:
        return False
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def format_number(value) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def print_table(frame: pd.DataFrame, title: str, *, index: bool = True, plain: bool | None = None) -> None:
    """Print ``frame`` under ``title``; numbers to 4 significant digits."""
    if index and (frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)):
        frame = frame.rename_axis(frame.index.name or "").reset_index()
    if _use_rich(plain):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in frame.columns:
            table.add_column(str(column), justify="right" if pd.api.types.is_numeric_dtype(frame[column]) else "left")
        for row in frame.itertuples(index=False):
            table.add_row(*(format_number(v) for v in row))
        Console().print(table)
        return
    print(f"\n{title}")
    text = frame.to_string(index=False, formatters={c: format_number for c in frame.columns})
    print(text)
