"""Experiment (not a bayescale feature): which rows should the leave-future-out weights score?

For each curve and cutoff of ``bench_backtest.py``'s datasets, fits ``law="auto"`` to the training
rows once, with the LFO refits scoring *every* later row from *every* origin (the rule before
2026-12-02). From that same pointwise table and the same draws it then forms the weights of
four rules and scores each stacked forecast of the held-out rows:

- ``every``: stack every (origin, later row) pair;
- ``every+1se``: the same, then all weight on the power law unless the best law beats it by more
  than one standard error of ``elpd_lfo`` (the default before 2026-12-02);
- ``blocked``: each later row scored once, from the latest origin before it (the default now);
- ``blocked+1se``: the same with the one-standard-error rule;

beside the power law alone and the broken law alone. Curves too short for the LFO (fallback to
the power law) get the same forecast under every rule. The ``+s`` columns widen every forecast
with the discrepancy scale ``s`` that ``bench_backtest.py --law auto`` learned for the dataset
(``--s``; fixed across rules, so it only shows how the medians' differences carry over).

Run: ``./dev python benchmarks/experiment_lfo_blocks.py --cases datablations_long:0.6 olmo:0.8 --s
datablations_long=0.228 olmo=0.0189``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.fitting import lfo
from bayescale.laws.discrepancy import widen
from bayescale.workflows.backtest.splits import parse_split, train_mask

sys.path.insert(0, str(Path(__file__).parent))
import bench_backtest  # noqa: E402

RULES = ("every", "every+1se", "blocked", "blocked+1se", "power", "broken")


def one_se_fires(wide: pd.DataFrame) -> bool:
    """The retired rule: the best law is not the power law and beats it by <= 1 standard error."""
    diff = wide.sub(wide["power"], axis=0)
    best = diff.sum().idxmax()
    return best != "power" and len(diff) > 1 and diff[best].sum() <= np.sqrt(len(diff)) * diff[best].std(ddof=1)


def rule_weights(fit) -> dict[str, dict[str, float]]:
    laws = list(getattr(fit, "fits", {}))
    out = {"power": {"power": 1.0}, "broken": {"broken": 1.0} if "broken" in laws else {"power": 1.0}}
    points = fit.lfo.pointwise if getattr(fit, "lfo", None) is not None else pd.DataFrame()
    if not len(points) or fit.lfo.weights is None or set(points["law"]) != {"power", "broken"}:
        current = {k: float(v) for k, v in getattr(fit, "weights", pd.Series({"power": 1.0})).items()}
        return {**out, **{rule: current for rule in RULES[:4]}}
    laws = ["power", "broken"]
    wide = points.pivot_table(index=["origin", "row"], columns="law", values="lpd")[laws]
    latest = points.groupby("row")["origin"].max()
    blocked = wide[[origin == latest[row] for origin, row in wide.index]]
    for name, table in (("every", wide), ("blocked", blocked)):
        w = dict(zip(laws, map(float, lfo.stacking_weights(table.to_numpy())), strict=True))
        out[name] = w
        out[name + "+1se"] = {"power": 1.0} if one_se_fires(table) else w
    return out


def mixture_quantiles(draws: dict[str, np.ndarray], weights: dict[str, float], probs=(0.05, 0.5, 0.95)):
    values = np.concatenate([draws[k] for k, w in weights.items() if w > 1e-12])
    mass = np.concatenate([np.full(len(draws[k]), w / len(draws[k])) for k, w in weights.items() if w > 1e-12])
    out = np.empty((values.shape[1], len(probs)))
    for j in range(values.shape[1]):
        order = np.argsort(values[:, j])
        cdf = np.cumsum(mass[order]) / mass.sum()
        out[j] = [values[order, j][min(np.searchsorted(cdf, p), len(cdf) - 1)] for p in probs]
    return out


def scores(y: np.ndarray, q: np.ndarray) -> dict[str, float]:
    ly, (lo, med, hi) = np.log(y), np.log(q.T)
    return {"inside": float(((ly >= lo) & (ly <= hi)).sum()), "sq_err": float(((med - ly) ** 2).sum()),
            "is90": float(((hi - lo) + 20 * np.maximum(lo - ly, 0) + 20 * np.maximum(ly - hi, 0)).sum()),
            "n": len(y)}


def run_case(name: str, cut: float, s: float, seed: int) -> pd.DataFrame:
    spec = getattr(bench_backtest, name)()
    group = spec["group"] if isinstance(spec["group"], list) else [spec["group"]]
    rows = []
    for i, key in spec["df"][group].drop_duplicates().reset_index(drop=True).iterrows():
        frame = spec["df"].merge(key.to_frame().T, on=group)[[spec["x"], spec["y"]]].dropna().sort_values(spec["x"])
        x, y = frame[spec["x"]].to_numpy(float), frame[spec["y"]].to_numpy(float)
        train = train_mask(x, parse_split(cut)[0])
        if train.sum() < 4 or train.all():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bs.fit(frame[train], law="auto", x=spec["x"], y=spec["y"], draws=500, tune=500, chains=2,
                         seed=seed + i, progress=False)
        fits = getattr(fit, "fits", {"power": fit})
        draws = {law: np.asarray(f.predictive_draws(x[~train], f.data.groups[0], seed=1), float)
                 for law, f in fits.items()}
        decades = np.log10(x[~train] / x[train].max())
        wide_draws = {law: widen(d, decades, s, np.random.default_rng(0)) for law, d in draws.items()}
        for rule, weights in rule_weights(fit).items():
            for widened, source in (("", draws), ("+s", wide_draws)):
                rows.append({"dataset": name, "cutoff": cut, "curve": i, "rule": rule, "widened": widened,
                             **scores(y[~train], mixture_quantiles(source, weights))})
        print(f"\r{name} {cut:g}: curve {i}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["datablations_long:0.6", "datablations_long:0.8",
                                                       "olmo:0.6", "olmo:0.8"])
    parser.add_argument("--s", nargs="*", default=["datablations_long=0.228", "olmo=0.0189"])
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="CSV of the per-curve scores")
    args = parser.parse_args()
    scale = {k: float(v) for k, v in (item.split("=") for item in args.s)}
    lfo._before_next = lambda usable, k: np.ones(len(usable[k][1]), dtype=bool)  # score every later row
    start = time.perf_counter()
    per_curve = pd.concat([run_case(name, float(cut), scale.get(name, 0.0), args.seed)
                           for name, cut in (case.split(":") for case in args.cases)], ignore_index=True)
    if args.out:
        per_curve.to_csv(args.out, index=False)
    keys = ["dataset", "cutoff", "widened", "rule"]
    total = per_curve.groupby(keys, sort=False)[["inside", "sq_err", "is90", "n"]].sum()
    table = pd.DataFrame({"cov90": total["inside"] / total["n"], "rmsle": np.sqrt(total["sq_err"] / total["n"]),
                          "is90": total["is90"] / total["n"], "n": total["n"].astype(int)}).round(4)
    print(table.to_string())
    print(f"wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
