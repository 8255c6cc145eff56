r"""A distance-growing discrepancy for the Chinchilla law: its math, without fits.

The Chinchilla law, fitted on the runs of small compute, is over-confident about the runs of
large compute: its posterior knows the parameters of the law, not how far the law itself
holds. As for one-input laws (:mod:`bayescale.laws.discrepancy`), a forecast at :math:`d`
decades beyond the fitted runs gets

.. math:: \log L = \log \hat L + \delta, \qquad \delta \sim \mathcal N\!\left(0, (s\, d)^2\right).

Distance
    ``"compute"`` (default): decades of :math:`C = 6 N D` beyond the fitted range of compute.
    ``"axes"``: the farther of the params and tokens distances beyond their fitted ranges.
    Extrapolation in this law's use is in compute; a run of a small model trained long is far
    out in compute but inside the params range, and the axes distance misses it.

Learning ``s`` (forward chaining over compute, fitted runs only)
    For each cut ``f`` in :data:`CUTS` the law is refitted on the fitted runs of the lowest
    ``f`` of compute (:mod:`bayescale.fitting.chinchilla_drift`); the log errors :math:`e_j`
    of the predictive median on the other fitted runs, at distances :math:`d_j` beyond that
    refit's runs, with predictive log variance :math:`v_j` (:func:`interval_variance`), are
    pooled into the grid posterior of :func:`bayescale.laws.discrepancy.posterior`
    (:func:`posterior_dataset`). Forecasts draw :math:`s` from it. Pooling re-scores the same
    runs at several cuts, so the errors are not independent and the posterior of ``s`` is
    narrower than it should be; its centre is what the forecasts rely on.

The fit object keeps that posterior (:mod:`bayescale.results.chinchilla_drift`) and saves it
with the fit as the netCDF group :data:`GROUP`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.errors import DataError
from bayescale.laws import discrepancy as disc

GROUP = "chinchilla_discrepancy"  # the fit's DataTree group (and netCDF group) holding the learned s
DISTANCES = ("compute", "axes")
CUTS = (0.5, 0.6, 0.7, 0.8)
MIN_RUNS = 10  # fewest runs a forward-chaining refit is fitted on
ERROR_COLUMNS = ("cut", "n_fit", "d", "err", "var")


def check_distance(kind: str) -> str:
    """``kind`` if it is one of :data:`DISTANCES`, else a one-line :class:`DataError`."""
    if kind not in DISTANCES:
        raise DataError(f"discrepancy distance must be one of {DISTANCES}, got {kind!r}")
    return kind


def cut_sizes(cuts: Sequence[float], n: int) -> list[tuple[float, int]]:
    """Each cut (sorted) with the number of the ``n`` runs its refit is fitted on; refuses bad cuts."""
    try:
        values = sorted(float(c) for c in np.atleast_1d(np.asarray(cuts, dtype=float)))
    except (TypeError, ValueError):
        raise DataError(f"discrepancy cuts must be fractions strictly between 0 and 1, got {cuts!r}") from None
    if not values or any(not 0 < c < 1 for c in values):
        raise DataError(f"discrepancy cuts must be fractions strictly between 0 and 1, got {values}")
    sizes = []
    for cut in values:
        k = int(round(cut * n))
        if k < MIN_RUNS or k >= n:
            raise DataError(f"discrepancy cut {cut:g} refits {k} of {n} runs; it needs at least {MIN_RUNS} and "
                            "leaves at least one to score: fit more runs or choose other cuts")
        sizes.append((cut, k))
    return sizes


def _beyond(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    lo, hi = np.log10(observed.min()), np.log10(observed.max())
    lv = np.log10(values)
    return np.where(lv > hi, lv - hi, np.where(lv < lo, lo - lv, 0.0))


def distance(observed_params, observed_tokens, params, tokens, kind: str = "compute") -> np.ndarray:
    """Decades of ``(params, tokens)`` beyond the observed runs, by compute ``6 N D`` or by the farther axis."""
    check_distance(kind)
    on, ot = np.asarray(observed_params, dtype=float), np.asarray(observed_tokens, dtype=float)
    n, t = np.asarray(params, dtype=float), np.asarray(tokens, dtype=float)
    if kind == "compute":
        return _beyond(n * t, on * ot)
    return np.maximum(_beyond(n, on), _beyond(t, ot))


def interval_variance(log_draws: np.ndarray, prob: float = 0.9) -> np.ndarray:
    """Per column, the variance of the normal whose central ``prob`` interval is that of ``log_draws``.

    The Student-t noise of Chinchilla fits has few degrees of freedom (about 1.5 on the bundled
    runs): the raw variance of its log draws is dominated by the tails, so large it leaves
    nothing for ``s`` to explain. Matching the interval keeps ``s = 0`` equal to the plain
    interval the forecast reports.
    """
    from scipy.stats import norm

    lo, hi = np.quantile(log_draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return ((hi - lo) / (2 * norm.ppf((1 + prob) / 2))) ** 2


def posterior_dataset(errors: pd.DataFrame, kind: str) -> xr.Dataset:
    """The grid posterior of ``s`` given forward-chaining ``errors`` (columns :data:`ERROR_COLUMNS`),
    with the errors behind it; ``kind`` and the cuts as attributes."""
    check_distance(kind)
    missing = [c for c in ERROR_COLUMNS if c not in errors.columns]
    if missing:
        raise DataError(f"discrepancy errors need the columns {list(ERROR_COLUMNS)}; missing {missing}")
    grid, weights = disc.posterior(errors["d"], errors["err"], errors["var"])
    cuts = sorted(set(errors["cut"]))
    return xr.Dataset({"weight": ("s", weights), **{c: ("error", errors[c].to_numpy(dtype=float))
                                                  for c in ("d", "err", "var", "cut")}},
                      coords={"s": grid}, attrs={"distance": kind, "cuts": ",".join(f"{c:g}" for c in cuts)})


def summarise(ds: xr.Dataset) -> dict:
    """``distance``, ``cuts``, ``errors`` (count), ``s`` (posterior mean), ``s_low`` and ``s_high``
    (5% and 95%), ``s_ml`` (maximum likelihood) of a :func:`posterior_dataset`."""
    grid, weights = ds["s"].values, ds["weight"].values
    cdf = np.cumsum(weights)
    return {"distance": ds.attrs["distance"], "cuts": ds.attrs["cuts"], "errors": int(ds.sizes["error"]),
            "s": float(grid @ weights), "s_low": float(grid[np.searchsorted(cdf, 0.05)]),
            "s_high": float(grid[np.searchsorted(cdf, 0.95)]),
            "s_ml": disc.max_likelihood(ds["d"].values, ds["err"].values, ds["var"].values)}


def draw_scale(ds: xr.Dataset, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of ``s`` from a :func:`posterior_dataset`."""
    return rng.choice(ds["s"].values, size=n, p=ds["weight"].values)


def optimal_log_loss(e, a, b, alpha, beta):
    """``(log E, log K, gamma)`` per draw (columns) of the compute-optimal loss ``E + K (C/6)^-gamma``.

    Along the compute-optimal frontier both power terms fall as ``(C/6)^-gamma`` with
    ``gamma = alpha beta / (alpha + beta)``.
    """
    log_g = (np.log(alpha) + np.log(a) - np.log(beta) - np.log(b)) / (alpha + beta)
    log_k = np.logaddexp(np.log(a) - alpha * log_g, np.log(b) + beta * log_g)[:, None]
    gamma = (alpha * beta / (alpha + beta))[:, None]
    return np.log(e)[:, None], log_k, gamma
