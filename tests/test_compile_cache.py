"""The compile cache: hits and misses are observable, and never change the draws of a seed.

A seed must give bitwise the same draws whether the model was compiled in this fit or reused
from an earlier one, compiled afresh or loaded from the on-disk cache, fitted inline or in a
worker process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import bayescale
from bayescale.fitting.compiled import cache_clear, cache_info
from bayescale.workflows.batch import fit_many

TINY = {"draws": 60, "tune": 60, "chains": 2, "progress": False}


def _curve(alpha: float = 0.3, n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 10, n)
    return pd.DataFrame({"n": x, "loss": 0.3 + 40.0 * x**-alpha * np.exp(rng.normal(0, 0.02, n))})


def _alpha(fit) -> np.ndarray:
    return fit.posterior["alpha"].values


def test_a_second_fit_of_the_same_structure_does_not_compile_a_changed_one_does():
    cache_clear()
    bayescale.fit(_curve(0.25, n=20, seed=5), x="n", y="loss", seed=3, **TINY)
    assert cache_info() == {"hits": 0, "misses": 1, "size": 1}
    # other values, another length, other prior numbers: same compiled program
    bayescale.fit(_curve(0.4, n=9, seed=2), x="n", y="loss", seed=2, priors={"sigma": {"dist": "HalfNormal",
                  "kwargs": {"sigma": 0.3}}}, **TINY)
    assert cache_info() == {"hits": 1, "misses": 1, "size": 1}
    # a hit and a miss give bitwise identical draws and log-likelihood (the program was compiled from other data)
    hit = bayescale.fit(_curve(0.4), x="n", y="loss", seed=7, **TINY)
    assert cache_info() == {"hits": 2, "misses": 1, "size": 1}
    cache_clear()
    miss = bayescale.fit(_curve(0.4), x="n", y="loss", seed=7, **TINY)
    assert cache_info() == {"hits": 0, "misses": 1, "size": 1}
    np.testing.assert_array_equal(_alpha(hit), _alpha(miss))
    np.testing.assert_array_equal(hit.idata["log_likelihood"]["y_obs"].values,
                                  miss.idata["log_likelihood"]["y_obs"].values)
    # another noise, another group count: new programs
    bayescale.fit(_curve(0.3), x="n", y="loss", noise="studentt", seed=1, **TINY)
    two = pd.concat([_curve(0.3).assign(g="a"), _curve(0.3, seed=1).assign(g="b")], ignore_index=True)
    bayescale.fit(two, x="n", y="loss", group="g", seed=1, **TINY)
    assert cache_info() == {"hits": 0, "misses": 3, "size": 3}


def test_the_log_likelihood_is_pymcs_pointwise_log_likelihood():
    import pymc as pm

    from bayescale.fitting.single import build_model

    fit = bayescale.fit(_curve(0.3), x="n", y="loss", seed=4, **TINY)
    reference = pm.compute_log_likelihood(fit.idata.copy(), model=build_model(fit.data, fit.config),
                                          extend_inferencedata=False, progressbar=False)
    # numpy's ufuncs (the Python linker) against PyMC's compiled function: equal up to rounding
    np.testing.assert_allclose(fit.idata["log_likelihood"]["y_obs"].values, reference["y_obs"].values,
                               rtol=1e-12, atol=0)


def test_the_key_holds_prior_families_and_list_parameters_but_not_scalar_ones():
    from bayescale.fitting.compiled import _shape

    def priors(dist, **kwargs):
        return {"sigma": {"dist": dist, "kwargs": kwargs}}

    assert _shape(priors("HalfNormal", sigma=0.1)) == _shape(priors("HalfNormal", sigma=0.3))
    assert _shape(priors("HalfNormal", sigma=0.1)) != _shape(priors("Exponential", lam=10.0))
    assert _shape(priors("Dirichlet", a=[2.0, 2.0])) != _shape(priors("Dirichlet", a=[1.0, 1.0]))


def _three_curves() -> pd.DataFrame:
    return pd.concat([_curve(a, seed=i).assign(task=t) for i, (t, a) in enumerate({"a": 0.25, "b": 0.35,
                                                                                     "c": 0.45}.items())],
                     ignore_index=True)


@pytest.fixture(scope="module")
def inline():
    """fit_many of three curves in this process: what every executor must reproduce bitwise."""
    return fit_many(_three_curves(), by="task", x="n", y="loss", seed=9, workers=1, **TINY)


@pytest.mark.slow
def test_seeds_reproduce_bitwise_inline_in_local_processes_and_with_bayescale_fit(inline):
    df = _three_curves()
    pooled = fit_many(df, by="task", x="n", y="loss", seed=9, workers=2, **TINY)
    pd.testing.assert_frame_equal(pooled.summary, inline.summary)
    single = bayescale.fit(df[df["task"] == "b"], x="n", y="loss", seed=int(inline.status.set_index("task")
                           .loc["b", "seed"]), **TINY)
    pd.testing.assert_frame_equal(
        inline.summary[inline.summary["task"] == "b"].drop(columns="task").set_index("parameter").rename_axis(None),
        single.summary(),
    )


@pytest.mark.slow
def test_seeds_reproduce_bitwise_on_a_dask_cluster(inline):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    df = _three_curves()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = fit_many(df, by="task", x="n", y="loss", seed=9, executor="dask",
                          scheduler=cluster.scheduler_address, **TINY)
    pd.testing.assert_frame_equal(remote.summary, inline.summary)


def _law_data(law: str, seed: int, n: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 10, n)
    if law == "broken":
        y = 0.3 + 40.0 * x**-0.2 * (1 + x / 1e8) ** -0.2 * np.exp(rng.normal(0, 0.02, n))
        return pd.DataFrame({"n": x, "y": y}), {"x": "n", "y": "y"}
    if law == "sigmoid":
        p = 0.25 + 0.6 / (1 + np.exp(-2 * (np.log(x) - np.log(1e8))))
        return pd.DataFrame({"n": x, "y": rng.binomial(200, p) / 200, "k": 200}), {"x": "n", "y": "y", "trials": "k"}
    tokens = np.logspace(9, 11, n)[rng.permutation(n)]
    y = 1.7 + 400 * x**-0.34 + 410 * tokens**-0.28
    return (pd.DataFrame({"params": x, "tokens": tokens, "loss": y * np.exp(rng.normal(0, 0.01, n))}),
            {"x": ["params", "tokens"], "y": "loss"})


@pytest.mark.slow
@pytest.mark.parametrize("law", ["broken", "sigmoid", "chinchilla"])
def test_every_law_reuses_its_compiled_model_for_other_data(law):  # after the tests that reuse the cache: it empties it
    cache_clear()
    first, columns = _law_data(law, seed=0, n=14)
    bayescale.fit(first, law=law, seed=1, **columns, **TINY)
    other, _ = _law_data(law, seed=1, n=11)
    bayescale.fit(other, law=law, seed=1, **columns, **TINY)
    assert cache_info() == {"hits": 1, "misses": 1, "size": 1}


_FIT = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np, pandas as pd
    import bayescale
    from bayescale.fitting.process_cache import disk_cache_info
    rng = np.random.default_rng(0)
    x = np.logspace(6, 10, 12)
    df = pd.DataFrame({"n": x, "loss": 0.3 + 40.0 * x**-0.3 * np.exp(rng.normal(0, 0.02, 12))})
    draws = {}
    for sampler in sys.argv[1:]:
        fit = bayescale.fit(df, x="n", y="loss", draws=60, tune=60, chains=2, seed=5, cores=1, progress=False,
                            sampler=sampler)
        groups = [fit.idata[g].to_dataset() for g in ("posterior", "log_likelihood")]
        arrays = b"".join(ds[v].values.tobytes() for ds in groups for v in sorted(ds.data_vars))
        draws[sampler] = hashlib.sha256(arrays).hexdigest()
    print(json.dumps({"draws": draws, "disk": disk_cache_info()}))
    """
)


SAMPLERS = ("pymc", "nutpie")


def _start(compiledir) -> subprocess.Popen:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compiledir}", "NUMBA_CACHE_DIR": str(compiledir)}
    return subprocess.Popen([sys.executable, "-c", _FIT, *SAMPLERS], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    """Hashes of the draws and pointwise log-likelihood by sampler, and the process's disk-cache counters."""
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-2000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert list(result["draws"]) == list(SAMPLERS), out[-2000:]
    return result


@pytest.mark.slow
def test_processes_compiling_into_one_empty_cache_at_once_neither_corrupt_it_nor_change_the_draws(tmp_path):
    """Cold and warm disk cache, with PyMC's sampler and nutpie: two processes compile into one empty
    cache at once, a third loads what they wrote; all three give bitwise the same draws.

    The third process loads nutpie's two callbacks (:mod:`bayescale.fitting.process_cache`)
    instead of compiling them; each cold one compiled them or loaded what the other had just written.
    """
    first, second = _start(tmp_path), _start(tmp_path)
    cold = [_result(first), _result(second)]
    assert cold[0]["draws"] == cold[1]["draws"]
    for run in cold:
        assert run["disk"]["compiled"] + run["disk"]["loaded"] == 2 and run["disk"]["fallback"] == 0, run
        assert run["disk"]["graphs_saved"] + run["disk"]["graphs_loaded"] == 1, run
    assert sum(run["disk"]["compiled"] for run in cold) >= 2, cold
    assert any(p.name.startswith("string.bayescale_logp") for p in (tmp_path / "numba").iterdir())
    assert len(list((tmp_path / "bayescale_graphs").glob("*.pkl"))) == 1
    warm = _result(_start(tmp_path))  # a later process reads the shared cache: no compile, no rewrite
    assert warm["draws"] == cold[0]["draws"]
    assert warm["disk"] == {"compiled": 0, "loaded": 2, "fallback": 0, "graphs_saved": 0, "graphs_loaded": 1}
