r"""The smoothly broken power law (BNSL) as a registered law (``law="broken"``).

On normalised data (:math:`u = \log(x / x_{ref})`, :math:`v = y / y_{scale}`) the mean of
group :math:`g` is (see :mod:`bayescale.laws.formulas`)

.. math:: \mu_g(u) = E + \exp\Big(\log A_g - \alpha_0 u - \sum_{i=1}^{k} (\alpha_i - \alpha_{i-1})
          f_i \big[\operatorname{sp}((u - \beta_i)/f_i) - \operatorname{sp}(-\beta_i / f_i)\big]\Big)

with ``k = 1`` break by default (``breaks=2`` for two). Offsets ``log A_g`` are pooled
across groups exactly as in the power law; exponents, breaks and sharpness are shared.

Priors that keep it identifiable:

- segment exponents :math:`\alpha_i \ge 0` (``HalfNormal(0.5)``): the curve never turns
  upwards, and "no break" is the simple point :math:`\alpha_1 = \alpha_0`;
- break positions live in the observed range of :math:`u` widened by 10% of its span on each
  side, :math:`\beta = lo + (hi - lo) \cdot \mathrm{cumsum}(p)_{1..k}` with
  :math:`p \sim \mathrm{Dirichlet}(2, \ldots, 2)`: ordered, away from the edges, and never
  in the far extrapolation where the data say nothing about them. With one break the model
  samples :math:`p_1 \sim \mathrm{Beta}(a_1, a_2)` (``break_fraction``), the same distribution
  as a Dirichlet's first component, whose log density with gradient costs about half of that
  through PyMC's simplex transform; ``break_position`` is then :math:`(p_1, 1 - p_1)`;
- sharpness :math:`f_i = \mathrm{span} \cdot (0.02 + 0.48\, s_i)`, :math:`s_i \sim
  \mathrm{Beta}(2, 4)`: between 2% and half of the observed log range, so a bend is neither
  a kink the sampler cannot follow nor so wide that it is just a different exponent.

The break locations in the user's units, :math:`d_i = x_{ref} e^{\beta_i}`, are stored in
the posterior as ``break_x`` and summarised by :func:`break_table` (``fit.breaks()``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.posterior import flat, power_parameters
from bayescale.errors import LawError
from bayescale.laws.configure import configure_curve_law
from bayescale.laws.priors import power_law_priors, priors_from_dict

MARGIN = 0.1
SHARP_MIN, SHARP_MAX = 0.02, 0.5
MAX_BREAKS = 2
BREAK_LAWS = ("broken", "turning")  # the laws with breaks: this module's model, exponents of either sign for turning


def material_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per draw, whether the exponent changes materially at a break: by more than 25% of the one before or 0.05."""
    return np.abs(after - before) > np.maximum(0.25 * np.abs(before), 0.05)


def n_breaks(config) -> int:
    k = config.options.get("breaks", 1)
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or not 1 <= k <= MAX_BREAKS:
        raise LawError(f"breaks must be 1 or 2 for the {config.law} law, got {k!r}")
    return int(k)


def break_window(data) -> tuple[float, float]:
    """The (lo, hi) interval of ``log(x / x_ref)`` where breaks may lie."""
    u = np.log(data.x / data.x_ref)
    span = float(u.max() - u.min())
    return float(u.min() - MARGIN * span), float(u.max() + MARGIN * span)


def prepare(df, **settings):
    """Validate ``df`` and resolve the fit's configuration (``settings``: :func:`bayescale.fit`'s arguments)."""
    return configure_curve_law(df, law="broken", **settings)


def default_priors(data, config) -> dict:
    from pymc_extras.prior import Prior

    if config.slopes != "shared":
        raise LawError(f"the {config.law} law shares its exponents across groups; use slopes='shared'")
    k = n_breaks(config)
    priors = power_law_priors(
        data.y / data.y_scale, noise=config.noise, slopes="shared", floor=config.floor, n_groups=data.n_groups
    )
    del priors["alpha"]
    priors["alpha"] = Prior("HalfNormal", sigma=0.5, dims="segment")
    priors["break_position"] = Prior("Dirichlet", a=[2.0] * (k + 1), dims="segment")
    priors["sharpness"] = Prior("Beta", alpha=2.0, beta=4.0, dims="break")
    return priors


def create_broken_model(
    log_x: np.ndarray,
    observed: np.ndarray,
    priors: Mapping[str, Any],
    coords: Mapping[str, Sequence],
    group_index: np.ndarray,
    window: tuple[float, float],
    *,
    noise: str = "lognormal",
    floor: str = "shared",
):
    """Build the hierarchical smoothly broken power-law model.

    Parameters
    ----------
    log_x, observed : ndarray
        ``log(x / x_ref)`` and ``y / y_scale`` per observation.
    priors : mapping
        Prior objects by name (see :func:`default_priors`).
    coords : mapping
        ``group``, ``obs``, ``segment`` (k + 1 names) and ``break`` (k names).
    group_index : ndarray of int
        Group code of each observation.
    window : (float, float)
        Interval of ``log(x / x_ref)`` holding the breaks.
    noise, floor : str
        As in :func:`bayescale.laws.power.create_power_model`.

    Notes
    -----
    Data, the break window and the numeric prior parameters are ``pm.Data``, so one
    compiled model serves every data set of the same structure (:mod:`bayescale.fitting.compiled`).
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.laws.formulas import log_broken_reducible
    from bayescale.laws.model import _pooled, _shared_prior, observe

    n_groups = len(coords["group"])
    k = len(coords["break"])
    with pm.Model(coords=coords) as model:
        priors = {name: _shared_prior(name, prior) for name, prior in priors.items()}
        u = pm.Data("log_x", log_x, dims="obs")
        g = pm.Data("group_index", group_index.astype("int64"), dims="obs")
        lo = pm.Data("break_lo", float(window[0]))
        hi = pm.Data("break_hi", float(window[1]))
        span = (hi - lo) / (1 + 2 * MARGIN)
        alpha = priors["alpha"].create_variable("alpha")
        log_break = pm.Deterministic("log_break", lo + (hi - lo) * _break_shares(priors["break_position"], k),
                                     dims="break")
        share = priors["sharpness"].create_variable("sharpness")
        width = pm.Deterministic("width", span * (SHARP_MIN + (SHARP_MAX - SHARP_MIN) * share), dims="break")
        if "floor_share" in priors:  # the level at x_ref and the floor's share of it (the turning law)
            log_a, e = _level_and_floor(priors, n_groups)
        else:
            log_a = _centred("log_A", priors, n_groups)
            if floor == "group" and n_groups > 1:
                e = pm.Deterministic("E", pt.exp(_pooled("log_E", priors, n_groups, "group")), dims="group")[g]
            else:
                e = pm.Deterministic("E", pt.exp(priors["log_E"].create_variable("log_E")))
        log_a = log_a[g] if n_groups > 1 else log_a
        log_r = log_broken_reducible(
            u, log_a, [alpha[i] for i in range(k + 1)], [log_break[i] for i in range(k)],
            [width[i] for i in range(k)], pt.softplus,
        )
        mean = e + pt.exp(log_r)
        observe(mean, observed, noise, priors)
    return model


def _break_shares(prior, k: int):
    """The share of the break window before each of the ``k`` breaks, with ``break_position`` (dims ``segment``).

    ``break_position`` is a Dirichlet, or with one break its first share as a Beta, which the
    log density then uses directly.
    """
    import pymc as pm
    import pytensor.tensor as pt

    a = prior.parameters.get("a")
    if k > 1 or prior.distribution != "Dirichlet" or not isinstance(a, list | tuple | np.ndarray) or len(a) != 2:
        return pt.cumsum(prior.create_variable("break_position"))[:k]
    first = pm.Beta("break_fraction", float(a[0]), float(a[1]))  # constants, as the Dirichlet's were
    pm.Deterministic("break_position", pt.stack([first, 1.0 - first]), dims="segment")
    return first[None]


def _level_and_floor(priors: Mapping[str, Any], n_groups: int):
    """``log A`` (per group, or the scalar ``log_A_mu``) and the shared floor ``E`` from the level and floor share.

    The data pin the curve's value at ``x_ref``, ``V = E + A``, far better than how it splits
    into floor and reducible part; sampling ``log V`` (``log_level_mu``) and the floor's share
    ``q = E / V`` (``floor_share``) instead of ``log E`` and ``log A`` takes the curved ridge
    between them out of the sampler's way. Group offsets ``log A_g`` are centred around
    ``log_A_mu = log V + log(1 - q)``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    log_v = priors["log_level_mu"].create_variable("log_level_mu")
    share = priors["floor_share"].create_variable("floor_share")
    e = pm.Deterministic("E", pt.exp(log_v) * share)
    log_a_mu = pm.Deterministic("log_A_mu", log_v + pt.log1p(-share))
    if n_groups == 1:
        return log_a_mu, e
    sigma = priors["log_A_sigma"].create_variable("log_A_sigma")
    return pm.Normal("log_A", log_a_mu, sigma, dims="group"), e


def _centred(name: str, priors: Mapping[str, Any], n_groups: int):
    """Per-group ``name ~ Normal(name_mu, name_sigma)``, centred (or the scalar ``name_mu`` for one group).

    Each group's offset is pinned by its own points, which makes the centred form the
    easier geometry here (the non-centred one diverged on two well-measured groups).
    """
    import pymc as pm

    mu = priors[f"{name}_mu"].create_variable(f"{name}_mu")
    if n_groups == 1:
        return mu
    sigma = priors[f"{name}_sigma"].create_variable(f"{name}_sigma")
    return pm.Normal(name, mu, sigma, dims="group")


def build_model(data, config):
    k = n_breaks(config)
    coords = {
        "group": list(data.groups),
        "obs": np.arange(len(data.y)),
        "segment": [f"segment_{i}" for i in range(k + 1)],
        "break": [f"break_{i + 1}" for i in range(k)],
    }
    return create_broken_model(
        np.log(data.x / data.x_ref), data.y / data.y_scale, priors_from_dict(config.priors), coords,
        data.group_index, break_window(data), noise=config.noise, floor=config.floor,
    )


def curve(posterior: xr.Dataset, data, group_code: int, rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Mean-curve draws at ``x`` (user units), shape (samples, len(x))."""
    from bayescale.laws.formulas import log_broken_reducible

    p = power_parameters(posterior, data.n_groups, group_code, rng)
    alpha = flat(posterior, "alpha")
    breaks = flat(posterior, "log_break")
    width = flat(posterior, "width")
    u = np.log(np.asarray(x, dtype=float) / data.x_ref)[None, :]
    k = breaks.shape[1]
    log_r = log_broken_reducible(
        u, p["log_A"][:, None], [alpha[:, i, None] for i in range(k + 1)], [breaks[:, i, None] for i in range(k)],
        [width[:, i, None] for i in range(k)], lambda z: np.logaddexp(0.0, z),
    )
    return (p["E"][:, None] + np.exp(log_r)) * data.y_scale


def user_parameters(posterior: xr.Dataset, data) -> xr.Dataset:
    """Segment exponents, break scales (units of x), widths (decades), value at x_ref, floor, noise."""
    log_a = posterior["log_A"] if "log_A" in posterior else posterior["log_A_mu"]
    out = {
        "alpha": posterior["alpha"],
        "break_x": np.exp(posterior["log_break"]) * data.x_ref,
        "width_decades": posterior["width"] / np.log(10.0),
        "A_at_x_ref": np.exp(log_a) * data.y_scale,
        "E": posterior["E"] * data.y_scale,
        "sigma": posterior["sigma"],
    }
    for name in ("nu", "log_A_sigma", "log_E_sigma"):
        if name in posterior:
            out[name] = posterior[name]
    return xr.Dataset(out)


def break_table(fit, prob: float = 0.9) -> pd.DataFrame:
    """Posterior of each break: where the slope changes, and how sure the data are.

    Returns one row per break with ``break`` (name), ``median``, ``lower``, ``upper`` (central
    ``prob`` interval of the break scale, units of x), ``decades`` (width of that interval
    in decades of x), ``exponent_before`` / ``exponent_after`` (posterior medians),
    ``prob_slope_change`` (posterior probability that the exponent changes by more than
    25% of the one before, or 0.05 when that is larger) and ``inside_data`` (probability the
    break lies within the observed x range).
    """
    if fit.config.law not in BREAK_LAWS:
        raise LawError(f"breaks() needs a fit of the broken or turning law, not {fit.config.law!r}")
    post = fit.posterior
    log_break = flat(post, "log_break")
    alpha = flat(post, "alpha")
    lo_q, hi_q = (1 - prob) / 2, 1 - (1 - prob) / 2
    x_lo, x_hi = np.log(np.array(fit.data.x_range) / fit.data.x_ref)
    rows = []
    for i in range(log_break.shape[1]):
        bx = np.exp(log_break[:, i]) * fit.data.x_ref
        q = np.quantile(bx, [lo_q, 0.5, hi_q])
        material = material_change(alpha[:, i], alpha[:, i + 1])
        rows.append({
            "break": f"break_{i + 1}",
            "median": q[1], "lower": q[0], "upper": q[2],
            "decades": float(np.log10(q[2] / q[0])),
            "exponent_before": float(np.median(alpha[:, i])),
            "exponent_after": float(np.median(alpha[:, i + 1])),
            "prob_slope_change": float(material.mean()),
            "inside_data": float(np.mean((log_break[:, i] >= x_lo) & (log_break[:, i] <= x_hi))),
            "prob": prob,
        })
    return pd.DataFrame(rows)


def mark_breaks(fit, ax, prob: float = 0.9) -> None:
    """Shade the central ``prob`` interval of each break and draw its median on a plot's x axis.

    Only breaks with a material slope change in at least half of the draws are marked. Does
    nothing for fits without a broken law; for a stacked fit, marks the broken law's breaks
    and gives its stacking weight in the label.
    """
    label = "break"
    if hasattr(fit, "fits"):
        weight = float(fit.weights.get("broken", 0.0))
        fit = fit.fits.get("broken")
        label = f"break (broken law, weight {weight:.2f})"
    if fit is None or fit.config.law != "broken":
        return
    table = break_table(fit, prob)
    table = table[table["prob_slope_change"] >= 0.5]  # a break the data do not support would shade everything
    for i, row in enumerate(table.itertuples(index=False)):
        first = i == 0
        ax.axvspan(row.lower, row.upper, color="tab:red", alpha=0.10, lw=0,
                   label=f"{label}, {int(prob * 100)}% interval" if first else None)
        ax.axvline(row.median, color="tab:red", ls="--", lw=1, label=f"{label}, median" if first else None)
