"""The fit object: summaries, predictions, contrasts, plots and saving of one fitted law."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.config import FitConfig
from bayescale.core.posterior import NEW_GROUP, flat, sample_noise
from bayescale.core.registry import law_spec
from bayescale.data.curves import CurveData
from bayescale.errors import DataError
from bayescale.laws.discrepancy import widen
from bayescale.results.drift import DriftForecasts
from bayescale.results.intervals import (
    check_kind,
    check_prob,
    interval_columns,
    positive_scales,
    requested_groups,
    scalar_stats,
)
from bayescale.results.planning import Plannable


class ScalingFit(Plannable, DriftForecasts):
    """A fitted scaling law: posterior, data and configuration together.

    Create one with :func:`bayescale.fit`; reload a saved one with :func:`bayescale.load`.

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior, sample stats, log-likelihood and observed data (ArviZ layout).
    data : CurveData
        The validated observations.
    config : FitConfig
        Law, columns, options, priors and sampler settings.
    """

    def __init__(self, idata: xr.DataTree, data: CurveData, config: FitConfig):
        self.idata = idata
        self.data, self.config = data, config

    def __repr__(self) -> str:
        c = self.config
        groups = f", {self.data.n_groups} groups in {c.group!r}" if c.group else ""
        return (
            f"<ScalingFit law={c.law!r} {c.y!r} ~ {c.x!r}{groups}, {len(self.data.y)} points, "
            f"{c.chains}x{c.draws} draws, noise={c.noise!r}, slopes={c.slopes!r}>"
        )

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].to_dataset()

    # ------------------------------------------------------------------ draws
    def _group_code(self, name: str) -> int:
        if name == NEW_GROUP:
            return -1
        if name not in self.data.groups:
            raise DataError(
                f"unknown group {name!r}; observed groups are {', '.join(self.data.groups)} "
                f"(use {NEW_GROUP!r} for a new group drawn from the population)"
            )
        return self.data.groups.index(name)

    def _rng(self, seed: int | None, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.config.seed if seed is None else seed, salt])

    def curve_draws(self, x, group: str, *, seed: int | None = None) -> np.ndarray:
        """Posterior draws of the mean curve at ``x`` for ``group``, in the user's units.

        Returns an array of shape (n_samples, len(x)).
        """
        x = positive_scales(x)
        code = self._group_code(group)
        # the same salt for the same group keeps a new group's draws consistent across calls
        rng = self._rng(seed, salt=code + 1)
        return self._law_function("curve")(self.posterior, self.data, code, rng, x)

    def predictive_draws(self, x, group: str, *, seed: int | None = None) -> np.ndarray:
        """Posterior predictive draws (mean curve plus observation noise) at ``x``."""
        mean = self.curve_draws(x, group, seed=seed) / self.data.y_scale
        rng = self._rng(seed, salt=10_000 + self._group_code(group))
        own = getattr(import_module(law_spec(self.config.law).module), "sample_predictive", None)
        if own is not None:  # laws with their own likelihood (binomial, beta) draw their own noise
            return own(mean * self.data.y_scale, self.posterior, self.data, self.config, rng)
        return sample_noise(mean, self.posterior, self.config.noise, rng) * self.data.y_scale

    # ------------------------------------------------------------------ tables
    def _law_function(self, name: str):
        from bayescale.core.registry import law_spec

        return law_spec(self.config.law).function(name)

    def _user_parameters(self) -> xr.Dataset:
        """Posterior of the parameters in the user's units."""
        ds = self._law_function("user_parameters")(self.posterior, self.data)
        if "group" in ds.dims:
            ds = ds.assign_coords(group=list(self.data.groups))
        return ds

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """Posterior summary of the parameters in the user's units.

        Columns: mean, sd, HDI bounds (``hdi_lower``, ``hdi_upper`` at ``prob``),
        ``r_hat``, ``ess_bulk``, ``ess_tail``. ``A`` and ``E`` are in the units of
        ``y`` (``A`` at ``x = 1``), ``sigma`` is the noise scale, ``log_A_sigma`` the
        spread of log offsets across groups.
        """
        import arviz_stats as azs

        prob = check_prob(prob)
        table = azs.summary(
            self._user_parameters(), ci_prob=prob, ci_kind="hdi", round_to="none", kind="all"
        )
        table = pd.DataFrame(table)
        lb = [c for c in table.columns if c.endswith("_lb")][0]
        ub = [c for c in table.columns if c.endswith("_ub")][0]
        table = table.rename(columns={lb: "hdi_lower", ub: "hdi_upper"})
        return table[["mean", "sd", "hdi_lower", "hdi_upper", "r_hat", "ess_bulk", "ess_tail"]].astype(float)

    def predict(
        self,
        x,
        group: str | Sequence[str] | None = None,
        *,
        prob: float = 0.9,
        kind: str = "predictive",
        seed: int | None = None,
        discrepancy=None,
    ) -> pd.DataFrame:
        """Predict at new scales, with central intervals.

        Parameters
        ----------
        x : float or sequence of float
            Scales to predict at (user units).
        group : str or sequence of str, optional
            Groups to predict for; every group is paired with every ``x``. Defaults to
            all observed groups. ``"(new group)"`` (``bayescale.NEW_GROUP``) predicts an
            unseen group drawn from the population of groups.
        prob : float
            Mass of the central interval.
        kind : {"predictive", "mean"}
            ``predictive`` includes observation noise (where a new measurement will
            fall); ``mean`` is the law's curve only.
        seed : int, optional
            Seed for the predictive noise and new-group draws; defaults to the fit's seed,
            so repeated calls give identical tables.
        discrepancy : None, False, float or array of float, optional
            Scale ``s`` of a model discrepancy: the sd of ``log y`` (``logit y`` for errors and
            accuracies) grows by ``s`` per decade beyond the observed range. Default (None): ``s``
            from the fit's drift prior (:mod:`bayescale.laws.drift_prior`); ``False``: the posterior
            alone; a number, or draws of ``s`` (``backtest(...).discrepancy_draws()``).

        Returns
        -------
        pandas.DataFrame
            One row per (group, x): ``group``, the x column, ``median``, ``lower``,
            ``upper``, ``mean``, ``prob``, ``decades_beyond`` (log10 distance beyond the
            observed range of that group; 0 inside it).
        """
        prob, kind, xs = check_prob(prob), check_kind(kind), positive_scales(x)
        s = self.resolve_discrepancy(discrepancy, seed)
        groups = requested_groups(group, self.data.groups)
        draw = self.predictive_draws if kind == "predictive" else self.curve_draws
        rows = []
        for g in groups:
            draws, decades = draw(xs, g, seed=seed), self._decades_beyond(xs, g)
            if s is not None:
                draws = widen(draws, decades, s, self._rng(seed, salt=20_000 + self._group_code(g)),
                              link=self.drift_link)
            frame = pd.DataFrame({"group": g, self.config.x: xs, **interval_columns(draws, prob), "prob": prob})
            frame["decades_beyond"] = decades
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    def _decades_beyond(self, xs: np.ndarray, group: str) -> np.ndarray:
        code = self._group_code(group)
        x_obs = self.data.x if code < 0 else self.data.x[self.data.group_index == code]
        lo, hi = np.log10(x_obs.min()), np.log10(x_obs.max())
        lx = np.log10(xs)
        return np.where(lx > hi, lx - hi, np.where(lx < lo, lo - lx, 0.0))

    def contrast(
        self, a: str, b: str, *, at=None, prob: float = 0.9, seed: int | None = None
    ) -> pd.DataFrame:
        """Compare two groups: difference in log offsets and the gap in the metric.

        Parameters
        ----------
        a, b : str
            Group names.
        at : sequence of float, optional
            Scales at which to report the gap ``mean_a(x) - mean_b(x)``; defaults to the
            smallest and largest observed ``x``.
        prob : float
            Mass of the central intervals.

        Returns
        -------
        pandas.DataFrame
            Rows ``log_A_difference`` (``log A_a - log A_b``), ``gap`` at each ``x``, and
            ``gap_shrinks``: the posterior probability that ``|gap|`` is smaller at the
            largest ``x`` than at the smallest. Columns ``quantity``, the x column,
            ``median``, ``lower``, ``upper``, ``mean``, ``prob_positive``.
        """
        prob = check_prob(prob)
        if self.data.n_groups < 2:
            raise DataError("contrast needs a grouped fit (pass group=...)")
        for name in (a, b):
            if name == NEW_GROUP or self._group_code(name) < 0:
                raise DataError("contrast compares two observed groups")
        xs = positive_scales(self.data.x_range if at is None else at, "at")
        xs = np.sort(xs)
        ga, gb = self._group_code(a), self._group_code(b)
        log_a = flat(self.posterior, "log_A")
        alpha = self.posterior["alpha"]
        # log A in user units: log A_s + log y_scale + alpha log x_ref; y_scale cancels
        if "group" in alpha.dims:
            alpha = flat(self.posterior, "alpha")
            shift = (alpha[:, ga] - alpha[:, gb]) * np.log(self.data.x_ref)
        else:
            shift = 0.0
        diff = log_a[:, ga] - log_a[:, gb] + shift
        gap = self.curve_draws(xs, a, seed=seed) - self.curve_draws(xs, b, seed=seed)
        rows = [{"quantity": "log_A_difference", self.config.x: np.nan, **scalar_stats(diff, prob)}]
        for i, xv in enumerate(xs):
            rows.append({"quantity": "gap", self.config.x: xv, **scalar_stats(gap[:, i], prob)})
        shrinks = float(np.mean(np.abs(gap[:, -1]) < np.abs(gap[:, 0])))
        rows.append({"quantity": "gap_shrinks", self.config.x: np.nan, "mean": shrinks, "median": np.nan,
                     "lower": np.nan, "upper": np.nan, "prob_positive": np.nan})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self) -> dict[str, float]:
        """Sampler health: max r_hat, min bulk/tail ESS, number of divergences."""
        cached = getattr(self, "_diagnostics", None)  # the draws never change; audits and flags ask often
        if cached is not None:
            return dict(cached)
        table = self.summary()
        stats = self.idata["sample_stats"]
        divergent = int(stats["diverging"].values.sum()) if "diverging" in stats else 0
        self._diagnostics = {
            "max_r_hat": float(table["r_hat"].max()),
            "min_ess_bulk": float(table["ess_bulk"].min()),
            "min_ess_tail": float(table["ess_tail"].min()),
            "divergences": divergent,
            "draws": int(self.config.chains * self.config.draws),
        }
        return dict(self._diagnostics)

    def breaks(self, prob: float = 0.9) -> pd.DataFrame:
        """Each break, then each turn of a turning law (:func:`bayescale.laws.turning.breaks_and_turns`)."""
        return import_module("bayescale.laws.turning").breaks_and_turns(self, check_prob(prob))

    def turns(self, prob: float = 0.9) -> pd.DataFrame:
        """Where a turning-law fit turns, per group (:func:`bayescale.laws.turning.turn_table`)."""
        return import_module("bayescale.laws.turning").turn_table(self, check_prob(prob))

    def flags(self, at=None) -> pd.DataFrame:
        """Reliability flags, one row each: code, severity, message, value.

        See :mod:`bayescale.results.flags` for what each flag means.
        """
        from bayescale.results.flags import all_flags

        return all_flags(self, at=at)

    # ------------------------------------------------------------------ priors
    @property
    def priors(self) -> pd.DataFrame:
        """The priors used, one row per parameter, with the normalisation they live on."""
        from bayescale.laws.priors import PRIOR_DESCRIPTIONS, priors_from_dict

        rows = [
            {"parameter": name, "prior": str(prior), "meaning": PRIOR_DESCRIPTIONS.get(name, "")}
            for name, prior in priors_from_dict(self.config.priors).items()
        ]
        table = pd.DataFrame(rows).set_index("parameter")
        table.attrs["x_ref"] = self.data.x_ref
        table.attrs["y_scale"] = self.data.y_scale
        return table

    def build_model(self):
        """Rebuild the PyMC model from the data and configuration."""
        return law_spec(self.config.law).function("build_model")(self.data, self.config)

    def _prior_predictive_draws(self, draws: int, seed: int | None) -> np.ndarray:
        """Draws of ``y_obs`` from the priors alone, on the model's scale: (draws, observations)."""
        import pymc as pm

        with self.build_model():  # one call for all draws: NumPy's ufuncs (FAST_COMPILE), not a numba program
            prior = pm.sample_prior_predictive(draws=draws, random_seed=self.config.seed if seed is None else seed,
                                               compile_kwargs={"mode": "FAST_COMPILE"})
        return flat(prior["prior_predictive"].to_dataset(), "y_obs")

    def prior_predictive(self, draws: int = 500, *, prob: float = 0.9, seed: int | None = None) -> pd.DataFrame:
        """Prior predictive check: where the priors alone put each observation.

        Returns one row per observation with the observed value, the prior predictive
        median and central interval, and whether the observation falls inside it.
        """
        prob = check_prob(prob)
        sims = self._prior_predictive_draws(draws, seed)
        if self.config.law == "sigmoid":  # counts out of n, or accuracies: back to accuracy
            from bayescale.laws.sigmoid import trials_array

            n = trials_array(self.data, self.config)
            sims = sims / n if n is not None else sims
        else:  # log(y / y_scale) or y / y_scale
            sims = (np.exp(sims) if self.config.noise != "normal" else sims) * self.data.y_scale
        stats = interval_columns(sims, prob)
        frame = pd.DataFrame({
            "group": [self.data.groups[i] for i in self.data.group_index],
            self.config.x: self.data.x,
            self.config.y: self.data.y,
            **stats,
        })
        frame["inside"] = (frame[self.config.y] >= frame["lower"]) & (frame[self.config.y] <= frame["upper"])
        return frame

    def plot(self, *, at=None, prob: float = 0.9, groups: Sequence[str] | None = None, ax=None, discrepancy=None):
        """Log-log plot of the data, posterior median curves and bands per group.

        The region beyond the largest observed ``x`` is shaded as extrapolation; ``at``
        extends the curves to those scales; ``discrepancy`` widens the bands as in
        :meth:`predict`. Returns the matplotlib Figure.
        """
        from bayescale.results.plotting import plot_fit

        return plot_fit(self, at=at, prob=check_prob(prob), groups=groups, ax=ax, discrepancy=discrepancy)

    def save(self, path) -> None:
        """Save posterior, data and configuration to one netCDF file (no pickle).

        Written to a temporary name and renamed: a failed save never leaves a truncated file.
        """
        from bayescale.results.netcdf import save_fit

        save_fit(self, path)

    # ------------------------------------------------------------------ the inverse question
    def _reach_group(self, group) -> str:
        if group is None:
            if self.data.n_groups > 1:
                raise DataError(f"group must name one group of this grouped fit ({', '.join(self.data.groups)}, "
                                f"or {NEW_GROUP!r}); got None")
            return self.data.groups[0]
        self._group_code(group)  # raises on an unknown group
        return group

    def _group_range(self, group: str) -> tuple[float, float]:
        code = self._group_code(group)
        x_obs = self.data.x if code < 0 else self.data.x[self.data.group_index == code]
        return float(x_obs.min()), float(x_obs.max())

    def reach_draws(self, target: float, group: str | None = None, discrepancy=None, *,
                    seed: int | None = None) -> np.ndarray:
        """One reach scale per posterior draw: where the mean curve of ``group`` gets to ``target``.

        Falling metrics (power and broken laws) reach a target from above, the sigmoid's
        accuracy from below (:mod:`bayescale.results.reach`). ``numpy.inf`` marks a draw that never
        does (target at or below its floor, at or above the sigmoid's ceiling, or more than
        ``bayescale.results.reach.HORIZON_DECADES`` decades beyond the data); ``0`` one that is past
        it at every scale (an accuracy target at or below the chance floor).

        Parameters
        ----------
        target : float
            Value of the metric, in its units.
        group : str, optional
            One group (``bayescale.NEW_GROUP`` for an unseen one); None for an ungrouped fit.
        discrepancy : float or array of float, optional
            Model discrepancy scale ``s`` as in :meth:`predict`: each draw's ``log y`` drifts
            by ``s * eps`` per decade beyond the data, one ``eps ~ N(0, 1)`` per draw.
        seed : int, optional
            Seed for new-group and discrepancy draws (default: the fit's seed).

        Returns
        -------
        numpy.ndarray
            Reach scales in the units of x, one per posterior draw.
        """
        from bayescale.results.reach import check_targets, drift_per_decade, law_reach

        (value,) = check_targets(target, law=self.config.law, noise=self.config.noise, single=True)
        group = self._reach_group(group)
        code = self._group_code(group)
        drift = None
        s = self.resolve_discrepancy(discrepancy, seed)
        if s is not None and self.config.law != "sigmoid":  # the sigmoid's reach: its posterior alone (see reach)
            n = self.posterior.sizes["chain"] * self.posterior.sizes["draw"]
            drift = drift_per_decade(n, s, self._rng(seed, salt=20_000 + code))
        return law_reach(self.posterior, self.data, self.config.law, code, self._rng(seed, salt=code + 1), value,
                         self._group_range(group), drift, link=self.drift_link)

    def reach(self, target, group: str | Sequence[str] | None = None, prob: float = 0.9, discrepancy=None, *,
              seed: int | None = None) -> pd.DataFrame:
        """The inverse question: the scale at which the mean curve reaches ``target``, with its interval.

        Parameters
        ----------
        target : float or sequence of float
            Values of the metric (e.g. a loss of 2.1, an accuracy of 0.5).
        group : str or sequence of str, optional
            Groups to answer for (``bayescale.NEW_GROUP`` for an unseen one); default every group.
        prob : float
            Mass of the central interval.
        discrepancy : float or array of float, optional
            Model discrepancy scale, as in :meth:`reach_draws`.
        seed : int, optional
            As in :meth:`reach_draws`.

        Returns
        -------
        pandas.DataFrame
            One row per (group, target): ``group``, ``target``, ``median``, ``lower``,
            ``upper`` (quantiles of the reach scale over all draws, a never-reaching draw
            counting as infinitely far: ``upper`` is ``inf`` once more than ``(1 - prob) / 2``
            of the draws never reach the target, ``median`` once more than half do),
            ``p_never`` (share of draws that never do), ``decades_beyond`` (of the median beyond
            the group's largest observed x; 0 inside), ``prob``.
        """
        from bayescale.results.reach import check_targets, reach_table

        prob = check_prob(prob)
        targets = check_targets(target, law=self.config.law, noise=self.config.noise)
        groups = requested_groups(group, self.data.groups)
        for g in groups:
            self._group_code(g)
        self.resolve_discrepancy(discrepancy, seed)  # checked once, before any group
        return reach_table(lambda t, g: self.reach_draws(t, g, discrepancy, seed=seed), targets, groups, prob,
                           lambda g: self._group_range(g)[1])
