"""Does stacking power and broken laws cover a bending truth far out more often than the power law alone?

    .venv/bin/python benchmarks/coverage_breaks.py [--datasets 6] [--draws 300] [--tune 300]

Simulates curves from a smoothly broken power law whose break (exponent 0.35 -> 0.1) sits
near the end of the observed range, 1e6..1e10, so the data show only the start of the bend;
fits the power law and the stacked power + broken laws to each; and scores the 90% interval
of the mean curve at 1e12 (two decades out) against the true curve: coverage, mean width,
and the interval score (width + 2 / 0.1 x miss distance; lower is better).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.laws.formulas import smoothly_broken_power_law

TARGET = 1e12


def truth(x):
    return smoothly_broken_power_law(np.asarray(x, dtype=float), 1.0, 200.0, 0.35, [-0.25], [3e9], [0.4])


def score(lower: float, upper: float, value: float, level: float = 0.9) -> float:
    miss = max(lower - value, 0.0) + max(value - upper, 0.0)
    return (upper - lower) + 2 / (1 - level) * miss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=6)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=300)
    args = parser.parse_args()
    rows = []
    true = float(truth([TARGET])[0])
    start = time.perf_counter()
    for seed in range(args.datasets):
        rng = np.random.default_rng(seed)
        x = np.logspace(6, 10, 25)
        df = pd.DataFrame({"x": x, "y": truth(x) * np.exp(0.02 * rng.standard_normal(x.size))})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stacked = bs.fit(df, law=["power", "broken"], x="x", y="y", draws=args.draws, tune=args.tune,
                             chains=2, seed=seed, progress=False)
        pred = stacked.predict([TARGET], kind="mean", by_law=True).set_index("law")
        for law in ("power", "stacked"):
            lo, hi = float(pred.loc[law, "lower"]), float(pred.loc[law, "upper"])
            rows.append({"dataset": seed, "law": law, "covered": lo <= true <= hi, "width": hi - lo,
                         "interval_score": score(lo, hi, true), "weight_broken": float(stacked.weights["broken"])})
    table = pd.DataFrame(rows)
    summary = table.groupby("law").agg(coverage=("covered", "mean"), mean_width=("width", "mean"),
                                       mean_interval_score=("interval_score", "mean"))
    print(f"{args.datasets} datasets, truth at {TARGET:.0e} = {true:.3f}, "
          f"mean stacking weight on broken {table['weight_broken'].mean():.2f}, {time.perf_counter() - start:.0f} s")
    print(summary.to_string(float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
