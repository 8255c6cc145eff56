"""A fitted Chinchilla law: parameters, predictions and compute-optimal allocation, with intervals.

The law and its model are in :mod:`bayescale.laws.chinchilla`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.config import FitConfig
from bayescale.core.posterior import flat, sample_noise
from bayescale.errors import DataError
from bayescale.laws.chinchilla import (
    LAW_PARAMETERS,
    ChinchillaData,
    _is_compute,
    chinchilla_loss,
    optimal_allocation,
    prepare_chinchilla,
)
from bayescale.results.intervals import check_kind, check_prob, interval_columns, positive_scales
from bayescale.results.scaling import ScalingFit


def from_saved(idata: xr.DataTree, frame: pd.DataFrame, config: FitConfig) -> ChinchillaFit:
    """Rebuild a saved Chinchilla fit (used by :func:`bayescale.load`)."""
    return ChinchillaFit(idata, prepare_chinchilla(frame, x=config.x, y=config.y, noise=config.noise), config)


def _as_points(points, params, tokens, x_names) -> tuple[np.ndarray, np.ndarray]:
    if points is not None:
        if isinstance(points, pd.DataFrame):
            points = {c: points[c].to_numpy() for c in points.columns}
        if not isinstance(points, Mapping):
            raise DataError("points must be a dict or DataFrame with params and tokens")
        names = {str(k).lower(): k for k in points}
        p_key = next((names[k] for k in (x_names[0].lower(), "params") if k in names), None)
        t_key = next((names[k] for k in ("tokens", x_names[1].lower(), "compute") if k in names), None)
        if p_key is None or t_key is None:
            raise DataError(f"points need keys 'params' and 'tokens' (or compute), got {sorted(map(str, points))}")
        params, tokens = points[p_key], points[t_key]
        if _is_compute(str(t_key)):  # a budget: tokens = C / (6 N)
            params = positive_scales(params, "params")
            tokens = positive_scales(tokens, str(t_key)) / (6.0 * params)
    if params is None or tokens is None:
        raise DataError("give params and tokens (or compute=...) to predict")
    params = positive_scales(params, "params")
    tokens = positive_scales(tokens, "tokens")
    try:
        params, tokens = np.broadcast_arrays(params, tokens)
    except ValueError as exc:
        raise DataError(f"params ({params.size}) and tokens ({tokens.size}) must have the same length") from exc
    return params.astype(float), tokens.astype(float)


class ChinchillaFit(ScalingFit):
    """A fitted Chinchilla law: parameters, predictions and compute-optimal allocation.

    Inherits ``summary``, ``diagnostics``, ``priors``, ``save`` from
    :class:`~bayescale.results.scaling.ScalingFit`; ``predict``, ``optimal``, ``flags`` and ``plot``
    work on two inputs (parameters and tokens) or on a compute budget.
    """

    data: ChinchillaData

    def __repr__(self) -> str:
        c = self.config
        return (f"<ChinchillaFit {c.y!r} ~ {c.x!r}, {len(self.data.y)} points, "
                f"{c.chains}x{c.draws} draws, noise={c.noise!r}>")

    # ------------------------------------------------------------------ draws
    def parameter_draws(self) -> dict[str, np.ndarray]:
        """Flattened posterior draws of E, A, B, alpha, beta (user units), sigma (and nu)."""
        ds = self._user_parameters()
        return {name: flat(ds, name) for name in ds.data_vars}

    def curve_draws(self, params, tokens=None, *, seed: int | None = None) -> np.ndarray:
        """Draws of the mean loss at ``(params, tokens)``, shape (samples, points)."""
        n, d = _as_points(None, params, tokens, self.data.x_names)
        p = self.parameter_draws()
        return chinchilla_loss(n[None, :], d[None, :], *(p[k][:, None] for k in LAW_PARAMETERS))

    def predictive_draws(self, params, tokens=None, *, seed: int | None = None) -> np.ndarray:
        """Posterior predictive draws (mean plus observation noise) at ``(params, tokens)``."""
        mean = self.curve_draws(params, tokens) / self.data.y_scale
        rng = self._rng(seed, salt=10_000)
        return sample_noise(mean, self.posterior, self.config.noise, rng) * self.data.y_scale

    def optimal_draws(self, compute) -> dict[str, np.ndarray]:
        """Draws of N*, D*, tokens per parameter and the loss at the optimum, per budget.

        Each array has shape (samples, len(compute)).
        """
        c = positive_scales(compute, "compute")
        p = self.parameter_draws()
        args = [p[k][:, None] for k in ("A", "B", "alpha", "beta")]
        n_opt, d_opt = optimal_allocation(c[None, :], *args)
        loss = chinchilla_loss(n_opt, d_opt, *(p[k][:, None] for k in LAW_PARAMETERS))
        return {"params": n_opt, "tokens": d_opt, "tokens_per_param": d_opt / n_opt, "loss": loss}

    # ------------------------------------------------------------------ tables
    def predict(
        self,
        points=None,
        group: str | None = None,
        *,
        params=None,
        tokens=None,
        compute=None,
        prob: float = 0.9,
        kind: str = "predictive",
        seed: int | None = None,
        discrepancy=None,
    ) -> pd.DataFrame:
        """Predicted loss at ``(params, tokens)`` or at the compute-optimal point of budgets.

        Parameters
        ----------
        points : dict, DataFrame or numbers, optional
            ``{"params": ..., "tokens": ...}`` (scalars or equal-length lists); plain numbers
            are read as compute budgets (as ``compute=``), so ``predict(at)`` works as for
            one-input laws.
        group : None
            Accepted for the common ``predict(x, group)`` call; the law has no groups.
        params, tokens : float or sequence, optional
            The same, as keywords.
        compute : float or sequence, optional
            Training FLOP budgets; the loss is predicted at the compute-optimal
            ``(N*(C), D*(C))`` of each draw (other inputs must then be omitted).
        prob : float
            Mass of the central interval.
        kind : {"predictive", "mean"}
            With or without observation noise.
        discrepancy : True, float or array of float, optional
            Widen by a model discrepancy whose sd of log loss grows by ``s`` per decade beyond
            the fitted runs (:mod:`bayescale.laws.chinchilla_drift`): ``True`` for the ``s`` the
            fit learned by forward chaining (``bayescale.fit(..., discrepancy=True)``), or a
            number or draws of ``s``. Default (None): the learned ``s`` when the fit has one, else
            the drift prior's (:mod:`bayescale.laws.drift_prior`, a loss), both over decades of
            compute beyond the fitted runs; ``False``: the posterior alone.

        Returns
        -------
        pandas.DataFrame
            One row per point: ``params``, ``tokens``, ``compute`` (posterior medians of the
            allocation when predicting at a budget), ``median``, ``lower``, ``upper``,
            ``mean``, ``prob``, ``decades_beyond`` (log10 distance outside the observed range,
            the larger of the params and tokens distances).
        """
        prob = check_prob(prob)
        if group not in (None, "all") and list(np.atleast_1d(group)) != ["all"]:
            raise DataError(f"the chinchilla law is fitted without groups; got group={group!r}")
        if points is not None and not isinstance(points, Mapping | pd.DataFrame):
            points, compute = None, points
        check_kind(kind)
        if compute is not None:
            if points is not None or params is not None or tokens is not None:
                raise DataError("give either compute=... or params and tokens, not both")
            opt = self.optimal_draws(compute)
            mean = opt["loss"]
            n = np.median(opt["params"], axis=0)
            d = np.median(opt["tokens"], axis=0)
        else:
            n, d = _as_points(points, params, tokens, self.data.x_names)
            mean = self.curve_draws(n, d)
        draws = mean
        if kind == "predictive":
            rng = self._rng(seed, salt=10_000)
            draws = sample_noise(mean / self.data.y_scale, self.posterior, self.config.noise, rng) * self.data.y_scale
        discrepancy = self.resolve_discrepancy(discrepancy, seed)
        if discrepancy is not None:
            from bayescale.results.chinchilla_drift import widen

            draws = widen(self, draws, n, d, discrepancy, self._rng(seed, salt=20_000))
        frame = pd.DataFrame({"params": n, "tokens": d, "compute": 6 * n * d,
                              **interval_columns(draws, prob), "prob": prob})
        frame["decades_beyond"] = np.maximum(self._beyond(n, self.data.params), self._beyond(d, self.data.tokens))
        return frame

    @staticmethod
    def _beyond(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
        lo, hi = np.log10(observed.min()), np.log10(observed.max())
        lv = np.log10(values)
        return np.where(lv > hi, lv - hi, np.where(lv < lo, lo - lv, 0.0))

    def optimal(self, compute, *, prob: float = 0.9) -> pd.DataFrame:
        """Compute-optimal allocation for each budget, with central intervals.

        Returns
        -------
        pandas.DataFrame
            One row per (budget, quantity): ``compute``, ``quantity`` (``params``,
            ``tokens``, ``tokens_per_param``, ``loss`` = expected loss at the optimum),
            ``median``, ``lower``, ``upper``, ``mean``, ``prob``, ``decades_beyond`` (of
            the budget beyond the largest observed compute).
        """
        prob = check_prob(prob)
        c = positive_scales(compute, "compute")
        opt = self.optimal_draws(c)
        beyond = self._beyond(c, self.data.compute)
        rows = []
        for i, cv in enumerate(c):
            for quantity, draws in opt.items():
                stats = interval_columns(draws[:, i], prob)
                rows.append({"compute": cv, "quantity": quantity, **{k: float(v) for k, v in stats.items()},
                             "prob": prob, "decades_beyond": float(beyond[i])})
        return pd.DataFrame(rows)

    def contrast(self, *args, **kwargs):
        raise DataError("contrast compares groups; the chinchilla law is fitted without groups")

    def prior_predictive(self, draws: int = 500, *, prob: float = 0.9, seed: int | None = None) -> pd.DataFrame:
        """Where the priors alone put each observation (median, interval, inside)."""
        prob = check_prob(prob)
        sims = self._prior_predictive_draws(draws, seed)
        with np.errstate(over="ignore"):  # heavy-tailed prior draws may overflow to inf: fine for quantiles
            sims = (sims if self.config.noise == "normal" else np.exp(sims)) * self.data.y_scale
        frame = pd.DataFrame({"params": self.data.params, "tokens": self.data.tokens, "loss": self.data.y,
                              **interval_columns(sims, prob)})
        frame["inside"] = (frame["loss"] >= frame["lower"]) & (frame["loss"] <= frame["upper"])
        return frame

    def flags(self, at=None) -> pd.DataFrame:
        """Sampler flags, influential points and, for compute budgets ``at``, how far the optimum is extrapolated."""
        from bayescale.results.flags import COLUMNS, influential_flags, sampler_flags

        rows = sampler_flags(self) + influential_flags(self) + chinchilla_target_flags(self, compute=at)
        return pd.DataFrame(rows, columns=COLUMNS)

    def plot(self, *, compute=None, at=None, prob: float = 0.9, groups=None, ax=None):
        """IsoFLOP curves (loss against params at fixed budgets) and the optimal frontier.

        Left: data coloured by compute, posterior median loss along isoFLOP lines with
        bands, and the optimum of each line. Right: N*(C) with its band and the data in the
        (compute, params) plane. ``at`` is an alias of ``compute`` (budgets to mark);
        ``groups`` is ignored (no groups). Returns the matplotlib Figure.
        """
        return plot_chinchilla(self, compute=compute if compute is not None else at, prob=check_prob(prob), ax=ax)

    @property
    def calibrated(self) -> bool:
        """Whether the fit holds a learned discrepancy (:func:`bayescale.fitting.chinchilla_drift.learn`)."""
        from bayescale.results.chinchilla_drift import learned

        return learned(self) is not None

    # ------------------------------------------------------------------ the inverse question
    def resolve_discrepancy(self, discrepancy=None, seed: int | None = None):
        """``True`` (the learned ``s``) by default when the fit learned one, else the drift prior's draws
        of ``s``; None for ``False``; a given ``s`` as it is."""
        if discrepancy is None:
            return True if self.calibrated else self.drift_draws(seed)
        if discrepancy is False:
            return None
        return discrepancy

    def discrepancy_text(self, discrepancy=None) -> str:
        if discrepancy is True or (discrepancy is None and self.calibrated):
            return "the s this fit learned by forward chaining over compute"
        return super().discrepancy_text(discrepancy)

    def _reach_checks(self, group, discrepancy) -> None:
        if group not in (None, "all"):
            raise DataError(f"the chinchilla law is fitted without groups; reach takes group=None, got {group!r}")
        if discrepancy is not None and discrepancy is not True:
            from bayescale.laws.discrepancy import check_scale

            check_scale(discrepancy)

    def reach_draws(self, target: float, group: str | None = None, discrepancy=None, *,
                    seed: int | None = None) -> np.ndarray:
        """Per draw, the compute (FLOP) at which the loss at the compute-optimal allocation falls to ``target``.

        The optimal loss is that of :meth:`optimal` (``C = 6 N D``), which falls as
        ``E + K (C/6)^(-alpha beta / (alpha + beta))``, so the budget has a closed form
        (:func:`bayescale.results.reach.chinchilla_reach`). ``numpy.inf`` marks a draw whose floor
        ``E`` is at or above the target, or that gets there only more than
        ``bayescale.results.reach.HORIZON_DECADES`` decades beyond the largest observed compute.
        ``group`` must be None (the law has no groups); ``discrepancy`` (True for the learned
        ``s``, or a number or draws of it, as for :meth:`predict`) lets the log loss drift beyond
        the fitted compute (:func:`bayescale.results.chinchilla_drift.reach_draws`); ``seed``
        seeds that drift.
        """
        from bayescale.results.reach import beyond_horizon, check_targets, chinchilla_reach

        self._reach_checks(group, discrepancy)
        (value,) = check_targets(target, law="chinchilla", noise=self.config.noise, single=True)
        discrepancy = self.resolve_discrepancy(discrepancy, seed)
        if discrepancy is not None:
            from bayescale.results.chinchilla_drift import reach_draws

            return reach_draws(self, value, discrepancy, seed=seed)
        p = self.parameter_draws()
        c = chinchilla_reach(value, *(p[k] for k in LAW_PARAMETERS))
        return np.exp(beyond_horizon(np.log(c), float(np.log(self.data.compute.max()))))

    def reach(self, target, group: str | None = None, prob: float = 0.9, discrepancy=None, *,
              seed: int | None = None) -> pd.DataFrame:
        """The compute at which the compute-optimal loss reaches each ``target``, with its interval.

        Same columns as :meth:`bayescale.ScalingFit.reach` (``group`` is ``"all"``; the
        scale is compute in FLOP, ``decades_beyond`` of the median beyond the largest
        observed compute).
        """
        from bayescale.results.reach import check_targets, reach_table

        prob = check_prob(prob)
        self._reach_checks(group, discrepancy)
        targets = check_targets(target, law="chinchilla", noise=self.config.noise)
        return reach_table(lambda t, g: self.reach_draws(t, discrepancy=discrepancy, seed=seed), targets, ["all"], prob,
                           lambda g: float(self.data.compute.max()))


def chinchilla_target_flags(fit: ChinchillaFit, compute=None, points=None) -> list[dict]:
    """Extrapolation flags for compute budgets and/or ``(params, tokens)`` points."""
    from bayescale.results.flags import FAR_DECADES, _flag

    out = []
    d = fit.data
    checks: list[tuple[str, float, np.ndarray]] = []
    if compute is not None:
        c = positive_scales(compute, "compute")
        opt = fit.optimal_draws(c)
        for i, cv in enumerate(c):
            checks.append((f"C={cv:.3g}", cv, np.array([
                ("compute", fit._beyond(np.array([cv]), d.compute)[0]),
                ("params", fit._beyond(np.median(opt["params"][:, i:i + 1], axis=0), d.params)[0]),
                ("tokens", fit._beyond(np.median(opt["tokens"][:, i:i + 1], axis=0), d.tokens)[0]),
            ], dtype=object)))
    if points is not None:
        n, t = _as_points(points, None, None, d.x_names)
        for nv, tv in zip(n, t, strict=True):
            checks.append((f"N={nv:.3g}, D={tv:.3g}", 6 * nv * tv, np.array([
                ("params", fit._beyond(np.array([nv]), d.params)[0]),
                ("tokens", fit._beyond(np.array([tv]), d.tokens)[0]),
            ], dtype=object)))
    for label, xv, dist in checks:
        for axis, decades in dist:
            if decades > 0:
                severity = "warning" if decades > FAR_DECADES else "info"
                out.append(_flag("extrapolation", severity,
                                 f"{label}: {axis} is {decades:.2f} decades outside the observed range",
                                 float(decades), None, float(xv)))
    return out


def plot_chinchilla(fit: ChinchillaFit, *, compute=None, prob: float = 0.9, ax=None):
    """See :meth:`ChinchillaFit.plot`; ``ax`` is a pair of axes or None."""
    import matplotlib
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(11, 4.5))
        ax = fig.subplots(1, 2)
    fig = ax[0].figure
    d = fit.data
    c_obs = d.compute
    budgets = np.logspace(np.log10(c_obs.min()), np.log10(c_obs.max()), 5)
    if compute is not None:
        budgets = np.unique(np.concatenate([budgets, positive_scales(compute, "compute")]))
    norm = LogNorm(budgets.min(), budgets.max())
    cmap = matplotlib.colormaps["viridis"]
    left, right = ax
    left.scatter(d.params, d.y, c=c_obs, cmap=cmap, norm=norm, s=10, zorder=3)
    p = fit.parameter_draws()
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    n_star = np.median(fit.optimal_draws(budgets)["params"], axis=0)
    for cv, centre in zip(budgets, n_star, strict=True):
        n_grid = np.logspace(np.log10(centre) - 1.2, np.log10(centre) + 1.2, 60)
        loss = chinchilla_loss(n_grid[None, :], cv / (6 * n_grid[None, :]), *(p[k][:, None] for k in LAW_PARAMETERS))
        q = np.quantile(loss, [lo_q, 0.5, hi_q], axis=0)
        color = cmap(norm(cv))
        left.plot(n_grid, q[1], color=color, lw=1.3)
        left.fill_between(n_grid, q[0], q[2], color=color, alpha=0.15, lw=0)
    opt = fit.optimal(budgets, prob=prob).pivot(index="compute", columns="quantity", values="median")
    left.plot(opt["params"], opt["loss"], "k--", lw=1, label="compute-optimal")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel(d.x_names[0])
    left.set_ylabel(d.y_name)
    left.set_title(f"isoFLOP curves (median, {round(prob * 100)}% band)")
    left.legend(fontsize=8, frameon=False)

    grid = np.logspace(np.log10(c_obs.min()), np.log10(max(budgets.max(), c_obs.max() * 100)), 60)
    frontier = fit.optimal(grid, prob=prob)
    frontier = frontier[frontier["quantity"] == "params"]
    right.scatter(c_obs, d.params, c=d.y, cmap="magma", s=10, zorder=3, label="runs (colour: loss)")
    right.plot(frontier["compute"], frontier["median"], color="C0", lw=1.6, label="N*(C)")
    right.fill_between(frontier["compute"], frontier["lower"], frontier["upper"], color="C0", alpha=0.2, lw=0)
    right.axvspan(c_obs.max(), grid.max(), color="0.5", alpha=0.12, lw=0, label="extrapolation")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("compute C = 6 N D (FLOP)")
    right.set_ylabel(d.x_names[0])
    right.set_title("compute-optimal parameters N*(C)")
    right.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
