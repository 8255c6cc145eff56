"""A Chinchilla claim's items: their posterior draws and the extrapolation flags that bear on them."""

from __future__ import annotations

import numpy as np


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
