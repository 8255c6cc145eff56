"""Training-curve replays for bench_plan: which curves to extend, on datablations and Gemstones.

A *study* is a handful of real training curves of one data set (seeded choice), each thinned to
at most ``POINTS`` log-spaced checkpoints. Every curve starts observed up to ``T/16`` (``T``: its
last checkpoint); the target is the curve with the most compute, scored on its checkpoints at or
beyond ``0.7 T`` (never observable: extensions stop at ``T/2``). A grouped power law (one group
per curve, the package defaults, so forecasts carry the learned drift prior) is refitted after
each batch. Candidates: extend a curve from its current end ``t`` to ``2t, 4t, ...`` (up to
``T/2``); the extension costs ``(t' - t)`` tokens times ``6 N`` FLOPs per token and yields every
checkpoint between. Budgets: cumulative 2x, 4x and 8x the starting set's cost. Rules:

- ``plan``: ``fit.plan(at=the target's last checkpoint, group=target, candidates=every extension
  of every curve with its cost and chain, method="reweight")``; its greedy batch is bought. The
  plan is told each extension observes its end checkpoint only (the replay then adds every
  checkpoint of the stretch), so it under-credits long extensions;
- ``doubling``: double the curve with the least compute so far, in turn;
- ``log-uniform``: an extension whose end compute lies nearest a log-uniform draw over the
  candidates' end compute;
- ``largest``: the extension with the largest end compute that still fits.

Scores on the target's held-out checkpoints from ``fit.predict`` (90% interval, drift prior on):
RMSLE of the median, coverage, interval score (Gneiting & Raftery 2007, on log loss).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs

SETTINGS = {"draws": 250, "tune": 300, "chains": 2, "progress": False, "cores": 1}
POINTS = 14
START, STOP, TARGET = 1 / 16, 1 / 2, 0.7
RULES = ("plan", "doubling", "log-uniform", "largest")
GEMSTONES = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "gemstones.csv.gz"


def thin(curve: pd.DataFrame) -> pd.DataFrame:
    """At most ``POINTS`` checkpoints, the nearest to a log grid over the curve, plus everything >= TARGET T."""
    t = curve["tokens"].to_numpy()
    grid = np.geomspace(t.min(), t.max(), POINTS)
    keep = {int(np.abs(np.log(t) - np.log(g)).argmin()) for g in grid} | set(np.flatnonzero(t >= TARGET * t.max()))
    return curve.iloc[sorted(keep)]


def datablations_curves() -> pd.DataFrame:
    d = bs.datasets.load("datablations")
    d = d[d["epochs"] == 1]  # one pass: the curve of a run, not of repeated data
    keys = ["data", "num_params", "tokens_per_epoch"]
    d = d.assign(curve=d[keys].astype(str).agg(" ".join, axis=1), tokens=d["token_num"].astype(float),
                 per_token=6 * d["num_params"].str.rstrip("B").astype(float) * 1e9)
    return d[["curve", "tokens", "loss", "per_token"]]


def gemstones_curves() -> pd.DataFrame:
    g = pd.read_csv(GEMSTONES)
    g = g[g["curve_id"].str.startswith("gem|hot_100b+")]  # the long constant-rate runs (175 checkpoints each)
    return pd.DataFrame({"curve": g["curve_id"].str.extract(r"PyGemma-(\w+)_")[0], "tokens": g["tokens"],
                         "loss": g["final_loss"], "per_token": g["compute"] / g["tokens"]})


def studies(frame: pd.DataFrame, n_studies: int, per_study: int, seed: int) -> list[pd.DataFrame]:
    counts = frame.groupby("curve")["tokens"].agg(["size", "min", "max"])
    names = counts[(counts["size"] >= 30) & (counts["max"] / counts["min"] >= 64)].index.to_numpy()
    rng = np.random.default_rng(seed)
    picked = rng.choice(names, size=min(len(names), n_studies * per_study), replace=False)
    return [pd.concat([thin(frame[frame["curve"] == c].sort_values("tokens")) for c in picked[i::n_studies]])
            for i in range(n_studies)]


def extensions(study: pd.DataFrame, ends: dict) -> pd.DataFrame:
    """Every doubling extension of every curve from its current end, with its cost and chain."""
    rows = []
    for c, cur in ends.items():
        top, per = study.loc[study["curve"] == c, "tokens"].max(), study.loc[study["curve"] == c, "per_token"].iloc[0]
        end = 2 * cur
        while end <= STOP * top * (1 + 1e-9):
            rows.append({"group": c, "tokens": end, "cost": (end - cur) * per, "chain": c, "end_compute": end * per})
            end *= 2
    return pd.DataFrame(rows)


def pick(rule: str, fit, cands: pd.DataFrame, budget: float, target: tuple, rng, seed: int) -> dict:
    """The new end of each extended curve (``{curve: tokens}``) that ``rule`` buys within ``budget``."""
    cands = cands[cands["cost"] <= budget].reset_index(drop=True)
    if not len(cands):
        return {}
    if rule == "plan":
        table = fit.plan(at=target[1], group=target[0], candidates=cands.drop(columns="end_compute"), budget=budget,
                         sims=64, draws=400, method="reweight", seed=seed)
        chosen = table[table["order"] > 0]
        return chosen.groupby("group")["x"].max().to_dict()
    bought, paid, spent = {}, {}, 0.0
    while True:
        extra = cands["cost"] - cands["chain"].map(paid).fillna(0.0)
        ok = cands[(extra > 0) & (spent + extra <= budget) & (cands["tokens"] > cands["group"].map(bought).fillna(0))]
        if not len(ok):
            return bought
        if rule == "doubling":  # the curve with the least compute so far, doubled
            now = {c: bought.get(c, ok.loc[ok["group"] == c, "tokens"].min() / 2) for c in ok["group"].unique()}
            c = min(now, key=lambda k: now[k] * ok.loc[ok["group"] == k, "end_compute"].iloc[0]
                    / ok.loc[ok["group"] == k, "tokens"].iloc[0])
            i = ok[ok["group"] == c]["tokens"].idxmin()
        elif rule == "largest":
            i = ok["end_compute"].idxmax()
        else:
            u = rng.uniform(*np.log(cands["end_compute"].agg(["min", "max"]).to_numpy()))
            i = (np.log(ok["end_compute"]) - u).abs().idxmin()
        row = cands.loc[i]
        spent += float(extra[i])
        paid[row["chain"]] = float(row["cost"])
        bought[row["group"]] = float(row["tokens"])


def score(fit, target: pd.DataFrame, group: str) -> dict:
    p = fit.predict(target["tokens"].to_numpy(), group, prob=0.9)
    lo, med, hi = (np.log(p[c].to_numpy()) for c in ("lower", "median", "upper"))
    y = np.log(target["loss"].to_numpy())
    iscore = (hi - lo) + 2 / 0.1 * (np.maximum(lo - y, 0) + np.maximum(y - hi, 0))
    return {"rmsle": float(np.sqrt(np.mean((med - y) ** 2))), "coverage": float(np.mean((y >= lo) & (y <= hi))),
            "interval_score": float(np.mean(iscore))}


def replay(study: pd.DataFrame, seed: int) -> list[dict]:
    tops = study.groupby("curve").agg(top=("tokens", "max"), per=("per_token", "first"))
    goal = (tops["top"] * tops["per"]).idxmax()
    held = study[(study["curve"] == goal) & (study["tokens"] >= TARGET * tops.loc[goal, "top"])]
    start = {c: START * tops.loc[c, "top"] for c in tops.index}
    c0 = float(sum(start[c] * tops.loc[c, "per"] for c in tops.index))

    def observed(ends):
        keep = study["tokens"] <= study["curve"].map(ends) * (1 + 1e-9)
        return study[keep]

    fit0 = bs.fit(observed(start), x="tokens", y="loss", group="curve", seed=seed, **SETTINGS)
    rows = []
    for rule in RULES:
        ends, fit, spent, rng = dict(start), fit0, 0.0, np.random.default_rng(seed)
        for k in (2, 4, 8):
            budget = (k - 1) * c0 - spent
            bought = pick(rule, fit, extensions(study, ends), budget, (goal, float(held["tokens"].max())), rng, seed)
            spent += sum((t - ends[c]) * tops.loc[c, "per"] for c, t in bought.items())
            ends.update(bought)
            fit = bs.fit(observed(ends), x="tokens", y="loss", group="curve", seed=seed, **SETTINGS)
            rows.append({"rule": rule, "budget": f"{k}x", "cost": (spent + c0) / c0, **score(fit, held, goal)})
    return rows


def curve_replays(name: str, frame: pd.DataFrame, n_studies: int = 2, per_study: int = 3, seed: int = 5):
    """Per data set: the replay rows of every study (``study`` column) and the curves used."""
    out, used = [], []
    for s, study in enumerate(studies(frame, n_studies, per_study, seed)):
        used.append(sorted(study["curve"].unique()))
        out += [dict(r, data=name, study=s) for r in replay(study, seed + s)]
    return pd.DataFrame(out), used
