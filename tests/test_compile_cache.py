"""The compile cache: cold and warm caches give the same draws; hits and misses are observable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_FIT = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np, pandas as pd
    import bayescale
    rng = np.random.default_rng(0)
    x = np.logspace(6, 10, 12)
    df = pd.DataFrame({"n": x, "loss": 0.3 + 40.0 * x**-0.3 * np.exp(rng.normal(0, 0.02, 12))})
    fit = bayescale.fit(df, x="n", y="loss", draws=60, tune=60, chains=2, seed=5, cores=1, progress=False,
                        sampler=sys.argv[1])
    print(hashlib.sha256(fit.posterior["alpha"].values.tobytes()).hexdigest())
    """
)


def _draws_in_fresh_process(compiledir, sampler: str) -> str:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compiledir}", "NUMBA_CACHE_DIR": str(compiledir)}
    done = subprocess.run([sys.executable, "-c", _FIT, sampler], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["pymc"])
def test_cold_and_warm_disk_cache_give_bitwise_identical_draws(tmp_path, sampler):
    cold = _draws_in_fresh_process(tmp_path, sampler)  # compiles into the empty folder
    assert any(tmp_path.iterdir()), "the fit wrote nothing to the compile cache"
    warm = _draws_in_fresh_process(tmp_path, sampler)  # loads what the first process compiled
    assert cold == warm
