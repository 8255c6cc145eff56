"""The disk cache of nutpie's callbacks (bayescale.fitting.process_cache): its callbacks draw bitwise
what nutpie's own (uncacheable) ones draw, and read nutpie's data record where nutpie wrote it.

That a fresh process with a warm cache loads them instead of compiling them, and draws the bits
of a cold one, is tested with the processes of ``tests/test_compile_cache.py``, which fit the same curve.
"""

from __future__ import annotations

import numpy as np
import pytest


def _model(df=None, *, law: str = "power", x: str = "n", group: str | None = None):
    import importlib

    import pandas as pd

    from bayescale.core.config import FitConfig
    from bayescale.data.curves import prepare
    from bayescale.fitting.single import build_model
    from bayescale.laws.priors import priors_to_dict

    if df is None:
        n = np.logspace(6, 10, 10)
        df = pd.DataFrame({"n": n, "loss": 0.3 + 40.0 * n**-0.3 * np.exp(np.random.default_rng(1).normal(0, 0.02, 10))})
    config = FitConfig(law=law, x=x, y="loss", group=group, seed=1).validate()
    data = prepare(df, x=x, y="loss", group=group, law=law)
    config.x_ref, config.y_scale = data.x_ref, data.y_scale
    config.priors = priors_to_dict(importlib.import_module(f"bayescale.laws.{law}").default_priors(data, config))
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


@pytest.mark.parametrize("law", ["power", "broken"])
def test_initial_points_and_shapes_are_pymcs_and_nutpies_without_the_c_machinery(law):
    from nutpie.compile_pymc import _compute_shapes
    from pymc.initial_point import make_initial_point_fn

    from bayescale.fitting.initial_point import initial_point_function, variable_shapes
    from bayescale.laws.simulate import power_law_data

    if law == "power":
        model = _model()
    else:
        model = _model(power_law_data(offsets=(40.0, 60.0), n=12, seed=2), law="broken", x="params", group="group")
    theirs = make_initial_point_fn(model=model, jitter_rvs=set(model.free_RVs), return_transformed=True)
    ours = initial_point_function(model, jitter=True)
    for seed in (0, 5, 123):
        a, b = theirs(seed), ours(seed)
        assert list(a) == list(b)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    shapes = variable_shapes(model, ours(0))
    expected = _compute_shapes(model)
    assert list(shapes) == list(expected) and len(shapes) > len(model.free_RVs)
    for name in shapes:
        np.testing.assert_array_equal(shapes[name], expected[name])


def test_a_fit_of_a_structure_on_disk_loads_no_c_virtual_machine_and_leaves_no_temporary_files(tmp_path):
    # The C lazy linker imports setuptools (0.09-0.13 s) and, on an empty cache, compiles C (0.7 s).
    # PyTensor wrote each numba function's source to a new temporary file, never removed.
    # The first process may compile the structure: a miss still computes shapes through nutpie's own code.
    import os
    import subprocess
    import sys

    code = ("import sys, bayescale as bs\nfrom bayescale.laws.simulate import power_law_data\n"
            "bs.fit(power_law_data(offsets=(400.0,), n=12, seed=1), x='params', y='loss', seed=7, draws=50, "
            "tune=50, chains=2, progress=False)\n"
            "print([m for m in ('pytensor.link.c.cvm', 'pytensor.link.c.exceptions', 'setuptools')\n"
            "       if m in sys.modules])")
    subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    (tmp_path / "tmp").mkdir()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TMPDIR": str(tmp_path / "tmp")}).stdout
    assert out.split()[-1] == "[]"
    assert list((tmp_path / "tmp").iterdir()) == []
