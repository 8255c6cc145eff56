"""What a report records so that it can be reproduced: versions, the command, the Python call, the seed."""

from __future__ import annotations

import platform
import shlex
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from bayescale.errors import OutputError

#: distributions whose versions the report records
VERSIONED = ("bayescale", "pymc", "pytensor", "nutpie", "numba", "arviz-base", "arviz-stats", "numpy", "pandas",
             "xarray", "matplotlib")


def versions() -> dict[str, str]:
    """Python and the versions of the libraries that shape a fit."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def command_line(argv: Sequence[str] | None = None) -> str:
    """The ``bayescale ...`` command that is running (from ``sys.argv`` by default), shell-quoted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return "bayescale " + shlex.join(argv)


def reproduce_command(args, positional: Sequence[str], *, seed: int | None = None) -> str:
    """The ``bayescale`` command line that ``args`` (a parsed :mod:`argparse` namespace) came from.

    Options come back in the order they were declared; ``seed`` (the seed the fit actually
    used) replaces a missing or different ``--seed``, so the command repeats the same draws.
    """
    values = dict(vars(args))
    parts = ["bayescale", str(values.pop("command", "") or "")]
    parts += [str(values.pop(name)) for name in positional]
    if seed is not None and "seed" in values:
        values["seed"] = seed
    for name, value in values.items():
        if callable(value) or value is None or value is False:
            continue
        option = "--" + name.replace("_", "-")
        if value is True:
            parts.append(option)
        elif isinstance(value, list | tuple):
            parts += [option, *map(_argument, value)]
        else:
            parts += [option, _argument(value)]
    return shlex.join(p for p in parts if p)


def _argument(value) -> str:
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def check_report_path(path) -> Path | None:
    """Refuse, before any sampling, a report path that is not ``.html`` or cannot be written."""
    from bayescale.core.files import check_writable

    if not path:
        return None
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"report {str(path)!r} must end in .html")
    return check_writable(path, "report")


def python_call(fit) -> str:
    """A ``bayescale.fit(...)`` call with the fit's options, for reports made from Python."""
    c = fit.config
    parts = [f"law={c.law!r}", f"x={c.x!r}", f"y={c.y!r}"]
    if getattr(c, "group", None):
        parts.append(f"group={c.group!r}")
    for name, default in (("noise", None), ("slopes", "shared"), ("floor", "shared")):
        value = getattr(c, name, default)
        if value is not None and value != default:
            parts.append(f"{name}={value!r}")
    parts += [f"draws={c.draws}", f"tune={c.tune}", f"chains={c.chains}", f"seed={c.seed}"]
    if c.sampler != "nutpie":  # fit's default
        parts.append(f"sampler={c.sampler!r}")
    return f"bayescale.fit(df, {', '.join(parts)})"
