"""Console output of the commands: tables to stdout in the chosen format, everything else beside them.

A command runs inside :func:`output` (the CLI's ``main`` opens it from ``--format`` and
``--output``). With ``table`` (the default) each table prints at once, laid out by
:mod:`bayescale.core.tables`, and :func:`note` lines print between them. With ``csv``, ``json``
or ``markdown`` stdout holds only the tables, written when the command ends (or one file per
table under ``--output DIR``), and notes go to stderr. A new command needs nothing more than
:func:`print_table` or :func:`emit_tables`.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from bayescale.core.formats import FORMATS, SUFFIX, flat, to_csv, to_json, to_markdown
from bayescale.core.tables import Table, format_number, render

__all__ = ["FORMATS", "Table", "emit_tables", "format_number", "note", "output", "print_table"]

BOLD, RESET = "\033[1m", "\033[0m"


def use_color(plain: bool | None = None) -> bool:
    """Bold headings only on a terminal, unless ``plain``, ``NO_COLOR`` or ``BAYESCALE_PLAIN=1``."""
    if plain or os.environ.get("NO_COLOR") or os.environ.get("BAYESCALE_PLAIN") == "1":
        return False
    return sys.stdout.isatty()


class Sink:
    """Where a command's tables go: printed now (``table``) or kept and written at the end."""

    def __init__(self, fmt: str = "table", folder=None, plain: bool | None = None):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.fmt, self.folder, self.plain = fmt, folder, plain
        self.tables: dict[str, Table] = {}

    def add(self, name: str, table: Table, plain: bool | None = None) -> None:
        if self.fmt == "table":
            if not len(table.frame):
                print(f"\n{table.title}: none")
                return
            lines = render(table)
            if use_color(plain or self.plain) and lines:
                lines[0] = BOLD + lines[0] + RESET
            print("\n" + "\n".join(lines))
            return
        unique, n = name, 1
        while unique in self.tables:
            n += 1
            unique = f"{name}_{n}"
        self.tables[unique] = table

    def close(self) -> None:
        """Write what was kept: to stdout, or one file per table under ``folder``."""
        if self.fmt == "table" or not self.tables:
            return
        if self.folder:
            folder = Path(self.folder)
            folder.mkdir(parents=True, exist_ok=True)
            for name, table in self.tables.items():
                path = folder / f"{name}{SUFFIX[self.fmt]}"
                path.write_text(self._text({name: table}))
                note(f"wrote {path}")
            return
        sys.stdout.write(self._text(self.tables))

    def _text(self, tables: dict[str, Table]) -> str:
        if self.fmt == "json":
            return to_json({name: t.values for name, t in tables.items()}) + "\n"
        if self.fmt == "markdown":
            return "\n".join(to_markdown(t.values, t.title) for t in tables.values())
        many = len(tables) > 1  # several tables in one stream: each after a "# name" line, a blank line between
        return "\n".join((f"# {name}\n" if many else "") + to_csv(t.values) for name, t in tables.items())


_sinks: list[Sink] = []


def _sink() -> Sink:
    return _sinks[-1] if _sinks else Sink()


@contextmanager
def output(fmt: str = "table", folder=None, *, plain: bool | None = None):
    """Send the tables printed meanwhile to ``fmt`` (:data:`FORMATS`); written when the block ends."""
    sink = Sink(fmt, folder, plain)
    _sinks.append(sink)
    try:
        yield sink
        sink.close()
    finally:
        _sinks.remove(sink)


def machine() -> bool:
    """Whether stdout is kept for tables only (a format other than ``table``)."""
    return _sink().fmt != "table"


def note(*parts, **kwargs) -> None:
    """``print`` a line that is not a table: to stdout with ``table``, else to stderr."""
    print(*parts, file=sys.stderr if machine() else sys.stdout, **kwargs)


def print_table(frame: pd.DataFrame, title: str, *, index: bool = True, plain: bool | None = None,
                name: str | None = None, lead: tuple[str, ...] = (), below: tuple[str, ...] = (),
                data: pd.DataFrame | None = None) -> None:
    """Show ``frame`` under ``title`` in the current format (see :class:`bayescale.core.tables.Table`).

    ``name`` keys the table in json and names its file under ``--output`` (default: the title's
    first words); ``data`` is what machine formats write when the console shows a summary of it.
    """
    shown = flat(frame) if index else frame
    key = name or "_".join(title.split("(")[0].lower().replace(":", "").split()[:3]) or "table"
    _sink().add(key, Table(shown, title, lead=lead, below=below, data=data), plain)


def emit_tables(tables: dict[str, pd.DataFrame | Table], fmt: str | None = None, output_dir=None) -> None:
    """Show several tables at once: ``{name: frame or Table}``, in ``fmt`` (default: the current one)."""
    def show():
        for name, value in tables.items():
            table = value if isinstance(value, Table) else Table(value, name.replace("_", " ").capitalize())
            _sink().add(name, Table(flat(table.frame), table.title, table.lead, table.below, table.data))

    if fmt is None:
        show()
        return
    with output(fmt, output_dir):
        show()
