r"""Where more runs would narrow a Chinchilla claim most (linearised posterior), and its item draws.

For candidate runs (compute budgets from the smallest observed to beyond the target, at 5, 20
and 80 tokens per parameter), the expected posterior width of each item after ``k`` more runs
there. This uses a linearised (Laplace) approximation, not a refit: the posterior covariance
:math:`\Sigma` of the internal parameters :math:`\theta = (\log E, \log A, \log B, \alpha, \beta)`
gains the Fisher information of ``k`` runs, :math:`\Sigma' = (\Sigma^{-1} + k\, I\, g g^T)^{-1}`
with :math:`g` the gradient of :math:`\log \mu` at the posterior mean and
:math:`I = (\nu + 1) / ((\nu + 3) \sigma^2)` the Student-t information; the item's width
scales by :math:`\sqrt{h^T \Sigma' h / h^T \Sigma h}`, with
:math:`h = \Sigma^{-1} \mathrm{Cov}(\theta, q)` the item's linear regression on the draws.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

CANDIDATE_RATIOS = (5.0, 20.0, 80.0)


def item_draws(fit, item) -> np.ndarray:
    """Posterior draws of a claimed Chinchilla quantity (user units).

    A claimed loss is widened by the fit's learned discrepancy when it has one
    (:func:`bayescale.results.chinchilla_drift.calibrated_loss`); parameters and allocations are not.
    """
    from bayescale.results.chinchilla_drift import calibrated_loss

    if item.kind == "parameter":
        return fit.parameter_draws()[item.name]
    if item.kind == "prediction":
        if item.compute is not None:
            opt = fit.optimal_draws([item.compute])
            return calibrated_loss(fit, opt["loss"][:, 0], np.median(opt["params"]), np.median(opt["tokens"]))
        return calibrated_loss(fit, fit.curve_draws([item.params], [item.tokens])[:, 0], item.params, item.tokens)
    quantity = item.where.rsplit(".", 1)[-1]
    return fit.optimal_draws([item.compute])[quantity][:, 0]


def item_flags(fit, item) -> list[dict]:
    """Extrapolation flags of a claimed prediction or allocation."""
    from bayescale.results.chinchilla import chinchilla_target_flags

    if item.params is not None:
        return chinchilla_target_flags(fit, points={"params": [item.params], "tokens": [item.tokens]})
    if item.compute is not None:
        return chinchilla_target_flags(fit, compute=[item.compute])
    return []


def _internal_draws(fit) -> tuple[np.ndarray, list[str]]:
    from bayescale.core.posterior import flat

    names = ["log_E", "log_A", "log_B", "alpha", "beta"]
    return np.column_stack([flat(fit.posterior, n) for n in names]), names


def _log_mean_gradient(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """Gradient of log mu w.r.t. (log E, log A, log B, alpha, beta), one row per point."""
    log_e, log_a, log_b, alpha, beta = theta
    terms = np.column_stack([np.full_like(log_n, log_e), log_a - alpha * log_n, log_b - beta * log_d])
    weights = np.exp(terms - terms.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.column_stack([weights[:, 0], weights[:, 1], weights[:, 2],
                            -log_n * weights[:, 1], -log_d * weights[:, 2]])


def _information_per_run(fit) -> float:
    from bayescale.core.posterior import flat

    sigma = float(np.median(flat(fit.posterior, "sigma")))
    if fit.config.noise == "studentt":
        nu = float(np.median(flat(fit.posterior, "nu")))
        return (nu + 1) / ((nu + 3) * sigma**2)
    if fit.config.noise == "normal":  # on the loss scale: approximate with the median loss
        return float(np.median(fit.data.y / fit.data.y_scale)) ** 2 / sigma**2
    return 1.0 / sigma**2


def candidate_runs(fit, targets: list[float]) -> pd.DataFrame:
    """Candidate new runs: budgets from the smallest observed compute to beyond the targets."""
    c = fit.data.compute
    top = max([c.max() * 10, *[t * 1.0 for t in targets]])
    budgets = np.logspace(np.log10(c.min()), np.log10(top), 7)
    rows = []
    for budget in budgets:
        for ratio in CANDIDATE_RATIOS:
            n = math.sqrt(budget / (6 * ratio))
            rows.append({"compute": budget, "params": n, "tokens": ratio * n, "tokens_per_param": ratio})
    return pd.DataFrame(rows)


def expected_widths(fit, draws: dict[str, np.ndarray], candidates: pd.DataFrame, runs: int) -> pd.DataFrame:
    """Expected width factor of each item after ``runs`` more runs at each candidate (linearised).

    Returns one row per (item, candidate) with ``width_factor`` = expected width after /
    width now.
    """
    theta, _ = _internal_draws(fit)
    sigma = np.cov(theta, rowvar=False)
    precision = np.linalg.inv(sigma)
    centre = theta.mean(axis=0)
    d = fit.data
    grads = _log_mean_gradient(centre, np.log(candidates["params"].to_numpy() / d.n_ref),
                               np.log(candidates["tokens"].to_numpy() / d.d_ref))
    info = _information_per_run(fit) * runs
    posts = [np.linalg.inv(precision + info * np.outer(g, g)) for g in grads]
    rows = []
    centred = theta - centre
    for name, q in draws.items():
        f = np.log(q) if np.all(q > 0) else q
        cov_tq = centred.T @ (f - f.mean()) / (len(f) - 1)
        h = precision @ cov_tq
        now = float(h @ sigma @ h)
        for i, post in enumerate(posts):
            factor = math.sqrt(max(float(h @ post @ h), 0.0) / now) if now > 0 else 1.0
            rows.append({"item": name, **candidates.iloc[i].to_dict(), "runs": runs, "width_factor": factor})
    return pd.DataFrame(rows)


def recommendations(fit, items: pd.DataFrame, draws_by_item: dict, targets: list[float],
                    runs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The best candidate per item (``recommendations``) and every candidate (``candidates``)."""
    candidates = candidate_runs(fit, targets)
    widths = expected_widths(fit, draws_by_item, candidates, runs)
    best = widths.loc[widths.groupby("item", sort=False)["width_factor"].idxmin()]
    table = items.set_index("item")
    best = best.assign(width_now=[float(table.loc[n, "posterior_upper"] - table.loc[n, "posterior_lower"])
                                  for n in best["item"]])
    best["width_after"] = best["width_now"] * best["width_factor"]
    recs = best[["item", "compute", "params", "tokens", "tokens_per_param", "runs", "width_now",
                 "width_after", "width_factor"]].reset_index(drop=True)
    return recs, widths
