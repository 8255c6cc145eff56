"""A fitted observational model: capabilities, loadings, efficiencies and forecasts with intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.workflows.observational.data import ObservationalData
from bayescale.workflows.observational.model import score_mean


def _interval(draws: np.ndarray, prob: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = (1 - prob) / 2
    return (draws.mean(axis=axis), np.quantile(draws, q, axis=axis), np.quantile(draws, 1 - q, axis=axis))


def _check_flag(discrepancy) -> None:
    if not isinstance(discrepancy, bool | np.bool_):
        raise DataError(f"discrepancy must be True or False, got {discrepancy!r}")


def _check_prob(prob: float) -> None:
    if not 0 < prob < 1:
        raise DataError(f"prob must be in (0, 1), got {prob!r}")


class ObservationalFit:
    """Result of :func:`observational`: posterior draws plus the validated table."""

    def __init__(self, idata, data: ObservationalData, k: int, method: str, seed: int,
                 columns: Mapping[str, Any], settings: Mapping[str, Any] | None = None):
        self.idata = idata
        self.settings = dict(settings or {})  # sampler settings, for refits (forward chaining)
        self.drift: dict[str, Any] = {}  # benchmark -> learned Drift (bayescale.workflows.observational.drift)
        self.data = data
        self.k = k
        self.method = method
        self.seed = seed
        self.columns = dict(columns)
        self._draw_cache: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        d = self.data
        return (f"<ObservationalFit {len(d.models)} models x {len(d.benchmarks)} benchmarks, "
                f"{len(d.families)} families, k={self.k}, {self.method}, "
                f"{int(np.isnan(d.scores).sum())} missing scores>")

    # -- draws -----------------------------------------------------------------------------
    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of ``name`` with chains merged into the first axis."""
        if name not in self._draw_cache:
            from bayescale.core.posterior import flat

            self._draw_cache[name] = flat(self.idata["posterior"].dataset, name)
        return self._draw_cache[name]

    @property
    def n_draws(self) -> int:
        return self.draws("b").shape[0]

    # -- tables ----------------------------------------------------------------------------
    def capabilities(self, prob: float = 0.9) -> pd.DataFrame:
        """Capability score of every model per dimension, with a central ``prob`` interval."""
        _check_prob(prob)
        cap = self.draws("capability_score")
        mean, lo, hi = _interval(cap, prob)
        d = self.data
        rows = []
        for m, name in enumerate(d.models):
            for c in range(self.k):
                rows.append({"model": name, "family": d.families[d.family_index[m]], "capability": f"c{c + 1}",
                             "mean": mean[m, c], "lower": lo[m, c], "upper": hi[m, c]})
        return pd.DataFrame(rows)

    def loadings(self, prob: float = 0.9) -> pd.DataFrame:
        """Benchmark loadings ``W`` (lower triangular, positive diagonal) and intercepts."""
        _check_prob(prob)
        w = self.draws("W")
        mean, lo, hi = _interval(w, prob)
        rows = []
        for j, b in enumerate(self.data.benchmarks):
            for c in range(self.k):
                if c > j:
                    continue
                rows.append({"benchmark": b, "capability": f"c{c + 1}", "mean": mean[j, c],
                             "lower": lo[j, c], "upper": hi[j, c]})
        return pd.DataFrame(rows)

    def _family_logit(self, u_ref: float) -> np.ndarray:
        """Mean benchmark logit per family at standardised compute ``u_ref``: (draws, families)."""
        w = self.draws("W")  # (s, J, k)
        cap = self.draws("alpha") + self.draws("beta") * u_ref  # (s, F, k)
        return np.einsum("sfk,sjk->sf", cap, w) / w.shape[1] + self.draws("b").mean(axis=1)[:, None]

    def efficiencies(self, prob: float = 0.9, at: float | None = None) -> pd.DataFrame:
        """Family compute efficiency with intervals, and the probability each family is the most efficient.

        ``efficiency``: mean benchmark logit of the family at compute ``at`` (default: the
        table's geometric mean compute). ``slope``: the same per tenfold compute.
        ``p_most_efficient``: posterior probability that the family has the highest efficiency.
        """
        _check_prob(prob)
        d = self.data
        if at is not None and not (np.isfinite(at) and at > 0):
            raise DataError(f"at (reference compute) must be > 0, got {at!r}")
        u_ref = 0.0 if at is None else float(d.standardise(at))
        eff = self._family_logit(u_ref)
        slope = (self._family_logit(u_ref + math.log(10) / d.log_c_sd) - eff)
        best = np.bincount(eff.argmax(axis=1), minlength=len(d.families)) / eff.shape[0]
        m, lo, hi = _interval(eff, prob)
        sm, slo, shi = _interval(slope, prob)
        counts = np.bincount(d.family_index, minlength=len(d.families))
        frame = pd.DataFrame({
            "family": d.families, "n_models": counts, "efficiency": m, "lower": lo, "upper": hi,
            "slope_per_decade": sm, "slope_lower": slo, "slope_upper": shi, "p_most_efficient": best,
        })
        return frame.sort_values("efficiency", ascending=False, ignore_index=True)

    def missing(self) -> pd.DataFrame:
        """The missing (model, benchmark) cells the model imputed, and rows dropped for lack of compute."""
        return self.data.missing()

    # -- prediction ------------------------------------------------------------------------
    def _score_draws(self, cap: np.ndarray, rng: np.random.Generator, kind: str,
                     drift: tuple[np.ndarray, Sequence[int]] | None = None) -> np.ndarray:
        """Scores (draws, n, J) from capability draws (draws, n, k).

        ``drift``: (compute of the n models, benchmark columns) to widen by the learned
        forecast drift (:mod:`bayescale.workflows.observational.drift`).
        """
        eta = np.einsum("snk,sjk->snj", cap, self.draws("W")) + self.draws("b")[:, None, :]
        if drift is not None:
            from bayescale.workflows.observational.drift import widen

            eta = widen(self, eta, drift[0], drift[1], rng)
        mean = score_mean(eta, self.data.floors)
        if kind == "mean":
            return mean
        if kind != "predictive":
            raise DataError(f"kind must be 'predictive' or 'mean', got {kind!r}")
        # scores are fractions: the predictive is censored to [0, 1]
        return np.clip(mean + rng.standard_normal(mean.shape) * self.draws("sigma")[:, None, :], 0.0, 1.0)

    def predict_missing(self, prob: float = 0.9, kind: str = "predictive", discrepancy: bool = False,
                        benchmarks: Sequence[str] | None = None) -> pd.DataFrame:
        """Posterior predictive of every missing score (e.g. a held-out downstream metric).

        This is how a model is predicted from its observed benchmarks: put it in the table
        with the metric to predict left empty (NaN); its capability is inferred from the
        scores it has, its family and its compute, and the empty cell is predicted from it
        (:func:`holdout` does this for a whole split). For a model with no scores at all, use
        :meth:`predict` (family and compute alone).

        ``discrepancy=True`` widens the intervals by each benchmark's drift learned by
        forward chaining (:meth:`learn_drift`, run here for benchmarks that lack it:
        3 refits each), which the plain intervals leave out and so under-cover.
        ``benchmarks`` limits the rows to those benchmarks' missing cells.
        """
        _check_prob(prob)
        _check_flag(discrepancy)
        d = self.data
        rows, cols = np.nonzero(np.isnan(d.scores))
        frame = self.data.missing()
        if benchmarks is not None:
            unknown = [b for b in benchmarks if b not in d.benchmarks]
            if unknown:
                raise DataError(f"benchmarks {unknown} were not fitted; fitted: {d.benchmarks}")
            keep = np.isin(cols, [d.benchmarks.index(b) for b in benchmarks])
            rows, cols, frame = rows[keep], cols[keep], frame[keep].reset_index(drop=True)
        rng = np.random.default_rng(self.seed + 1)
        drift = (d.compute[rows], np.unique(cols)) if discrepancy else None
        sc = self._score_draws(self.draws("capability_score")[:, rows, :], rng, kind, drift)  # (s, n, J)
        vals = sc[:, np.arange(len(rows)), cols]
        mean, lo, hi = _interval(vals, prob)
        frame["mean"], frame["lower"], frame["upper"] = mean, lo, hi
        return frame

    def capability_draws_new(self, family: Sequence[str], compute: Sequence[float],
                             rng: np.random.Generator) -> np.ndarray:
        """Capability draws (draws, n, k) of new models from their family and compute alone.

        A family not in the fit (or :data:`NEW_FAMILY`) is drawn from the population.
        """
        d = self.data
        u = d.standardise(compute)
        s = self.n_draws
        alpha, beta = self.draws("alpha"), self.draws("beta")
        out = np.empty((s, len(u), self.k))
        for i, (f, ui) in enumerate(zip(family, u, strict=True)):
            if f in d.families:
                g = d.families.index(f)
                a, bt = alpha[:, g, :], beta[:, g, :]
            else:
                a = self.draws("alpha_mu") + self.draws("alpha_sigma") * rng.standard_normal((s, self.k))
                bt = self.draws("beta_mu") + self.draws("beta_sigma") * rng.standard_normal((s, self.k))
            out[:, i, :] = a + bt * ui + self.draws("resid_sigma") * rng.standard_normal((s, self.k))
        return out

    def predict(self, new: pd.DataFrame, prob: float = 0.9, kind: str = "predictive",
                benchmarks: Sequence[str] | None = None, discrepancy: bool = False) -> pd.DataFrame:
        """Predict benchmark scores of new models from family and compute alone.

        ``new`` needs the family and compute columns of the fit (and the model column,
        if one was used, to label rows). Returns one row per model and benchmark with
        ``mean``, ``lower``, ``upper`` (central ``prob`` interval) and ``known_family``.
        ``discrepancy=True`` widens by the requested benchmarks' learned drift (see
        :meth:`predict_missing`; learned from hidden scores of models whose other scores are
        known, so for models known by compute alone it is a lower bound).
        """
        _check_prob(prob)
        _check_flag(discrepancy)
        fam_col, comp_col, model_col = self.columns["family"], self.columns["compute"], self.columns["model"]
        if not isinstance(new, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame of new models, got {type(new).__name__}")
        for col in (fam_col, comp_col):
            if col not in new.columns:
                raise DataError(f"column {col!r} not in the new models' table")
        comp = pd.to_numeric(new[comp_col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(comp > 0) | ~np.isfinite(comp))
        if len(bad):
            raise DataError(f"compute column {comp_col!r} must be a positive number; rows {bad[:10].tolist()}")
        benches = list(benchmarks) if benchmarks is not None else self.data.benchmarks
        unknown = [b for b in benches if b not in self.data.benchmarks]
        if unknown:
            raise DataError(f"benchmarks {unknown} were not fitted; fitted: {self.data.benchmarks}")
        rng = np.random.default_rng(self.seed + 2)
        fams = new[fam_col].astype(str).tolist()
        cap = self.capability_draws_new(fams, comp, rng)
        drift = (comp, [self.data.benchmarks.index(b) for b in benches]) if discrepancy else None
        sc = self._score_draws(cap, rng, kind, drift)
        mean, lo, hi = _interval(sc, prob)
        names = (new[model_col].astype(str).tolist() if model_col is not None and model_col in new.columns
                 else [str(i) for i in new.index])
        rows = []
        for i, name in enumerate(names):
            for b in benches:
                j = self.data.benchmarks.index(b)
                rows.append({"model": name, "family": fams[i], "known_family": fams[i] in self.data.families,
                             "compute": comp[i], "benchmark": b, "mean": mean[i, j], "lower": lo[i, j],
                             "upper": hi[i, j]})
        return pd.DataFrame(rows)

    def learn_drift(self, benchmark: str, cuts: Sequence[float] | None = None):
        """Learn how ``benchmark``'s forecasts drift beyond the fitted compute (forward chaining).

        Refits the model once per cut (quantiles of the log compute of the models with the
        benchmark observed), hiding the benchmark above the cut; see
        :mod:`bayescale.workflows.observational.drift`. The result is kept for ``discrepancy=True``.
        """
        from bayescale.workflows.observational.drift import CUTS, learn

        return learn(self, benchmark, CUTS if cuts is None else cuts)

    # -- diagnostics -----------------------------------------------------------------------
    def diagnostics(self) -> dict[str, float]:
        """Sampler health: max r_hat and min bulk ESS over the main parameters, divergences."""
        out: dict[str, float] = {"method": self.method}
        if self.method != "nuts":
            return out
        from arviz_stats import ess, rhat

        dataset = self.idata["posterior"].dataset
        names = [n for n in ("W_low", "b_free", "sigma", "beta", "alpha", "resid_sigma") if n in dataset]
        post = dataset[names]
        out["max_rhat"] = float(max(float(v.max()) for v in rhat(post).data_vars.values()))
        out["min_ess_bulk"] = float(min(float(v.min()) for v in ess(post).data_vars.values()))
        stats = self.idata["sample_stats"].dataset
        out["divergences"] = int(stats["diverging"].sum()) if "diverging" in stats else 0
        return out

    # -- plot ------------------------------------------------------------------------------
    def plot(self, benchmark: str | None = None, *, families: Sequence[str] | None = None, prob: float = 0.9,
             ax=None, n_grid: int = 40):
        """Plot a benchmark score against compute per family: points and posterior predictive bands.

        Families default to those with at least two models (at most 8). Returns the axes.
        """
        import matplotlib.pyplot as plt

        _check_prob(prob)
        d = self.data
        benchmark = benchmark or d.benchmarks[-1]
        if benchmark not in d.benchmarks:
            raise DataError(f"benchmark {benchmark!r} was not fitted; fitted: {d.benchmarks}")
        j = d.benchmarks.index(benchmark)
        counts = np.bincount(d.family_index, minlength=len(d.families))
        if families is None:
            order = np.argsort(-counts, kind="stable")
            families = [d.families[i] for i in order if counts[i] >= 2][:8]
        unknown = [f for f in families if f not in d.families]
        if unknown:
            raise DataError(f"families {unknown} not in the fit")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        rng = np.random.default_rng(self.seed + 3)
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, f in enumerate(families):
            g = d.families.index(f)
            members = d.family_index == g
            c_lo, c_hi = d.compute[members].min(), d.compute[members].max()
            grid = np.geomspace(c_lo / 2, c_hi * 4, n_grid)
            cap = self.capability_draws_new([f] * n_grid, grid, rng)
            sc = self._score_draws(cap, rng, "predictive")[:, :, j]
            mean, lo, hi = _interval(sc, prob)
            color = colors[i % len(colors)]
            ax.fill_between(grid, lo, hi, color=color, alpha=0.15, lw=0)
            ax.plot(grid, mean, color=color, lw=1.2)
            ax.scatter(d.compute[members], d.scores[members, j], color=color, s=18, label=f, zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel(self.columns["compute"])
        ax.set_ylabel(benchmark)
        ax.set_title(f"{benchmark} vs compute per family ({int(prob * 100)}% predictive bands)")
        ax.legend(fontsize=7, ncols=2)
        return ax
