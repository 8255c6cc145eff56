"""The tables of a backtest, with their summaries, plots and saving."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.workflows.backtest.scores import METHODS, summarise

SUPPORT_COLUMNS = ["dataset", "s", "s_low", "s_high", "s_ml", "curves", "errors"]


FIT_COLUMNS = ["dataset", "curve", "cutoff", "n_train", "n_test", "status", "seconds", "laws", "max_r_hat",
               "min_ess_bulk", "divergences"]


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
        ``ScalingFit.predict(..., discrepancy=...)`` (:mod:`bayescale.laws.discrepancy`).

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
        from bayescale.core.files import atomic_write

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
        """Nominal vs empirical coverage with a binomial band
        (:func:`~bayescale.workflows.backtest.plots.calibration`)."""
        from bayescale.workflows.backtest.plots import calibration

        return calibration(self.points, **kwargs)

    def plot_error(self, **kwargs):
        """RMSLE of the median against extrapolation distance
        (:func:`~bayescale.workflows.backtest.plots.error_vs_distance`)."""
        from bayescale.workflows.backtest.plots import error_vs_distance

        return error_vs_distance(self.points, **kwargs)
