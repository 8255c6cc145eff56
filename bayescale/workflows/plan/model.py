r"""A fit as the planner sees it: thinned posterior draws, their mean curve at new runs, their noise.

Every fit kind becomes a list of :class:`Component` s (one for a single law, one per law of a
stacked fit, each with its stacking weight). A component holds ``n`` posterior draws
:math:`\theta_i` (thinned evenly from the fit's draws), one slope drift :math:`\delta_i = s_i
\varepsilon_i` of :math:`\log y` per decade beyond the data for each (zero without a
discrepancy; :func:`bayescale.results.reach.drift_per_decade`, the drift ``reach`` uses), and
evaluates for a table of new observations ("atoms": a scale and group, or ``(params, tokens)``)

- the mean :math:`\mu_i(a) e^{\delta_i d(a)}` with :math:`d(a)` the decades of ``a`` beyond the
  fitted range (a draw's drift carries on in the same direction at every scale, so a run beyond
  the data informs the drift, as it would in a refit of the drifting model),
- hypothetical observations around it, and the log-likelihood of an observation under every
  draw, with the law's own noise (:class:`Noise`: log-normal, Student-t on ``log y``, normal,
  Beta on an accuracy, binomial or beta-binomial on counts).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayescale.core.posterior import flat
from bayescale.errors import DataError

DEFAULT = "fit default"  # plan's discrepancy: whatever the fit's reach_draws defaults to


def fit_default_discrepancy(fit):
    """The ``discrepancy`` the fit's ``reach_draws`` uses when it is not given."""
    return inspect.signature(fit.reach_draws).parameters["discrepancy"].default


@dataclass
class Noise:
    """Per-draw noise of one law: sample around a mean and score an observation under every draw."""

    kind: str  # lognormal, studentt, normal, beta, binomial, betabinomial
    sigma: np.ndarray | None = None
    nu: np.ndarray | None = None
    kappa: np.ndarray | None = None
    trials: float = 1.0
    y_scale: float = 1.0

    def sample(self, mean: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One observation per entry of ``mean`` (shape (S, A)), row ``s`` from draw ``rows[s]``."""
        def pick(v):
            return (v[rows][:, None])
        if self.kind == "lognormal":
            return mean * np.exp(pick(self.sigma) * rng.standard_normal(mean.shape))
        if self.kind == "studentt":
            return mean * np.exp(pick(self.sigma) * rng.standard_t(np.broadcast_to(pick(self.nu), mean.shape)))
        if self.kind == "normal":
            return mean + pick(self.sigma) * self.y_scale * rng.standard_normal(mean.shape)
        p = np.clip(mean, 1e-9, 1 - 1e-9)
        if self.kind != "binomial":
            k = pick(self.kappa)
            p = rng.beta(p * k, (1 - p) * k)
        if self.kind == "beta":
            return np.clip(p, 1e-6, 1 - 1e-6)
        return rng.binomial(int(self.trials), p) / self.trials

    def log_likelihood(self, y: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """``log p(y[s, a] | draw i)`` up to terms that do not depend on the draw: shape (S, A, n).

        ``y`` has shape (S, A), ``mean`` (n, A).
        """
        from scipy import special

        y3, m3 = y[:, :, None], mean.T[None, :, :]
        if self.kind in ("lognormal", "studentt"):
            z = (np.log(y3) - np.log(m3)) / self.sigma
            if self.kind == "lognormal":
                return -0.5 * z**2 - np.log(self.sigma)
            nu = self.nu
            return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu)
                    - np.log(self.sigma) - (nu + 1) / 2 * np.log1p(z**2 / nu))
        if self.kind == "normal":
            z = (y3 - m3) / (self.sigma * self.y_scale)
            return -0.5 * z**2 - np.log(self.sigma)
        p = np.clip(m3, 1e-9, 1 - 1e-9)
        if self.kind == "beta":
            k = self.kappa
            return ((p * k - 1) * np.log(y3) + ((1 - p) * k - 1) * np.log1p(-y3)
                    - special.betaln(p * k, (1 - p) * k))
        c = np.round(y3 * self.trials)
        if self.kind == "binomial":
            return c * np.log(p) + (self.trials - c) * np.log1p(-p)
        k = self.kappa
        return special.betaln(c + p * k, self.trials - c + (1 - p) * k) - special.betaln(p * k, (1 - p) * k)


def noise_of(fit, rows: np.ndarray) -> Noise:
    post, cfg = fit.posterior, fit.config
    def get(name):
        return (flat(post, name)[rows] if name in post else None)
    if cfg.law != "sigmoid":
        return Noise(cfg.noise, sigma=get("sigma"), nu=get("nu"), y_scale=fit.data.y_scale)
    from bayescale.laws.sigmoid import trials_array

    n = trials_array(fit.data, cfg)
    if n is None:
        return Noise("beta", kappa=get("kappa"))
    kind = "binomial" if cfg.options.get("likelihood") == "binomial" else "betabinomial"
    return Noise(kind, kappa=get("kappa"), trials=float(np.median(n)))


@dataclass
class Component:
    """One law's fit, thinned to ``rows`` of its flattened draws, with its weight in the mixture."""

    fit: object
    weight: float
    rows: np.ndarray
    drift: np.ndarray  # per-decade drift of log y per (thinned) draw
    noise: Noise
    chinchilla: bool

    @property
    def n(self) -> int:
        return len(self.rows)

    def distance(self, atoms: pd.DataFrame) -> np.ndarray:
        """Decades of each atom beyond the fitted data (0 inside)."""
        fit = self.fit
        if self.chinchilla:
            from bayescale.laws.chinchilla_drift import distance
            from bayescale.results.chinchilla_drift import learned

            ds = learned(fit)
            kind = ds.attrs["distance"] if ds is not None else "compute"
            return distance(fit.data.params, fit.data.tokens, atoms["params"], atoms["tokens"], kind)
        out = np.zeros(len(atoms))
        for g, idx in atoms.groupby("group", sort=False).indices.items():
            out[idx] = fit._decades_beyond(atoms["x"].to_numpy()[idx], g)
        return out

    def mean(self, atoms: pd.DataFrame) -> np.ndarray:
        """Mean of a new observation at each atom under each draw, drift included: shape (n, A)."""
        fit = self.fit
        if self.chinchilla:
            mu = fit.curve_draws(atoms["params"].to_numpy(), atoms["tokens"].to_numpy())[self.rows]
        else:
            mu = np.empty((self.n, len(atoms)))
            for g, idx in atoms.groupby("group", sort=False).indices.items():
                mu[:, idx] = fit.curve_draws(atoms["x"].to_numpy()[idx], g)[self.rows]
        d = self.distance(atoms)
        if np.any(self.drift != 0) and np.any(d > 0):
            mu = mu * np.exp(self.drift[:, None] * d[None, :])
        return mu

    def refit(self, atoms: pd.DataFrame, y: np.ndarray, seed: int, draws: int):
        """The fit refitted (through the compile cache) with the rows of ``atoms`` observed at ``y``."""
        from bayescale.fitting.single import run_fit

        fit, d = self.fit, self.fit.data
        if self.chinchilla:
            data = dataclasses.replace(d, params=np.r_[d.params, atoms["params"]],
                                       tokens=np.r_[d.tokens, atoms["tokens"]], y=np.r_[d.y, y])
        else:
            codes = np.array([d.groups.index(g) for g in atoms["group"]], dtype=d.group_index.dtype)
            frame = d.frame
            trials = fit.config.options.get("trials")
            if isinstance(trials, str):  # the eval-set size column the sigmoid reads
                extra = pd.DataFrame({trials: np.full(len(atoms), self.noise.trials)})
                frame = pd.concat([d.frame, extra], ignore_index=True)
            data = dataclasses.replace(d, x=np.r_[d.x, atoms["x"]], y=np.r_[d.y, y],
                                       group_index=np.r_[d.group_index, codes], frame=frame)
        config = dataclasses.replace(fit.config, seed=int(seed), draws=int(draws), tune=int(draws))
        return run_fit(data, config, progress=False, cores=1)


def components(fit, *, draws: int, seed: int, discrepancy, groups: list[str]) -> list[Component]:
    """The fit as weighted components, each thinned to at most ``draws`` draws."""
    parts = [(f, float(w)) for f, w in zip(fit.fits.values(), fit.weights.reindex(list(fit.fits)), strict=True)
             ] if hasattr(fit, "fits") else [(fit, 1.0)]
    out = []
    for f, weight in parts:
        if weight <= 0:
            continue
        total = f.posterior.sizes["chain"] * f.posterior.sizes["draw"]
        rows = np.unique(np.linspace(0, total - 1, min(draws, total)).round().astype(int))
        drift = drift_draws(f, discrepancy, seed, groups)[rows]
        out.append(Component(f, weight, rows, drift, noise_of(f, rows), f.config.law == "chinchilla"))
    return out


def drift_draws(fit, discrepancy, seed: int, groups: list[str]) -> np.ndarray:
    """Per flattened draw, the slope drift of ``log y`` per decade beyond the data that ``reach_draws`` uses."""
    total = fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]
    if discrepancy is None:
        return np.zeros(total)
    if fit.config.law == "chinchilla":  # as bayescale.results.chinchilla_drift.reach_draws draws it
        from bayescale.laws import discrepancy as disc
        from bayescale.results.chinchilla_drift import scale_draws

        rng = fit._rng(seed, salt=30_000)
        s, _ = scale_draws(fit, discrepancy, total, rng)
        return np.log(disc.widen(np.ones((total, 1)), [1.0], s, rng)[:, 0])
    from bayescale.laws.discrepancy import check_scale
    from bayescale.results.reach import drift_per_decade

    check_scale(discrepancy)
    code = fit._group_code(groups[0]) if groups else 0
    return drift_per_decade(total, discrepancy, fit._rng(seed, salt=20_000 + code))


def quantity_draws(component: Component, quantity: Callable) -> np.ndarray:
    """The quantity's draws on the component's thinned draws (a callable of the component's fit and drift)."""
    q = np.asarray(quantity(component), dtype=float)
    if q.ndim != 1:
        raise DataError(f"a plan's quantity must give one value per posterior draw, got shape {q.shape}")
    return q[component.rows] if len(q) != component.n else q
