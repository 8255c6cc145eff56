r"""Where more runs would narrow a claim on a single-axis law (power, broken, sigmoid).

A simple preposterior rule, no refit: ``k`` new runs at scale :math:`x_c` of group ``g`` observe
the curve :math:`f = t(\mu_g(x_c))` (``t`` = log for positive metrics, identity for accuracies
and additive noise) with the noise variance :math:`s^2` the data show around the posterior
median curve. Treating the draws of the claimed quantity :math:`q` (log scale when positive)
and of :math:`f` as jointly Gaussian, conditioning on the runs leaves

.. math:: \mathrm{Var}(q \mid \text{runs}) = \mathrm{Var}(q)
          - \frac{\mathrm{Cov}(q, f)^2}{\mathrm{Var}(f) + s^2 / k},

so the interval of :math:`q` shrinks by ``width_factor`` :math:`= \sqrt{\mathrm{Var}(q \mid
\text{runs}) / \mathrm{Var}(q)}`. Candidates: nine log-spaced scales from the smallest
observed to ten times the largest (or the claim's target, when further).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

N_CANDIDATES = 9


def _transform(fit):
    if fit.config.law == "sigmoid" or fit.config.noise == "normal":
        return lambda v: v
    return lambda v: np.log(np.maximum(v, 1e-300))


def group_name(fit, group: str | None) -> str:
    """The group to draw curves for: the one named, else the only one of an ungrouped fit."""
    return group if group is not None else fit.data.groups[0]


def candidate_scales(fit, targets: Sequence[float] = ()) -> np.ndarray:
    x = fit.data.x
    top = max([float(x.max()) * 10, *[float(t) for t in targets if np.isfinite(t)]])
    return np.geomspace(float(x.min()), top, N_CANDIDATES)


def residual_variance(fit) -> float:
    """Mean squared residual of the data around the posterior median curve (transformed scale)."""
    t, d = _transform(fit), fit.data
    squares = []
    for code, g in enumerate(d.groups):
        mask = d.group_index == code
        median = np.median(fit.curve_draws(d.x[mask], g), axis=0)
        squares.append((t(d.y[mask]) - t(median)) ** 2)
    return float(np.mean(np.concatenate(squares)))


def narrowing(fit, quantity: np.ndarray, groups: Sequence[str | None], runs: int,
              targets: Sequence[float] = ()) -> pd.DataFrame:
    """Expected ``width_factor`` of ``quantity`` after ``runs`` runs at each candidate scale and group.

    ``quantity`` holds one draw per posterior draw (in the posterior's order); non-finite
    draws (a target never reached) are left out. Returns columns ``group`` (None for an
    ungrouped fit), ``x``, ``runs``,
    ``width_factor`` (empty when fewer than 20 finite draws remain).
    """
    q = np.asarray(quantity, dtype=float)
    keep = np.isfinite(q)
    if keep.sum() < 20:
        return pd.DataFrame(columns=["group", "x", "runs", "width_factor"])
    q = q[keep]
    q = np.log(q) if np.all(q > 0) else q
    var_q = float(np.var(q))
    noise = residual_variance(fit)
    t, scales, rows = _transform(fit), candidate_scales(fit, targets), []
    for g in groups:
        name = group_name(fit, g)
        f = t(fit.curve_draws(scales, name))[keep]
        for i, xc in enumerate(scales):
            cov = float(np.mean((q - q.mean()) * (f[:, i] - f[:, i].mean())))
            denom = float(np.var(f[:, i])) + noise / runs
            left = var_q - cov**2 / denom if denom > 0 else var_q
            factor = math.sqrt(max(left, 0.0) / var_q) if var_q > 0 else 1.0
            rows.append({"group": g, "x": float(xc), "runs": runs, "width_factor": factor})
    return pd.DataFrame(rows)


def best_run(table: pd.DataFrame) -> dict:
    """The candidate with the smallest width factor, or an empty dict."""
    if not len(table):
        return {}
    return table.loc[table["width_factor"].idxmin()].to_dict()
