"""Backtest law='auto' with and without the turning law, and BNSL against signed BNSL, on curves that turn.

Curves with a turn are chosen from the *full* curves before any fit: split each curve at 60% of
its log-x range; it turns when a held-out point rises above the lowest log y before it by more
than ``3 * sqrt(2)`` times the curve's noise (:func:`bayescale.fitting.stacking.rise_above_minimum`)
and a second held-out point rises by more than the noise sd. The list is written to
``benchmarks/results/turning_curves.csv`` (``--list`` only writes it). Data sets: the bundled
``datablations`` learning curves (heavy repetition turns up), Porian et al.'s isoFLOP curves (loss
against parameters at fixed compute) and LCDB 1.1 curves (error against training-set size, read
with ``measure="error"``), from ``../shared/data/corpus/``.

Each run fits a seeded subsample of ``--per-set`` turning curves per data set (2 chains x 300
draws) on the rows up to the split and scores the held-out rows: mean per-curve RMSLE of the
median and 90% coverage per method: ``auto`` (power, broken and, where the fitted rows show a turn,
turning), ``auto_noturn`` (power and broken only), ``turning`` alone, ``bnsl`` and ``bnsl_signed``
(point forecasts). It also prints, for each Porian and LCDB curve, the turning law's minimum (fitted
to the full curve) with its 90% interval against the data's argmin.

    nice -n 10 ./dev python benchmarks/bench_turning.py --per-set 3 --seed 0
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus"
LIST = Path(__file__).resolve().parent / "results" / "turning_curves.csv"
SPLIT = 0.6
SAMPLING = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}
MIN_POINTS = 8


def data_sets() -> dict[str, dict]:
    from bayescale import datasets

    dbl = datasets.load("datablations")
    dbl["curve"] = dbl[["data", "num_params", "epochs", "tokens_per_epoch"]].astype(str).agg("|".join, axis=1)
    por = pd.read_csv(CORPUS / "porian_isoflop.csv.gz")
    lcdb = pd.read_csv(CORPUS / "lcdb11_val_even.csv.gz")
    return {
        "datablations": {"df": dbl, "x": "token_num", "y": "loss", "curve": "curve", "measure": None},
        "porian_isoflop": {"df": por, "x": "x", "y": "y", "curve": "curve_id", "measure": None},
        "lcdb": {"df": lcdb[lcdb["y"] > 0], "x": "x", "y": "y", "curve": "curve_id", "measure": "error"},
    }


def split_mask(x: np.ndarray) -> np.ndarray:
    lx = np.log(x)
    return lx <= lx.min() + SPLIT * (lx.max() - lx.min()) + 1e-12


def turning_curves(sets: dict) -> pd.DataFrame:
    """The curves whose held-out part rises above their minimum by more than their noise (full curves, no fit)."""
    from bayescale.fitting.stacking import TURN_NOISES, rise_above_minimum

    rows = []
    for name, spec in sets.items():
        df = spec["df"]
        for key, c in df.groupby(spec["curve"], sort=True):
            c = c.sort_values(spec["x"])
            x, y = c[spec["x"]].to_numpy(float), c[spec["y"]].to_numpy(float)
            train = split_mask(x)
            if len(x) < MIN_POINTS or train.sum() < 6 or (~train).sum() < 2:
                continue
            rise, s = rise_above_minimum(x, np.log(y))
            held = np.sort(rise[~train])
            if held[-1] > TURN_NOISES * np.sqrt(2) * s and held[-2] > s:
                rows.append({"dataset": name, "curve": key, "n_points": len(x), "n_train": int(train.sum()),
                             "rise_log": float(held[-1]), "noise": s})
    return pd.DataFrame(rows)


def rmsle(draws: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.log(np.median(draws, axis=0)) - np.log(y)) ** 2)))


def coverage(draws: np.ndarray, y: np.ndarray) -> float:
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    return float(np.mean((y >= lo) & (y <= hi)))


def backtest_curve(c: pd.DataFrame, spec: dict, seed: int) -> list[dict]:
    import bayescale as bs
    from bayescale.workflows import baselines

    x, y = c[spec["x"]].to_numpy(float), c[spec["y"]].to_numpy(float)
    train = split_mask(x)
    frame = pd.DataFrame({"x": x[train], "y": y[train]})
    out = []
    laws = {"auto": "auto", "auto_noturn": ["power", "broken"], "turning": "turning"}
    for method, law in laws.items():
        start = time.perf_counter()
        extra = {"measure": spec["measure"]} if law == "auto" and spec["measure"] else {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = bs.fit(frame, law=law, x="x", y="y", seed=seed, **SAMPLING, **extra)
                draws = fit.predictive_draws(x[~train], fit.data.groups[0])
            diag = fit.diagnostics()
            weight = float(fit.weights.get("turning", 0.0)) if hasattr(fit, "weights") else np.nan
            out.append({"method": method, "rmsle": rmsle(draws, y[~train]), "coverage90": coverage(draws, y[~train]),
                        "max_r_hat": diag["max_r_hat"], "divergences": diag["divergences"],
                        "turning_weight": weight, "seconds": time.perf_counter() - start})
        except Exception as exc:  # noqa: BLE001 - a failed fit is a result
            out.append({"method": method, "error": f"{type(exc).__name__}: {exc}"})
    for method, fn in (("bnsl", baselines.bnsl_point), ("bnsl_signed", baselines.bnsl_signed_point)):
        try:
            out.append({"method": method, "rmsle": rmsle(fn(x[train], y[train], x[~train]), y[~train])})
        except Exception as exc:  # noqa: BLE001
            out.append({"method": method, "error": f"{type(exc).__name__}: {exc}"})
    return out


def minimum_check(c: pd.DataFrame, spec: dict, seed: int) -> dict:
    """The turning law's minimum on the full curve against the data's argmin."""
    import bayescale as bs

    frame = pd.DataFrame({"x": c[spec["x"]].to_numpy(float), "y": c[spec["y"]].to_numpy(float)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bs.fit(frame, law="turning", x="x", y="y", seed=seed, **SAMPLING)
    turns = fit.turns()
    row = turns[turns["kind"] == "minimum"]
    argmin = float(frame["x"].iloc[frame["y"].idxmin()])
    if row.empty:
        return {"argmin": argmin, "median": np.nan, "lower": np.nan, "upper": np.nan, "prob_turn": 0.0,
                "max_r_hat": fit.diagnostics()["max_r_hat"]}
    r = row.iloc[0]
    return {"argmin": argmin, "median": r["median"], "lower": r["lower"], "upper": r["upper"],
            "prob_turn": r["prob_turn"], "max_r_hat": fit.diagnostics()["max_r_hat"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-set", type=int, default=3, help="turning curves per data set (seeded subsample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="only write the list of turning curves")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    sets = data_sets()
    listed = turning_curves(sets)
    LIST.parent.mkdir(parents=True, exist_ok=True)
    listed.to_csv(LIST, index=False)
    print(f"{len(listed)} curves with a turn in the held-out part ({listed.groupby('dataset').size().to_dict()}), "
          f"written to {LIST.name}")
    if args.list:
        return 0
    rng = np.random.default_rng(args.seed)
    records, checks = [], []
    for name, spec in sets.items():
        keys = listed.loc[listed["dataset"] == name, "curve"].to_numpy()
        chosen = rng.choice(keys, size=min(args.per_set, len(keys)), replace=False) if len(keys) else []
        for i, key in enumerate(chosen):
            c = spec["df"][spec["df"][spec["curve"]] == key].sort_values(spec["x"])
            for rec in backtest_curve(c, spec, args.seed + i):
                records.append({"dataset": name, "curve": key, **rec})
            if name != "datablations":
                checks.append({"dataset": name, "curve": key, **minimum_check(c, spec, args.seed + i)})
    table = pd.DataFrame(records)
    pd.set_option("display.width", 200)
    print("\nper data set, mean over curves (RMSLE of the median; 90% coverage of the held-out points):")
    summary = table.groupby(["dataset", "method"]).agg(curves=("rmsle", "count"), rmsle=("rmsle", "mean"),
                                                       coverage90=("coverage90", "mean"),
                                                       turning_weight=("turning_weight", "mean"),
                                                       max_r_hat=("max_r_hat", "max"))
    print(summary.round(4).to_string())
    if "error" in table.columns and table["error"].notna().any():
        print("\nfailures:\n" + table.loc[table["error"].notna(), ["dataset", "curve", "method", "error"]].to_string())
    if checks:
        print("\nturning law on the full curve: minimum (90% interval) against the data's argmin")
        check = pd.DataFrame(checks)
        check["argmin_inside"] = (check["argmin"] >= check["lower"]) & (check["argmin"] <= check["upper"])
        print(check.to_string(float_format=lambda v: f"{v:.4g}"))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
