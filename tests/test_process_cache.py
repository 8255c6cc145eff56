"""The disk cache of nutpie's callbacks (bayescale.fitting.process_cache): a fresh process with a warm
cache loads them instead of compiling them, and its draws are bitwise those of a cold one and
of nutpie's own (uncacheable) callbacks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

_FIT = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np, pandas as pd
    import bayescale
    from bayescale.fitting.process_cache import disk_cache_info
    rng = np.random.default_rng(0)
    x = np.logspace(6, 10, 12)
    df = pd.DataFrame({"n": x, "loss": 0.3 + 40.0 * x**-0.3 * np.exp(rng.normal(0, 0.02, 12))})
    fit = bayescale.fit(df, x="n", y="loss", draws=60, tune=60, chains=2, seed=5, cores=1, progress=False)
    draws = b"".join(fit.posterior[v].values.tobytes() for v in sorted(fit.posterior.data_vars))
    loglik = fit.idata["log_likelihood"]["y_obs"].values.tobytes()
    print(json.dumps({"draws": hashlib.sha256(draws).hexdigest(), "loglik": hashlib.sha256(loglik).hexdigest(),
                      **disk_cache_info()}))
    """
)


def _fit_in_fresh_process(cache_dir) -> dict:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={cache_dir}", "NUMBA_CACHE_DIR": str(cache_dir)}
    done = subprocess.run([sys.executable, "-c", _FIT], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_fresh_process_loads_the_callbacks_a_cold_one_compiled_and_draws_the_same_bits(tmp_path):
    cold = _fit_in_fresh_process(tmp_path)
    assert (cold["compiled"], cold["loaded"], cold["fallback"]) == (2, 0, 0)
    assert any(p.name.startswith("string.bayescale_logp") for p in (tmp_path / "numba").iterdir())
    warm = _fit_in_fresh_process(tmp_path)
    assert (warm["compiled"], warm["loaded"], warm["fallback"]) == (0, 2, 0)
    assert (warm["draws"], warm["loglik"]) == (cold["draws"], cold["loglik"])


def _model():
    import pandas as pd

    from bayescale.core.config import FitConfig
    from bayescale.data.curves import prepare
    from bayescale.fitting.single import build_model
    from bayescale.laws.power import default_priors
    from bayescale.laws.priors import priors_to_dict

    x = np.logspace(6, 10, 10)
    df = pd.DataFrame({"n": x, "loss": 0.3 + 40.0 * x**-0.3 * np.exp(np.random.default_rng(1).normal(0, 0.02, 10))})
    config = FitConfig(law="power", x="n", y="loss", seed=1).validate()
    data = prepare(df, x="n", y="loss", law="power")
    config.x_ref, config.y_scale = data.x_ref, data.y_scale
    config.priors = priors_to_dict(default_priors(data, config))
    return build_model(data, config)


@pytest.mark.slow
def test_the_cached_callbacks_give_bitwise_the_draws_of_nutpies_own():
    import nutpie

    from bayescale.fitting.process_cache import compile_model
    from bayescale.fitting.quiet import quiet_pymc

    model = _model()
    runs = []
    for compiled in (nutpie.compile_pymc_model(model, backend="numba"), compile_model(model)):
        with quiet_pymc():
            idata = nutpie.sample(compiled.with_data(), draws=50, tune=50, chains=2, cores=1, seed=11,
                                  progress_bar=False, low_rank_modified_mass_matrix=True)
        runs.append(idata["posterior"].to_dataset())
    assert set(runs[0].data_vars) == set(runs[1].data_vars)
    for name in runs[0].data_vars:
        np.testing.assert_array_equal(runs[0][name].values, runs[1][name].values)


def test_the_callbacks_read_each_containers_pointer_size_and_shape_where_nutpie_wrote_them():
    from nutpie.compile_pymc import make_user_data

    from bayescale.fitting.process_cache import _layout

    class Var:  # make_user_data needs only the rank of each shared variable
        def __init__(self, ndim):
            self.ndim = ndim

    shared = {"scalar": np.array(2.5), "vector": np.arange(7.0), "codes": np.arange(6, dtype="int64").reshape(2, 3)}
    user_data = make_user_data({Var(v.ndim): k for k, v in shared.items()}, shared)
    words, layout = _layout(user_data, list(shared), shared)
    flat = np.frombuffer(user_data.tobytes(), dtype=np.uint64)
    assert words == flat.size
    for (data, size, shape, dtype), value in zip(layout, shared.values(), strict=True):
        assert flat[data] == value.ctypes.data
        assert flat[size] == value.size
        assert tuple(int(flat[w]) for w in shape) == value.shape
        assert dtype == value.dtype.name
