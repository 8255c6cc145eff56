r"""Backtests: fit the small-scale part of each curve, score forecasts of the large-scale part.

``backtest(df, x=, y=, group=, split=)`` cuts every curve (the rows sharing the ``group``
columns) into a training part and a held-out part, fits bayescale's law to the training
part and, on the same split, four least-squares baselines (:mod:`bayescale.baselines`):
the saturating power law by least squares (point only; the power law whatever ``law`` is),
the same with a 1000-resample residual bootstrap interval, a straight line in log-log
space with its t prediction interval, and the smoothly broken power law (BNSL, one break)
by least squares from a grid of starts (``bnsl``, point only; it needs 6 training points).
Each held-out point is scored for every method.

Splits (one or several per curve; several cutoffs are a rolling origin, reported apart)
    ``0.6`` or ``"frac:0.6"``: fit on the first 60% of the curve's log-x range;
    ``"x:1e9"`` / ``{"x": 1e9}``: fit on ``x < 1e9``; ``"last:2"`` / ``{"last": 2}``: fit on
    all but the 2 largest ``x``; ``"column:train"`` / ``{"column": "train"}``: fit on the
    rows where the boolean column ``train`` is true, score the others.

Scores of one held-out point :math:`(x, y)` with predictive draws :math:`X_1..X_m`
    distance :math:`d = \log_{10}(x / \max x_{train})` (decades beyond the fit range);
    coverage of the central 50/80/90% intervals; relative width (upper - lower) / median;
    PIT :math:`= \#\{X_i < y\}/m`; CRPS of :math:`\log y`,

    .. math:: \mathrm{CRPS} = \frac1m\sum_i |\log X_i - \log y|
              - \frac1{2m^2}\sum_{i,j} |\log X_i - \log X_j|,

    (the absolute log error for a point forecast); the interval score of the 90% interval
    :math:`[l, u]` on the log scale (Gneiting & Raftery 2007), width plus the penalty for a miss,

    .. math:: \mathrm{IS} = (\log u - \log l) + \frac{2}{0.1}\left[(\log l - \log y)_+
              + (\log y - \log u)_+\right],

    which rewards intervals that are honest and no wider than needed; log error of the median
    :math:`\log(\tilde X / y)` (RMSLE is its root mean square) and absolute relative error
    :math:`|\tilde X - y| / y`.

Distance-growing discrepancy (``discrepancy=True``, DESIGN.md "Calibration")
    Each curve is also refitted on the first ``inner`` fraction (default 60%) of its
    *training* log-x range (at least its 5 smallest distinct scales). The log errors
    :math:`e_j` of the median on the rest of the training rows, at distances :math:`d_j`
    beyond that inner range, with predictive log variance :math:`v_j`, are pooled across the
    curves of a data set and inform the scale :math:`s` of a discrepancy whose sd grows
    linearly with distance,

    .. math:: e_j \sim \mathcal N\!\left(0,\; v_j + (s\, d_j)^2\right), \qquad
              s \sim \mathrm{Uniform}(0, 1),

    the uniform prior on a standard deviation of Gelman (2006). The posterior of :math:`s` is
    computed on a grid; forecasts of method ``bayescale+disc`` add
    :math:`\mathcal N(0, (s_i\, d)^2)` to each log predictive draw :math:`i`, with
    :math:`s_i` drawn from that posterior. Integrating over :math:`s` matters when the
    in-sample errors are few or short-range: they rarely rule out a sizeable :math:`s`, and
    a point estimate would then be 0. Only training rows inform :math:`s`, through the same
    Bayesian fit that makes the forecast, so held-out rows never leak into the interval.
"""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale import discrepancy as discrepancy_model
from bayescale.errors import DataError, SpecError

LEVELS = (0.5, 0.8, 0.9)
SUPPORT_COLUMNS = ["dataset", "s", "s_low", "s_high", "s_ml", "curves", "errors"]
FIT_COLUMNS = ["dataset", "curve", "cutoff", "n_train", "n_test", "status", "seconds", "max_r_hat", "min_ess_bulk",
               "divergences"]
METHODS = ("bayescale", "bayescale+disc", "ls", "ls_bootstrap", "loglinear", "bnsl")
DISTANCE_BINS = (0.0, 0.1, 0.25, 0.5, 1.0, np.inf)
MIN_TRAIN = 5  # the power law has 4 parameters (E, A, alpha, sigma): every method gets the same curves


# ---------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Cutoff:
    """One way to cut a curve: ``kind`` in ``frac``, ``x``, ``last``, ``column``."""

    kind: str
    value: Any

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.value:g}" if isinstance(self.value, float) else f"{self.kind}:{self.value}"


def _one_cutoff(item) -> Cutoff:
    if isinstance(item, Cutoff):
        return item
    if isinstance(item, bool):
        raise SpecError(f"split must be a fraction, 'frac:F', 'x:X', 'last:K' or 'column:NAME', got {item!r}")
    if isinstance(item, int | float):
        kind, value = "frac", item
    elif isinstance(item, Mapping) and len(item) == 1:
        kind, value = next(iter(item.items()))
    elif isinstance(item, str) and ":" in item:
        kind, value = item.split(":", 1)
    else:
        raise SpecError(f"split must be a fraction, 'frac:F', 'x:X', 'last:K' or 'column:NAME', got {item!r}")
    kind = str(kind).strip()
    try:
        if kind == "frac":
            value = float(value)
            if not 0 < value < 1:
                raise SpecError(f"split fraction must be in (0, 1), got {value!r}")
        elif kind == "x":
            value = float(value)
            if not (np.isfinite(value) and value > 0):
                raise SpecError(f"split cutoff x must be finite and > 0, got {value!r}")
        elif kind == "last":
            if float(value) != int(float(value)) or int(float(value)) < 1:
                raise SpecError(f"split 'last' needs a whole number of points >= 1, got {value!r}")
            value = int(float(value))
        elif kind == "column":
            value = str(value)
        else:
            raise SpecError(f"unknown split kind {kind!r}; use frac, x, last or column")
    except SpecError:
        raise
    except (TypeError, ValueError):
        raise SpecError(f"bad split value {value!r} for kind {kind!r}") from None
    return Cutoff(kind, value)


def parse_split(split) -> list[Cutoff]:
    """Normalise a split argument to a list of :class:`Cutoff` (several: a rolling origin)."""
    if isinstance(split, str) and "," in split and split.split(":", 1)[0] != "column":
        kind, values = split.split(":", 1) if ":" in split else ("frac", split)
        items = [f"{kind}:{v}" for v in values.split(",")]
    elif isinstance(split, list | tuple):
        items = list(split)
    else:
        items = [split]
    if not items:
        raise SpecError("split must name at least one cutoff")
    cutoffs = [_one_cutoff(item) for item in items]
    if len({c.label for c in cutoffs}) != len(cutoffs):
        raise SpecError(f"split lists the same cutoff twice: {[c.label for c in cutoffs]}")
    return cutoffs


def _bool_column(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        raise DataError(f"train column {column!r} is not in the data; columns are {', '.join(map(str, df.columns))}")
    values = df[column]
    if values.dtype == bool:
        return values
    words = {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}
    out = values.map(lambda v: bool(v) if isinstance(v, bool | np.bool_) else words.get(str(v).strip().lower()))
    bad = out.isna()
    if bad.any():
        rows = [int(i) for i in np.flatnonzero(bad.to_numpy())[:10]]
        raise DataError(f"train column {column!r} must be boolean (true/false, 1/0); bad values at rows {rows}")
    return out.astype(bool)


def train_mask(x: np.ndarray, cutoff: Cutoff, column: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the training rows of one curve with scales ``x``."""
    x = np.asarray(x, dtype=float)
    if cutoff.kind == "column":
        return np.asarray(column, dtype=bool)
    if cutoff.kind == "x":
        return x < cutoff.value
    if cutoff.kind == "last":
        mask = np.ones(len(x), dtype=bool)
        k = min(cutoff.value, len(x))
        mask[np.argsort(x, kind="stable")[len(x) - k:]] = False
        return mask
    lx = np.log10(x)
    return lx <= lx.min() + cutoff.value * (lx.max() - lx.min()) + 1e-12


# ---------------------------------------------------------------------- one (curve, cutoff) in a worker
def inner_mask(x: np.ndarray, frac: float) -> np.ndarray:
    """Rows of a training curve refitted by the in-sample backtest: the first ``frac`` of its log-x
    range, widened to the ``MIN_TRAIN`` smallest distinct scales when that range holds fewer.

    The floor matters for checkpoints spaced evenly in steps, which crowd the top of the log-x
    range: without it, their curves would never contribute to the discrepancy.
    """
    x = np.asarray(x, dtype=float)
    lx = np.log10(x)
    mask = lx <= lx.min() + frac * (lx.max() - lx.min()) + 1e-12
    distinct = np.unique(x)
    if len(np.unique(x[mask])) < MIN_TRAIN <= len(distinct):
        mask = x <= distinct[MIN_TRAIN - 1]
    return mask


def _bayes_fit(frame: pd.DataFrame, spec: Mapping, seed: int):
    """Fit bayescale's law to one training frame (compiled-model reuse where the batch module offers it)."""
    law = spec["law"]
    if isinstance(law, str) and law != "auto":
        from bayescale.batch import fit_curve

        fit_spec = {"law": law, "x": "x", "y": "y", "group": None, "noise": spec["noise"], "slopes": "shared",
                    "floor": "shared", "draws": spec["draws"], "tune": spec["tune"], "chains": spec["chains"],
                    "sampler": spec["sampler"], "target_accept": spec["target_accept"], "priors": spec["priors"],
                    "prob": 0.9, "at": None}
        out = fit_curve({"spec": fit_spec, "curve_id": "c", "key": ["c"], "index": 0, "seed": seed,
                         "frame": frame, "return_fit": True})
        if out["record"]["status"] != "ok":
            raise RuntimeError(out["record"]["reason"])
        return out["fit"], out["record"]["diagnostics"]
    import bayescale

    fit = bayescale.fit(frame, law=law, x="x", y="y", noise=spec["noise"], priors=spec["priors"],
                        draws=spec["draws"], tune=spec["tune"], chains=spec["chains"], seed=seed,
                        sampler=spec["sampler"], progress=False, cores=1)  # nutpie: compiled once per law
    return fit, fit.diagnostics()


def _bayes_draws(frame: pd.DataFrame, x_eval: np.ndarray, spec: Mapping, seed: int) -> tuple[np.ndarray, dict]:
    """Posterior predictive draws at ``x_eval`` and the sampler diagnostics of the fit."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit, diagnostics = _bayes_fit(frame, spec, seed)
        draws = np.asarray(fit.predictive_draws(x_eval, fit.data.groups[0], seed=seed), dtype=float)
    keep = ("max_r_hat", "min_ess_bulk", "divergences")
    return draws, {k: diagnostics.get(k) for k in keep}


def run_task(task: Mapping[str, Any]) -> dict:
    """Fit every method on one (curve, cutoff) and return draws at the held-out scales.

    Failures of one method are recorded in ``failures`` (method and reason); the others go on.
    """
    from bayescale import baselines

    start = time.perf_counter()
    spec, seed = task["spec"], task["seed"]
    x_tr, y_tr, x_te = task["x_train"], task["y_train"], task["x_test"]
    draws: dict[str, np.ndarray] = {}
    failures: list[dict] = []
    inner = None

    def attempt(method, fn):
        try:
            draws[method] = fn()
        except Exception as exc:  # noqa: BLE001 - a failed method is a result
            failures.append({"method": method, "reason": f"{type(exc).__name__}: {exc}"})

    frame = pd.DataFrame({"x": x_tr, "y": y_tr})
    diagnostics: dict = {}

    def bayes():
        draws_, diag = _bayes_draws(frame, x_te, spec, seed)
        diagnostics.update(diag)
        return draws_

    attempt("bayescale", bayes)
    if spec["baselines"]:
        attempt("ls", lambda: baselines.power_ls_point(x_tr, y_tr, x_te))
        attempt("ls_bootstrap", lambda: baselines.power_ls_bootstrap(x_tr, y_tr, x_te, n_boot=spec["n_boot"],
                                                                     seed=seed))
        attempt("loglinear", lambda: baselines.loglinear_draws(x_tr, y_tr, x_te, seed=seed))
        attempt("bnsl", lambda: baselines.bnsl_point(x_tr, y_tr, x_te))
    if spec["discrepancy"] and "bayescale" in draws:
        mask = inner_mask(x_tr, spec["inner"])
        if mask.sum() >= MIN_TRAIN and (~mask).sum() >= 1:
            try:
                d_in, _ = _bayes_draws(frame[mask], x_tr[~mask], spec, seed + 1)
                log_d = np.log(np.maximum(d_in, 1e-300))
                inner = {"d": np.log10(x_tr[~mask] / x_tr[mask].max()), "err": np.log(y_tr[~mask])
                         - np.median(log_d, axis=0), "var": log_d.var(axis=0)}
            except Exception as exc:  # noqa: BLE001
                failures.append({"method": "bayescale+disc", "reason": f"inner fit: {type(exc).__name__}: {exc}"})
    return {"status": "ok", "draws": draws, "failures": failures, "inner": inner, "diagnostics": diagnostics,
            "seconds": time.perf_counter() - start}


# ---------------------------------------------------------------------- scoring
def crps_from_draws(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of each column of ``draws`` (shape ``(m, n)``) against ``y`` (shape ``(n,)``)."""
    m = draws.shape[0]
    term1 = np.mean(np.abs(draws - y[None, :]), axis=0)
    s = np.sort(draws, axis=0)
    weights = (2 * np.arange(1, m + 1) - m - 1)[:, None]
    term2 = np.sum(weights * s, axis=0) / m**2
    return term1 - term2


def score_draws(y: np.ndarray, draws: np.ndarray) -> pd.DataFrame:
    """Scores of held-out values ``y`` under predictive ``draws`` (shape ``(m, n)``); one row per point."""
    y = np.asarray(y, dtype=float)
    draws = np.asarray(draws, dtype=float)
    median = np.median(draws, axis=0)
    log_y = np.log(y)
    out = {"median": median, "log_err": np.log(np.maximum(median, 1e-300)) - log_y,
           "abs_rel_err": np.abs(median - y) / np.abs(y),
           "crps_log": crps_from_draws(np.log(np.maximum(draws, 1e-300)), log_y)}
    point = draws.shape[0] == 1
    out["pit"] = np.full(len(y), np.nan) if point else np.mean(draws < y, axis=0) + 0.5 * np.mean(draws == y, axis=0)
    for level in LEVELS:
        tag = int(round(level * 100))
        if point:
            for column in ("lower", "upper", "covered", "width"):
                out[f"{column}{tag}"] = np.full(len(y), np.nan)
            continue
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out[f"lower{tag}"], out[f"upper{tag}"] = lo, hi
        out[f"covered{tag}"] = ((y >= lo) & (y <= hi)).astype(float)
        out[f"width{tag}"] = (hi - lo) / np.abs(median)
        if tag == 90:
            log_lo, log_hi = np.log(np.maximum(lo, 1e-300)), np.log(np.maximum(hi, 1e-300))
            out["interval_score90"] = (log_hi - log_lo) + 2 / (1 - level) * (np.maximum(log_lo - log_y, 0)
                                                                             + np.maximum(log_y - log_hi, 0))
    if point:
        out["interval_score90"] = np.full(len(y), np.nan)
    return pd.DataFrame(out)


def distance_bin(d: np.ndarray) -> pd.Categorical:
    labels = [f"{a:g}-{b:g}" if np.isfinite(b) else f">{a:g}" for a, b in zip(DISTANCE_BINS[:-1], DISTANCE_BINS[1:],
                                                                               strict=True)]
    return pd.cut(np.maximum(d, 0.0), list(DISTANCE_BINS), labels=labels, right=False, include_lowest=True)


def summarise(points: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Coverage, width, CRPS and point errors of ``points`` per method and ``by`` columns."""
    keys = [*by, "method"]

    def stats(g: pd.DataFrame) -> pd.Series:
        row = {"n_points": len(g), "n_curves": g["curve"].nunique()}
        for level in LEVELS:
            tag = int(round(level * 100))
            row[f"coverage{tag}"] = g[f"covered{tag}"].mean()
        row["width90"] = g["width90"].median()
        row["interval_score90"] = g["interval_score90"].mean()
        row["crps_log"] = g["crps_log"].mean()
        row["rmsle"] = float(np.sqrt(np.mean(g["log_err"] ** 2)))
        row["abs_rel_err"] = g["abs_rel_err"].mean()
        row["mean_distance"] = g["distance"].mean()
        return pd.Series(row)

    order = {m: i for i, m in enumerate(METHODS)}
    table = points.groupby(keys, observed=True, sort=False)[list(points.columns)].apply(stats).reset_index()
    table["_order"] = table["method"].map(order)
    return table.sort_values([*by, "_order"]).drop(columns="_order").reset_index(drop=True)


# ---------------------------------------------------------------------- result
class BacktestResult:
    """Scores of a backtest: one row per held-out point and method, and what failed.

    Attributes
    ----------
    points : pandas.DataFrame
        ``dataset``, ``curve``, ``cutoff``, ``method``, ``x``, ``y``, ``distance`` (decades beyond
        the fitted range), ``distance_bin`` and the scores of :func:`score_draws`.
    failures : pandas.DataFrame
        ``dataset``, ``curve``, ``cutoff``, ``method``, ``reason``: every fit that did not run.
    fits : pandas.DataFrame
        One row per (curve, cutoff) that ran: training and held-out sizes, seconds, and the
        bayescale fit's ``max_r_hat``, ``min_ess_bulk`` and ``divergences``.
    discrepancy : dict
        Posterior mean of the discrepancy scale ``s`` per data set (only with ``discrepancy=True``).
    discrepancy_support : pandas.DataFrame
        ``dataset``, ``s`` (posterior mean), ``s_low`` / ``s_high`` (90% interval), ``s_ml``
        (maximum likelihood), ``curves`` (in-sample backtests that ran) and ``errors`` (held-in
        rows they scored). A data set without any in-sample backtest has no ``s``, and its
        ``bayescale+disc`` forecasts are recorded in ``failures`` instead.
    seconds : float
        Wall time of the run.
    """

    def __init__(self, points: pd.DataFrame, failures: pd.DataFrame, discrepancy: Mapping | None = None,
                 seconds: float = float("nan"), fits: pd.DataFrame | None = None,
                 discrepancy_support: pd.DataFrame | None = None,
                 discrepancy_posteriors: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None):
        self.points = points
        self.failures = failures
        self.fits = pd.DataFrame(columns=FIT_COLUMNS) if fits is None else fits
        self.discrepancy = dict(discrepancy or {})
        self.discrepancy_support = (pd.DataFrame(columns=SUPPORT_COLUMNS) if discrepancy_support is None
                                    else discrepancy_support)
        self._posteriors = dict(discrepancy_posteriors or {})
        self.seconds = seconds
        #: (curve, cutoff) fits a resumed run did again because a file of theirs could not be read
        self.set_aside: list[dict] = []

    def __repr__(self) -> str:
        n_curves = self.points["curve"].nunique() if len(self.points) else 0
        return (f"<BacktestResult {n_curves} curves, {len(self.points)} scored rows, {len(self.failures)} failures, "
                f"methods {sorted(self.points['method'].unique()) if len(self.points) else []}>")

    @classmethod
    def concat(cls, results: Sequence[BacktestResult]) -> BacktestResult:
        """Join results of several calls (e.g. one per dataset) into one."""
        results = list(results)
        disc = {k: v for r in results for k, v in r.discrepancy.items()}
        return cls(pd.concat([r.points for r in results], ignore_index=True),
                   pd.concat([r.failures for r in results], ignore_index=True), disc,
                   float(sum(r.seconds for r in results)), fits=pd.concat([r.fits for r in results],
                                                                          ignore_index=True),
                   discrepancy_support=pd.concat([r.discrepancy_support for r in results], ignore_index=True),
                   discrepancy_posteriors={k: v for r in results for k, v in r._posteriors.items()})

    def discrepancy_draws(self, dataset: str | None = None, n: int = 1000, seed: int = 0) -> np.ndarray:
        """Draws of the discrepancy scale ``s`` learned for ``dataset``, for
        ``ScalingFit.predict(..., discrepancy=...)`` (:mod:`bayescale.discrepancy`).

        ``dataset`` may be left out when the backtest learned ``s`` for one data set only.
        """
        if not self._posteriors:
            raise DataError("this backtest learned no discrepancy; run it with discrepancy=True (--discrepancy)")
        if dataset is None:
            if len(self._posteriors) > 1:
                raise DataError(f"name the data set: s was learned for {', '.join(self._posteriors)}")
            dataset = next(iter(self._posteriors))
        if dataset not in self._posteriors:
            raise DataError(f"no discrepancy learned for {dataset!r}; learned for {', '.join(self._posteriors)}")
        grid, weights = self._posteriors[dataset]
        return np.random.default_rng(seed).choice(grid, size=int(n), p=weights)

    def summary(self, by: Sequence[str] = ("dataset", "cutoff")) -> pd.DataFrame:
        """One row per ``by`` group and method: coverage, width, CRPS, RMSLE, relative error."""
        return summarise(self.points, list(by))

    def per_curve(self) -> pd.DataFrame:
        """:meth:`summary` per curve and cutoff."""
        return summarise(self.points, ["dataset", "curve", "cutoff"])

    def by_distance(self, by: Sequence[str] = ("dataset",)) -> pd.DataFrame:
        """:meth:`summary` per extrapolation-distance bin (decades beyond the fitted range)."""
        return summarise(self.points, [*by, "distance_bin"])

    def table(self, by: Sequence[str] = ("dataset", "cutoff"),
              metrics: Sequence[str] = ("coverage50", "coverage80", "coverage90", "width90", "interval_score90",
                                        "crps_log", "rmsle",
                                        "abs_rel_err", "n_points")) -> pd.DataFrame:
        """The summary with methods as columns: rows are (``by``..., metric)."""
        long = self.summary(by).melt(id_vars=[*by, "method"], value_vars=list(metrics), var_name="metric")
        wide = long.set_index([*by, "metric", "method"])["value"].unstack("method")
        wide = wide[[m for m in METHODS if m in wide.columns]]
        wide.columns.name = None
        wide = wide.reset_index()
        wide["_metric"] = wide["metric"].map({m: i for i, m in enumerate(metrics)})
        wide = wide.sort_values([*by, "_metric"], kind="stable").drop(columns="_metric")
        return wide.reset_index(drop=True)

    def save(self, folder) -> Path:
        """Write ``points.csv``, ``summary.csv``, ``table.csv``, ``per_curve.csv``, ``by_distance.csv``,
        ``failures.csv``, ``fits.csv`` (and ``discrepancy.csv`` when it was learned) into ``folder``."""
        from bayescale.io import atomic_write

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        frames = {"points": self.points, "summary": self.summary(), "table": self.table(),
                  "per_curve": self.per_curve(), "by_distance": self.by_distance(), "failures": self.failures,
                  "fits": self.fits}
        if self.discrepancy:
            frames["discrepancy"] = self.discrepancy_support
        for name, frame in frames.items():
            atomic_write(folder / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
            os.chmod(folder / f"{name}.csv", 0o644)  # atomic_write's temporary file is private (0600)
        return folder

    def plot_calibration(self, **kwargs):
        """Nominal vs empirical coverage with a binomial band (:func:`bayescale.backtest_plots.calibration`)."""
        from bayescale.backtest_plots import calibration

        return calibration(self.points, **kwargs)

    def plot_error(self, **kwargs):
        """RMSLE of the median against extrapolation distance (:func:`bayescale.backtest_plots.error_vs_distance`)."""
        from bayescale.backtest_plots import error_vs_distance

        return error_vs_distance(self.points, **kwargs)


# ---------------------------------------------------------------------- the loop
class _Progress:
    def __init__(self, total: int, where: str, enabled: bool):
        self.total, self.enabled, self.done = total, enabled, 0
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()
        if enabled:
            print(f"backtest: {total} (curve, cutoff) fits on {where}", file=sys.stderr, flush=True)

    def update(self) -> None:
        self.done += 1
        now = time.monotonic()
        if not self.enabled or not (self.tty or self.done == self.total or now - self.last > 15):
            return
        self.last = now
        width = 30
        bar = "#" * int(width * self.done / self.total)
        line = f"[{bar:<{width}}] {self.done}/{self.total} ({now - self.start:.0f}s)"
        print(f"\r{line}" if self.tty else line, end="\n" if self.done == self.total or not self.tty else "",
              file=sys.stderr, flush=True)


def _curves(df: pd.DataFrame, group) -> list[tuple[str, pd.DataFrame]]:
    if group is None:
        return [("all", df)]
    columns = [group] if isinstance(group, str) else list(group)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"group column(s) {missing} not in the data; columns are {', '.join(map(str, df.columns))}")
    out = []
    for key, frame in df.groupby(columns, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        out.append(("/".join(str(k) for k in key), frame))
    return out


def _default_sampler() -> str:
    import importlib.util

    return "nutpie" if importlib.util.find_spec("nutpie") is not None else "pymc"


def backtest(
    df: pd.DataFrame,
    *,
    law: str | Sequence[str] = "power",
    x: str,
    y: str,
    group: str | Sequence[str] | None = None,
    split=0.6,
    train_column: str | None = None,
    name: str = "data",
    noise: str | None = None,
    priors: Mapping | None = None,
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    target_accept: float = 0.95,
    sampler: str | None = None,
    seed: int = 0,
    baselines: bool = True,
    n_boot: int = 1000,
    discrepancy: bool = False,
    inner: float = 0.6,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
    out=None,
    resume: bool = False,
) -> BacktestResult:
    """Fit the small-scale part of each curve and score forecasts of the held-out large-scale part.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy data, one row per observation.
    law : str or list of str
        bayescale law (``"power"`` default; ``"broken"``, ``"sigmoid"``, a list or ``"auto"``
        for stacking; those skip compiled-model reuse and are much slower).
    x, y : str
        Scale and metric columns (``y > 0``: scored on the log scale).
    group : str or list of str, optional
        Columns that identify a curve; each curve is fitted on its own.
    split : float, str, mapping or list
        Where to cut each curve (see the module docstring); a list is a rolling origin.
    train_column : str, optional
        Boolean column marking the rows to fit on (same as ``split="column:NAME"``).
    name : str
        Label of this data set in the result (column ``dataset``).
    noise, priors, draws, tune, chains, target_accept, sampler
        Passed to the Bayesian fit (``sampler`` defaults to nutpie when installed, which
        compiles the model once per worker).
    seed : int
        Run seed; each (curve, cutoff) gets a seed derived from it and its key.
    baselines : bool
        Also fit the least-squares baselines on the same splits.
    n_boot : int
        Bootstrap resamples of the ``ls_bootstrap`` baseline.
    discrepancy : bool
        Add the distance-growing discrepancy learned from in-sample backtests
        (method ``bayescale+disc``); costs one more fit per (curve, cutoff).
    inner : float
        Fraction of the training log-x range used for the in-sample backtests.
    workers : int, optional
        Processes (default: all cores); ``1`` runs in this process.
    executor, scheduler
        ``"local"`` process pool or ``"dask"`` (see :mod:`bayescale.executors`).
    progress : bool
        Print a progress bar on stderr.
    out : path, optional
        Folder where each finished (curve, cutoff) is written as soon as it is done (draws in
        ``.npz``, record in ``.json``, both atomically), with a manifest of the data hash, spec,
        seed and version, and a lock against a second writer (:mod:`bayescale.store`). The
        result tables are written there at the end.
    resume : bool
        Reuse the finished (curve, cutoff) pairs in ``out`` and fit only the rest; refused when
        ``out`` was written from other data, spec or seed. Tables equal an uninterrupted run's.

    Returns
    -------
    BacktestResult
    """

    spec = {"law": law, "noise": "lognormal" if noise is None else noise, "priors": priors, "draws": draws,
            "tune": tune, "chains": chains, "target_accept": target_accept,
            "sampler": sampler or _default_sampler(), "baselines": baselines, "n_boot": n_boot,
            "discrepancy": discrepancy, "inner": inner}
    if not 0 < inner < 1:
        raise SpecError(f"inner must be in (0, 1), got {inner!r}")
    if train_column is not None:
        split = f"column:{train_column}"
    data = {name: {"df": df, "x": x, "y": y, "group": group, "split": split}}
    return backtest_datasets(data, spec=spec, seed=seed, workers=workers, executor=executor, scheduler=scheduler,
                             progress=progress, out=out, resume=resume)


def _tasks(name: str, df, *, x: str, y: str, group, split, spec: Mapping, seed: int, tasks: list, meta: dict,
           failures: list) -> None:
    """Cut every curve of one data set at every cutoff; append the fits to run to ``tasks``."""
    from bayescale.batch import curve_seed

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    for column in (x, y):
        if column not in df.columns:
            raise DataError(f"column {column!r} is not in the data; columns are {', '.join(map(str, df.columns))}")
    cutoffs = parse_split(split)
    columns = {c.value: _bool_column(df, c.value) for c in cutoffs if c.kind == "column"}
    for curve, frame in _curves(df, group):
        xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
        ys = pd.to_numeric(frame[y], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
        for cutoff in cutoffs:
            base = {"dataset": name, "curve": curve, "cutoff": cutoff.label}
            col = columns[cutoff.value].loc[frame.index].to_numpy() if cutoff.kind == "column" else None
            if not ok.any():
                why = f"no usable rows (need finite {x!r} > 0 and {y!r})"
                failures.append({**base, "method": "all", "reason": why})
                continue
            mask = train_mask(xs[ok], cutoff, None if col is None else col[ok])
            n_train, n_test = int(mask.sum()), int((~mask).sum())
            distinct = len(np.unique(xs[ok][mask]))
            if distinct < MIN_TRAIN or n_test == 0:
                why = (f"only {n_train} training rows ({distinct} distinct {x!r}; need {MIN_TRAIN})"
                       if n_test else "no held-out rows")
                failures.append({**base, "method": "all", "reason": why})
                continue
            if (ys[ok] <= 0).any():
                bad = frame.index[ok][ys[ok] <= 0][:5].tolist()
                why = f"{y!r} must be > 0 to be scored on the log scale; rows {bad}"
                failures.append({**base, "method": "all", "reason": why})
                continue
            task_id = f"{len(tasks)}"
            meta[task_id] = {**base, "x_test": xs[ok][~mask], "y_test": ys[ok][~mask], "n_train": n_train,
                             "x_train_max": float(xs[ok][mask].max())}
            tasks.append((task_id, {"spec": spec, "seed": curve_seed(seed, [name, curve, cutoff.label]),
                                    "x_train": xs[ok][mask], "y_train": ys[ok][mask], "x_test": xs[ok][~mask]}))


def backtest_datasets(data: Mapping[str, Mapping], *, spec: Mapping | None = None, seed: int = 0,
                      workers: int | None = None, executor: str = "local", scheduler: str | None = None,
                      progress: bool = True, out=None, resume: bool = False, **options) -> BacktestResult:
    """Backtest several data sets in one pool of workers (each compiles the model once).

    Parameters
    ----------
    data : mapping
        ``name -> {"df": frame, "x": ..., "y": ..., "group": ..., "split": ...}``; the name becomes
        the ``dataset`` column and the discrepancy is pooled per data set.
    spec : mapping, optional
        Fit settings as built by :func:`backtest`; otherwise ``options`` (the keyword arguments of
        :func:`backtest`: ``law``, ``draws``, ``discrepancy``, ...) are used with its defaults.
    seed, workers, executor, scheduler, progress, out, resume
        As in :func:`backtest`.
    """
    from bayescale.executors import make_executor

    started = time.perf_counter()
    if spec is None:
        defaults = {"law": "power", "noise": None, "priors": None, "draws": 500, "tune": 500, "chains": 2,
                    "target_accept": 0.95, "sampler": None, "baselines": True, "n_boot": 1000,
                    "discrepancy": False, "inner": 0.6}
        unknown = set(options) - set(defaults)
        if unknown:
            raise SpecError(f"unknown backtest options {sorted(unknown)}; known: {', '.join(defaults)}")
        spec = {**defaults, **options}
        spec["noise"] = spec["noise"] or "lognormal"
        spec["sampler"] = spec["sampler"] or _default_sampler()
    tasks: list = []
    meta: dict = {}
    failures: list = []
    for name, item in data.items():
        _tasks(name, item["df"], x=item["x"], y=item["y"], group=item.get("group"), split=item.get("split", 0.6),
               spec=spec, seed=seed, tasks=tasks, meta=meta, failures=failures)

    store = _open_store(out, data, spec, seed, resume) if out is not None else None
    keys = {task_id: _task_key(meta[task_id]) for task_id, _ in tasks}
    # a fit whose files cannot be read back is set aside (quarantine/) and run again
    done = store.read_finished(keys.values(), lambda key: _read_task(store, key)) if store else {}
    results = {t: done[keys[t]] for t, _ in tasks if keys[t] in done}
    task_of = {key: t for t, key in keys.items()}
    set_aside = [{**entry, **{k: meta[task_of[entry["curve_id"]]][k] for k in ("dataset", "curve", "cutoff")}}
                 for entry in (store.set_aside if store else [])]
    todo = [(t, payload) for t, payload in tasks if t not in results]
    try:
        if todo:
            workers = min(int(workers or os.cpu_count() or 1), len(todo))
            pool = make_executor(executor, workers=workers, scheduler=scheduler)
            bar = _Progress(len(todo), pool.describe(), progress)
            try:
                for task_id, result in pool.map_unordered(run_task, todo):
                    results[task_id] = result
                    if store:
                        _write_task(store, keys[task_id], result)
                    bar.update()
            except KeyboardInterrupt:
                from bayescale.batch import BatchInterrupted

                where = (f"kept {len(results)} of {len(tasks)} (curve, cutoff) fits in {str(store.root)!r}; run the "
                         "same command with --resume (resume=True) to finish") if store else (
                         f"{len(results)} of {len(tasks)} fits are lost; pass out= (--out) to keep them")
                raise BatchInterrupted(f"interrupted: {where}") from None
            finally:
                pool.close()
    finally:
        if store:
            store.close()

    # the discrepancy scale of each data set, pooled over the in-sample backtests of its curves
    disc, support, posteriors = {}, [], {}
    if spec["discrepancy"]:
        for name in data:
            inner = [r["inner"] for t, r in results.items() if r.get("inner") and meta[t]["dataset"] == name]
            row = {"dataset": name, "curves": len(inner), "errors": int(sum(len(r["d"]) for r in inner))}
            if not inner:
                support.append(row)
                continue
            errors = [np.concatenate([r[k] for r in inner]) for k in ("d", "err", "var")]
            grid, weights = posteriors[name] = discrepancy_model.posterior(*errors)
            cdf = np.cumsum(weights)
            disc[name] = float(grid @ weights)
            support.append({**row, "s": disc[name], "s_low": float(grid[np.searchsorted(cdf, 0.05)]),
                            "s_high": float(grid[np.searchsorted(cdf, 0.95)]),
                            "s_ml": discrepancy_model.max_likelihood(*errors)})
    frames, fits = [], []
    for task_id in sorted(results, key=int):
        result, m = results[task_id], meta[task_id]
        base = {k: m[k] for k in ("dataset", "curve", "cutoff")}
        fits.append({**base, "n_train": m["n_train"], "n_test": len(m["x_test"]), "status": result.get("status"),
                     "seconds": result.get("seconds"), **(result.get("diagnostics") or {})})
        if result.get("status") != "ok":
            failures.append({**base, "method": "all", "reason": result.get("reason")})
            continue
        for failure in result["failures"]:
            failures.append({**base, **failure})
        distance = np.log10(m["x_test"] / m["x_train_max"])
        all_draws = dict(result["draws"])
        if spec["discrepancy"] and "bayescale" in all_draws and m["dataset"] in posteriors:
            rng = np.random.default_rng([seed, int(task_id)])
            b = all_draws["bayescale"]
            grid, weights = posteriors[m["dataset"]]
            s_draws = rng.choice(grid, size=b.shape[0], p=weights)
            all_draws["bayescale+disc"] = discrepancy_model.widen(b, distance, s_draws, rng)
        elif spec["discrepancy"] and "bayescale" in all_draws:
            failures.append({**base, "method": "bayescale+disc", "reason": "no curve of this data set had enough "
                             f"training rows for an in-sample backtest ({MIN_TRAIN} distinct scales and one more)"})
        for method, d in all_draws.items():
            scores = score_draws(m["y_test"], d)
            frames.append(pd.DataFrame({**base, "method": method, "x": m["x_test"], "y": m["y_test"],
                                        "distance": distance}).join(scores))
    point_columns = ["dataset", "curve", "cutoff", "method", "x", "y", "distance"]
    points = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=point_columns)
    if len(points):
        points["distance_bin"] = distance_bin(points["distance"].to_numpy(dtype=float))
        points = points.sort_values(["dataset", "cutoff", "curve", "method", "x"], kind="stable",
                                    ignore_index=True)
    failures = pd.DataFrame(failures, columns=["dataset", "curve", "cutoff", "method", "reason"])
    fits = pd.DataFrame(fits, columns=FIT_COLUMNS)
    result = BacktestResult(points, failures, disc, time.perf_counter() - started, fits=fits,
                            discrepancy_support=pd.DataFrame(support, columns=SUPPORT_COLUMNS),
                            discrepancy_posteriors=posteriors)
    result.set_aside = set_aside
    if out is not None:
        result.save(out)
    return result


# ---------------------------------------------------------------------- crash-safe output
def _task_key(m: Mapping) -> str:
    from bayescale.batch import curve_id

    return curve_id([m["dataset"], m["curve"], m["cutoff"]])


def _open_store(out, data: Mapping, spec: Mapping, seed: int, resume: bool):
    import hashlib

    from bayescale import __version__
    from bayescale.store import FORMAT, CurveStore, data_hash

    digest = hashlib.sha256()
    described = {}
    for name, item in data.items():
        digest.update(f"{name}:{data_hash(item['df'])};".encode())
        described[name] = {k: item.get(k) for k in ("x", "y", "group", "split")}
    manifest = {"format": FORMAT, "kind": "backtest", "data_hash": digest.hexdigest(), "seed": seed,
                "version": __version__, "spec": {**{k: v for k, v in spec.items()}, "datasets": described}}
    return CurveStore.open(out, manifest, resume=resume)


_ARRAYS = ("d", "err", "var")


def _write_task(store, key: str, result: Mapping) -> None:
    """Draws (and in-sample errors) to ``<key>.npz``, then the record; each file atomically."""
    import io as _io

    from bayescale.io import atomic_write

    arrays = {f"draws__{method}": np.asarray(d) for method, d in (result.get("draws") or {}).items()}
    for name in _ARRAYS if result.get("inner") else ():
        arrays[f"inner__{name}"] = np.asarray(result["inner"][name])
    buffer = _io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(store.root / "curves" / f"{key}.npz", lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
    record = {k: v for k, v in result.items() if k not in ("draws", "inner")}
    store.write_curve({**record, "curve_id": key, "has_inner": bool(result.get("inner"))})


def _read_task(store, key: str) -> dict:
    """A finished (curve, cutoff) as :func:`run_task` returned it; :class:`~bayescale.store.UnreadableFile`
    names the file when its record or draws cannot be read back."""
    from bayescale.store import read_file, read_record

    record = read_file(store.root / "curves" / f"{key}.json", read_record)

    def arrays(path):
        with np.load(path) as stored:
            draws = {name.split("__", 1)[1]: stored[name] for name in stored.files if name.startswith("draws__")}
            inner = {name: stored[f"inner__{name}"] for name in _ARRAYS} if record["has_inner"] else None
        return draws, inner

    draws, inner = read_file(store.root / "curves" / f"{key}.npz", arrays)
    record = {k: v for k, v in record.items() if k not in ("curve_id", "has_inner")}
    return {**record, "draws": draws, "inner": inner}

class _CallableModule(types.ModuleType):
    """Importing ``bayescale.backtest`` (the module) rebinds the package attribute of the same name,
    which is also the public function; a callable module keeps ``bayescale.backtest(df, ...)`` working."""

    def __call__(self, *args, **kwargs) -> BacktestResult:
        return backtest(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
