"""Text tables that fit the screen: the one layout every command's console tables use.

Text columns are left-aligned and wrapped (never padded out to their longest cell), numbers
are right-aligned with 4 significant digits, and every value appears in full. When the table
is wider than the screen, the columns named in ``below`` (long prose such as an audit's
evidence) move under their row, wide text columns wrap, and a table of numbers that still does
not fit is split into blocks of columns, each repeating the first (key) column.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass, field
from numbers import Integral, Number

import pandas as pd

#: between two columns
GAP = "  "
#: the narrowest a wrapped text column is made (unless its longest cell is shorter)
MIN_TEXT = 12
#: a word longer than this may be split to keep its column narrow
LONG_WORD = 30
#: how far a moved (``below``) value is indented under its row
INDENT = "    "


@dataclass
class Table:
    """A table to show: its frame, a title, and hints for the console layout.

    Attributes
    ----------
    frame : DataFrame
        The values; machine formats (csv, json) write ``data`` instead when it is given.
    title : str
        The heading printed above the table.
    lead : tuple of str
        Columns shown first on the console (what a reader scans first: verdict, severity, item).
    below : tuple of str
        Long columns moved under their row, wrapped to the screen, when the table does not fit.
    data : DataFrame, optional
        What csv, json and markdown write when it differs from the console view (the Python
        API's frame where the console shows a summary of it).
    """

    frame: pd.DataFrame
    title: str = ""
    lead: tuple[str, ...] = ()
    below: tuple[str, ...] = ()
    data: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def values(self) -> pd.DataFrame:
        """The frame machine formats write."""
        return self.frame if self.data is None else self.data


def screen_width() -> int:
    """``COLUMNS`` when set, else the terminal's width, else 100 (not a terminal)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    return 100


def format_number(value) -> str:
    """4 significant digits (3 in exponent form for very large or small values); NaN as blank."""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def cell_text(value) -> str:
    """A cell as text: numbers by :func:`format_number`, missing values blank."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, Number) and not isinstance(value, bool | Integral):
        value = float(value)
        if math.isnan(value):
            return ""
    return format_number(value)


def is_numeric(column: pd.Series) -> bool:
    """Whether a column holds numbers only (blanks aside): those are right-aligned and never wrapped."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    present = [v for v in column if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return bool(present) and all(isinstance(v, Number) and not isinstance(v, bool) for v in present)


def render(table: Table, width: int | None = None) -> list[str]:
    """The lines of ``table`` (title first), none wider than ``width`` (default :func:`screen_width`)."""
    width = width or screen_width()
    frame = table.frame
    order = [c for c in table.lead if c in frame.columns] + [c for c in frame.columns if c not in table.lead]
    columns = [_Column.of(str(name), frame[name]) for name in order]
    lines = textwrap.wrap(table.title, width) if table.title else []
    if not columns:
        return lines
    below = [c for c in columns if c.name in table.below]
    if below and _natural_width(columns) > width:  # rather than wrap prose into a narrow column
        columns = [c for c in columns if c not in below]
    else:
        below = []
    blocks = _blocks(columns, width)
    for i, block in enumerate(blocks):
        if i:
            lines.append("")
        lines += _lines(block, _layout(block, width) or [c.least for c in block], below if i == 0 else [], width)
    return lines


@dataclass
class _Column:
    name: str
    cells: list[str]
    numeric: bool

    @classmethod
    def of(cls, name: str, values: pd.Series) -> _Column:
        return cls(name, [cell_text(v) for v in values], is_numeric(values))

    @property
    def natural(self) -> int:
        return max([len(self.name), *map(len, self.cells)])

    @property
    def least(self) -> int:
        """The narrowest this column is made: numbers and short text never wrap."""
        if self.numeric or self.natural <= MIN_TEXT:
            return self.natural
        words = [len(w) for cell in self.cells for w in cell.split()]
        return max(MIN_TEXT, len(self.name), min(max(words, default=0), LONG_WORD))


def _natural_width(columns: list[_Column]) -> int:
    return sum(c.natural for c in columns) + len(GAP) * (len(columns) - 1)


def _layout(columns: list[_Column], width: int) -> list[int] | None:
    """Column widths that fit ``width``, the widest text columns wrapped first; None if none fit."""
    room = width - len(GAP) * (len(columns) - 1)
    widths = [c.natural for c in columns]
    if _natural_width(columns) <= width:
        return widths
    if sum(c.least for c in columns) > room:
        return None
    excess = sum(widths) - room
    while excess > 0:  # narrow the widest column that can wrap, one character at a time
        i = max((i for i, c in enumerate(columns) if widths[i] > c.least), key=lambda i: widths[i])
        widths[i] -= 1
        excess -= 1
    return widths


def _blocks(columns: list[_Column], width: int) -> list[list[_Column]]:
    """Split the columns into blocks that each fit, every block repeating the first (key) column."""
    if _layout(columns, width) is not None or len(columns) < 3:
        return [columns]
    key, rest = columns[0], columns[1:]
    blocks, block = [], [key]
    for column in rest:
        if len(block) > 1 and _layout([*block, column], width) is None:
            blocks.append(block)
            block = [key]
        block.append(column)
    return [*blocks, block]


def _lines(columns: list[_Column], widths: list[int], below: list[_Column], width: int) -> list[str]:
    def line(parts: list[str]) -> str:
        return GAP.join(p.rjust(w) if c.numeric else p.ljust(w)
                        for p, c, w in zip(parts, columns, widths, strict=True)).rstrip()

    out = [line([c.name for c in columns])]
    for row in range(len(columns[0].cells)):
        wrapped = [textwrap.wrap(c.cells[row], w, break_on_hyphens=False) or [""] if not c.numeric
                   else [c.cells[row]] for c, w in zip(columns, widths, strict=True)]
        height = max(map(len, wrapped))
        out += [line([cell[k] if k < len(cell) else "" for cell in wrapped]) for k in range(height)]
        for column in below:
            if column.cells[row]:
                out += textwrap.wrap(f"{column.name}: {column.cells[row]}", width, initial_indent=INDENT,
                                     subsequent_indent=INDENT + "  ", break_on_hyphens=False)
    return out
