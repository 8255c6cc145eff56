"""The low-rank capability model: benchmark scores from a few capabilities that grow with compute per family.

Also its starting point and its sampler (:func:`sample`), shared by fits and the refits of
:mod:`bayescale.workflows.observational.drift`. The observed cells are data, so one compiled
model (:func:`compiled_model`) serves every fit of the same table with other cells observed,
as the refits of the forward chain are.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bayescale.errors import LawError
from bayescale.workflows.observational.data import ObservationalData


def lower_triangular_index(n_bench: int, k: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Indices of the free strictly-lower entries and of the diagonal of a (n_bench x k) loading matrix."""
    rows, cols = np.tril_indices(n_bench, -1, k)
    return (rows, cols), np.arange(k)


def score_mean(eta: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Expected score ``floor + (1 - floor) * sigmoid(eta)`` (NumPy; broadcasts)."""
    return floor + (1.0 - floor) / (1.0 + np.exp(-eta))


NOISE = ("shared", "pooled", "anchors", "benchmark")


def create_observational_model(data: ObservationalData, k: int = 3, noise: str = "shared"):
    """Build the PyMC capability model (see the module docstring for the math).

    Coordinates: ``model``, ``benchmark``, ``capability`` (``c1..ck``), ``family``,
    ``cell`` (observed cells) and ``low`` (free entries of the lower-triangular loadings).
    ``noise``: ``"shared"`` (default) one score-noise sd for all benchmarks; ``"anchors"``
    one shared by the k anchor benchmarks and one per other benchmark; ``"benchmark"`` one
    each. The last two let a benchmark's own residual move between the capabilities and its
    noise, which leaves the model weakly identified (chains disagree).
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_model, n_bench = data.scores.shape
    (low_r, low_c), diag = lower_triangular_index(n_bench, k)
    obs_m, obs_j = data.observed_cells
    coords = {
        "model": data.models,
        "benchmark": data.benchmarks,
        "capability": [f"c{i + 1}" for i in range(k)],
        "capability_rest": [f"c{i + 1}" for i in range(1, k)],
        "family": data.families,
        "cell": _cell_labels(data),
        "low": [f"{data.benchmarks[r]}|c{c + 1}" for r, c in zip(low_r, low_c, strict=True)],
        "free_benchmark": data.benchmarks[k:],
    }
    with pm.Model(coords=coords) as model:
        u = pm.Data("u", data.u, dims="model")
        fam = pm.Data("family_index", data.family_index, dims="model")

        mu_beta = pm.Normal("beta_mu", 0.0, 2.0, dims="capability")
        tau_beta = pm.HalfNormal("beta_sigma", 0.5, dims="capability")
        z_beta = pm.Normal("beta_z", 0.0, 1.0, dims=("family", "capability"))
        beta = pm.Deterministic("beta", mu_beta + tau_beta * z_beta, dims=("family", "capability"))
        mu_alpha = pm.Normal("alpha_mu", 0.0, 3.0, dims="capability")
        tau_alpha = pm.HalfNormal("alpha_sigma", 1.0, dims="capability")
        z_alpha = pm.Normal("alpha_z", 0.0, 1.0, dims=("family", "capability"))
        alpha = pm.Deterministic("alpha", mu_alpha + tau_alpha * z_alpha, dims=("family", "capability"))
        tau_c = pm.HalfNormal("resid_sigma", 1.0, dims="capability")
        # capability 1 is measured by most benchmarks (centred parametrisation); the others are
        # often weakly measured (saturated or missing scores), so they are non-centred
        mean_c = alpha[fam] + beta[fam] * u[:, None]
        c_first = pm.Normal("capability_first", mean_c[:, 0], tau_c[0], dims="model")
        if k > 1:
            z_rest = pm.Normal("resid_z", 0.0, 1.0, dims=("model", "capability_rest"))
            cap = pt.concatenate([c_first[:, None], mean_c[:, 1:] + tau_c[1:] * z_rest], axis=1)
        else:
            cap = c_first[:, None]
        cap = pm.Deterministic("capability_score", cap, dims=("model", "capability"))

        loadings = pt.zeros((n_bench, k))
        loadings = pt.set_subtensor(loadings[diag, diag], 1.0)
        if len(low_r):
            w_low = pm.Normal("W_low", 0.0, 1.0, dims="low")
            loadings = pt.set_subtensor(loadings[low_r, low_c], w_low)
        loadings = pm.Deterministic("W", loadings, dims=("benchmark", "capability"))
        if n_bench > k:
            b_free = pm.Normal("b_free", 0.0, 2.0, dims="free_benchmark")
            b = pt.concatenate([pt.zeros(k), b_free])
        else:
            b = pt.zeros(k)
        b = pm.Deterministic("b", b, dims="benchmark")
        if noise == "benchmark":
            sigma = pm.HalfNormal("sigma", 0.05, dims="benchmark")
        elif noise == "pooled":  # per benchmark, log-normally around a common sd (fixed spread 0.5)
            shared = pm.HalfNormal("sigma_shared", 0.05)
            z_sigma = pm.Normal("sigma_z", 0.0, 1.0, dims="benchmark")
            sigma = pm.Deterministic("sigma", shared * pt.exp(0.5 * z_sigma), dims="benchmark")
        else:
            shared = pm.HalfNormal("sigma_shared", 0.05)
            if noise == "anchors" and n_bench > k:
                sigma = pt.concatenate([pt.ones(k) * shared, pm.HalfNormal("sigma_free", 0.05, dims="free_benchmark")])
            else:
                sigma = pt.ones(n_bench) * shared
            sigma = pm.Deterministic("sigma", sigma, dims="benchmark")

        cell_m = pm.Data("cell_model", obs_m, dims="cell")
        cell_j = pm.Data("cell_benchmark", obs_j, dims="cell")
        eta = pt.sum(cap[cell_m] * loadings[cell_j], axis=1) + b[cell_j]
        floor = pt.as_tensor_variable(data.floors)[cell_j]
        mean = floor + (1.0 - floor) * pm.math.sigmoid(eta)
        observed = pm.Data("cell_score", data.scores[obs_m, obs_j], dims="cell")
        pm.Normal("score", mean, sigma[cell_j], observed=observed, dims="cell")
    return model


def _cell_labels(data: ObservationalData) -> list[str]:
    obs_m, obs_j = data.observed_cells
    return [f"{data.models[m]}|{data.benchmarks[j]}" for m, j in zip(obs_m, obs_j, strict=True)]


_COMPILED: dict[tuple, object] = {}
_COMPILED_MAX = 4


def compiled_model(data: ObservationalData, k: int, noise: str):
    """The capability model of ``data``, frozen, from a process cache keyed by all but the observed cells.

    PyMC's frozen model compiles its log density once and keeps it; the observed cells
    (which scores are seen) are set as data on each call. The forward chain's refits hide
    scores of the same table, so they reuse the fit's compiled model instead of compiling
    anew (a first compile took 30-45 s on an empty compile cache). Everything the graph holds as a
    constant is in the key: the table's models, families, benchmarks, compute and floors.
    """
    import pymc as pm
    from pymc.model.transform.optimization import freeze_model

    key = (k, noise, tuple(data.models), tuple(data.families), tuple(data.benchmarks), data.u.tobytes(),
           np.asarray(data.family_index).tobytes(), np.asarray(data.floors, dtype=float).tobytes())
    model = _COMPILED.pop(key, None)
    if model is None:
        model = freeze_model(create_observational_model(data, k=k, noise=noise))
    _COMPILED[key] = model  # most recently used last
    while len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.pop(next(iter(_COMPILED)))
    obs_m, obs_j = data.observed_cells
    with model:
        pm.set_data({"cell_model": obs_m, "cell_benchmark": obs_j, "cell_score": data.scores[obs_m, obs_j]},
                    coords={"cell": _cell_labels(data)})
    return model


def initial_point(data: ObservationalData, k: int) -> dict[str, np.ndarray]:
    """A least-squares starting point in the identified parametrisation (PCA of the score logits).

    PCA of the chance-corrected score logits (missing cells mean-imputed) gives loadings
    ``A``; the LQ decomposition of their top k x k block rotates them to lower-triangular
    form and column scaling sets the unit diagonal. Per-family least squares of the
    capabilities on ``u`` give ``alpha`` and ``beta``. All chains start here, which keeps
    them in the same identified mode.
    """
    p = (data.scores - data.floors) / (1 - data.floors)
    p = np.clip(p, 0.02, 0.98)
    y = np.log(p / (1 - p))
    col_mean = np.nanmean(y, axis=0)
    y = np.where(np.isnan(y), col_mean, y)
    yc = y - y.mean(axis=0)
    u_svd, s_svd, vt = np.linalg.svd(yc, full_matrices=False)
    scores = u_svd[:, :k] * s_svd[:k]
    a = vt[:k].T  # (J, k)
    q, r = np.linalg.qr(a[:k].T)  # a_k = r.T q.T, r.T lower triangular
    d = np.diag(r).copy()
    d[np.abs(d) < 1e-6] = 1e-6
    w = (a @ q) / d  # lower triangular, unit diagonal
    cap = scores @ q * d
    u = data.u
    alpha = np.zeros((len(data.families), k))
    beta = np.zeros((len(data.families), k))
    design = np.column_stack([np.ones_like(u), u])
    pooled = np.linalg.lstsq(design, cap, rcond=None)[0]
    for g in range(len(data.families)):
        rows = data.family_index == g
        if rows.sum() >= 3 and np.ptp(u[rows]) > 0.1:
            coef = np.linalg.lstsq(design[rows], cap[rows], rcond=None)[0]
        else:
            coef = np.vstack([cap[rows].mean(axis=0) - pooled[1] * u[rows].mean(), pooled[1]])
        alpha[g], beta[g] = coef[0], coef[1]
    b = y.mean(axis=0) - w @ cap.mean(axis=0)
    shift = np.linalg.solve(w[:k], b[:k])  # move the origin so that the anchors' intercepts are 0
    cap, alpha, b = cap + shift, alpha + shift, b - w @ shift
    fitted = alpha[data.family_index] + beta[data.family_index] * u[:, None]
    resid_sd = np.maximum(np.std(cap - fitted, axis=0), 0.05)
    (low_r, low_c), _ = lower_triangular_index(len(data.benchmarks), k)
    beta_mu = beta.mean(axis=0)
    beta_sd = np.maximum(beta.std(axis=0), 0.05)
    alpha_mu = alpha.mean(axis=0)
    alpha_sd = np.maximum(alpha.std(axis=0), 0.05)
    init = {
        "beta_mu": beta_mu,
        "beta_sigma": beta_sd,
        "beta_z": (beta - beta_mu) / beta_sd,
        "alpha_sigma": alpha_sd,
        "alpha_mu": alpha_mu,
        "alpha_z": (alpha - alpha_mu) / alpha_sd,
        "resid_sigma": resid_sd,
        "capability_first": cap[:, 0],
    }
    if len(data.benchmarks) > k:
        init["b_free"] = b[k:]
    if k > 1:
        init["resid_z"] = (cap[:, 1:] - fitted[:, 1:]) / resid_sd[1:]
    if len(low_r):
        init["W_low"] = w[low_r, low_c]
    return init


def sample(model, *, method: str, draws: int, tune: int, chains: int, seed: int, progress: bool,
           cores: int | None, advi_steps: int, initvals: Mapping[str, np.ndarray] | None = None):
    """Sample ``model`` by NUTS or ADVI (``method``) from ``initvals`` (:func:`initial_point`)."""
    import os

    import pymc as pm
    import pytensor

    from bayescale.core import heap
    from bayescale.fitting.quiet import quiet_pymc
    from bayescale.fitting.sampling import add_deterministics

    if method not in ("nuts", "advi"):
        raise LawError(f"method must be 'nuts' or 'advi', got {method!r}")
    heap.settle()
    with model, quiet_pymc():
        if method == "nuts":
            # only the free variables are traced: PyMC would compile a second numba program for the
            # deterministics (7-12 s of a first fit); NumPy computes them from the draws afterwards
            idata = pm.sample(draws=draws, tune=tune, chains=chains,
                              cores=cores if cores is not None else min(chains, os.cpu_count() or 1),
                              random_seed=seed, progressbar=progress, target_accept=0.9, init="adapt_diag",
                              initvals=dict(initvals or {}), compute_convergence_checks=False,
                              var_names=[rv.name for rv in model.free_RVs])
            add_deterministics(idata, model)
            return idata
        approx = pm.fit(n=advi_steps, method="advi", random_seed=seed, progressbar=progress,
                        start=dict(initvals or {}))
        # the draws and their deterministics are computed once: NumPy's ufuncs, not a numba program
        with pytensor.config.change_flags(mode="FAST_COMPILE"):
            return approx.sample(draws=draws * chains, random_seed=seed)
