"""The disk cache of rewritten graphs: keyed by what the graphs are, loaded faithfully, never trusted blindly."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pandas as pd
import pytest

import bayescale
from bayescale.core.registry import law_spec
from bayescale.fitting import graph_cache
from bayescale.fitting.compiled import cache_clear
from bayescale.fitting.process_cache import disk_cache_info
from bayescale.fitting.single import build_model

TINY = {"draws": 60, "tune": 60, "chains": 2, "progress": False, "cores": 1}


def _curves(groups: int = 1, n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = np.logspace(6, 10, n)
    return pd.concat([pd.DataFrame({"n": x, "loss": 0.3 + 40.0 * x**-0.3 * np.exp(rng.normal(0, 0.02, n)),
                                    "g": f"g{i}"}) for i in range(groups)], ignore_index=True)


def _key(df: pd.DataFrame, law: str = "power", **settings) -> str:
    from nutpie.compile_pymc import _compute_shapes

    config, data = law_spec(law).function("prepare")(df, x="n", y="loss", **settings)
    model = build_model(data, config)
    return graph_cache.graph_key(model, _compute_shapes(model))


def test_the_key_is_what_the_graph_is_not_what_the_process_built_before():
    first = _key(_curves())
    _key(_curves(groups=3), group="g")  # other graphs move PyTensor's variable counters
    _key(_curves(), law="broken")
    assert _key(_curves()) == first
    assert _key(_curves(n=20)) == first  # observations are data: one graph serves any length
    assert len({first, _key(_curves(), noise="studentt"), _key(_curves(groups=2), group="g"),
                _key(_curves(groups=3), group="g"), _key(_curves(), law="broken"),
                _key(_curves(), priors={"alpha": {"dist": "Gamma", "kwargs": {"alpha": 2.0, "beta": 4.0}}})}) == 6


def _digest(fit) -> str:
    groups = [fit.idata[g].to_dataset() for g in ("posterior", "log_likelihood")]
    return hashlib.sha256(b"".join(ds[v].values.tobytes() for ds in groups for v in sorted(ds.data_vars))).hexdigest()


@pytest.mark.slow
def test_rebuilt_graphs_give_the_same_draws_and_an_unreadable_entry_is_rewritten():
    df = _curves()
    cache_clear()
    reference = _digest(bayescale.fit(df, x="n", y="loss", seed=4, **TINY))  # rewrites, or loads an entry
    before = disk_cache_info()
    cache_clear()  # the next fit compiles again: from the stored graphs
    assert _digest(bayescale.fit(df, x="n", y="loss", seed=4, **TINY)) == reference
    after = disk_cache_info()
    assert after["graphs_loaded"] == before["graphs_loaded"] + 1

    entry = graph_cache.folder() / f"{_key(df)}.pkl"
    entry.write_bytes(b"not a pickle")  # a truncated or foreign entry is ignored, rewritten and replaced
    cache_clear()
    assert _digest(bayescale.fit(df, x="n", y="loss", seed=4, **TINY)) == reference
    again = disk_cache_info()
    assert again["graphs_loaded"] == after["graphs_loaded"] and again["graphs_saved"] == after["graphs_saved"] + 1
    assert entry.read_bytes() != b"not a pickle"

    entry.write_bytes(pickle.dumps({"logp": "a pickle of something else"}))  # another layout, say
    cache_clear()
    assert _digest(bayescale.fit(df, x="n", y="loss", seed=4, **TINY)) == reference
    assert disk_cache_info()["graphs_saved"] == again["graphs_saved"] + 1
