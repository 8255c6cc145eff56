"""Backtest bayescale's forecasts on every bundled real dataset with a scale axis, beside least squares.

Fits the small-scale part of each curve and scores the held-out large-scale part, for bayescale
(``bayescale``; and ``bayescale+disc`` with the distance-growing discrepancy learned from in-sample
backtests) and, on the same splits, the least-squares power law (``ls``, point), its 1000-resample
residual bootstrap (``ls_bootstrap``), a log-log line with its t interval (``loglinear``) and the
smoothly broken power law by least squares from a grid of starts (``bnsl``, point).

    .venv/bin/python benchmarks/bench_backtest.py                 # all data, 2 workers
    .venv/bin/python benchmarks/bench_backtest.py --quick         # a few curves per dataset
    .venv/bin/python benchmarks/bench_backtest.py --datasets datablations_long   # one dataset

Datasets and splits (main split first; OLMo and datablations also a rolling origin at 40% and 80%):

* ``olmo``: OLMo per-domain validation loss vs training step, curve = (model, domain), fit on the
  first 60% of each curve's log-step range.
* ``opt``: OPT BIG-bench error rate (1 - accuracy) vs tokens, curve = (subtask, model size), 60%.
* ``datablations``: data-constrained loss vs tokens, curve = (epochs, seed), 60%.
* ``obsscaling``: benchmark error (1 - score) vs training FLOPs within a model family, curve =
  (family, benchmark), fit on the models under 10B parameters (the paper's split), as a train column.
* ``chinchilla``: loss vs tokens at fixed model size (sizes with >= 6 runs), 60%.
* ``datablations_long``: the 48 long learning curves of the bundled ``datablations`` data (they bend,
  flatten and, under heavy repetition, turn back up): loss vs tokens seen, curve = (data, num_params,
  epochs, tokens_per_epoch), 60% (and a rolling origin at 40% and 80%).

With ``--law auto`` the two error rates (``opt``, ``obsscaling``) are declared ``measure="error"``, as a
user who knows the metric would, so that a curve whose error rises by chance is not read as an accuracy.

Writes ``points.csv``, ``summary.csv``, ``table.csv``, ``per_curve.csv``, ``by_distance.csv``,
``failures.csv``, ``calibration.png`` and ``error_vs_distance.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import pandas as pd

MAIN = "main"


def olmo() -> dict:
    from bayescale import datasets

    return {"df": datasets.load("olmo_domains"), "x": "step", "y": "loss", "group": ["model", "domain"],
            "split": [0.6, 0.4, 0.8]}


def opt() -> dict:
    from bayescale import datasets

    df = datasets.load("opt_bigbench")
    df["error"] = 1 - df["accuracy"] / 100
    # an error rate, some of whose curves rise: law="auto" is told so (measure), not left to guess
    return {"df": df, "x": "tokens", "y": "error", "group": ["subtask", "model"], "split": [0.6], "measure": "error"}


def datablations() -> dict:
    from bayescale import datasets

    return {"df": datasets.load("datablations_code"), "x": "token_num", "y": "loss", "group": ["epochs", "seed"],
            "split": [0.6, 0.4, 0.8]}


def obsscaling() -> dict:
    from bayescale import datasets

    base = datasets.load("obsscaling_base").dropna(subset=["FLOPs (1E21)"])
    benchmarks = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"]
    df = base.melt(id_vars=["Model", "Model Family", "Model Size (B)", "FLOPs (1E21)"], value_vars=benchmarks,
                   var_name="benchmark", value_name="score").dropna(subset=["score"])
    df["error"] = 1 - df["score"]
    df["train"] = df["Model Size (B)"] < 10
    # a family is a curve only if it has >= 3 distinct training scales and at least one held-out model
    counts = df.groupby(["Model Family", "benchmark"]).apply(
        lambda g: pd.Series({"n_train": g.loc[g["train"], "FLOPs (1E21)"].nunique(), "n_test": (~g["train"]).sum()}),
        include_groups=False)
    keep = counts[(counts["n_train"] >= 3) & (counts["n_test"] >= 1)].index
    df = df.set_index(["Model Family", "benchmark"]).loc[keep].reset_index()
    return {"df": df, "x": "FLOPs (1E21)", "y": "error", "group": ["Model Family", "benchmark"],
            "split": ["column:train"], "measure": "error"}


def chinchilla() -> dict:
    from bayescale import datasets

    df = datasets.load("chinchilla")
    df["size"] = df["params"].map(lambda v: float(f"{v:.3g}"))
    sizes = df["size"].value_counts()
    df = df[df["size"].isin(sizes[sizes >= 6].index)]
    return {"df": df, "x": "tokens", "y": "loss", "group": "size", "split": [0.6]}


def datablations_long() -> dict:
    from bayescale import datasets

    return {"df": datasets.load("datablations"), "x": "token_num", "y": "loss",
            "group": ["data", "num_params", "epochs", "tokens_per_epoch"], "split": [0.6, 0.4, 0.8]}


DATASETS = {"olmo": olmo, "opt": opt, "datablations": datablations, "obsscaling": obsscaling,
            "chinchilla": chinchilla, "datablations_long": datablations_long}


def quick(spec: dict, n: int = 3) -> dict:
    group = spec["group"] if isinstance(spec["group"], list) else [spec["group"]]
    keys = spec["df"][group].drop_duplicates().head(n)
    return {**spec, "df": spec["df"].merge(keys, on=group), "split": spec["split"][:1]}


MD_METRICS = ("coverage50", "coverage80", "coverage90", "width90", "interval_score90", "crps_log", "rmsle",
              "abs_rel_err", "n_points")


def markdown(table: pd.DataFrame) -> str:
    """A plain Markdown table (numbers to 3 significant digits)."""
    def cell(v):
        return "" if isinstance(v, float) and v != v else f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from bayescale.core.console import print_table
    from bayescale.workflows.backtest import BacktestResult, backtest_datasets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/backtest", help="folder for tables and figures")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 curves per dataset, main split only")
    parser.add_argument("--curves", type=int, default=3, help="curves per dataset with --quick")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--no-discrepancy", action="store_true")
    parser.add_argument("--law", nargs="+", default=["power"],
                        help="bayescale's law: power (default), broken, several to stack, or auto")
    parser.add_argument("--store", help="keep every fit's draws in this folder (crash-safe; with --resume, reuse them)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    load_before = os.getloadavg()
    start = time.perf_counter()
    data = {}
    for name in args.datasets:
        spec = DATASETS[name]()
        data[name] = quick(spec, args.curves) if args.quick else spec
    law = args.law[0] if len(args.law) == 1 else args.law
    if law != "auto":  # measure= only chooses the candidates of law="auto"
        data = {name: {k: v for k, v in item.items() if k != "measure"} for name, item in data.items()}
    # one pool for every dataset: each worker compiles the model once
    result = backtest_datasets(data, law=law, draws=args.draws, tune=args.tune, chains=2,
                               discrepancy=not args.no_discrepancy, workers=args.workers, seed=2026,
                               out=args.store, resume=args.resume)
    print(f"{result!r}\ndiscrepancy s per dataset:\n{result.discrepancy_support.to_string(index=False)}", flush=True)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    out = result.save(args.out)

    pd.set_option("display.width", 200)
    table = result.table()
    print_table(table, "Backtest per dataset and cutoff (methods as columns)", index=False, plain=True)
    main_cutoffs = {"frac:0.6", "column:train"}
    primary = result.points[result.points["cutoff"].isin(main_cutoffs)]
    overall = BacktestResult(primary.assign(dataset="all"), result.failures).table(by=("dataset",))
    overall.to_csv(Path(out) / "overall.csv", index=False)
    print_table(overall, "Overall, main split of every dataset", index=False, plain=True)
    by_distance = result.by_distance(by=())
    print_table(by_distance[["distance_bin", "method", "n_points", "coverage90", "width90", "rmsle"]],
                "By extrapolation distance (all cutoffs)", index=False, plain=True)
    if len(result.failures):
        print(f"\n{len(result.failures)} failures recorded (failures.csv); first ones:")
        print(result.failures.head(10).to_string(index=False))

    # goals
    summary = BacktestResult(primary, result.failures).summary(by=("dataset",))
    ours = "bayescale+disc" if "bayescale+disc" in set(summary["method"]) else "bayescale"
    o = overall.set_index("metric")
    print("\nGoals (main split):")
    cov = {m: o.loc["coverage90", m] for m in (ours, "bayescale", "ls_bootstrap", "loglinear")}
    print("  overall 90% coverage: " + ", ".join(f"{m} {v:.3f}" for m, v in cov.items()) + " (goal 0.85-0.95)")
    worst = summary[summary["method"] == ours].set_index("dataset")["coverage90"]
    print(f"  lowest dataset 90% coverage ({ours}): {worst.min():.3f} on {worst.idxmin()} (goal >= 0.75)")
    point = ("ls", "ls_bootstrap", "loglinear", "bnsl", "bnsl_signed")
    best_ls = min(o.loc["rmsle", m] for m in point if m in o.columns)
    print(f"  RMSLE of the median: {ours} {o.loc['rmsle', ours]:.4f}, bayescale {o.loc['rmsle', 'bayescale']:.4f}, "
          f"best least squares {best_ls:.4f} (ratio {o.loc['rmsle', 'bayescale'] / best_ls:.2f})")
    print(f"\nwall time {wall:.0f} s on {os.cpu_count()} cores, {args.workers} workers; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")

    fig = result.plot_calibration(title="Calibration, all datasets and cutoffs")
    fig.savefig(Path(out) / "calibration.png", dpi=120)
    fig = result.plot_error()
    fig.savefig(Path(out) / "error_vs_distance.png", dpi=120)
    (Path(out) / "table.md").write_text(markdown(result.table(metrics=MD_METRICS)) + "\n\nOverall (main split):\n\n"
                                        + markdown(BacktestResult(primary.assign(dataset="all"), result.failures)
                                                   .table(by=("dataset",), metrics=MD_METRICS)) + "\n")
    print(f"wrote {out}/ (tables as CSV and table.md, calibration.png, error_vs_distance.png)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
