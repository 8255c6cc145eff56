"""Observational scaling on the ObsScaling table: fit time and the paper's held-out protocol.

Fits the Bayesian capability model (NUTS) to the public base-model table (~123 models with
compute x 8 benchmarks), hides a target metric for the models with >= 10B parameters, and
predicts it; the PCA + least-squares baseline of Ruan et al. (2024), re-implemented from
the paper's description, is computed in the same run on the same rows. Prints fit times,
held-out error and the coverage of the 90% intervals, with Bayesian / baseline ratios.

    .venv/bin/python benchmarks/bench_observational.py                  # GSM8K + an emergent task
    .venv/bin/python benchmarks/bench_observational.py --targets GSM8K --draws 500 --tune 500
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from bayescale import datasets
from bayescale.console import print_table
from bayescale.errors import DataWarning
from bayescale.observational import holdout, observational

BASE = ["MMLU", "HumanEval", "TruthfulQA", "ARC-C", "HellaSwag", "Winograd", "XWinograd", "GSM8K"]


def table() -> pd.DataFrame:
    base = datasets.load("obsscaling_base")
    emergent = datasets.load("obsscaling_emergent")
    return base.merge(emergent, on="Model", how="left")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", default=["GSM8K", "arithmetic_2dm_2_acc"])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cutoff", type=float, default=10.0, help="fit on models below this size (B params)")
    parser.add_argument("--skip-full", action="store_true", help="skip the timing fit on the full table")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", DataWarning)
    df = table()
    sampling = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed, "progress": False}
    timing = []
    if not args.skip_full:
        t0 = time.perf_counter()
        fit = observational(df, benchmarks=BASE, k=args.k, **sampling)
        seconds = time.perf_counter() - t0
        diag = fit.diagnostics()
        timing.append({"fit": f"full table, NUTS, k={args.k}", "models": len(fit.data.models),
                       "benchmarks": len(BASE), "missing_cells": int(np.isnan(fit.data.scores).sum()),
                       "seconds": seconds, "max_rhat": diag["max_rhat"], "min_ess_bulk": diag["min_ess_bulk"],
                       "divergences": diag["divergences"]})
        print_table(fit.efficiencies().head(8), "Family efficiency (mean logit at the geometric-mean compute)",
                    index=False, plain=True)
    rows = []
    train = (df["Model Size (B)"] < args.cutoff).to_numpy()
    for target in args.targets:
        benchmarks = BASE if target in BASE else [*BASE, target]
        if target in BASE:  # the target is never an anchor: move it last
            benchmarks = [b for b in BASE if b != target] + [target]
        t0 = time.perf_counter()
        fit, held, scores = holdout(df, target=target, train=train, benchmarks=benchmarks, k=args.k, **sampling)
        seconds = time.perf_counter() - t0
        diag = fit.diagnostics()
        timing.append({"fit": f"held-out {target}", "models": len(fit.data.models), "benchmarks": len(benchmarks),
                       "missing_cells": int(np.isnan(fit.data.scores).sum()), "seconds": seconds,
                       "max_rhat": diag["max_rhat"], "min_ess_bulk": diag["min_ess_bulk"],
                       "divergences": diag["divergences"]})
        bayes, pca = scores.iloc[0], scores.iloc[1]
        rows.append({"target": target, "n_held_out": int(bayes["n"]),
                     "bayes_mae": bayes["mae"], "pca_mae": pca["mae"], "mae_ratio": bayes["mae"] / pca["mae"],
                     "bayes_rmse": bayes["rmse"], "pca_rmse": pca["rmse"],
                     "bayes_cov90": bayes["coverage"], "pca_cov90": pca["coverage"],
                     "bayes_width": bayes["mean_width"], "pca_width": pca["mean_width"]})
    print_table(pd.DataFrame(timing), "Fit time (this machine) and sampler diagnostics", index=False, plain=True)
    print_table(pd.DataFrame(rows), f"Held-out models >= {args.cutoff:g}B: Bayesian capability model vs PCA + "
                "least squares (mae_ratio < 1: Bayesian better; cov90: share of truths inside the 90% interval)",
                index=False, plain=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
