"""Time bayescale fits against scipy least squares with a 1000-resample bootstrap, same data, same run.

    ./dev python benchmarks/bench_fit.py [--draws 1000] [--chains 4] [--sampler pymc]

The first fit in a process pays graph compilation (the C modules are cached on disk after the
very first run on a machine); the repeat fit shows the cost without it. Prints one table: wall
time, ESS per second (min bulk ESS over the parameters / wall time), max r_hat and divergences
for bayescale, wall time of the bootstrap baseline, and their ratio; plus the import time of
``bayescale`` and of ``bayescale --help``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

import bayescale as bs
from bayescale.simulate import power_law_data


def lsq_bootstrap(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Shared-exponent least squares on log y (E, alpha, log A_g), refitted on 1000 row resamples."""
    codes, groups = pd.factorize(df["group"])
    x, y = df["params"].to_numpy(), df["loss"].to_numpy()
    lx = np.log(x / np.exp(np.log(x).mean()))

    def residuals(theta, idx):
        log_e, log_alpha, *log_a = theta
        mean = np.exp(log_e) + np.exp(np.asarray(log_a)[codes[idx]] - np.exp(log_alpha) * lx[idx])
        return np.log(mean) - np.log(y[idx])

    start = np.r_[np.log(y.min() / 2), np.log(0.3), np.zeros(len(groups))]
    rng = np.random.default_rng(seed)
    everything = np.arange(len(y))
    best = least_squares(residuals, start, args=(everything,)).x
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        draws.append(least_squares(residuals, best, args=(idx,)).x)
    return np.asarray(draws)


def time_import(code: list[str]) -> float:
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(code, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--sampler", default="pymc")
    args = parser.parse_args()

    cases = {
        "1 curve x 20 points": power_law_data(offsets=(400.0,), n=20, seed=1),
        "10 groups x 15 points": power_law_data(offsets=tuple(np.geomspace(200, 2000, 10)), n=15, seed=2),
    }
    rows = []
    for name, df in cases.items():
        group = "group" if df["group"].nunique() > 1 else None
        for run in ("first", "repeat"):
            start = time.perf_counter()
            fit = bs.fit(df, x="params", y="loss", group=group, draws=args.draws, tune=args.tune,
                         chains=args.chains, sampler=args.sampler, seed=7, progress=False)
            wall = time.perf_counter() - start
            d = fit.diagnostics()
            rows.append({"case": name, "method": f"bayescale ({args.sampler}, {run} fit in process)",
                         "wall_s": wall, "ess_bulk_per_s": d["min_ess_bulk"] / wall, "max_r_hat": d["max_r_hat"],
                         "divergences": d["divergences"]})
        start = time.perf_counter()
        lsq_bootstrap(df)
        boot = time.perf_counter() - start
        rows.append({"case": name, "method": "scipy least_squares + 1000 bootstrap", "wall_s": boot,
                     "ess_bulk_per_s": np.nan, "max_r_hat": np.nan, "divergences": np.nan})
        for row in rows[-3:-1]:
            row["ratio_to_bootstrap"] = row["wall_s"] / boot
    table = pd.DataFrame(rows)
    python = sys.executable
    imports = pd.DataFrame([
        {"what": "import bayescale", "seconds": time_import([python, "-c", "import bayescale"])},
        {"what": "bayescale --help", "seconds": time_import([python, "-m", "bayescale.cli", "--help"])},
        {"what": "import pymc (for scale)", "seconds": time_import([python, "-c", "import pymc"])},
    ])
    pd.set_option("display.width", 200)
    print(f"draws={args.draws} tune={args.tune} chains={args.chains} sampler={args.sampler}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    print(imports.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
