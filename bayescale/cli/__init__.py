"""Command line: ``bayescale fit | run | demo | datasets | ...``.

Each subcommand lives in ``bayescale.cli.<name>`` with ``add_parser(subparsers)``
and ``run(args) -> int``; modules are imported only to build the parser (they must
not import PyMC at top level), so ``bayescale --help`` answers fast. Bad input ends in
a one-line ``error: ...`` message and exit code 2; bayescale's own warnings print as
``warning: ...`` lines on stderr. A command that prints tables takes ``--format`` and
``--output`` (:mod:`bayescale.cli._format`); ``main`` sends its tables there. A reader that
closes the pipe early (``| head``) ends the command quietly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from contextlib import contextmanager, suppress
from importlib import import_module

COMMANDS = ["fit", "run", "predict", "plan", "datasets", "audit", "fit-many", "backtest", "observational",
            "learn-priors", "drift-prior"]


class Parser(argparse.ArgumentParser):
    """Usage mistakes end like every other bad input: one ``error: ...`` line and exit code 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # read "--at -1e10" as a (refused) value, not as an unknown option, as argparse does for "-1"
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str):
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from bayescale import __version__

    parser = Parser(
        prog="bayescale",
        description="Bayesian scaling-law fits with honest extrapolation intervals.",
    )
    parser.add_argument("--version", action="version", version=f"bayescale {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = import_module(f"bayescale.cli.{name.replace('-', '_')}")
        module.add_parser(sub).set_defaults(handler=module.run)
    return parser


@contextmanager
def plain_warnings():
    """Print bayescale's warnings as ``warning: message`` (no source line, no class name) meanwhile."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.split(".")[0] == "bayescale":  # DataWarning, SamplingWarning, ...
            print(f"warning: {message}", file=file or sys.stderr)
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


def main(argv: list[str] | None = None) -> int:
    from bayescale.errors import BayescaleError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    from bayescale.cli._format import check_format
    from bayescale.core.console import output

    try:
        check_format(args)
        with plain_warnings(), output(getattr(args, "format", None) or "table", getattr(args, "output", None)):
            return int(args.handler(args) or 0)
    except BayescaleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # batch runs say how many results were kept and how to resume
        print(str(exc) or "interrupted", file=sys.stderr)
        return 130


def console() -> int:
    """The ``bayescale`` script: :func:`main` in a process that ends right after it.

    Lets the garbage collector skip the sampling stack's objects (:mod:`bayescale.core.heap`)
    and imports only the parts of the stack a command uses (:mod:`bayescale.core.deferred`).
    """
    from bayescale.core import deferred, heap

    heap.own_process()
    deferred.defer_heavy_packages()
    try:
        return quiet_broken_pipe(main)
    finally:  # also when argparse exits (--help, a usage error)
        heap.before_exit()


def quiet_broken_pipe(command, *args) -> int:
    """Run ``command(*args)``; when the reader of stdout has gone (``| head``), end without a traceback.

    The exit code is then 1, as before (Python's own for an uncaught error); stdout is pointed at
    the null device so that flushing it at exit raises nothing either.
    """
    try:
        code = command(*args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        with suppress(OSError, ValueError):  # not a real file (a test's stand-in): nothing is left to flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1

