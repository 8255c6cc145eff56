"""Start-up of bayescale's local worker pool: forkserver (the Linux default) against spawn.

Each worker runs one task that imports what a curve fit needs (bayescale, PyMC, nutpie); the
script reports the wall time, in a fresh driver process (as one CLI run), until every worker has
done so, and each worker's unique and proportional memory (USS; PSS counts the pages shared with
the forkserver once across processes). The methods alternate for ``--repeats`` rounds, since the
machine's load drifts.

    python benchmarks/bench_workers.py --workers 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import psutil

IMPORTS = "import bayescale.workflows.batch, bayescale.laws.power, pymc, nutpie"


def one_round(method: str, workers: int) -> dict:
    """Seconds until ``workers`` workers have imported :data:`IMPORTS`; mean USS and PSS (MB)."""
    from bayescale.workflows.executors import LocalExecutor

    executor = LocalExecutor(workers, start_method=method)
    start = time.perf_counter()
    tasks = executor.map_unordered(exec, [(str(i), IMPORTS) for i in range(workers)])
    results = [next(tasks) for _ in range(workers)]
    seconds = time.perf_counter() - start
    assert all(result is None for _, result in results), results
    memory = [psutil.Process(pid).memory_full_info() for pid in executor._processes]
    executor.close()
    return {"seconds": seconds, "uss": statistics.mean(m.uss for m in memory) / 1e6,
            "pss": statistics.mean(m.pss for m in memory) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", choices=["spawn", "forkserver"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_round(args.one, args.workers)))
        return
    rows = {"spawn": [], "forkserver": []}
    for _ in range(args.repeats):
        for method in rows:
            out = subprocess.run([sys.executable, __file__, "--one", method, "--workers", str(args.workers)],
                                 check=True, capture_output=True, text=True).stdout
            rows[method].append(json.loads(out.strip().splitlines()[-1]))
    print(f"{args.workers} workers, {args.repeats} rounds; load average {psutil.getloadavg()[0]:.1f} "
          f"on {psutil.cpu_count()} cores")
    for method, values in rows.items():
        seconds = [v["seconds"] for v in values]
        print(f"{method:>10}: start-up {statistics.median(seconds):5.1f} s (median; {min(seconds):.1f} to "
              f"{max(seconds):.1f}), per worker USS {statistics.median(v['uss'] for v in values):4.0f} MB, "
              f"PSS {statistics.median(v['pss'] for v in values):4.0f} MB")


if __name__ == "__main__":
    main()
