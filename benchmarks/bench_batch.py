"""Batch fitting: many single-curve power-law fits (20 points each), per-curve cost and memory.

Compares, in one run on this machine:

* scipy least squares per curve (the baseline every ratio is quoted against);
* a loop of ``bayescale.fit`` (PyMC's NUTS, and nutpie, which compiles the model for every call);
* ``bayescale.fit_many`` with local processes (nutpie, compiled once per worker and reused);
* ``bayescale.fit_many`` on a Dask LocalCluster with the same number of workers, checking
  that it gives the same numbers as the local executor (same seeds).

Peak RSS is read from ``getrusage`` (the driver, and the largest worker process).
All runs use bayescale's defaults (4 chains x 1000 draws after 1000 tuning steps) unless
``--draws/--tune/--chains`` say otherwise.

    python benchmarks/bench_batch.py --curves 100 --loop 5 --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def make_curves(n: int, points: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        alpha, a, e = rng.uniform(0.2, 0.5), rng.uniform(20, 80), rng.uniform(0.2, 1.0)
        x = np.logspace(6, 10, points)
        y = e + a * x**-alpha * np.exp(rng.normal(0, 0.02, points))
        frames.append(pd.DataFrame({"task": f"task{i:04d}", "params": x, "loss": y, "true_alpha": alpha}))
    return pd.concat(frames, ignore_index=True)


def scipy_fits(df: pd.DataFrame) -> float:
    from scipy.optimize import least_squares

    start = time.perf_counter()
    for _, g in df.groupby("task"):
        x, y = g["params"].to_numpy(), g["loss"].to_numpy()
        lx = np.log(x / np.exp(np.log(x).mean()))

        def resid(p, lx=lx, y=y):
            return np.log(np.exp(p[0]) + np.exp(p[1] - p[2] * lx)) - np.log(y)

        least_squares(resid, [np.log(y.min()) - 1, np.log(np.median(y)), 0.3])
    return (time.perf_counter() - start) / df["task"].nunique()


def rss_mib(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=100)
    parser.add_argument("--loop", type=int, default=5,
                        help="curves fitted one at a time with bayescale.fit (0: skip the loop)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import bayescale

    sampling = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    df = make_curves(args.curves)
    rows = []
    print(f"{args.curves} curves x 20 points, {args.chains} chains x {args.draws} draws (+{args.tune} tune), "
          f"{args.workers} workers, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)

    scipy_per = scipy_fits(df)
    rows.append({"method": "scipy least_squares (per curve)", "curves": args.curves, "seconds": scipy_per * args.curves,
                 "per_curve_s": scipy_per})

    results = {}
    for executor in ("local", "dask"):
        if executor == "dask" and args.no_dask:
            continue
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            res = bayescale.fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=7, executor=executor,
                                     workers=args.workers, out=out, progress=False, **sampling)
            took = time.perf_counter() - start
        results[executor] = res
        rows.append({"method": f"fit_many {executor} ({args.workers} workers, nutpie reused)",
                     "curves": args.curves, "seconds": took, "per_curve_s": took / args.curves,
                     "failed": int((res.status["status"] != "ok").sum()),
                     "curve_cpu_s": float(res.status["seconds"].mean())})
        print(rows[-1], flush=True)

    rss_batch = (rss_mib(), rss_mib(resource.RUSAGE_CHILDREN))

    loop = df[df["task"].isin(sorted(df["task"].unique())[: args.loop])]
    for sampler in ("pymc", "nutpie") if args.loop else ():
        start = time.perf_counter()
        for _task, g in loop.groupby("task"):
            bayescale.fit(g, x="params", y="loss", seed=1, sampler=sampler, progress=False, cores=1, **sampling)
        took = time.perf_counter() - start
        rows.append({"method": f"loop of bayescale.fit ({sampler}, cores=1)", "curves": args.loop,
                     "seconds": took, "per_curve_s": took / args.loop})
        print(rows[-1], flush=True)

    table = pd.DataFrame(rows)
    table["vs_scipy"] = table["per_curve_s"] / scipy_per
    loop_pymc = table.loc[table["method"].str.startswith("loop of bayescale.fit (pymc"), "per_curve_s"]
    if len(loop_pymc):
        table["speedup_vs_fit_loop"] = loop_pymc.iloc[0] / table["per_curve_s"]
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\npeak RSS after the fit_many runs (before the bayescale.fit loop): driver {rss_batch[0]:.0f} MiB, "
          f"largest worker process {rss_batch[1]:.0f} MiB")

    local = results["local"]
    alpha = local.summary[local.summary["parameter"] == "alpha"].set_index("task")
    truth = df.groupby("task")["true_alpha"].first()
    inside = ((alpha["hdi_lower"] <= truth) & (truth <= alpha["hdi_upper"])).mean()
    print(f"true alpha inside the 90% HDI for {inside:.0%} of {len(alpha)} curves")
    if "dask" in results:
        a = local.summary.set_index(["task", "parameter"])
        b = results["dask"].summary.set_index(["task", "parameter"])
        se = a["sd"] / np.sqrt(a["ess_bulk"])
        z = ((a["mean"] - b["mean"]).abs() / se).max()
        same = bool((a["mean"] == b["mean"]).all())
        print(f"Dask vs local: posterior means identical for every curve and parameter: {same}; "
              f"max |difference| / MC standard error = {z:.3g}")


if __name__ == "__main__":
    main()
