"""``--format`` and ``--output``, shared by every command that prints tables.

A command adds them with :func:`add_format_options`; ``main`` opens the matching
:func:`bayescale.core.console.output` around the command, so its ``print_table`` calls need
nothing else.
"""

from __future__ import annotations

import argparse

from bayescale.core.formats import FORMATS


def add_format_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--format {table,csv,json,markdown}`` and ``--output DIR`` to a command's parser."""
    group = parser.add_argument_group("table format")
    group.add_argument("--format", choices=FORMATS,  # None: table (and a reproduced command stays as typed)
                       help="how tables print: table (default: fitted to the screen), or csv, json, markdown for "
                            "pipes and notebooks (stdout then holds only the tables; other lines go to stderr)")
    group.add_argument("--output", metavar="DIR",
                       help="with --format csv, json or markdown: write one file per table here (NAME.csv, ...)")


def check_format(args: argparse.Namespace) -> None:
    """Refuse ``--output`` without a machine format, and an output folder that cannot be written."""
    if getattr(args, "output", None) is None:
        return
    from bayescale.errors import OutputError

    if args.format in (None, "table"):
        raise OutputError("--output DIR needs --format csv, json or markdown (one file per table)")
    from pathlib import Path

    from bayescale.core.files import check_writable

    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write output folder {str(folder)!r}: it exists and is not a folder")
    check_writable(folder / "x" if folder.is_dir() else folder, "output folder")
