"""One (curve, cutoff) of a backtest, run in a worker: fit every method on the training rows, score the rest."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayescale.workflows.backtest.splits import MIN_TRAIN, inner_mask


def _bayes_fit(frame: pd.DataFrame, spec: Mapping, seed: int):
    """Fit bayescale's law to one training frame (compiled-model reuse where the batch module offers it)."""
    law = spec["law"]
    if isinstance(law, str) and law != "auto":
        from bayescale.workflows.batch import fit_curve

        fit_spec = {"law": law, "x": "x", "y": "y", "group": None, "noise": spec["noise"], "slopes": "shared",
                    "floor": "shared", "draws": spec["draws"], "tune": spec["tune"], "chains": spec["chains"],
                    "sampler": spec["sampler"], "target_accept": spec["target_accept"], "priors": spec["priors"],
                    "prob": 0.9, "at": None, "discrepancy": False}  # scored as the posterior alone
        out = fit_curve({"spec": fit_spec, "curve_id": "c", "key": ["c"], "index": 0, "seed": seed,
                         "frame": frame, "return_fit": True})
        if out["record"]["status"] != "ok":
            raise RuntimeError(out["record"]["reason"])
        return out["fit"], out["record"]["diagnostics"]
    import bayescale

    fit = bayescale.fit(frame, law=law, x="x", y="y", measure=spec.get("measure"), noise=spec["noise"],
                        discrepancy=False,
                        priors=spec["priors"], draws=spec["draws"], tune=spec["tune"], chains=spec["chains"], seed=seed,
                        sampler=spec["sampler"], progress=False, cores=1)  # nutpie: compiled once per law
    return fit, fit.diagnostics()


def _bayes_draws(frame: pd.DataFrame, x_eval: np.ndarray, spec: Mapping, seed: int) -> tuple[np.ndarray, dict]:
    """Posterior predictive draws at ``x_eval`` and the sampler diagnostics of the fit."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit, diagnostics = _bayes_fit(frame, spec, seed)
        draws = np.asarray(fit.predictive_draws(x_eval, fit.data.groups[0], seed=seed), dtype=float)
    keep = ("max_r_hat", "min_ess_bulk", "divergences")
    return draws, {**{k: diagnostics.get(k) for k in keep}, "laws": laws_used(fit, spec["law"]),
                   LFO_ERRORS: lfo_errors(fit)}


LFO_ERRORS = "lfo_errors"  # a key of _bayes_draws' diagnostics that run_task takes out


def lfo_errors(fit) -> dict | None:
    """A stacked fit's in-sample forward-chaining errors (its LFO refits' stacked forecasts), if it has any.

    They are the errors of the stacked predictive itself, which an inner refit of a stack cannot give
    where the inner rows are too few to weigh the laws again (it falls back to the simplest law).
    """
    forecasts = getattr(getattr(fit, "lfo", None), "forecasts", None)
    if forecasts is None or getattr(fit, "weights_method", None) != "lfo" or not len(forecasts):
        return None
    return {"d": forecasts["distance"].to_numpy(float), "err": forecasts["error"].to_numpy(float),
            "var": forecasts["variance"].to_numpy(float)}


def laws_used(fit, law) -> str:
    """The laws behind a fit's forecast with their weights, e.g. ``"power 0.83, broken 0.17"``."""
    weights = getattr(fit, "weights", None)
    if weights is None:
        return str(law)
    return ", ".join(f"{name} {float(w):.2f}" for name, w in weights.items())


def run_task(task: Mapping[str, Any]) -> dict:
    """Fit every method on one (curve, cutoff) and return draws at the held-out scales.

    Failures of one method are recorded in ``failures`` (method and reason); the others go on.
    """
    from bayescale.workflows import baselines

    start = time.perf_counter()
    spec, seed = task["spec"], task["seed"]
    x_tr, y_tr, x_te = task["x_train"], task["y_train"], task["x_test"]
    draws: dict[str, np.ndarray] = {}
    failures: list[dict] = []
    inner = None

    def attempt(method, fn):
        try:
            draws[method] = fn()
        except Exception as exc:  # noqa: BLE001 - a failed method is a result
            failures.append({"method": method, "reason": f"{type(exc).__name__}: {exc}"})

    frame = pd.DataFrame({"x": x_tr, "y": y_tr})
    diagnostics: dict = {}

    def bayes():
        nonlocal inner
        draws_, diag = _bayes_draws(frame, x_te, spec, seed)
        lfo = diag.pop(LFO_ERRORS, None)  # a stack's own forward-chaining errors: no inner refit needed
        inner = lfo if spec["discrepancy"] else None
        diagnostics.update(diag)
        return draws_

    attempt("bayescale", bayes)
    if spec["baselines"]:
        attempt("ls", lambda: baselines.power_ls_point(x_tr, y_tr, x_te))
        attempt("ls_bootstrap", lambda: baselines.power_ls_bootstrap(x_tr, y_tr, x_te, n_boot=spec["n_boot"],
                                                                     seed=seed))
        attempt("loglinear", lambda: baselines.loglinear_draws(x_tr, y_tr, x_te, seed=seed))
        attempt("bnsl", lambda: baselines.bnsl_point(x_tr, y_tr, x_te))
        attempt("bnsl_signed", lambda: baselines.bnsl_signed_point(x_tr, y_tr, x_te))
    if spec["discrepancy"] and "bayescale" in draws and inner is None:
        mask = inner_mask(x_tr, spec["inner"])
        if mask.sum() >= MIN_TRAIN and (~mask).sum() >= 1:
            try:
                from bayescale.laws.discrepancy import link_fn, link_name

                d_in, _ = _bayes_draws(frame[mask], x_tr[~mask], spec, seed + 1)
                link = link_name(spec.get("measure"))  # errors on the scale the drift acts on
                g_d = link_fn(d_in, link)
                inner = {"d": np.log10(x_tr[~mask] / x_tr[mask].max()), "err": link_fn(y_tr[~mask], link)
                         - np.median(g_d, axis=0), "var": g_d.var(axis=0)}
            except Exception as exc:  # noqa: BLE001
                failures.append({"method": "bayescale+disc", "reason": f"inner fit: {type(exc).__name__}: {exc}"})
    return {"status": "ok", "draws": draws, "failures": failures, "inner": inner, "diagnostics": diagnostics,
            "seconds": time.perf_counter() - start}
