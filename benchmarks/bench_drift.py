"""Leave-one-data-set-out calibration of the drift prior, beside least squares and BNSL.

For every data set (a source) of the corpus (``shared/data/corpus`` and the shipped data sets), the
drift prior is learned from the forecast errors of all *other* data sets
(``benchmarks/results/drift/errors_power.csv.gz``, made by ``drift_corpus.py``), never its own. Then
``--curves`` curves per data set (seeded) are cut at ``--split`` of their log-x range and forecast:

* ``bayescale``: the posterior alone (``discrepancy=False``);
* ``bayescale+prior``: widened by the held-out prior (what ``bs.fit`` does by default, no refits);
* ``bayescale+disc``: the held-out prior updated with the data set's own in-sample backtests
  (what ``backtest(discrepancy="learn")`` does);
* ``ls``, ``ls_bootstrap``, ``loglinear``, ``bnsl``: the least-squares baselines.

Prints, per data set, coverage at 0.5 / 0.8 / 0.9 / 0.95, the interval score and RMSLE, and the
MSCE (NSL-PFN: per curve, mean over levels 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99 of (coverage -
level)^2, averaged over curves); pooled over data sets weighted equally, and by distance.

    .venv/bin/python benchmarks/bench_drift.py --curves 20
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
REPORT = (0.5, 0.8, 0.9, 0.95)
OURS = ("bayescale", "bayescale+prior", "bayescale+disc")


def point_table(result) -> pd.DataFrame:
    """One row per (method, held-out point): coverage at every level, log interval score, log error."""
    rows = []
    for (dataset, curve, cutoff), item in result.draws.items():
        y = np.asarray(item["y"], float)
        for method, draws in item["draws"].items():
            draws = np.asarray(draws, float)
            if draws.shape[0] < 2:
                cov = {f"c{int(lv * 100)}": np.full(len(y), np.nan) for lv in LEVELS}
                score = np.full(len(y), np.nan)
            else:
                cov = {}
                for lv in LEVELS:
                    lo, hi = np.quantile(draws, [(1 - lv) / 2, (1 + lv) / 2], axis=0)
                    cov[f"c{int(lv * 100)}"] = ((y >= lo) & (y <= hi)).astype(float)
                lo, hi = np.log(np.maximum(np.quantile(draws, [0.05, 0.95], axis=0), 1e-300))
                ly = np.log(y)
                score = hi - lo + 20 * (np.maximum(lo - ly, 0) + np.maximum(ly - hi, 0))
            med = np.median(draws, axis=0)
            rows.append(pd.DataFrame({"dataset": dataset, "curve": curve, "cutoff": cutoff, "method": method,
                                      "distance": item["distance"], "is90": score,
                                      "log_err": np.log(np.maximum(med, 1e-300)) - np.log(y), **cov}))
    return pd.concat(rows, ignore_index=True)


def summarise(points: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    def stats(g):
        per_curve = g.groupby("curve")[[f"c{int(lv * 100)}" for lv in LEVELS]].mean()
        msce = float(np.mean(np.mean([(per_curve[f"c{int(lv * 100)}"] - lv) ** 2 for lv in LEVELS], axis=0)))
        rmsle = float(np.mean(np.sqrt(g.groupby("curve")["log_err"].apply(lambda e: np.mean(e ** 2)))))
        out = {"curves": g["curve"].nunique(), "points": len(g),
               **{f"cov{int(lv * 100)}": g[f"c{int(lv * 100)}"].mean() for lv in REPORT},
               "is90": g["is90"].mean(), "rmsle_curve": rmsle, "msce": msce,
               "pts_per_curve": len(g) / g["curve"].nunique()}
        return pd.Series(out)

    return points.groupby(by, sort=True)[list(points.columns)].apply(stats).reset_index()


def main(argv=None) -> int:
    from bayescale.core.console import print_table
    from bayescale.workflows.backtest import backtest_datasets
    from bayescale.workflows.drift.corpus import load_corpus
    from bayescale.workflows.drift.learn import leave_one_out

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=20, help="curves scored per data set (seeded)")
    parser.add_argument("--split", type=float, default=0.6)
    parser.add_argument("--errors", default="benchmarks/results/drift/errors_power.csv.gz")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="benchmarks/results/drift")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    errors = pd.read_csv(args.errors)
    from bayescale.laws.drift_prior import load_drift_prior

    kept = out / "lodo_priors"  # learned once per errors file and seed; delete the folder to relearn
    names = sorted(errors["dataset"].unique())
    if all((kept / f"{n}.json").is_file() for n in names):
        priors = {n: load_drift_prior(kept / f"{n}.json") for n in names}
    else:
        priors = leave_one_out(errors, seed=args.seed)
        kept.mkdir(parents=True, exist_ok=True)
        for n, prior in priors.items():
            prior.save(kept / f"{n}.json")
    learn_wall = time.perf_counter() - start
    print(f"learned {len(priors)} leave-one-data-set-out priors in {learn_wall:.0f} s", flush=True)

    corpus = load_corpus(max_curves=args.curves, seed=args.seed)
    metric = corpus.groupby("dataset")["metric"].agg(lambda m: "error" if (m != "loss").mean() > 0.5 else "loss")
    # a data set's metric decides its drift scale; data sets that mix losses and errors are cut by metric
    data = {}
    for (name, kind), frame in corpus.assign(kind=corpus["metric"].where(corpus["metric"] == "loss",
                                                                          "error")).groupby(["dataset", "kind"]):
        label = name if (corpus.loc[corpus["dataset"] == name, "metric"].nunique() == 1) else f"{name}/{kind}"
        data[label] = {"df": frame, "x": "x", "y": "y", "group": "curve", "split": [args.split],
                       "measure": None if kind == "loss" else "error"}
    lodo = {label: priors[label.split("/")[0]] for label in data}
    start = time.perf_counter()
    result = backtest_datasets(data, law="power", discrepancy=True, baselines=True, workers=args.workers,
                               seed=args.seed, keep_draws=1000, drift_prior=lodo)
    bench_wall = time.perf_counter() - start
    points = point_table(result)
    points["source"] = points["dataset"].str.split("/").str[0]
    points.to_csv(out / "lodo_points.csv.gz", index=False)
    per_set = summarise(points, ["dataset", "method"])
    per_set.to_csv(out / "lodo_per_dataset.csv", index=False)
    pd.set_option("display.width", 200)
    shown = per_set[per_set["method"].isin([*OURS, "ls_bootstrap", "bnsl"])]
    print_table(shown, "Leave-one-data-set-out, per data set", index=False, plain=True)
    # pooled with data sets weighted equally: the mean of the per-data-set figures
    pooled = per_set.groupby("method")[[c for c in per_set.columns if c not in ("dataset", "method")]].mean()
    print_table(pooled.reset_index(), "Pooled (data sets weighted equally)", index=False, plain=True)
    bins = pd.cut(points["distance"], [0, 0.25, 1, np.inf], labels=["0-0.25", "0.25-1", ">1"], include_lowest=True)
    by_dist = summarise(points.assign(bin=bins.astype(str)), ["bin", "method"])
    by_dist = by_dist[by_dist["method"].isin(OURS)]
    print_table(by_dist[["bin", "method", "points", "cov50", "cov80", "cov90", "cov95", "is90"]],
                "By distance beyond the data (points pooled)", index=False, plain=True)
    by_dist.to_csv(out / "lodo_by_distance.csv", index=False)
    print(f"\nwall time: priors {learn_wall:.0f} s, forecasts {bench_wall:.0f} s; metric per data set: "
          f"{metric.to_dict()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
