"""Experiment (not a bayescale feature): a random log-loss offset per model size in the Chinchilla fit.

Runs of one model size share more than the law says. This adds ``tau * z_size`` to the log mean
(``z ~ N(0, 1)`` per size, ``tau ~ HalfNormal(tau_sd)``; sizes are runs whose params agree within
0.002 decades), samples it with the compiled-model cache, and scores the same held-out split as
``bench_chinchilla_holdout.py``: a held-out run of a fitted size gets that size's offset, a new
size a fresh one. Measured: it neither fixes coverage nor RMSLE (see the report of issue 15 item 6).

Run: ``.venv/bin/python benchmarks/experiment_chinchilla_size_offsets.py``
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import bayescale as bs
from bayescale.core.config import FitConfig
from bayescale.core.posterior import flat, sample_noise
from bayescale.laws.chinchilla import default_priors, prepare_chinchilla
from bayescale.laws.priors import merge_priors, priors_from_dict, priors_to_dict
from bayescale.results.chinchilla import ChinchillaFit

TOL = 0.002  # decades of params within which two runs are one model size


def size_centres(log_params: np.ndarray) -> np.ndarray:
    values = np.sort(np.unique(log_params))
    centres = [values[0]]
    for v in values[1:]:
        if v - centres[-1] > TOL:
            centres.append(v)
    return np.array(centres)


def assign(centres: np.ndarray, log_params: np.ndarray) -> np.ndarray:
    """Index of each run's size, -1 for a size not among ``centres``."""
    idx = np.abs(log_params[:, None] - centres[None, :]).argmin(1)
    return np.where(np.abs(log_params - centres[idx]) <= TOL, idx, -1)


def build(data, config, size_index, n_sizes, tau_sd):
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.laws.model import _shared_prior, observed_data

    with pm.Model(coords={"obs": np.arange(len(data.y)), "size": np.arange(n_sizes)}) as model:
        pri = {k: _shared_prior(k, v) for k, v in priors_from_dict(config.priors).items()}
        u = pm.Data("log_params", np.log(data.params / data.n_ref), dims="obs")
        w = pm.Data("log_tokens", np.log(data.tokens / data.d_ref), dims="obs")
        si = pm.Data("size_index", size_index, dims="obs")
        log_e, log_a, log_b = (pri[k].create_variable(k) for k in ("log_E", "log_A", "log_B"))
        alpha, beta = pri["alpha"].create_variable("alpha"), pri["beta"].create_variable("beta")
        tau = pm.HalfNormal("tau", tau_sd)
        z = pm.Normal("z_size", 0, 1, dims="size")
        log_mean = pt.logsumexp(pt.stack([pt.ones_like(u) * log_e, log_a - alpha * u, log_b - beta * w]), axis=0)
        sigma, nu = pri["sigma"].create_variable("sigma"), pri["nu"].create_variable("nu")
        pm.StudentT("y_obs", nu=nu, mu=log_mean + tau * z[si], sigma=sigma,
                    observed=observed_data(data.y / data.y_scale, "studentt"), dims="obs")
    return model


def fit_sized(df, *, draws=500, tune=1000, chains=4, seed=3, tau_sd=0.02):
    from bayescale.fitting.compiled import sample_compiled

    config = FitConfig(law="chinchilla", x=["params", "tokens"], y="loss", noise="studentt", draws=draws, tune=tune,
                       chains=chains, seed=seed, sampler="nutpie", target_accept=0.95).validate()
    data = prepare_chinchilla(df, x=["params", "tokens"], y="loss")
    config.priors = priors_to_dict(merge_priors(default_priors(data, config), None))
    centres = size_centres(np.log10(data.params))
    size_index = assign(centres, np.log10(data.params))
    idata = sample_compiled(lambda: build(data, config, size_index, len(centres), tau_sd), config)
    return ChinchillaFit(idata, data, config), centres


def predictive(fit, centres, params, tokens, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean = fit.curve_draws(params, tokens)
    tau, z = flat(fit.posterior, "tau"), flat(fit.posterior, "z_size")
    idx = assign(centres, np.log10(params))
    offsets = np.where(idx[None, :] >= 0, z[:, np.maximum(idx, 0)], rng.standard_normal(mean.shape))
    mean = mean * np.exp(tau[:, None] * offsets)
    return sample_noise(mean / fit.data.y_scale, fit.posterior, "studentt", rng) * fit.data.y_scale


def main() -> None:
    df = bs.datasets.load("chinchilla").sort_values("compute", kind="stable").reset_index(drop=True)
    for split in (0.7, 0.85):
        k = int(split * len(df))
        train, test = df.iloc[:k], df.iloc[k:]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit, centres = fit_sized(train)
            draws = predictive(fit, centres, test["params"].to_numpy(), test["tokens"].to_numpy())
        seconds = time.perf_counter() - t0
        lo, med, hi = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
        y = test["loss"].to_numpy()
        diag = fit.diagnostics()
        seen = np.mean(assign(centres, np.log10(test["params"].to_numpy())) >= 0)
        print(f"split {split}: {len(centres)} sizes, held-out sizes seen {seen:.2f}; "
              f"coverage_90 {np.mean((y >= lo) & (y <= hi)):.3f}, rmsle {np.sqrt(np.mean(np.log(med / y) ** 2)):.4f}, "
              f"median_log_width {np.median(np.log(hi / lo)):.4f}, {seconds:.1f} s (compile included on the first); "
              f"tau median {np.median(flat(fit.posterior, 'tau')):.4f}; max r_hat {diag['max_r_hat']:.3f}, "
              f"divergences {diag['divergences']}")


if __name__ == "__main__":
    main()
