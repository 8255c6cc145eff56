"""Broken power law (30 points) and sigmoid emergence (15 models): bayescale NUTS against BNSL-style
scipy least squares from a grid of starts, on the same simulated data in the same run.

    .venv/bin/python benchmarks/bench_breaks.py [--draws 1000] [--tune 1000] [--chains 2] [--seed 0]

Prints one table: wall time, ESS per second (min bulk ESS over the parameters / wall time),
divergences and max r_hat for bayescale; wall time and number of starts of the least-squares
grid; the ratio of wall times; and what each method says about the quantity that matters
(break location, or the midpoint of the emergence) against the truth. Least squares gives a
point only; bayescale gives the 90% interval.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.special import expit

import bayescale as bs
from bayescale.laws.formulas import smoothly_broken_power_law

TRUE_BREAK = 1e8
TRUE_MIDPOINT = 1e23


def broken_data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 10, 30)
    y = smoothly_broken_power_law(x, 1.0, 300.0, 0.05, [0.4], [TRUE_BREAK], [0.3])
    return pd.DataFrame({"x": x, "y": y * np.exp(0.02 * rng.standard_normal(x.size))})


def sigmoid_data(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(20, 24, 15)
    p = 0.05 + 0.8 * expit(1.5 * (np.log(x) - np.log(TRUE_MIDPOINT)))
    return pd.DataFrame({"flops": x, "accuracy": rng.binomial(n, p) / n, "n": n})


def lsq_broken(df: pd.DataFrame):
    """BNSL's recipe: least squares on log y from a grid of starts, keep the lowest cost."""
    x, y = df["x"].to_numpy(), df["y"].to_numpy()

    def residuals(t):
        log_a, log_b, c0, c1, log_d, log_f = t
        with np.errstate(over="ignore", invalid="ignore"):
            pred = smoothly_broken_power_law(x, np.exp(log_a), np.exp(log_b), c0, [c1], [np.exp(log_d)],
                                             [np.exp(log_f)])
        return np.log(np.clip(pred, 1e-300, None)) - np.log(y)

    lx = np.log(x)
    grid = itertools.product(
        [np.log(y.min() / 10), np.log(y.min() / 2)], [np.log(y.max())], [0.0, 0.2, 0.5], [-0.2, 0.2, 0.5],
        np.linspace(lx.min(), lx.max(), 5), [np.log(0.1), np.log(1.0)],
    )
    best, starts = None, 0
    for start in grid:
        starts += 1
        try:
            r = least_squares(residuals, np.array(start, dtype=float), max_nfev=2000)
        except (ValueError, FloatingPointError):
            continue
        if best is None or r.cost < best.cost:
            best = r
    return float(np.exp(best.x[4])), starts


def lsq_sigmoid(df: pd.DataFrame):
    x, y = np.log(df["flops"].to_numpy()), df["accuracy"].to_numpy()

    def residuals(t):
        lo, hi, log_k, mid = t
        return lo + (hi - lo) * expit(np.exp(log_k) * (x - mid)) - y

    grid = itertools.product([0.0, 0.1], [0.5, 1.0], [np.log(0.5), np.log(2.0), np.log(5.0)],
                             np.linspace(x.min(), x.max(), 6))
    best, starts = None, 0
    for start in grid:
        starts += 1
        r = least_squares(residuals, np.array(start, dtype=float), max_nfev=2000)
        if best is None or r.cost < best.cost:
            best = r
    return float(np.exp(best.x[3])), starts


def bayes(df, law, key, **kwargs):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bs.fit(df, law=law, progress=False, **kwargs)
    wall = time.perf_counter() - start
    d = fit.diagnostics()
    s = fit.summary()
    row = s.loc[key]
    return fit, wall, d, row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sampling = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
    rows = []

    cases = [
        ("broken, 30 points", TRUE_BREAK, broken_data(args.seed), lsq_broken, "broken", "break_x[break_1]",
         {"x": "x", "y": "y"}),
        ("sigmoid, 15 models (n=200)", TRUE_MIDPOINT, sigmoid_data(args.seed), lsq_sigmoid, "sigmoid", "midpoint_x",
         {"x": "flops", "y": "accuracy", "trials": "n"}),
    ]
    for case, truth, df, fit_ls, law, key, columns in cases:
        _, wall, d, row = bayes(df, law, key, **columns, **sampling)
        start = time.perf_counter()
        lsq_point, starts = fit_ls(df)
        lsq_wall = time.perf_counter() - start
        rows.append({
            "case": case, "truth": truth, "bayes_wall_s": wall,
            "ess_per_s": d["min_ess_bulk"] / wall, "divergences": d["divergences"], "max_r_hat": d["max_r_hat"],
            "bayes_mean": row["mean"], "bayes_90_lower": row["hdi_lower"], "bayes_90_upper": row["hdi_upper"],
            "lsq_wall_s": lsq_wall, "lsq_starts": starts, "lsq_point": lsq_point, "time_ratio": wall / lsq_wall,
        })
    table = pd.DataFrame(rows).set_index("case")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3g}".format):
        print(f"bayescale {args.chains} chains x {args.draws} draws (+{args.tune} tune) vs least squares, "
              f"seed {args.seed}")
        print(table.T.to_string())


if __name__ == "__main__":
    main()
