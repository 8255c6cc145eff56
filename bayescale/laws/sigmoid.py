r"""Emergence: a sigmoid in log scale, fitted to accuracies or to correct counts (``law="sigmoid"``).

With :math:`u = \log(x / x_{ref})` the accuracy of group :math:`g` is

.. math:: p_g(u) = y_0 + (y_1 - y_0)\, \sigma\big(k (u - m_g)\big),
          \qquad y_1 = y_0 + (1 - y_0)\, c

with floor :math:`y_0 \sim \mathrm{Beta}(1, 3)` (chance level), the share of the remaining
headroom reached at the top :math:`c \sim \mathrm{Beta}(2, 1)`, steepness
:math:`k \sim \mathrm{LogNormal}(\log 1.5, 0.75)` per unit of natural log x, and midpoint
:math:`m_g = \mu_m + \tau_m z_g` pooled across groups (the compute at which a task
"emerges" shifts between groups; the shape is shared), :math:`\mu_m \sim N(0, \mathrm{span})`.

Likelihood:

- with the evaluation-set size :math:`n_i` (``trials=`` a column, or one number for every
  row), on the correct counts :math:`c_i = \mathrm{round}(y_i n_i)`:
  :math:`c_i \sim \mathrm{BetaBinomial}(n_i, p \kappa, (1 - p) \kappa)` by default, the
  binomial sampling noise of the eval set plus model-to-model spread around the curve
  (models of the same compute differ; :math:`\kappa \sim \mathrm{LogNormal}(\log 100, 1.5)`,
  large :math:`\kappa` is the pure binomial), or ``noise="binomial"``:
  :math:`c_i \sim \mathrm{Binomial}(n_i, p(u_i))`. Either way a small eval set gives a wide
  interval at the same accuracies (Diaz & Madaio 2023);
- without it: :math:`y_i \sim \mathrm{Beta}(p \kappa, (1 - p) \kappa)` with precision
  :math:`\kappa \sim \mathrm{LogNormal}(\log 50, 1)`; accuracies of exactly 0 or 1 are moved
  inside (0, 1) by :math:`(y (N - 1) + 1/2) / N` (Smithson & Verkuilen 2006), with a warning.

The metric is always the accuracy, a fraction in [0, 1] (divide percentages by 100, and
counts by their ``n``). Predictions at new scales use, for the binomial noise, the
median evaluation-set size of the data (``trials_predict`` in ``config.options``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.config import FitConfig
from bayescale.core.posterior import _per_group, flat
from bayescale.data.curves import CurveData, _numeric_column, _rows
from bayescale.data.curves import prepare as prepare_curve
from bayescale.errors import DataError, DataWarning, LawError
from bayescale.laws.configure import refuse_group_options, resolve_seed
from bayescale.laws.priors import merge_priors, prior, priors_from_dict, priors_to_dict

LIKELIHOODS = ("betabinomial", "binomial", "beta")
COUNTS = ("betabinomial", "binomial")


def trials_array(data: CurveData, config: FitConfig) -> np.ndarray | None:
    """Evaluation-set size of each row, or None under the Beta likelihood."""
    trials = config.options.get("trials")
    if trials is None:
        return None
    if isinstance(trials, str):
        return _numeric_column(data.frame, trials)
    return np.full(len(data.y), float(trials))


def prepare(df: pd.DataFrame, *, slopes: str = "shared", floor: str = "shared", pooling: str = "auto",
            **settings: Any) -> tuple[FitConfig, CurveData]:
    """The registry's entry: :func:`prepare_sigmoid`; the grouping options of the power law do not apply."""
    refuse_group_options("sigmoid", slopes=slopes, floor=floor, pooling=pooling)
    return prepare_sigmoid(df, **settings)


def prepare_sigmoid(
    df: pd.DataFrame, *, x: str, y: str, group: str | None = None, noise: str | None = None,
    trials: str | int | None = None, priors: Mapping[str, Any] | None = None, **sampler: Any,
) -> tuple[FitConfig, CurveData]:
    """Validate accuracies (and eval-set sizes) and resolve the configuration of a sigmoid fit.

    ``noise`` may be left out (None), or set to ``"binomial"`` (needs
    ``trials``) or ``"beta"``; ``sampler`` holds draws, tune, chains, seed, sampler and
    target_accept as for :func:`bayescale.fit`.
    """
    if noise not in (None, *LIKELIHOODS):
        raise LawError(f"the sigmoid law takes noise='betabinomial' or 'binomial' (with trials=) or 'beta', "
                       f"got {noise!r}")
    if noise in COUNTS and trials is None:
        raise LawError(f"noise={noise!r} needs trials= (a column of eval-set sizes or one size)")
    if noise == "beta" and trials is not None:
        raise LawError("noise='beta' cannot use trials=; drop trials to use the Beta likelihood")
    likelihood = noise if noise is not None else "betabinomial" if trials is not None else "beta"
    data = prepare_curve(df, x=x, y=y, group=group, law="sigmoid", noise="normal")
    above = data.y > 1
    if above.any():
        raise DataError(
            f"column {y!r} must be an accuracy in [0, 1] for the sigmoid law; rows {_rows(data.frame.index[above])} "
            "are above 1 (divide percentages by 100, or correct counts by the eval-set size)"
        )
    if (data.y < 0).any():
        raise DataError(f"column {y!r} must be an accuracy in [0, 1]; rows {_rows(data.frame.index[data.y < 0])} "
                        "are negative")
    options: dict[str, Any] = {"likelihood": likelihood}
    if trials is not None:
        if isinstance(trials, str):
            n = _numeric_column(df, trials)
            bad = (n < 1) | (n != np.round(n))
            if bad.any():
                raise DataError(f"column {trials!r} must hold eval-set sizes (integers >= 1); rows "
                                f"{_rows(df.index[bad])} do not")
        elif isinstance(trials, int | np.integer) and not isinstance(trials, bool) and trials >= 1:
            n = np.full(len(df), float(trials))
        else:
            raise DataError(f"trials must be a column name or an integer >= 1, got {trials!r}")
        options["trials"] = trials if isinstance(trials, str) else int(trials)
        options["trials_predict"] = int(np.median(n))
    else:
        edge = (data.y <= 0) | (data.y >= 1)
        if edge.any():
            warnings.warn(
                f"rows {_rows(data.frame.index[edge])} of {y!r} are exactly 0 or 1, impossible under a Beta "
                "likelihood; they are moved just inside (0, 1). Pass trials= for a binomial likelihood instead",
                DataWarning, stacklevel=3,
            )
    seed = resolve_seed(sampler.get("seed"))
    config = FitConfig(law="sigmoid", x=x, y=y, group=group, noise="normal", options=options,
                       **{**sampler, "seed": seed}).validate()
    data = replace(data, y_scale=1.0)
    config.x_ref, config.y_scale = data.x_ref, 1.0
    config.priors = priors_to_dict(merge_priors(default_priors(data, config), priors))
    return config, data


def default_priors(data: CurveData, config: FitConfig) -> dict:
    u = np.log(data.x / data.x_ref)
    span = float(u.max() - u.min())
    priors = {
        "floor": prior("Beta", alpha=1.0, beta=3.0),
        "ceiling_share": prior("Beta", alpha=2.0, beta=1.0),
        "steepness": prior("LogNormal", mu=np.log(1.5), sigma=0.75),
        "midpoint_mu": prior("Normal", mu=0.0, sigma=span),
    }
    if data.n_groups > 1:
        priors["midpoint_sigma"] = prior("HalfNormal", sigma=0.25 * span)
    likelihood = config.options.get("likelihood", "beta")
    if likelihood == "beta":
        priors["kappa"] = prior("LogNormal", mu=np.log(50.0), sigma=1.0)
    elif likelihood == "betabinomial":
        priors["kappa"] = prior("LogNormal", mu=np.log(100.0), sigma=1.5)
    return priors


def squeezed(y: np.ndarray) -> np.ndarray:
    """Move accuracies of exactly 0 or 1 inside (0, 1) (Smithson & Verkuilen 2006)."""
    n = len(y)
    return np.where((y <= 0) | (y >= 1), (y * (n - 1) + 0.5) / n, y)


def create_sigmoid_model(
    log_x: np.ndarray,
    accuracy: np.ndarray,
    priors: Mapping[str, Any],
    coords: Mapping[str, Sequence],
    group_index: np.ndarray,
    trials: np.ndarray | None = None,
    likelihood: str = "betabinomial",
):
    """Build the emergence model: (beta-)binomial on counts when ``trials`` is given, else Beta.

    Parameters
    ----------
    log_x : ndarray
        ``log(x / x_ref)`` per observation.
    accuracy : ndarray
        Observed accuracy (fraction) per observation.
    priors : mapping
        Prior objects by name (see :func:`default_priors`).
    coords : mapping
        ``group`` and ``obs``.
    group_index : ndarray of int
        Group code of each observation.
    trials : ndarray, optional
        Eval-set size per observation.
    likelihood : {"betabinomial", "binomial"}
        Likelihood of the counts when ``trials`` is given (ignored otherwise).

    Notes
    -----
    Data, eval-set sizes and numeric prior parameters are ``pm.Data``, so one compiled
    model serves every data set of the same structure (:mod:`bayescale.fitting.compiled`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.laws.formulas import sigmoid_law
    from bayescale.laws.model import _pooled, _shared_prior

    n_groups = len(coords["group"])
    with pm.Model(coords=coords) as model:
        priors = {name: _shared_prior(name, given) for name, given in priors.items()}
        u = pm.Data("log_x", log_x, dims="obs")
        g = pm.Data("group_index", group_index.astype("int64"), dims="obs")
        floor = priors["floor"].create_variable("floor")
        share = priors["ceiling_share"].create_variable("ceiling_share")
        ceiling = pm.Deterministic("ceiling", floor + (1 - floor) * share)
        k = priors["steepness"].create_variable("steepness")
        mid = _pooled("midpoint", priors, n_groups, "group")
        mid = mid[g] if n_groups > 1 else mid
        p = sigmoid_law(u, floor, ceiling, k, mid, pt.sigmoid)
        p = pt.clip(p, 1e-9, 1 - 1e-9)
        if trials is not None:
            counts = pm.Data("y_data", np.round(accuracy * trials).astype("int64"), dims="obs")
            n = pm.Data("trials", trials.astype("int64"), dims="obs")
            if likelihood == "binomial":
                pm.Binomial("y_obs", n=n, p=p, observed=counts, dims="obs")
            else:
                kappa = priors["kappa"].create_variable("kappa")
                pm.BetaBinomial("y_obs", n=n, alpha=p * kappa, beta=(1 - p) * kappa, observed=counts, dims="obs")
        else:
            kappa = priors["kappa"].create_variable("kappa")
            y_data = pm.Data("y_data", squeezed(accuracy), dims="obs")
            pm.Beta("y_obs", alpha=p * kappa, beta=(1 - p) * kappa, observed=y_data, dims="obs")
    return model


def build_model(data: CurveData, config: FitConfig):
    coords = {"group": list(data.groups), "obs": np.arange(len(data.y))}
    return create_sigmoid_model(
        np.log(data.x / data.x_ref), data.y, priors_from_dict(config.priors), coords, data.group_index,
        trials_array(data, config), likelihood=config.options.get("likelihood", "beta"),
    )


def curve(posterior: xr.Dataset, data, group_code: int, rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Accuracy draws at ``x`` (fraction), shape (samples, len(x))."""
    from scipy.special import expit

    from bayescale.laws.formulas import sigmoid_law

    n = posterior.sizes["chain"] * posterior.sizes["draw"]
    z = rng.standard_normal(n) if group_code < 0 else None
    mid = _per_group(posterior, "midpoint", data.n_groups, group_code, z)
    u = np.log(np.asarray(x, dtype=float) / data.x_ref)[None, :]
    return sigmoid_law(u, flat(posterior, "floor")[:, None], flat(posterior, "ceiling")[:, None],
                       flat(posterior, "steepness")[:, None], mid[:, None], expit)


def sample_predictive(mean: np.ndarray, posterior: xr.Dataset, data, config, rng: np.random.Generator) -> np.ndarray:
    """Accuracy a new evaluation would measure, with the data's median eval-set size for counts.

    Binomial: ``c ~ Binomial(n, p)``; beta-binomial: a model's own ``p_i ~ Beta(p kappa,
    (1 - p) kappa)`` first; Beta: the accuracy itself ``~ Beta(p kappa, (1 - p) kappa)``.
    """
    p = np.clip(mean, 1e-9, 1 - 1e-9)
    likelihood = config.options.get("likelihood")
    if likelihood in ("binomial", "betabinomial"):
        n = int(config.options["trials_predict"])
        if likelihood == "betabinomial":
            kappa = flat(posterior, "kappa")[:, None]
            p = np.clip(rng.beta(p * kappa, (1 - p) * kappa), 0.0, 1.0)
        return rng.binomial(n, p) / n
    kappa = flat(posterior, "kappa")[:, None]
    return rng.beta(p * kappa, (1 - p) * kappa)


def user_parameters(posterior: xr.Dataset, data) -> xr.Dataset:
    """Floor, ceiling, steepness (per decade), midpoint scale (units of x), precision ``kappa``."""
    mid = posterior["midpoint"] if "midpoint" in posterior else posterior["midpoint_mu"]
    out = {
        "floor": posterior["floor"],
        "ceiling": posterior["ceiling"],
        "steepness_per_decade": posterior["steepness"] * np.log(10.0),
        "midpoint_x": np.exp(mid) * data.x_ref,
    }
    if "midpoint_sigma" in posterior:
        out["midpoint_sigma_decades"] = posterior["midpoint_sigma"] / np.log(10.0)
    if "kappa" in posterior:
        out["kappa"] = posterior["kappa"]
    return xr.Dataset(out)


def log_likelihood_on_accuracy(fit) -> np.ndarray:
    """Per-observation shift that turns this fit's log-likelihood into a density of the accuracy.

    Binomial counts carry probability mass; spreading each count over its width ``1/n`` on
    the accuracy scale gives a density, ``log p(y) = log P(count) + log n``. The Beta
    likelihood is already a density of the accuracy (0 shift).
    """
    n = trials_array(fit.data, fit.config)
    return np.zeros(len(fit.data.y)) if n is None else np.log(n)
