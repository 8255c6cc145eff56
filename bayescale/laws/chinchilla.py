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

from bayescale.core.config import FitConfig
from bayescale.data.curves import _numeric_column, _rows, check_noise
from bayescale.errors import DataError, DataWarning, LawError, TooFewPoints
from bayescale.laws.configure import refuse_group_options, resolve_seed
from bayescale.laws.priors import merge_priors, prior, priors_from_dict, priors_to_dict

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
        "log_E": prior("Normal", mu=floor_guess, sigma=1.0),
        "log_A": prior("Normal", mu=-2.0, sigma=1.5),
        "log_B": prior("Normal", mu=-2.0, sigma=1.5),
        "alpha": prior("LogNormal", mu=math.log(0.3), sigma=0.5),
        "beta": prior("LogNormal", mu=math.log(0.3), sigma=0.5),
        "sigma": prior("HalfNormal", sigma=0.1),
    }
    if config.noise == "studentt":
        priors["nu"] = prior("Gamma", alpha=2.0, beta=0.1)
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
    data set of the same structure (:mod:`bayescale.fitting.compiled`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.laws.model import _shared_prior, observed_data

    with pm.Model(coords=coords) as model:
        priors = {name: _shared_prior(name, given) for name, given in priors.items()}
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


def prepare(df: pd.DataFrame, *, x=("params", "tokens"), y: str = "loss", group: str | None = None,
            noise: str | None = None, slopes: str = "shared", floor: str = "shared", pooling: str = "auto",
            priors: Mapping[str, Any] | None = None, **sampler: Any) -> tuple[FitConfig, ChinchillaData]:
    """Validate the runs and resolve the fit's configuration; ``noise`` defaults to ``"studentt"``.

    Usually reached as ``bayescale.fit(df, law="chinchilla", x=["params", "tokens"], y="loss")``;
    grouping options do not apply.
    """
    if group is not None:
        raise LawError("the chinchilla law does not take groups (group=...); fit each group separately")
    refuse_group_options("chinchilla", slopes=slopes, floor=floor, pooling=pooling)
    noise = "studentt" if noise is None else noise
    check_noise(noise)
    config = FitConfig(
        law="chinchilla", x=list(map(str, x)) if not isinstance(x, str) else x, y=y, noise=noise,
        **{**sampler, "seed": resolve_seed(sampler.get("seed"))},
    ).validate()
    data = prepare_chinchilla(df, x=x, y=y, noise=noise)
    config.x_ref, config.y_scale = data.n_ref, data.y_scale
    config.priors = priors_to_dict(merge_priors(default_priors(data, config), priors))
    return config, data
