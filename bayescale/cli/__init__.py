"""Command line: ``bayescale fit | run | demo | datasets | ...``.

Each subcommand lives in ``bayescale.cli.<name>`` with ``add_parser(subparsers)``
and ``run(args) -> int``; modules are imported only to build the parser (they must
not import PyMC at top level), so ``bayescale --help`` answers fast. Bad input ends in
a one-line ``error: ...`` message and exit code 2; bayescale's own warnings print as
``warning: ...`` lines on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from contextlib import contextmanager
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
    try:
        with plain_warnings():
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
        return main()
    finally:  # also when argparse exits (--help, a usage error)
        heap.before_exit()

