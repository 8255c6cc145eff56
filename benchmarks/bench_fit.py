"""Time bayescale fits against least squares (+ bootstrap) on the same data, in the same run.

    ./dev python benchmarks/bench_fit.py [--draws 1000 --tune 1000 --chains 4] [--curves 100]
                                         [--pymc] [--skip-cold] [--only-fresh] [--out benchmarks/results/fit.md]

Prints one table (and writes it as Markdown with ``--out``): wall time of each case (and the CPU
seconds of whole processes, steadier than wall time on a loaded machine), the goal
of issue 16, the least-squares baseline measured in this run and the ratio to it, and the
sampler's health beside the time (min bulk ESS per draw, max r_hat, divergences).

Cases. ``first`` is the first fit of a structure in this process (it compiles, or loads the
compiled code from PyTensor's on-disk cache); ``repeat`` is the median of three later fits of
the same structure (the compile cache is hit: sampling, log-likelihood and the fit object
only). ``fresh process`` runs ``bayescale fit c20.csv --x n --y loss --quiet`` end to end,
disk cache warm; ``empty cache`` runs the first fit in a process whose PyTensor and numba
caches are empty folders. ``fit_many`` is per curve, ``--curves`` curves on every core: the
whole run divided by the curves (each worker's first curve compiles), and the steady state
(median seconds of a curve divided by the workers) that a batch of 1,000 curves approaches.
``plain PyMC + nutpie`` runs the same power law written directly in PyMC and sampled by nutpie,
without bayescale, as a whole process (warm and empty cache): the floor the stack itself sets.
``--pymc`` adds the power-law cases with ``sampler="pymc"`` (the default before issue 16).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

import bayescale as bs
from bayescale.laws.simulate import power_law_data

sys.path.insert(0, str(Path(__file__).parent))
from bench_batch import make_curves, scipy_fits  # noqa: E402
from bench_breaks import broken_data, lsq_broken, lsq_sigmoid, sigmoid_data  # noqa: E402


def lsq_bootstrap(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Shared-exponent least squares on log y (E, alpha, log A_g), refitted on 1000 row resamples."""
    codes, groups = pd.factorize(df["group"])
    x, y = df["params"].to_numpy(), df["loss"].to_numpy()
    lx = np.log(x / np.exp(np.log(x).mean()))

    def residuals(theta, idx):
        log_e, log_alpha, *log_a = theta
        mean = np.exp(log_e) + np.exp(np.asarray(log_a)[codes[idx]] - np.exp(log_alpha) * lx[idx])
        return np.log(mean) - np.log(y[idx])

    start = np.r_[np.log(y.min() / 2), np.log(0.3), np.zeros(len(groups))]
    rng = np.random.default_rng(seed)
    everything = np.arange(len(y))
    best = least_squares(residuals, start, args=(everything,)).x
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        draws.append(least_squares(residuals, best, args=(idx,)).x)
    return np.asarray(draws)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def health(fit) -> dict:
    d = fit.diagnostics()
    return {"ess_per_draw": d["min_ess_bulk"] / d["draws"], "max_r_hat": d["max_r_hat"],
            "divergences": d["divergences"]}


def report(row: dict) -> dict:
    """Print a finished row at once (a long run under load shows its progress)."""
    print("  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def fit_rows(case: str, goal_repeat: float | None, baseline: tuple[str, float] | None, fit_kwargs: dict,
             label: str = "bayescale") -> list[dict]:
    """First fit and median of three repeats of one structure."""
    fit, first = timed(bs.fit, progress=False, **fit_kwargs)
    rows = [report({"case": case, "what": f"{label}, first fit in process", "wall_s": first, **health(fit)})]
    repeats = []
    for seed in (101, 102, 103):
        fit, wall = timed(bs.fit, progress=False, **{**fit_kwargs, "seed": seed})
        repeats.append(wall)
    rows.append(report({"case": case, "what": f"{label}, repeat fit (median of 3)",
                        "wall_s": statistics.median(repeats), "goal_s": goal_repeat, **health(fit)}))
    if baseline is not None:
        name, seconds = baseline
        for row in rows:
            row["baseline"], row["baseline_s"] = name, seconds
    return rows


def run_process(args: list[str], env: dict | None = None) -> dict:
    """Wall and CPU seconds (user + system, every thread) of a whole process; CPU is steadier under load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


FRESH_LAWS = {  # law: (data, fit keyword arguments) of a fresh `import bayescale; bayescale.fit(...)` process
    "broken": ("broken_data(0)", "law='broken', x='x', y='y'"),
    "sigmoid": ("sigmoid_data(0)", "law='sigmoid', x='flops', y='accuracy', trials='n'"),
}


BARE_STACK = """
import numpy as np, pymc as pm, nutpie
x = np.logspace(6, 9, 20); y = 1.5 + 400 * x**-0.3 * np.exp(np.random.default_rng(1).normal(0, 0.02, 20))
with pm.Model() as model:
    log_x, y_data = pm.Data("log_x", np.log(x / x.mean())), pm.Data("y", y)
    e, log_a = pm.HalfNormal("E", 2), pm.Normal("log_A", 0, 3)
    alpha, sigma = pm.HalfNormal("alpha", 1), pm.HalfNormal("sigma", 0.5)
    pm.LogNormal("y_obs", pm.math.log(e + pm.math.exp(log_a - alpha * log_x)), sigma, observed=y_data)
nutpie.sample(nutpie.compile_pymc_model(model, backend="numba"), draws={draws}, tune={tune}, chains={chains},
              seed=7, progress_bar=False)
"""  # the same power law in plain PyMC + nutpie, no bayescale: what the stack itself costs a fresh process


def fresh_process_rows(c20: pd.DataFrame, baseline: tuple[str, float], args) -> list[dict]:
    """Whole processes: the power-law CLI (warm disk cache, median of 3; and an empty cache), and
    ``import bayescale; bayescale.fit(...)`` for the broken and sigmoid laws, warm and empty."""
    rows = []
    nuts = f"draws={args.draws}, tune={args.tune}, chains={args.chains}, progress=False"
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "c20.csv"
        c20.rename(columns={"params": "n"}).to_csv(csv, index=False)
        cli = [str(Path(sys.executable).parent / "bayescale"), "fit", str(csv), "--x", "n", "--y", "loss", "--quiet",
               "--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains), "--seed", "7"]
        runs = [run_process(cli) for _ in range(3)]
        rows.append(report({"case": "power, 20 points",
                            "what": "fresh `bayescale fit` process, warm disk cache (median 3)",
                            "wall_s": statistics.median(r["wall_s"] for r in runs),
                            "cpu_s": statistics.median(r["cpu_s"] for r in runs), "goal_s": 3.0,
                            "baseline": baseline[0], "baseline_s": baseline[1]}))
        bare = BARE_STACK.format(draws=args.draws, tune=args.tune, chains=args.chains)
        run_process([sys.executable, "-c", bare])  # warms the disk cache
        rows.append(report({"case": "power, 20 points",
                            "what": "plain PyMC + nutpie process (no bayescale), warm disk cache",
                            **run_process([sys.executable, "-c", bare]), "baseline": baseline[0],
                            "baseline_s": baseline[1]}))
        if not args.skip_cold:
            env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp}/pytensor_bare",
                   "NUMBA_CACHE_DIR": f"{tmp}/numba_bare"}
            rows.append(report({"case": "power, 20 points", "what": "plain PyMC + nutpie process, empty compile cache",
                                **run_process([sys.executable, "-c", bare], env), "baseline": baseline[0],
                                "baseline_s": baseline[1]}))
        codes = {"power, 20 points": "from bayescale.laws.simulate import power_law_data; bs.fit(power_law_data("
                                     f"offsets=(400.0,), n=20, seed=1), x='params', y='loss', seed=7, {nuts})"}
        codes |= {f"{law}, bayescale.fit": f"from bench_breaks import {data.split('(')[0]}; "
                                           f"bs.fit({data}, {kwargs}, seed=7, {nuts})"
                  for law, (data, kwargs) in FRESH_LAWS.items()}
        prefix = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bayescale as bs; "
        for n, (case, code) in enumerate(codes.items()):
            if case != "power, 20 points":
                run_process([sys.executable, "-c", prefix + code])  # warms the disk cache for this structure
                rows.append(report({"case": case, "what": "fresh process, warm disk cache",
                                    **run_process([sys.executable, "-c", prefix + code]),
                                    "baseline": baseline[0], "baseline_s": baseline[1]}))
            if not args.skip_cold:
                env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp}/pytensor{n}",
                       "NUMBA_CACHE_DIR": f"{tmp}/numba{n}"}
                rows.append(report({"case": case, "what": "first fit, empty compile cache (whole process)",
                                    **run_process([sys.executable, "-c", prefix + code], env),
                                    "goal_s": 12.0 if case == "power, 20 points" else None,
                                    "baseline": baseline[0], "baseline_s": baseline[1]}))
    return rows



def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--curves", type=int, default=100, help="curves per fit_many case")
    parser.add_argument("--pymc", action="store_true", help="also time sampler='pymc' on the power law")
    parser.add_argument("--skip-cold", action="store_true", help="skip the empty-cache processes")
    parser.add_argument("--only-fresh", action="store_true",
                        help="only the fresh-process cases (power CLI; broken and sigmoid bayescale.fit)")
    parser.add_argument("--out", type=Path, help="also write the table as Markdown")
    args = parser.parse_args()
    nuts = {"draws": args.draws, "tune": args.tune, "chains": args.chains}
    rows: list[dict] = []

    # power law, 20 points, against least squares + 1000-resample bootstrap
    c20 = power_law_data(offsets=(400.0,), n=20, seed=1)
    _, boot = timed(lsq_bootstrap, c20)
    baseline = ("least squares + 1000 bootstrap", boot)
    report({"case": "power, 20 points", "what": baseline[0], "wall_s": boot})
    power = {"df": c20, "x": "params", "y": "loss", "seed": 7, **nuts}
    rows += fit_rows("power, 20 points", 0.2 * boot, baseline, power)
    if args.pymc:
        rows += fit_rows("power, 20 points", None, baseline, {**power, "sampler": "pymc"}, label="pymc sampler")
    rows += fresh_process_rows(c20, baseline, args)
    if args.only_fresh:
        return finish(rows, args)

    # 10 groups x 15 points
    groups = power_law_data(offsets=tuple(np.geomspace(200, 2000, 10)), n=15, seed=2)
    _, boot10 = timed(lsq_bootstrap, groups)
    rows += fit_rows("power, 10 groups x 15 points", 0.5, ("least squares + 1000 bootstrap", boot10),
                     {"df": groups, "x": "params", "y": "loss", "group": "group", "seed": 7, **nuts})

    # broken law, 30 points; sigmoid, 15 models; Chinchilla, 245 runs
    broken = broken_data(0)
    _, lsq_b = timed(lsq_broken, broken)
    rows += fit_rows("broken, 30 points", 1.0, ("least squares, grid of starts", lsq_b),
                     {"df": broken, "law": "broken", "x": "x", "y": "y", "seed": 7, **nuts})
    sig = sigmoid_data(0)
    _, lsq_s = timed(lsq_sigmoid, sig)
    rows += fit_rows("sigmoid, 15 models", 0.5, ("least squares, grid of starts", lsq_s),
                     {"df": sig, "law": "sigmoid", "x": "flops", "y": "accuracy", "trials": "n", "seed": 7, **nuts})
    chin = bs.datasets.load("chinchilla")
    rows += fit_rows("Chinchilla, 245 runs", 3.0, None,
                     {"df": chin, "law": "chinchilla", "x": ["params", "tokens"], "y": "loss", "seed": 7, **nuts})

    # fit_many, per curve, on every core
    curves = make_curves(args.curves)
    per_lsq = scipy_fits(curves)
    for law, frame in (("power", curves), ("broken", broken_curves(args.curves))):
        batch, wall = timed(bs.fit_many, frame, by="task", law=law, x="params", y="loss", seed=3, progress=False,
                            at=[1e11], **nuts)
        ok = batch.status[batch.status["status"] == "ok"]
        rows.append(report({"case": f"fit_many, {law}, {args.curves} x 20 points", "what": "per curve, all cores",
                            "wall_s": wall / args.curves, "goal_s": 0.12, "baseline": "least squares (no bootstrap)",
                            "baseline_s": per_lsq,
                            "ess_per_draw": (ok["min_ess_bulk"] / (args.chains * args.draws)).min(),
                            "max_r_hat": ok["max_r_hat"].max(), "divergences": int(ok["divergences"].sum()),
                            "failed": int((batch.status["status"] != "ok").sum())}))
        # a long batch is dominated by the typical curve, not by each worker's first (compiling) one
        workers = os.cpu_count() or 1
        rows.append(report({"case": f"fit_many, {law}, {args.curves} x 20 points",
                            "what": f"per curve, steady state (median curve time / {workers} workers)",
                            "wall_s": float(ok["seconds"].median()) / workers, "goal_s": 0.12,
                            "baseline": "least squares (no bootstrap)", "baseline_s": per_lsq}))

    finish(rows, args)


def finish(rows: list[dict], args) -> None:
    table = pd.DataFrame(rows)
    table["ratio"] = table["wall_s"] / table["baseline_s"]
    table["met"] = np.where(table["goal_s"].isna(), "", np.where(table["wall_s"] <= table["goal_s"], "yes", "no"))
    if "cpu_s" not in table:
        table["cpu_s"] = np.nan
    columns = ["case", "what", "wall_s", "cpu_s", "goal_s", "met", "baseline", "baseline_s", "ratio", "ess_per_draw",
               "max_r_hat", "divergences"]
    table = table[columns]
    header = (f"draws={args.draws} tune={args.tune} chains={args.chains}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f} at the end")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 60)
    print(header)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.out:
        args.out.write_text(f"{header}\n\n{markdown(table)}\n")


def markdown(table: pd.DataFrame) -> str:
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:.3g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def broken_curves(n: int, points: int = 20, seed: int = 0) -> pd.DataFrame:
    """``n`` smoothly broken curves with one break inside the data."""
    from bayescale.laws.formulas import smoothly_broken_power_law

    rng = np.random.default_rng(seed)
    frames = []
    x = np.logspace(6, 10, points)
    for i in range(n):
        y = smoothly_broken_power_law(x, rng.uniform(0.5, 1.5), 300.0, rng.uniform(0.02, 0.1), [rng.uniform(0.3, 0.5)],
                                      [10 ** rng.uniform(7, 9)], [0.3])
        frames.append(pd.DataFrame({"task": f"task{i:04d}", "params": x,
                                    "loss": y * np.exp(rng.normal(0, 0.02, points))}))
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    main()
