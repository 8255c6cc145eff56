"""Does planning the next runs pay? Replays on real runs whose continuation is known, and two checks.

1. Chinchilla replay (``bs.datasets.load("chinchilla")``, 245 runs): the runs are sorted by compute;
   the top 10% are the forecast targets (their loss is known), the lowest 30% the starting set,
   the rest the pool of runs one could train. Batches are added at equal cumulative cost (2x, 4x,
   8x the starting set's compute, ``6 N D``), chosen by the plan (``fit.plan(at=the largest run,
   candidates=the pool)``), by doubling the largest compute, log-uniformly over the pool's
   compute, or largest first. After each batch the law is refitted and its 90% predictive
   intervals scored on the targets: RMSLE of the median, coverage, interval score (Gneiting &
   Raftery 2007, on log loss).
2. Simulated power laws: the realised interval width after the planned run (refit on data with a
   new run drawn from the true curve) over the width the plan predicted, median over curves.
3. Cost of ranking 20 candidates for a 20-point power law, in repeat fits of that model, and the
   compile-cache misses it caused.

4. Training-curve replays on datablations and Gemstones (``benchmarks/bench_plan_curves.py``): which
   curves of a study to extend (t -> 2t costs t and yields every checkpoint between), by the plan,
   doubling, log-uniform and largest-first at cumulative 2x, 4x, 8x the starting cost; the forecast
   of the largest run's last checkpoints scored as above.

Not covered here (time on a shared 2-core machine): the OLMo-2 ladder replay of the issue.

    ./dev python benchmarks/bench_plan.py [--out benchmarks/results/plan.md]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import bayescale as bs

SETTINGS = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}
PROB = 0.9


def score(fit, targets: pd.DataFrame) -> dict:
    draws = np.log(fit.predictive_draws(targets["params"].to_numpy(), targets["tokens"].to_numpy()))
    lo, med, hi = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
    y = np.log(targets["loss"].to_numpy())
    alpha = 1 - PROB
    interval = (hi - lo) + 2 / alpha * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    return {"rmsle": float(np.sqrt(np.mean((med - y) ** 2))), "coverage": float(np.mean((y >= lo) & (y <= hi))),
            "interval_score": float(np.mean(interval))}


def pick_rule(rule: str, pool: pd.DataFrame, have: pd.DataFrame, budget: float, rng) -> list[int]:
    """Rows of ``pool`` chosen by a baseline rule within ``budget``."""
    chosen, spent = [], 0.0
    order = {"largest": pool["compute"].sort_values(ascending=False).index.tolist()}.get(rule)
    for _ in range(len(pool)):
        left = pool.drop(index=chosen)
        left = left[left["compute"] <= budget - spent]
        if not len(left):
            break
        if rule == "largest":
            i = next(j for j in order if j in left.index)
        elif rule == "doubling":
            top = max(have["compute"].max(), pool.loc[chosen, "compute"].max() if chosen else 0)
            i = (np.log(left["compute"]) - np.log(2 * top)).abs().idxmin()
        else:  # log-uniform over the pool's compute
            u = rng.uniform(np.log(pool["compute"].min()), np.log(pool["compute"].max()))
            i = (np.log(left["compute"]) - u).abs().idxmin()
        chosen.append(i)
        spent += pool.loc[i, "compute"]
    return chosen


def chinchilla_replay(seed: int = 3) -> pd.DataFrame:
    df = bs.datasets.load("chinchilla").sort_values("compute").reset_index(drop=True)
    n = len(df)
    targets = df.iloc[int(0.9 * n):]
    start = df.iloc[: int(0.3 * n)]
    pool = df.iloc[int(0.3 * n): int(0.9 * n)]
    c0 = float(start["compute"].sum())
    far = targets.iloc[-1]
    rows = []
    for rule in ("plan", "doubling", "log-uniform", "largest"):
        have, left, spent = start, pool, 0.0
        rng = np.random.default_rng(seed)
        for k in (2, 4, 8):
            budget = (k - 1) * c0 - spent  # cumulative cost k x the start set's, the start set included
            fit = bs.fit(have, law="chinchilla", x=["params", "tokens"], y="loss", seed=seed, **SETTINGS)
            if rule == "plan":
                cands = left[["params", "tokens"]].assign(cost=left["compute"].to_numpy())
                cands = cands[cands["cost"] <= budget]
                plan = fit.plan(at={"params": far["params"], "tokens": far["tokens"]}, candidates=cands,
                                budget=budget, sims=64, draws=600, method="reweight", seed=seed)
                chosen = cands.index[plan["order"].to_numpy() > 0].tolist() if len(cands) else []
            else:
                chosen = pick_rule(rule, left, have, budget, rng)
            have = pd.concat([have, left.loc[chosen]])
            left = left.drop(index=chosen)
            spent += float(df.loc[chosen, "compute"].sum())
            refit = bs.fit(have, law="chinchilla", x=["params", "tokens"], y="loss", seed=seed, **SETTINGS)
            rows.append({"rule": rule, "budget": f"{k}x", "runs_added": len(have) - len(start),
                         "cost": (spent + c0) / c0, **score(refit, targets)})
    return pd.DataFrame(rows)


def simulated_ratio(curves: int = 6) -> pd.DataFrame:
    rows = []
    for c in range(curves):
        rng = np.random.default_rng(100 + c)
        alpha, e, a = rng.uniform(0.2, 0.4), rng.uniform(1.0, 2.0), rng.uniform(20, 80)
        x = np.geomspace(1e6, 1e8, 20)
        def truth(v, alpha=alpha, e=e, a=a):
            return e + a * v**-alpha

        y = truth(x) * np.exp(0.01 * rng.standard_normal(20))
        df = pd.DataFrame({"params": x, "loss": y})
        fit = bs.fit(df, x="params", y="loss", seed=c, **SETTINGS)
        plan = fit.plan(at=1e10, candidates=[1e9], budget=1e30, sims=64, draws=600, seed=c)
        predicted = float(plan["expected_width"].iloc[0])
        run = pd.DataFrame({"params": [1e9], "loss": [truth(1e9) * np.exp(0.01 * rng.standard_normal())]})
        new = pd.concat([df, run])
        refit = bs.fit(new, x="params", y="loss", seed=c, **SETTINGS)
        r = refit.predict(1e10)
        realised = float(r["upper"].iloc[0] - r["lower"].iloc[0])
        rows.append({"curve": c, "width_now": plan.attrs["width_now"], "predicted": predicted, "realised": realised,
                     "ratio": realised / predicted, "method": plan["method"].iloc[0]})
    return pd.DataFrame(rows)


def ranking_cost() -> dict:
    from bayescale.fitting.compiled import cache_info

    rng = np.random.default_rng(7)
    x = np.geomspace(1e6, 1e8, 20)
    df = pd.DataFrame({"params": x, "loss": (1.5 + 40 * x**-0.3) * np.exp(0.01 * rng.standard_normal(20))})
    settings = {**SETTINGS, "draws": 500, "tune": 500}
    fit = bs.fit(df, x="params", y="loss", seed=1, **settings)
    t = time.perf_counter()
    for s in range(3):
        bs.fit(df, x="params", y="loss", seed=2 + s, **settings)
    repeat = (time.perf_counter() - t) / 3
    misses = cache_info()["misses"]
    t = time.perf_counter()
    plan = fit.plan(at=1e10, candidates=np.geomspace(2e6, 1e9, 20), budget=1e30, seed=1)
    ranking = time.perf_counter() - t
    return {"repeat_fit_s": repeat, "plan_s": ranking, "in_repeat_fits": ranking / repeat,
            "new_compiles": cache_info()["misses"] - misses, "methods": ", ".join(sorted(set(plan["method"])))}


def curve_tables() -> tuple[pd.DataFrame, dict]:
    """Per data set and rule, the replay scores averaged over studies and budgets, and the curves used."""
    from bench_plan_curves import curve_replays, datablations_curves, gemstones_curves

    frames, used = [], {}
    for name, load in (("datablations", datablations_curves), ("gemstones", gemstones_curves)):
        rows, used[name] = curve_replays(name, load())
        frames.append(rows)
    rows = pd.concat(frames)
    by_budget = rows.groupby(["data", "budget", "rule"], sort=False)[["cost", "rmsle", "coverage", "interval_score"]]
    mean = rows.groupby(["data", "rule"], sort=False)[["cost", "rmsle", "coverage", "interval_score"]].mean()
    return pd.concat([by_budget.mean(), mean.assign(budget="mean").set_index("budget", append=True)
                      .reorder_levels(["data", "budget", "rule"])]), used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    args = parser.parse_args()
    t0 = time.perf_counter()
    replay = chinchilla_replay()
    t1 = time.perf_counter()
    ratios = simulated_ratio()
    t2 = time.perf_counter()
    cost = ranking_cost()
    t3 = time.perf_counter()
    curves, used = curve_tables()
    t4 = time.perf_counter()
    mean = replay.groupby("rule", sort=False)[["rmsle", "coverage", "interval_score"]].mean()
    text = ["# bench_plan", "", f"Chinchilla replay ({t1 - t0:.0f} s)", "",
            replay.to_string(index=False, float_format="{:.4g}".format),
            "", "Mean over the three budgets", "", mean.to_string(float_format="{:.4g}".format), "",
            f"Simulated power laws, realised / predicted width ({t2 - t1:.0f} s): median ratio "
            f"{ratios['ratio'].median():.3f}", "", ratios.to_string(index=False, float_format="{:.4g}".format), "",
            f"Ranking 20 candidates, 20-point power law ({t3 - t2:.0f} s): {cost}", "",
            f"Training-curve replays ({t4 - t3:.0f} s; seed 5; studies of 3 curves: {used})", "",
            curves.to_string(float_format="{:.4g}".format), "", f"Total {t4 - t0:.0f} s", ""]
    out = "\n".join(text)
    print(out)
    if args.out:
        with open(args.out, "w") as f:
            f.write(out)


if __name__ == "__main__":
    main()
