r"""Simulation-based calibration (Talts et al. 2018) of bayescale's laws, through the public API.

For each law: draw parameters from the prior, simulate a data set from them on a fixed design,
fit it with :func:`bayescale.fit` (or :func:`bayescale.fit_many`, which reuses one compiled
model), and record the rank of each true parameter among ``L`` thinned posterior draws. If the
posterior is computed correctly, every rank is uniform on ``0..L``; the script tests that with a
chi-square test on binned ranks and a Kolmogorov-Smirnov test on randomised ranks, and reports
how often the central 50% and 90% intervals hold the truth.

Normalisation. bayescale fits ``v = y / y_scale`` with ``y_scale = median(|y|)`` of the data, so
its priors on ``log A`` and ``log E`` (and Chinchilla's ``log B``) live on a scale chosen by the
data. SBC needs the fit's prior to equal the simulation prior exactly, so every prior is passed
explicitly: the simulation prior, shifted by ``-log y_scale`` for the offsets and floors (the
push-forward of the simulation prior to the fit's scale; exponents, noise scales and break
positions are unchanged). The fit's posterior on that scale is then the push-forward of the true
posterior, and ranks are computed against the truths shifted by the same constant. The harness
checks that the fit used the ``x_ref`` and ``y_scale`` it assumed.

Negative controls, computed from the same fits, show the tests can fail: ``unshifted`` ranks
the truths without the normalisation shift (the mistake the paragraph above avoids), and
``narrow`` ranks them against posterior draws pulled to half their spread around the median
(an over-confident sampler). ``--wrong-prior`` refits with a prior on alpha half as wide as the
one simulated from. The pseudo-law ``power_fixed`` fits replicate data sets from one fixed
truth with bayescale's default priors, the setting of issue 2's note.

    ./dev python benchmarks/sbc.py --laws power --n 200 --workers 2
    ./dev python benchmarks/sbc.py --report     # rebuild benchmarks/results/sbc.md from the CSVs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

RESULTS = Path(__file__).parent / "results"
L_RANKS = 99  # thinned draws per fit: ranks take the L + 1 = 100 values 0..99
LOG03 = float(np.log(0.3))


def geomean(v: np.ndarray) -> float:
    return float(np.exp(np.mean(np.log(v))))


def _prior(dist: str, **kwargs):
    from pymc_extras.prior import Prior

    return Prior(dist, **kwargs)


# ---------------------------------------------------------------------------- laws
@dataclass
class Case:
    """One law's SBC set-up: design, prior draws, simulator, the fit's priors and its parameters.

    ``params`` maps a label (a key of the truth dict) to ``(posterior variable, index or None,
    shifted)``; ``shifted`` parameters live on the log-y scale and move by ``-log y_scale`` in
    the fit.
    """

    name: str
    law: str
    fit_kwargs: dict
    params: dict
    draw: object  # rng -> truth dict (simulation scale)
    simulate: object  # truth, rng -> DataFrame
    priors: object  # log_scale -> priors dict for the fit
    y_col: str = "y"
    groups: int = 1
    default_priors: bool = False  # power_fixed: fit with bayescale's defaults (not an SBC)
    extra: dict = field(default_factory=dict)


def _power_case(groups: int = 1, points: int = 15, fixed: bool = False) -> Case:
    x = np.tile(np.geomspace(1e6, 1e9, points), groups)
    g = np.repeat([f"g{i}" for i in range(groups)], points)
    u = np.log(x / geomean(x))

    def draw(rng):
        if fixed:  # bayescale.laws.simulate.power_law_data's defaults, or tests/test_fit.py's TRUE for 3 groups
            alpha, offsets, floor = (0.3, [400.0], 1.7) if groups == 1 else (0.32, [300.0, 500.0, 900.0], 1.8)
            log_a = np.log(offsets) - alpha * np.log(geomean(x))  # A at x = 1 moved to x_ref
            return {"alpha": alpha, "log_A": log_a[0], "log_A_g": log_a, "log_A[g0]": log_a[0],
                    "log_E": np.log(floor), "sigma": 0.02}
        t = {"alpha": rng.lognormal(LOG03, 0.7), "log_A": rng.normal(-1.0, 1.5), "log_E": rng.normal(-1.5, 1.0),
             "sigma": abs(rng.normal(0.0, 0.1))}
        if groups > 1:
            t["log_A_sigma"] = abs(rng.normal(0.0, 1.0))
            t["log_A_g"] = t["log_A"] + t["log_A_sigma"] * rng.standard_normal(groups)
            t["log_A[g0]"] = t["log_A_g"][0]
        return t

    def simulate(t, rng):
        from bayescale.laws.formulas import log_power_law

        log_a = t["log_A_g"][np.repeat(np.arange(groups), points)] if groups > 1 else t["log_A"]
        mean = log_power_law(u, np.exp(t["log_E"]), log_a, t["alpha"], np.exp)
        y = mean * np.exp(rng.normal(0.0, t["sigma"], len(u)))
        return pd.DataFrame({"x": x, "y": y, "g": g})

    def priors(log_scale):
        p = {"alpha": _prior("LogNormal", mu=LOG03, sigma=0.7), "log_A_mu": _prior("Normal", mu=-1.0 - log_scale,
             sigma=1.5), "log_E": _prior("Normal", mu=-1.5 - log_scale, sigma=1.0),
             "sigma": _prior("HalfNormal", sigma=0.1)}
        if groups > 1:
            p["log_A_sigma"] = _prior("HalfNormal", sigma=1.0)
        return p

    params = {"alpha": ("alpha", None, False), "log_A": ("log_A_mu", None, True), "log_E": ("log_E", None, True),
              "sigma": ("sigma", None, False)}
    if groups > 1:
        params["log_A_sigma"] = ("log_A_sigma", None, False)
        params["log_A[g0]"] = ("log_A", 0, True)
        if fixed:  # fixed offsets have no true population mean or spread
            del params["log_A"], params["log_A_sigma"]
    name = ("power" if groups == 1 else f"power_{groups}groups") + ("_fixed" if fixed else "")
    return Case(name, "power", {"x": "x", "y": "y", "group": "g" if groups > 1 else None}, params, draw, simulate,
                priors, groups=groups, default_priors=fixed)


def _broken_case(points: int = 30) -> Case:
    x = np.geomspace(1e6, 1e10, points)
    u = np.log(x / geomean(x))
    span = float(u.max() - u.min())
    lo, hi = u.min() - 0.1 * span, u.max() + 0.1 * span  # bayescale.laws.broken.break_window

    def draw(rng):
        share = rng.beta(2.0, 4.0)
        return {"alpha0": abs(rng.normal(0, 0.5)), "alpha1": abs(rng.normal(0, 0.5)),
                "log_break": lo + (hi - lo) * rng.dirichlet([2.0, 2.0])[0], "sharpness": share,
                "width": span * (0.02 + 0.48 * share), "log_A": rng.normal(-1.0, 1.5),
                "log_E": rng.normal(-1.5, 1.0), "sigma": abs(rng.normal(0.0, 0.1))}

    def simulate(t, rng):
        from bayescale.laws.formulas import log_broken_reducible

        log_r = log_broken_reducible(u, t["log_A"], [t["alpha0"], t["alpha1"]], [t["log_break"]], [t["width"]],
                                     lambda z: np.logaddexp(0.0, z))
        y = (np.exp(t["log_E"]) + np.exp(log_r)) * np.exp(rng.normal(0.0, t["sigma"], points))
        return pd.DataFrame({"x": x, "y": y})

    def priors(log_scale):
        return {"alpha": _prior("HalfNormal", sigma=0.5, dims="segment"),
                "break_position": _prior("Dirichlet", a=np.array([2.0, 2.0]), dims="segment"),
                "sharpness": _prior("Beta", alpha=2.0, beta=4.0, dims="break"),
                "log_A_mu": _prior("Normal", mu=-1.0 - log_scale, sigma=1.5),
                "log_E": _prior("Normal", mu=-1.5 - log_scale, sigma=1.0), "sigma": _prior("HalfNormal", sigma=0.1)}

    params = {"alpha0": ("alpha", 0, False), "alpha1": ("alpha", 1, False), "log_break": ("log_break", 0, False),
              "sharpness": ("sharpness", 0, False), "log_A": ("log_A_mu", None, True),
              "log_E": ("log_E", None, True), "sigma": ("sigma", None, False)}
    return Case("broken", "broken", {"x": "x", "y": "y"}, params, draw, simulate, priors)


def _sigmoid_case(points: int = 15, trials: int = 200) -> Case:
    x = np.geomspace(1e18, 1e24, points)
    u = np.log(x / geomean(x))
    span = float(u.max() - u.min())

    def draw(rng):
        return {"floor": rng.beta(1.0, 3.0), "ceiling_share": rng.beta(2.0, 1.0),
                "steepness": rng.lognormal(np.log(1.5), 0.75), "midpoint_mu": rng.normal(0.0, span)}

    def simulate(t, rng):
        from scipy.special import expit

        from bayescale.laws.formulas import sigmoid_law

        ceiling = t["floor"] + (1 - t["floor"]) * t["ceiling_share"]
        p = np.clip(sigmoid_law(u, t["floor"], ceiling, t["steepness"], t["midpoint_mu"], expit), 1e-9, 1 - 1e-9)
        return pd.DataFrame({"x": x, "y": rng.binomial(trials, p) / trials, "n": trials})

    def priors(log_scale):  # accuracies are not rescaled (y_scale = 1)
        return {"floor": _prior("Beta", alpha=1.0, beta=3.0), "ceiling_share": _prior("Beta", alpha=2.0, beta=1.0),
                "steepness": _prior("LogNormal", mu=float(np.log(1.5)), sigma=0.75),
                "midpoint_mu": _prior("Normal", mu=0.0, sigma=span)}

    params = {k: (k, None, False) for k in ("floor", "ceiling_share", "steepness", "midpoint_mu")}
    return Case("sigmoid", "sigmoid", {"x": "x", "y": "y", "trials": "n", "noise": "binomial"}, params, draw,
                simulate, priors, extra={"unit_scale": True})


def _chinchilla_case(side: int = 5) -> Case:
    n, d = np.meshgrid(np.geomspace(1e7, 1e9, side), np.geomspace(1e9, 1e11, side))
    n, d = n.ravel(), d.ravel()
    un, ud = np.log(n / geomean(n)), np.log(d / geomean(d))

    def draw(rng):
        return {"log_E": rng.normal(-0.5, 1.0), "log_A": rng.normal(-2.0, 1.5), "log_B": rng.normal(-2.0, 1.5),
                "alpha": rng.lognormal(LOG03, 0.5), "beta": rng.lognormal(LOG03, 0.5),
                "sigma": abs(rng.normal(0.0, 0.1)), "nu": rng.gamma(2.0, 1 / 0.1)}

    def simulate(t, rng):
        log_mean = np.logaddexp(np.logaddexp(t["log_E"], t["log_A"] - t["alpha"] * un), t["log_B"] - t["beta"] * ud)
        y = np.exp(log_mean + t["sigma"] * rng.standard_t(t["nu"], len(n)))
        return pd.DataFrame({"params": n, "tokens": d, "loss": y})

    def priors(log_scale):
        return {"log_E": _prior("Normal", mu=-0.5 - log_scale, sigma=1.0),
                "log_A": _prior("Normal", mu=-2.0 - log_scale, sigma=1.5),
                "log_B": _prior("Normal", mu=-2.0 - log_scale, sigma=1.5),
                "alpha": _prior("LogNormal", mu=LOG03, sigma=0.5), "beta": _prior("LogNormal", mu=LOG03, sigma=0.5),
                "sigma": _prior("HalfNormal", sigma=0.1), "nu": _prior("Gamma", alpha=2.0, beta=0.1)}

    params = {"log_E": ("log_E", None, True), "log_A": ("log_A", None, True), "log_B": ("log_B", None, True),
              "alpha": ("alpha", None, False), "beta": ("beta", None, False), "sigma": ("sigma", None, False),
              "nu": ("nu", None, False)}
    return Case("chinchilla", "chinchilla", {"x": ["params", "tokens"], "y": "loss"}, params, draw, simulate,
                priors, y_col="loss")


def _noncentered(case: Case) -> Case:
    """The same case fitted with ``pooling="noncentered"`` (``fit_many`` has no such option: ``fit`` only)."""
    case.name += "_noncentered"
    case.fit_kwargs = {**case.fit_kwargs, "pooling": "noncentered"}
    return case


CASES = {
    "power": _power_case, "power_4groups": lambda: _power_case(groups=4, points=10), "broken": _broken_case,
    "power_3groups_fixed": lambda: _power_case(groups=3, fixed=True),
    "power_4groups_noncentered": lambda: _noncentered(_power_case(groups=4, points=10)),
    "sigmoid": _sigmoid_case, "chinchilla": _chinchilla_case, "power_fixed": lambda: _power_case(fixed=True),
}


# ---------------------------------------------------------------------------- one data set
def fit_one(case: Case, frame: pd.DataFrame, priors, *, draws: int, tune: int, chains: int, seed: int,
            engine: str, sampler: str | None):
    """Fit one simulated data set through the public API; return the fit and its sampler health."""
    import bayescale as bs

    kwargs = {k: v for k, v in case.fit_kwargs.items() if v is not None}
    common = {"law": case.law, "draws": draws, "tune": tune, "chains": chains, "seed": seed, "priors": priors}
    if engine == "fit_many":
        result = bs.fit_many(frame.assign(sbc_curve=0), by="sbc_curve", workers=1, progress=False, keep_fits=True,
                             **({"sampler": sampler} if sampler else {}), **kwargs, **common)
        if not result.failed.empty:
            raise RuntimeError(result.failed["reason"].iloc[0])
        status = result.status.iloc[0]
        health = {k: float(status[k]) for k in ("divergences", "max_r_hat", "min_ess_bulk")}
        return result.fit(0), health
    fit = bs.fit(frame, progress=False, cores=1, **({"sampler": sampler} if sampler else {}), **kwargs, **common)
    diag = fit.diagnostics()
    return fit, {k: float(diag[k]) for k in ("divergences", "max_r_hat", "min_ess_bulk")}


def _draws(posterior, var: str, index) -> np.ndarray:
    """Posterior draws of one scalar, chain-major, as a flat array."""
    da = posterior[var]
    if index is not None:
        other = [d for d in da.dims if d not in ("chain", "draw")]
        da = da.isel({other[0]: index})
    return np.asarray(da.transpose("chain", "draw").values, dtype=float).ravel()


def run_one(name: str, i: int, seed: int, settings: dict) -> list[dict]:
    """Simulate data set ``i`` of ``name``, fit it and return one row per parameter."""
    warnings.filterwarnings("ignore")
    case = CASES[name]()
    rng = np.random.default_rng([seed, zlib.crc32(name.encode()), i])
    truth = case.draw(rng)
    frame = case.simulate(truth, rng)
    y = frame[case.y_col].to_numpy()
    log_scale = 0.0 if case.extra.get("unit_scale") else float(np.log(np.median(np.abs(y))))
    priors = None if case.default_priors else case.priors(log_scale)
    if settings.get("wrong_prior"):  # negative control: fit alpha with half the prior's spread
        priors["alpha"] = _prior("LogNormal", mu=LOG03, sigma=0.35)
    start = time.perf_counter()
    try:
        fit, health = fit_one(case, frame, priors, draws=settings["draws"], tune=settings["tune"],
                              chains=settings["chains"], seed=int(rng.integers(2**31)), engine=settings["engine"],
                              sampler=settings["sampler"])
    except Exception as exc:  # noqa: BLE001 - a failed fit is recorded, never dropped silently
        return [{"law": name, "dataset": i, "parameter": p, "status": f"failed: {type(exc).__name__}: {exc}"}
                for p in case.params]
    seconds = time.perf_counter() - start
    scale = float(getattr(fit.data, "y_scale", 1.0))
    if not np.isclose(scale, np.exp(log_scale)):
        raise AssertionError(f"{name}: the fit used y_scale {scale}, the harness assumed {np.exp(log_scale)}")
    for attr, column in (("x_ref", "x"), ("n_ref", "params"), ("d_ref", "tokens")):  # the simulator's x scales
        if hasattr(fit.data, attr) and not np.isclose(getattr(fit.data, attr), geomean(frame[column].to_numpy())):
            raise AssertionError(f"{name}: the fit's {attr} is not the geometric mean of {column!r}")
    post = fit.posterior
    rows = []
    for label, (var, index, shifted) in case.params.items():
        value = float(truth[label])
        target = value - log_scale if shifted else value
        d = _draws(post, var, index)
        thin = d[np.round(np.linspace(0, len(d) - 1, L_RANKS)).astype(int)]
        med = np.median(thin)
        rows.append({
            "law": name, "dataset": i, "parameter": label, "status": "ok", "truth": target,
            "rank": int(np.sum(thin < target)),
            "rank_unshifted": int(np.sum(thin < value)),
            "rank_narrow": int(np.sum(med + 0.5 * (thin - med) < target)),
            "in50": bool(np.quantile(d, 0.25) <= target <= np.quantile(d, 0.75)),
            "in90": bool(np.quantile(d, 0.05) <= target <= np.quantile(d, 0.95)),
            "post_median": float(np.median(d)), "post_sd": float(np.std(d)),
            "seconds": seconds, **health,
        })
    return rows


# ---------------------------------------------------------------------------- tests of uniformity
def uniformity(ranks: np.ndarray, *, bins: int, seed: int = 0) -> tuple[float, float]:
    """(chi-square p, KS p) for ranks on ``0..L_RANKS`` being uniform.

    Chi-square on ``bins`` equal bins of the L + 1 rank values; KS on ``(rank + U) / (L + 1)``,
    which is exactly uniform on (0, 1) under the null.
    """
    ranks = np.asarray(ranks, dtype=int)
    counts = np.bincount(ranks * bins // (L_RANKS + 1), minlength=bins)
    chi2_p = float(stats.chisquare(counts).pvalue)
    jitter = np.random.default_rng(seed).uniform(size=len(ranks))
    ks_p = float(stats.kstest((ranks + jitter) / (L_RANKS + 1), "uniform").pvalue)
    return chi2_p, ks_p


def table(rows: pd.DataFrame, bins: int | None = None) -> pd.DataFrame:
    """One row per (law, parameter): n, chi-square and KS p-values, interval coverage, controls."""
    out = []
    for (law, param), g in rows[rows["status"] == "ok"].groupby(["law", "parameter"], sort=False):
        b = bins or max(2, min(20, len(g) // 10))
        chi2_p, ks_p = uniformity(g["rank"].to_numpy(), bins=b)
        record = {"law": law, "parameter": param, "n": len(g), "bins": b, "chi2_p": chi2_p, "ks_p": ks_p,
                  "cover50": g["in50"].mean(), "cover90": g["in90"].mean(),
                  "narrow_chi2_p": uniformity(g["rank_narrow"].to_numpy(), bins=b)[0]}
        if (g["rank_unshifted"] != g["rank"]).any():
            record["unshifted_chi2_p"] = uniformity(g["rank_unshifted"].to_numpy(), bins=b)[0]
        out.append(record)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------- runs and the report
def run(name: str, n: int, settings: dict, workers: int, seed: int) -> pd.DataFrame:
    rows, start = [], time.perf_counter()
    jobs = range(n)
    if workers <= 1:
        results = (run_one(name, i, seed, settings) for i in jobs)
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(run_one, [name] * n, jobs, [seed] * n, [settings] * n)
    for done, r in enumerate(results, start=1):
        rows += r
        if done % max(1, n // 20) == 0 or done == n:
            el = time.perf_counter() - start
            print(f"  {name}: {done}/{n} data sets, {el:.0f} s, eta {el / done * (n - done):.0f} s",
                  file=sys.stderr, flush=True)
    if workers > 1:
        pool.shutdown()
    return pd.DataFrame(rows)


def render(folder: Path = RESULTS / "sbc") -> str:
    """Markdown tables of every run whose ranks are stored in ``folder``."""
    lines = ["| law | parameter | n | chi2 p | KS p | 50% cover | 90% cover | controls: narrow / unshifted chi2 p |",
             "|---|---|---|---|---|---|---|---|"]
    fixed = ["| case | parameter | n | truth (fit scale, median) | median of posterior medians | 50% cover "
             "| 90% cover |",
             "|---|---|---|---|---|---|---|"]
    runs = []
    for path in sorted(folder.glob("*.csv")):
        meta = json.loads(path.with_suffix(".json").read_text())
        rows = pd.read_csv(path)
        ok = rows[rows.status == "ok"]
        if ok.empty:
            runs.append(f"| {meta['law']} | {meta['n']} | {meta['failed']} | {meta['engine']} | all failed: "
                        f"{rows.status.iloc[0]} |")
            continue
        if "_fixed" in meta["law"]:  # not an SBC: one truth, bayescale's default priors
            for param, g in ok.groupby("parameter", sort=False):
                fixed.append(f"| {meta['law']} | {param} | {len(g)} | {g.truth.median():.3f} | "
                             f"{g.post_median.median():.3f} | {g.in50.mean():.3f} | {g.in90.mean():.3f} |")
        else:
            for r in table(rows).itertuples(index=False):
                unshifted = getattr(r, "unshifted_chi2_p", np.nan)
                ctrl = f"{r.narrow_chi2_p:.2g} / " + ("-" if pd.isna(unshifted) else f"{unshifted:.2g}")
                lines.append(f"| {r.law} | {r.parameter} | {r.n} | {r.chi2_p:.3f} | {r.ks_p:.3f} | "
                             f"{r.cover50:.3f} | {r.cover90:.3f} | {ctrl} |")
        one = ok.drop_duplicates("dataset")
        runs.append(f"| {meta['law']} | {meta['n']} | {meta['failed']} | {meta['engine']} | {meta['chains']}x"
                    f"({meta['tune']}+{meta['draws']}) | {meta['wall_s']:.0f} | {one['seconds'].median():.2f} | "
                    f"{int((one['divergences'] > 0).sum())} | {one['max_r_hat'].max():.3f} | "
                    f"{one['min_ess_bulk'].min():.0f} | {meta['load']:.1f} | `{meta['command']}` |")
    head = ["| law | data sets | failed | engine | chains x (tune+draws) | wall s | median s per fit | fits with "
            "divergences | worst r_hat | lowest ESS | load | command |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    out = "## Rank uniformity\n\n" + "\n".join(lines) + "\n\n## Runs\n\n" + "\n".join(head + runs) + "\n"
    if len(fixed) > 2:
        out += ("\n## One fixed truth, default priors (issue 2's question; not an SBC)\n\n"
                + "\n".join(fixed) + "\n")
    return out


HEADER = """# Simulation-based calibration

Written by `benchmarks/sbc.py` (see docs/concepts/calibration.md). Per law and parameter: the
number of simulated data sets, the p-values of a chi-square test on n/10 bins (at most 20) of
the ranks and of a KS test on randomised ranks (uniform if the posterior is right), and the
share of truths inside the central 50% and 90% posterior intervals. The controls use the same
fits and must be rejected: posteriors narrowed to half their spread, and truths ranked without
the normalisation shift. `power_wrong_prior` is a control run (alpha's prior too narrow).

"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--laws", default="power", help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--n", type=int, default=200, help="data sets per law")
    parser.add_argument("--draws", type=int, default=500, help="draws per chain (thinned to 99)")
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="processes (at most 2 on a shared 2-core box)")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--engine", choices=["auto", "fit", "fit_many"], default="auto",
                        help="auto: fit_many for the power law (one compiled model), fit otherwise")
    parser.add_argument("--sampler", default=None, help="passed to bayescale (default: bayescale's own)")
    parser.add_argument("--wrong-prior", action="store_true", help="negative control: alpha's prior too narrow")
    parser.add_argument("--tag", default="", help="suffix of the stored run's name (e.g. _pymc)")
    parser.add_argument("--out", type=Path, default=RESULTS / "sbc")
    parser.add_argument("--report", action="store_true", help="only rebuild sbc.md from the stored ranks")
    args = parser.parse_args(argv)
    if not args.report:
        args.out.mkdir(parents=True, exist_ok=True)
        for name in args.laws.split(","):
            engine = args.engine
            if engine == "auto":
                case = CASES[name]()
                engine = "fit_many" if case.law == "power" and "pooling" not in case.fit_kwargs else "fit"
            settings = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "engine": engine,
                        "sampler": args.sampler, "wrong_prior": args.wrong_prior}
            print(f"{name}: {args.n} data sets, engine {engine}, {args.workers} worker(s)", file=sys.stderr)
            start = time.perf_counter()
            rows = run(name, args.n, settings, args.workers, args.seed)
            wall = time.perf_counter() - start
            label = name + ("_wrong_prior" if args.wrong_prior else "") + args.tag
            rows["law"] = label
            rows.to_csv(args.out / f"{label}.csv", index=False)
            meta = {"law": label, "n": args.n, "failed": int((rows.drop_duplicates("dataset").status != "ok").sum()),
                    "engine": engine, "chains": args.chains, "tune": args.tune, "draws": args.draws,
                    "wall_s": wall, "load": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                       time.gmtime()),
                    "command": "./dev python benchmarks/sbc.py " + " ".join(argv if argv is not None else sys.argv[1:])}
            (args.out / f"{label}.json").write_text(json.dumps(meta, indent=1))
            print(table(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    text = render(args.out)
    (args.out.parent / f"{args.out.name}.md").write_text(HEADER + text)
    print(text)


if __name__ == "__main__":
    main()
