"""Benchmark: whole fresh processes of this tree against another commit, interleaved.

On this machine a process's wall time moves by 10-40% between minutes, so one run of each
version says little. This script checks ``--base`` out into a temporary git worktree, warms
both versions' disk caches once per case, then runs each case ``--reps`` times alternating
base and this tree (the base's package first on ``PYTHONPATH``, everything else the same
environment) and prints the medians of wall and CPU seconds and their ratio.

Cases: the ``bayescale fit`` CLI on a 20-point power law, and ``bayescale.fit`` of the broken
law (30 points) and of the sigmoid (15 models), 1000 + 1000 draws x 4 chains, warm disk caches.

Run: ``./dev python benchmarks/bench_fresh_ab.py --base a4d692f [--reps 5] [--only CLI]`` (``--only``: the
cases whose name contains that text).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
NUTS = "draws=1000, tune=1000, chains=4, progress=False"


def cases(csv: Path) -> dict[str, list[str]]:
    bench = str(ROOT / "benchmarks")
    fit = f"import sys; sys.path.insert(0, {bench!r}); import bayescale as bs; from bench_breaks import "
    return {
        "`bayescale fit` CLI, power, 20 points": [sys.executable, "-m", "bayescale.cli", "fit", str(csv), "--x", "n",
                                                  "--y", "loss", "--quiet", "--seed", "7"],
        "`bayescale.fit`, broken, 30 points": [
            sys.executable, "-c", fit + "broken_data; bs.fit(broken_data(0), law='broken', x='x', y='y', "
                                        f"seed=7, {NUTS})"],
        "`bayescale.fit`, sigmoid, 15 models": [
            sys.executable, "-c", fit + "sigmoid_data; bs.fit(sigmoid_data(0), law='sigmoid', x='flops', "
                                        f"y='accuracy', trials='n', seed=7, {NUTS})"],
    }


def run(args: list[str], pythonpath: str | None, cwd: Path) -> tuple[float, float]:
    env = {**os.environ}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env, cwd=cwd, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="commit to compare against")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base], check=True)
        try:
            rng = np.random.default_rng(0)
            x = np.geomspace(1e6, 1e9, 20)
            csv = tmp / "c20.csv"
            pd.DataFrame({"n": x, "loss": (1.7 + 300 * x**-0.3) * np.exp(rng.normal(0, 0.02, 20))}).to_csv(csv,
                                                                                                          index=False)
            rows = []
            for name, command in cases(csv).items():
                if args.only not in name:
                    continue
                versions = {"base": str(base), "this tree": None}
                for path in versions.values():  # warm each version's entries in the disk caches
                    run(command, path, tmp)
                times: dict[str, list] = {v: [] for v in versions}
                for _ in range(args.reps):
                    for version, path in versions.items():
                        times[version].append(run(command, path, tmp))
                med = {v: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
                       for v, t in times.items()}
                rows.append({"process": name, "base_wall_s": med["base"][0], "wall_s": med["this tree"][0],
                             "ratio": med["this tree"][0] / med["base"][0], "base_cpu_s": med["base"][1],
                             "cpu_s": med["this tree"][1]})
                print(rows[-1], flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print(f"\nbase {args.base}, {args.reps} interleaved runs each, medians")
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
