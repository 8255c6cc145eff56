"""Observational scaling on the ObsScaling table: fit time and the paper's held-out protocol.

Fits the Bayesian capability model (NUTS) to the public base-model table (~123 models with
compute x 8 benchmarks), hides a target metric for the models with >= 10B parameters, and
predicts it; the PCA + least-squares baseline of Ruan et al. (2024), re-implemented from
the paper's description, is computed in the same run on the same rows. Prints fit times,
held-out error and the coverage of the 90% intervals, with Bayesian / baseline ratios. A
last fit on the small models alone predicts the large models of known families from their
compute (the PCA baseline cannot: it needs a model's benchmarks).

Each held-out prediction is reported plain and calibrated (``drift_*``: widened by the
target's drift learned by forward chaining over compute inside the training models,
:mod:`bayescale.workflows.observational.drift`; 3 more fits per target). ``--no-discrepancy`` skips it.

    .venv/bin/python benchmarks/bench_observational.py    # GSM8K, an emergent task, GSM8K with CoT
    .venv/bin/python benchmarks/bench_observational.py --targets GSM8K --draws 500 --tune 500
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from bayescale import datasets
from bayescale.core.console import print_table
from bayescale.errors import DataWarning
from bayescale.workflows.observational import holdout, observational

BASE = ["MMLU", "HumanEval", "TruthfulQA", "ARC-C", "HellaSwag", "Winograd", "XWinograd", "GSM8K"]


def table() -> pd.DataFrame:
    base = datasets.load("obsscaling_base")
    emergent = datasets.load("obsscaling_emergent")
    post = datasets.load("obsscaling_post_training")
    return base.merge(emergent, on="Model", how="left").merge(post, on="Model", how="left")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+",
                        default=["GSM8K", "arithmetic_2dm_2_acc", "gsm8k_cot_8_exact_match,flexible-extract"])
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--noise", default="shared", choices=["shared", "pooled", "anchors", "benchmark"])
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cutoff", type=float, default=10.0, help="fit on models below this size (B params)")
    parser.add_argument("--no-discrepancy", action="store_true", help="skip the calibrated (drift) intervals")
    parser.add_argument("--skip-full", action="store_true", help="skip the timing fit on the full table")
    parser.add_argument("--skip-compute-only", action="store_true",
                        help="skip predicting the large models of known families from compute alone")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    drift_on = not args.no_discrepancy
    warnings.simplefilter("ignore", DataWarning)
    df = table()
    sampling = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed, "progress": False,
                "noise": args.noise}
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
        fit, held, scores = holdout(df, target=target, train=train, benchmarks=benchmarks, k=args.k,
                                    discrepancy=drift_on, **sampling)
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
        if drift_on:
            drift, summary = scores.iloc[2], fit.drift[target].summary()
            rows[-1].update({"drift_mae": drift["mae"], "drift_cov90": drift["coverage"],
                             "drift_width": drift["mean_width"], "s0": summary["s0"], "s": summary["s"]})
    if not args.skip_compute_only:
        # a new model of a known family from its compute alone: fit on the small models only
        small = df[train]
        t0 = time.perf_counter()
        fit = observational(small, benchmarks=BASE, k=args.k, **sampling)
        seconds = time.perf_counter() - t0
        diag = fit.diagnostics()
        timing.append({"fit": "small models only (compute-only predictions)", "models": len(fit.data.models),
                       "benchmarks": len(BASE), "missing_cells": int(np.isnan(fit.data.scores).sum()),
                       "seconds": seconds, "max_rhat": diag["max_rhat"], "min_ess_bulk": diag["min_ess_bulk"],
                       "divergences": diag["divergences"]})
        large = df[~train & df["FLOPs (1E21)"].notna() & df["Model Family"].isin(fit.data.families)]
        truth = large.melt(id_vars="Model", value_vars=BASE, var_name="benchmark", value_name="truth")
        preds = {flag: fit.predict(large, prob=0.9, benchmarks=["GSM8K", "MMLU"], discrepancy=flag).merge(
            truth, left_on=["model", "benchmark"], right_on=["Model", "benchmark"]).dropna(subset=["truth"])
            for flag in ([False, True] if drift_on else [False])}
        pred = preds[False]
        for target in ("GSM8K", "MMLU"):
            p = pred[pred["benchmark"] == target]
            inside = (p["lower"] <= p["truth"]) & (p["truth"] <= p["upper"])
            if drift_on:
                q = preds[True][preds[True]["benchmark"] == target]
                q_inside = (q["lower"] <= q["truth"]) & (q["truth"] <= q["upper"])
                summary = fit.drift[target].summary()
                extra = {"drift_mae": float((q["mean"] - q["truth"]).abs().mean()),
                         "drift_cov90": float(q_inside.mean()), "drift_width": float((q["upper"] - q["lower"]).mean()),
                         "s0": summary["s0"], "s": summary["s"]}
            else:
                extra = {}
            rows.append({"target": f"{target} (compute + family only)", "n_held_out": len(p),
                         "bayes_mae": float((p["mean"] - p["truth"]).abs().mean()), "pca_mae": np.nan,
                         "mae_ratio": np.nan, "bayes_rmse": float(np.sqrt(((p["mean"] - p["truth"]) ** 2).mean())),
                         "pca_rmse": np.nan, "bayes_cov90": float(inside.mean()), "pca_cov90": np.nan,
                         "bayes_width": float((p["upper"] - p["lower"]).mean()), "pca_width": np.nan, **extra})
        timing[-1]["seconds"] = time.perf_counter() - t0  # with the drift's refits
    print_table(pd.DataFrame(timing), "Fit time (this machine) and sampler diagnostics", index=False, plain=True)
    print_table(pd.DataFrame(rows), f"Held-out models >= {args.cutoff:g}B: Bayesian capability model vs PCA + "
                "least squares (mae_ratio < 1: Bayesian better; cov90: share of truths inside the 90% interval)",
                index=False, plain=True)
    print(f"wall time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
