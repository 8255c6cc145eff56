"""Benchmark: Chinchilla extrapolation in compute, plain posterior vs the drift prior vs the learned discrepancy.

The bundled runs (Besiroglu et al. 2024) sorted by their ``compute`` column; the law is fitted
on the lowest ``split`` of them and scored on the rest: coverage of the 90% predictive
intervals, RMSLE of the predictive median, median log width of the intervals (log upper/lower),
and wall time (calibrated = the plain fit plus the forward-chaining refits that learn ``s``;
:mod:`bayescale.fitting.chinchilla_drift`), after one warm-up fit that compiles the model. Only the
fitted runs inform ``s``. The last table is a diagnostic, not a method: the smallest ``s`` on a
grid at which the held-out runs themselves would be covered at 90%.

Run: ``.venv/bin/python benchmarks/bench_chinchilla_holdout.py [--draws 500 --chains 4 --seed 3
--distance compute axes --splits 0.7 0.85]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.fitting.chinchilla_drift import learn


def score(pred: pd.DataFrame, y: np.ndarray) -> dict:
    inside = (y >= pred["lower"].to_numpy()) & (y <= pred["upper"].to_numpy())
    return {"coverage_90": float(inside.mean()),
            "rmsle": float(np.sqrt(np.mean((np.log(pred["median"].to_numpy()) - np.log(y)) ** 2))),
            "median_log_width": float(np.median(np.log(pred["upper"] / pred["lower"])))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--splits", type=float, nargs="+", default=[0.7, 0.85])
    parser.add_argument("--distance", nargs="+", choices=["compute", "axes"], default=["compute", "axes"])
    parser.add_argument("--cuts", type=float, nargs="+", default=None, help="forward-chaining cuts (fractions)")
    parser.add_argument("--drift-prior", default="benchmarks/results/drift/lodo_priors/chinchilla.json",
                        help="the drift prior of the default forecast: by default the one learned without Chinchilla "
                             "(leave one data set out; benchmarks/bench_drift.py)")
    args = parser.parse_args(argv)

    df = bs.datasets.load("chinchilla").sort_values("compute", kind="stable").reset_index(drop=True)
    with warnings.catch_warnings():  # compile once, outside the timings
        warnings.simplefilter("ignore")
        bs.fit(df.iloc[:60], law="chinchilla", x=["params", "tokens"], y="loss", draws=50, tune=50, chains=1,
               seed=0, progress=False)
    rows, learned, oracle = [], [], []
    for split in args.splits:
        k = int(split * len(df))
        train, test = df.iloc[:k], df.iloc[k:]
        points = {"params": test["params"].to_numpy(), "tokens": test["tokens"].to_numpy()}
        y = test["loss"].to_numpy()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bs.fit(train, law="chinchilla", x=["params", "tokens"], y="loss", draws=args.draws,
                         tune=args.tune, chains=args.chains, seed=args.seed, progress=False,
                         drift_prior=args.drift_prior)
        t_plain = time.perf_counter() - t0
        base = {"split": split, "n_fit": k, "n_test": len(test)}
        rows.append({**base, "method": "plain", **score(fit.predict(points, discrepancy=False), y),
                     "seconds": t_plain})
        rows.append({**base, "method": "drift prior (default, held out)", **score(fit.predict(points), y),
                     "seconds": t_plain})
        needed = next((s for s in np.arange(0.0, 0.0501, 0.001)
                       if score(fit.predict(points, discrepancy=s), y)["coverage_90"] >= 0.9), np.nan)
        oracle.append({**base, "s_needed_compute": needed})
        for kind in args.distance:
            t0 = time.perf_counter()
            table = learn(fit, distance=kind, cuts=args.cuts)
            t_learn = time.perf_counter() - t0
            learned.append({**base, **table.iloc[0].to_dict()})
            pred = fit.predict(points, discrepancy=True)
            rows.append({**base, "method": f"calibrated ({kind})", **score(pred, y), "seconds": t_plain + t_learn})
    pd.set_option("display.width", 200)
    out = pd.DataFrame(rows)
    out["time_ratio"] = out["seconds"] / out.groupby("split")["seconds"].transform("first")
    print(f"Chinchilla runs sorted by compute; {args.chains} chains x {args.draws} draws, seed {args.seed}\n")
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\nLearned s (sd of log loss per decade beyond the fitted runs)")
    print(pd.DataFrame(learned).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\nDiagnostic (uses the held-out runs): smallest s, compute distance, covering them at 90%")
    print(pd.DataFrame(oracle).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
