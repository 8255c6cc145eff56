"""Measure the console tables of every command on the bundled examples at a given screen width.

Runs each command in-process (``bayescale.cli.main``) with ``COLUMNS`` set, in a temporary
folder (the specs' outputs land there), and prints per command the widest stdout line and the
number of text cells that start after padding inside their column (right-aligned text)::

    ./dev python scripts/table_widths.py              # 100 columns, small draws
    ./dev python scripts/table_widths.py --columns 80 --only run audit

The layout checks are :func:`problems`, shared with ``tests/test_tables.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
FAST = ["--draws", "100", "--tune", "200", "--chains", "2", "--seed", "1"]


def commands(folder: Path) -> dict[str, list[str]]:
    """Every command on the bundled examples and the README's own (a CSV written to ``folder``)."""
    import bayescale as bs

    frame = bs.datasets.load("olmo_domains")
    csv = folder / "olmo.csv"
    frame[frame.model == "OLMo-7B"].to_csv(csv, index=False)
    runs = {f"run {p.stem}": ["run", str(p), *FAST, "--quiet"] for p in sorted(MODELS.glob("*.toml"))
            if not p.stem.startswith(("audit_", "observational"))}
    audits = {f"audit {p.stem}": ["audit", str(p), *FAST, "--quiet", "--report", str(folder / f"{p.stem}.md")]
              for p in sorted(MODELS.glob("audit_*.toml"))}
    fit = ["fit", str(csv), "--x", "step", "--y", "loss", "--group", "domain", "--at", "1e6", "3e6",
           "--reach", "2.0", "1.9", "--save", str(folder / "fit.nc"), *FAST, "--quiet"]
    return {
        **runs, **audits, "fit": fit,
        "predict": ["predict", str(folder / "fit.nc"), "--at", "1e7", "--reach", "1.9", "--all-flags"],
        "observational": ["observational", str(MODELS / "observational.toml"), "--draws", "100", "--tune", "200",
                          "--chains", "2", "--quiet"],
        "fit-many": ["fit-many", str(csv), "--by", "domain", "--x", "step", "--y", "loss", "--at", "1e6",
                     "--draws", "100", "--tune", "200", "--chains", "2", "--seed", "1", "--workers", "1", "--quiet"],
        "backtest": ["backtest", str(csv), "--x", "step", "--y", "loss", "--group", "domain", "--law", "power",
                     "--draws", "100", "--tune", "200", "--chains", "2", "--workers", "1", "--n-boot", "50",
                     "--quiet"],
    }


def problems(table, lines: list[str], width: int) -> list[str]:
    """What breaks the layout rules in ``lines`` (the rendering of ``table``): too wide, text padded in
    front inside its column, a value not shown in full."""
    from bayescale.core.tables import cell_text, is_numeric

    found = [f"{len(line)} > {width}: {line!r}" for line in lines if len(line) > width]
    text = " ".join(" ".join(lines).split())
    for name in table.frame.columns:
        for value in table.frame[name]:
            words = cell_text(value).split()
            if any(word not in text for word in words):
                found.append(f"{name}: {cell_text(value)!r} not shown in full")
    for start, header in enumerate(lines):
        if not _is_header(header, table):
            continue
        spans = sorted((_at(header, name), name) for name in header.split())
        for k, (left, name) in enumerate(spans):
            if is_numeric(table.frame[name]):
                continue
            right = spans[k + 1][0] if k + 1 < len(spans) else None
            moved = False  # inside a long value moved under its row
            for line in lines[start + 1:]:
                if not line or _is_header(line, table):
                    break
                moved = line.startswith("    ") and line.split()[0].rstrip(":") in table.below or \
                    moved and line.startswith("      ")
                if moved:
                    continue
                segment = line[left:right]
                if segment.strip() and len(segment) - len(segment.lstrip()) > 3:
                    found.append(f"{name}: text after padding: {line!r}")
    return found


def _at(header: str, name: str) -> int | None:
    """Where column ``name`` starts in a header line (a whole word), or None."""
    padded = f" {header} "
    i = padded.find(f" {name} ")
    return None if i < 0 else i


def _is_header(line: str, table) -> bool:
    names = {str(c) for c in table.frame.columns}
    words = line.split()
    return len(words) > 1 and all(w in names for w in words)


def measure(argv: list[str], width: int) -> tuple[int, int, list[str], float]:
    """Run one command; return (exit code, widest stdout line, layout problems, seconds)."""
    from bayescale.cli import main
    from bayescale.core import console

    seen, render = [], getattr(console, "render", None)  # None: a version before the one layout

    def recording(table, w=None):
        lines = render(table, w)
        seen.append((table, lines))
        return lines

    os.environ["COLUMNS"] = str(width)
    out = io.StringIO()
    start = time.perf_counter()
    if render:
        console.render = recording
    try:
        with contextlib.redirect_stdout(out):
            code = main(argv)
    finally:
        if render:
            console.render = render
    widest = max((len(line) for line in out.getvalue().splitlines()), default=0)
    found = [p for table, lines in seen for p in problems(table, lines, width)]
    return code, widest, found, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--only", nargs="+", help="commands whose name starts with one of these")
    args = parser.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        for name, argv in commands(Path(folder)).items():
            if args.only and not name.startswith(tuple(args.only)):
                continue
            code, widest, found, seconds = measure(argv, args.columns)
            bad += len(found) + (code != 0)
            print(f"{name:32s} exit {code}  widest stdout line {widest:4d}  layout problems {len(found)}  "
                  f"{seconds:5.1f} s", file=sys.stderr)
            for problem in found[:5]:
                print(f"    {problem}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
