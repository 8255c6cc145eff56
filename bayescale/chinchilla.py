r"""The Chinchilla law :math:`L(N, D)` and compute-optimal allocation, with posterior intervals.

Law (Hoffmann et al. 2022)
    .. math:: L(N, D) = E + A N^{-\alpha} + B D^{-\beta}

    ``N`` parameters, ``D`` training tokens, ``E`` the irreducible loss, ``A, alpha``
    the cost of a finite model, ``B, beta`` the cost of finite data.

Model
    On normalised data (:math:`n = N / N_{ref}`, :math:`d = D / D_{ref}` with geometric-mean
    references, :math:`v = L / L_{scale}` with the median loss) the mean is

    .. math:: \log \mu = \operatorname{logsumexp}(\log E, \log A - \alpha \log n, \log B - \beta \log d)

    and the noise is Student-t on :math:`\log v` (``noise="studentt"``, the default: the
    robust analogue of the Huber loss on log loss used by Hoffmann et al. and Besiroglu
    et al.), log-normal, or normal on ``v``. ``E``, ``A``, ``B`` are sampled on the log scale,
    the exponents with log-normal priors; all are reported in the user's units
    (:math:`A_{user} = A \, L_{scale} N_{ref}^{\alpha}`, likewise ``B``).

Compute-optimal allocation
    With :math:`C \approx 6 N D`, minimising :math:`L` at fixed :math:`C` gives

    .. math:: N^*(C) = G (C/6)^a, \quad D^*(C) = G^{-1} (C/6)^b, \quad
              G = \left(\frac{\alpha A}{\beta B}\right)^{1/(\alpha+\beta)},\quad
              a = \frac{\beta}{\alpha+\beta},\quad b = \frac{\alpha}{\alpha+\beta}

    and tokens per parameter :math:`D^*/N^* = G^{-2} (C/6)^{b-a}`. Each is evaluated on every
    posterior draw, so every allocation comes with an interval.

What the posterior says on the bundled runs (``datasets.load("chinchilla")``, measured)
    The posterior agrees with Besiroglu et al.'s refit and puts Hoffmann et al.'s B and beta far
    in the tails. At C = 5.76e23 FLOP the optimal ratio D*/N* has median 17.5 and 95% interval
    [11.0, 27.2]: consistent with ~20 tokens per parameter, but known only to a factor of ~2.5;
    with a - b of about 0.03 it drifts slowly down with budget while its interval widens (see the
    dataset card).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.config import FitConfig
from bayescale.data import _numeric_column, _rows, check_noise
from bayescale.errors import DataError, DataWarning, LawError, TooFewPoints
from bayescale.posterior import flat, sample_noise
from bayescale.priors import _prior, merge_priors, priors_from_dict, priors_to_dict
from bayescale.result import ScalingFit, _check_prob, _interval_columns, _positive_scales

COMPUTE_NAMES = ("compute", "flop")
COMPUTE_TOLERANCE = 0.10
LAW_PARAMETERS = ("E", "A", "B", "alpha", "beta")


# ---------------------------------------------------------------------------- pure law
def chinchilla_loss(params, tokens, E, A, B, alpha, beta):
    """Evaluate ``E + A * params**-alpha + B * tokens**-beta`` (NumPy, broadcasting)."""
    return E + A * np.power(params, -alpha) + B * np.power(tokens, -beta)


def optimal_allocation(compute, A, B, alpha, beta):
    """Compute-optimal ``(N*, D*)`` for budgets ``compute`` under ``C = 6 N D``.

    Parameters broadcast; returns two arrays. Computed in log space so that large budgets
    do not overflow.
    """
    log_g = (np.log(alpha) + np.log(A) - np.log(beta) - np.log(B)) / (alpha + beta)
    log_c6 = np.log(np.asarray(compute, dtype=float) / 6.0)
    a = beta / (alpha + beta)
    b = alpha / (alpha + beta)
    return np.exp(log_g + a * log_c6), np.exp(-log_g + b * log_c6)


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class ChinchillaData:
    """Validated ``(params, tokens, loss)`` rows plus the internal normalisation."""

    frame: pd.DataFrame
    params: np.ndarray
    tokens: np.ndarray
    y: np.ndarray
    x_names: tuple[str, str]
    y_name: str
    derived_tokens: bool
    n_ref: float
    d_ref: float
    y_scale: float

    # what ScalingFit's shared code expects of a data object
    groups: tuple[str, ...] = ("all",)

    @property
    def n_groups(self) -> int:
        return 1

    @property
    def compute(self) -> np.ndarray:
        return 6.0 * self.params * self.tokens


def _is_compute(name: str) -> bool:
    return any(key in name.lower() for key in COMPUTE_NAMES)


def prepare_chinchilla(df: pd.DataFrame, *, x, y: str, noise: str = "studentt") -> ChinchillaData:
    """Validate ``df`` for the Chinchilla law.

    ``x`` is ``[params_column, tokens_column]`` or ``[params_column, compute_column]``; a
    second column whose name contains "compute" or "flop" is read as training FLOP and
    tokens are derived as ``C / (6 N)``. When ``x`` names tokens and the frame also has a
    ``compute`` column, rows where it differs from ``6 N D`` by more than 10% are reported
    in a :class:`~bayescale.errors.DataWarning`.

    Raises
    ------
    DataError
        Missing or non-numeric columns, values <= 0, too few points, naming column and rows.
    """
    check_noise(noise)
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(df).__name__}")
    if isinstance(x, str) or not isinstance(x, Sequence) or len(x) != 2:
        raise DataError(
            f"the chinchilla law needs x=[params_column, tokens_column] (or [params, compute]), got {x!r}"
        )
    if len(df) == 0:
        raise DataError("the data frame is empty")
    n_col, second = str(x[0]), str(x[1])
    params = _numeric_column(df, n_col)
    other = _numeric_column(df, second)
    loss = _numeric_column(df, y)
    for column, values in ((n_col, params), (second, other), (y, loss)):
        if (values <= 0).any():
            raise DataError(
                f"column {column!r} must be > 0 for the chinchilla law; rows {_rows(df.index[values <= 0])} are <= 0"
            )
    derived = _is_compute(second)
    tokens = other / (6.0 * params) if derived else other
    if not derived:
        for column in df.columns:
            if str(column).lower() == "compute" and column != second:
                compute = _numeric_column(df, column)
                ratio = np.abs(np.log(compute / (6.0 * params * tokens)))
                bad = ratio > math.log1p(COMPUTE_TOLERANCE)
                if bad.any():
                    warnings.warn(
                        f"column {column!r} differs from 6 * {n_col} * {second} by more than "
                        f"{COMPUTE_TOLERANCE:.0%} in rows {_rows(df.index[bad])}; the fit uses {second!r}",
                        DataWarning, stacklevel=3,
                    )
    for column, values in ((n_col, params), ("tokens", tokens)):
        if np.unique(values).size < 2:
            raise DataError(f"column {column!r} has a single distinct value; the chinchilla law needs at least two")
    if len(df) < 7:
        raise TooFewPoints(f"{len(df)} points are fewer than the 7 needed for the chinchilla law (6 parameters plus "
                           "one)")

    def geo(v):
        return float(np.exp(np.mean(np.log(v))))

    return ChinchillaData(
        frame=df.copy(), params=params, tokens=tokens, y=loss, x_names=(n_col, second), y_name=y,
        derived_tokens=derived, n_ref=geo(params), d_ref=geo(tokens), y_scale=float(np.median(loss)),
    )


# ---------------------------------------------------------------------------- priors and model
PRIOR_DESCRIPTIONS = {
    "log_E": "log irreducible loss E, in units of the median loss",
    "log_A": "log A at N = N_ref (geometric mean of params), in units of the median loss",
    "log_B": "log B at D = D_ref (geometric mean of tokens), in units of the median loss",
    "alpha": "parameter exponent alpha",
    "beta": "token exponent beta",
    "sigma": "noise scale (on log loss for studentt/lognormal)",
    "nu": "Student-t degrees of freedom",
}


def default_priors(data: ChinchillaData, config: FitConfig) -> dict[str, Any]:
    """Weakly informative priors on the normalised scale.

    At the reference scales the reducible terms are a modest fraction of the median loss
    (``log A, log B ~ N(-2, 1.5)``), the floor sits below the smallest observed loss, and
    the exponents are near 0.3 (``LogNormal(log 0.3, 0.5)``, 95% in [0.11, 0.8]).
    """
    floor_guess = math.log(float(np.min(data.y)) / data.y_scale) - 0.5
    priors = {
        "log_E": _prior("Normal", mu=floor_guess, sigma=1.0),
        "log_A": _prior("Normal", mu=-2.0, sigma=1.5),
        "log_B": _prior("Normal", mu=-2.0, sigma=1.5),
        "alpha": _prior("LogNormal", mu=math.log(0.3), sigma=0.5),
        "beta": _prior("LogNormal", mu=math.log(0.3), sigma=0.5),
        "sigma": _prior("HalfNormal", sigma=0.1),
    }
    if config.noise == "studentt":
        priors["nu"] = _prior("Gamma", alpha=2.0, beta=0.1)
    return priors


def create_chinchilla_model(
    log_params: np.ndarray,
    log_tokens: np.ndarray,
    observed: np.ndarray,
    priors: Mapping[str, Any],
    coords: Mapping[str, Sequence],
    *,
    noise: str = "studentt",
):
    """Build the PyMC model of the Chinchilla law on normalised data.

    Parameters
    ----------
    log_params, log_tokens : ndarray
        ``log(N / N_ref)`` and ``log(D / D_ref)`` per observation.
    observed : ndarray
        ``L / L_scale`` per observation.
    priors : mapping
        Prior objects for ``log_E, log_A, log_B, alpha, beta, sigma`` (and ``nu``).
    coords : mapping
        Must hold ``"obs"``.
    noise : {"studentt", "lognormal", "normal"}
        Likelihood of the observed variable ``y_obs``.

    Notes
    -----
    Data and numeric prior parameters are ``pm.Data``, so one compiled model serves every
    data set of the same structure (:mod:`bayescale.compiled`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.model import _shared_prior, observed_data

    with pm.Model(coords=coords) as model:
        priors = {name: _shared_prior(name, prior) for name, prior in priors.items()}
        u = pm.Data("log_params", log_params, dims="obs")
        w = pm.Data("log_tokens", log_tokens, dims="obs")
        log_e = priors["log_E"].create_variable("log_E")
        log_a = priors["log_A"].create_variable("log_A")
        log_b = priors["log_B"].create_variable("log_B")
        alpha = priors["alpha"].create_variable("alpha")
        beta = priors["beta"].create_variable("beta")
        pm.Deterministic("E", pt.exp(log_e))
        terms = pt.stack([pt.ones_like(u) * log_e, log_a - alpha * u, log_b - beta * w])
        log_mean = pt.logsumexp(terms, axis=0)
        sigma = priors["sigma"].create_variable("sigma")
        y_data = observed_data(observed, noise)
        if noise == "studentt":
            nu = priors["nu"].create_variable("nu")
            pm.StudentT("y_obs", nu=nu, mu=log_mean, sigma=sigma, observed=y_data, dims="obs")
        elif noise == "lognormal":
            pm.Normal("y_obs", log_mean, sigma, observed=y_data, dims="obs")
        else:
            pm.Normal("y_obs", pt.exp(log_mean), sigma, observed=y_data, dims="obs")
    return model


def build_model(data: ChinchillaData, config: FitConfig):
    """Registry hook: the model of ``data`` under ``config``."""
    return create_chinchilla_model(
        np.log(data.params / data.n_ref), np.log(data.tokens / data.d_ref), data.y / data.y_scale,
        priors_from_dict(config.priors), {"obs": np.arange(len(data.y))}, noise=config.noise,
    )


def user_parameters(posterior: xr.Dataset, data: ChinchillaData) -> xr.Dataset:
    """Registry hook: E, A, B, alpha, beta, the allocation exponents a, b, and the noise."""
    alpha, beta = posterior["alpha"], posterior["beta"]
    out = {
        "E": np.exp(posterior["log_E"]) * data.y_scale,
        "A": np.exp(posterior["log_A"] + alpha * math.log(data.n_ref)) * data.y_scale,
        "B": np.exp(posterior["log_B"] + beta * math.log(data.d_ref)) * data.y_scale,
        "alpha": alpha,
        "beta": beta,
        "a": beta / (alpha + beta),
        "b": alpha / (alpha + beta),
        "sigma": posterior["sigma"],
    }
    if "nu" in posterior:
        out["nu"] = posterior["nu"]
    return xr.Dataset(out)


def curve(posterior, data, group_code, rng, x):  # pragma: no cover - registry completeness
    raise DataError("the chinchilla law takes two inputs; use fit.predict({'params': ..., 'tokens': ...})")


# ---------------------------------------------------------------------------- fitting
def fit_chinchilla(
    df: pd.DataFrame,
    *,
    x=("params", "tokens"),
    y: str = "loss",
    group: str | None = None,
    noise: str | None = None,
    priors: Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    target_accept: float = 0.95,
    progress: bool = True,
    cores: int | None = None,
    **unused,
) -> ChinchillaFit:
    """Fit ``L = E + A N^-alpha + B D^-beta`` (see the module docstring).

    Usually called as ``bayescale.fit(df, law="chinchilla", x=["params", "tokens"], y="loss")``.
    ``noise`` defaults to ``"studentt"``. Grouping and slope/floor options do not apply.

    Returns
    -------
    ChinchillaFit
    """
    if group is not None:
        raise LawError("the chinchilla law does not take groups (group=...); fit each group separately")
    for name, value in unused.items():
        if name in ("slopes", "floor") and value not in (None, "shared"):
            raise LawError(f"{name}={value!r} does not apply to the chinchilla law")
    noise = "studentt" if noise is None else noise
    check_noise(noise)
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
    config = FitConfig(
        law="chinchilla", x=list(map(str, x)) if not isinstance(x, str) else x, y=y, noise=noise,
        draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, target_accept=target_accept,
    ).validate()
    data = prepare_chinchilla(df, x=x, y=y, noise=noise)
    config.x_ref, config.y_scale = data.n_ref, data.y_scale
    config.priors = priors_to_dict(merge_priors(default_priors(data, config), priors))
    from bayescale.sampling import sample_fit

    idata = sample_fit(lambda: build_model(data, config), config, progress=progress, cores=cores)
    return ChinchillaFit(idata, data, config)


def from_saved(idata: xr.DataTree, frame: pd.DataFrame, config: FitConfig) -> ChinchillaFit:
    """Rebuild a saved Chinchilla fit (used by :func:`bayescale.load`)."""
    return ChinchillaFit(idata, prepare_chinchilla(frame, x=config.x, y=config.y, noise=config.noise), config)


# ---------------------------------------------------------------------------- result
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
            params = _positive_scales(params, "params")
            tokens = _positive_scales(tokens, str(t_key)) / (6.0 * params)
    if params is None or tokens is None:
        raise DataError("give params and tokens (or compute=...) to predict")
    params = _positive_scales(params, "params")
    tokens = _positive_scales(tokens, "tokens")
    try:
        params, tokens = np.broadcast_arrays(params, tokens)
    except ValueError as exc:
        raise DataError(f"params ({params.size}) and tokens ({tokens.size}) must have the same length") from exc
    return params.astype(float), tokens.astype(float)


class ChinchillaFit(ScalingFit):
    """A fitted Chinchilla law: parameters, predictions and compute-optimal allocation.

    Inherits ``summary``, ``diagnostics``, ``priors``, ``save`` from
    :class:`~bayescale.result.ScalingFit`; ``predict``, ``optimal``, ``flags`` and ``plot``
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
        c = _positive_scales(compute, "compute")
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

        Returns
        -------
        pandas.DataFrame
            One row per point: ``params``, ``tokens``, ``compute`` (posterior medians of the
            allocation when predicting at a budget), ``median``, ``lower``, ``upper``,
            ``mean``, ``prob``, ``decades_beyond`` (log10 distance outside the observed range,
            the larger of the params and tokens distances).
        """
        prob = _check_prob(prob)
        if group not in (None, "all") and list(np.atleast_1d(group)) != ["all"]:
            raise DataError(f"the chinchilla law is fitted without groups; got group={group!r}")
        if points is not None and not isinstance(points, Mapping | pd.DataFrame):
            points, compute = None, points
        if kind not in ("predictive", "mean"):
            raise DataError(f"kind must be one of ('predictive', 'mean'), got {kind!r}")
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
        frame = pd.DataFrame({"params": n, "tokens": d, "compute": 6 * n * d,
                              **_interval_columns(draws, prob), "prob": prob})
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
        prob = _check_prob(prob)
        c = _positive_scales(compute, "compute")
        opt = self.optimal_draws(c)
        beyond = self._beyond(c, self.data.compute)
        rows = []
        for i, cv in enumerate(c):
            for quantity, draws in opt.items():
                stats = _interval_columns(draws[:, i], prob)
                rows.append({"compute": cv, "quantity": quantity, **{k: float(v) for k, v in stats.items()},
                             "prob": prob, "decades_beyond": float(beyond[i])})
        return pd.DataFrame(rows)

    def contrast(self, *args, **kwargs):
        raise DataError("contrast compares groups; the chinchilla law is fitted without groups")

    def prior_predictive(self, draws: int = 500, *, prob: float = 0.9, seed: int | None = None) -> pd.DataFrame:
        """Where the priors alone put each observation (median, interval, inside)."""
        import pymc as pm

        prob = _check_prob(prob)
        with self.build_model():
            prior = pm.sample_prior_predictive(draws=draws, random_seed=self.config.seed if seed is None else seed)
        sims = flat(prior["prior_predictive"].to_dataset(), "y_obs")
        with np.errstate(over="ignore"):  # heavy-tailed prior draws may overflow to inf: fine for quantiles
            sims = (sims if self.config.noise == "normal" else np.exp(sims)) * self.data.y_scale
        frame = pd.DataFrame({"params": self.data.params, "tokens": self.data.tokens, "loss": self.data.y,
                              **_interval_columns(sims, prob)})
        frame["inside"] = (frame["loss"] >= frame["lower"]) & (frame["loss"] <= frame["upper"])
        return frame

    def flags(self, at=None) -> pd.DataFrame:
        """Sampler flags, influential points and, for compute budgets ``at``, how far the optimum is extrapolated."""
        from bayescale.flags import COLUMNS, influential_flags, sampler_flags

        rows = sampler_flags(self) + influential_flags(self) + chinchilla_target_flags(self, compute=at)
        return pd.DataFrame(rows, columns=COLUMNS)

    def plot(self, *, compute=None, at=None, prob: float = 0.9, groups=None, ax=None):
        """IsoFLOP curves (loss against params at fixed budgets) and the optimal frontier.

        Left: data coloured by compute, posterior median loss along isoFLOP lines with
        bands, and the optimum of each line. Right: N*(C) with its band and the data in the
        (compute, params) plane. ``at`` is an alias of ``compute`` (budgets to mark);
        ``groups`` is ignored (no groups). Returns the matplotlib Figure.
        """
        return plot_chinchilla(self, compute=compute if compute is not None else at, prob=_check_prob(prob), ax=ax)

    # ------------------------------------------------------------------ the inverse question
    def _reach_checks(self, group, discrepancy) -> None:
        if group not in (None, "all"):
            raise DataError(f"the chinchilla law is fitted without groups; reach takes group=None, got {group!r}")
        if discrepancy is not None:
            from bayescale.discrepancy import check_scale, refuse_laws

            check_scale(discrepancy)
            refuse_laws(["chinchilla"])

    def reach_draws(self, target: float, group: str | None = None, discrepancy=None, *,
                    seed: int | None = None) -> np.ndarray:
        """Per draw, the compute (FLOP) at which the loss at the compute-optimal allocation falls to ``target``.

        The optimal loss is that of :meth:`optimal` (``C = 6 N D``), which falls as
        ``E + K (C/6)^(-alpha beta / (alpha + beta))``, so the budget has a closed form
        (:func:`bayescale.reach.chinchilla_reach`). ``numpy.inf`` marks a draw whose floor
        ``E`` is at or above the target, or that gets there only more than
        ``bayescale.reach.HORIZON_DECADES`` decades beyond the largest observed compute.
        ``group`` must be None (the law has no groups); ``discrepancy`` is refused (two
        scale axes); ``seed`` is accepted for the common call and unused.
        """
        from bayescale.reach import beyond_horizon, check_targets, chinchilla_reach

        self._reach_checks(group, discrepancy)
        (value,) = check_targets(target, law="chinchilla", noise=self.config.noise, single=True)
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
        from bayescale.reach import check_targets, reach_table

        prob = _check_prob(prob)
        self._reach_checks(group, discrepancy)
        targets = check_targets(target, law="chinchilla", noise=self.config.noise)
        return reach_table(lambda t, g: self.reach_draws(t), targets, ["all"], prob,
                           lambda g: float(self.data.compute.max()))


def chinchilla_target_flags(fit: ChinchillaFit, compute=None, points=None) -> list[dict]:
    """Extrapolation flags for compute budgets and/or ``(params, tokens)`` points."""
    from bayescale.flags import FAR_DECADES, _flag

    out = []
    d = fit.data
    checks: list[tuple[str, float, np.ndarray]] = []
    if compute is not None:
        c = _positive_scales(compute, "compute")
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
        budgets = np.unique(np.concatenate([budgets, _positive_scales(compute, "compute")]))
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
