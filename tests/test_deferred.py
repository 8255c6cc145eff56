"""Packages the ``bayescale`` script and its local workers defer until they use them (bayescale.core.deferred)."""

import subprocess
import sys
import textwrap

import pytest


@pytest.fixture
def package(tmp_path):
    """A package whose ``__init__`` leaves a trace, with one submodule and one module to serve from."""
    root = tmp_path / "fake_pkg"
    root.mkdir()
    (root / "__init__.py").write_text("import builtins\nbuiltins.INIT_RAN = True\nNAME = 'from init'\n")
    (root / "sub.py").write_text("VALUE = 3\n")
    (tmp_path / "fake_server.py").write_text("served_name = 'from server'\n")
    (tmp_path / "broken_pkg").mkdir()
    (tmp_path / "broken_pkg" / "__init__.py").write_text("raise RuntimeError('broken init')\n")
    return tmp_path


# what the `bayescale` script does first, in a process of its own
AFTER_THE_CONSOLE_SCRIPT = """
import sys, contextlib, io
sys.argv = ["bayescale", "--help"]
from bayescale.cli import console
try:
    with contextlib.redirect_stdout(io.StringIO()):
        console()
except SystemExit:
    pass
"""


def run(code: str, path, *, after_the_console_script: bool = False) -> list[str]:
    code = (AFTER_THE_CONSOLE_SCRIPT if after_the_console_script else "") + textwrap.dedent(code)
    script = f"import sys; sys.path.insert(0, {str(path)!r})\n" + code
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()


def test_submodules_import_without_init_and_the_first_name_asked_runs_it(package):
    out = run("""
        import builtins
        from bayescale.core.deferred import defer
        print(defer("fake_pkg", {"served_name": "fake_server"}))
        import fake_pkg.sub
        print(fake_pkg.sub.VALUE, hasattr(builtins, "INIT_RAN"), fake_pkg.served_name.replace(" ", "_"))
        print(hasattr(builtins, "INIT_RAN"), fake_pkg.NAME.replace(" ", "_"), hasattr(builtins, "INIT_RAN"))
        print(type(fake_pkg).__name__, defer("fake_pkg", {}))
    """, package)
    assert out == ["True", "3", "False", "from_server", "False", "from_init", "True", "module", "False"]


def test_a_failing_init_fails_as_an_import_would_and_leaves_no_half_module(package):
    out = run("""
        import sys
        from bayescale.core.deferred import defer
        defer("broken_pkg", {})
        try:
            sys.modules["broken_pkg"].anything
        except RuntimeError as exc:
            print(exc.args[0].replace(" ", "_"))
        print("broken_pkg" in sys.modules, defer("no_such_package_here", {}))
    """, package)
    assert out == ["broken_init", "False", "False"]


def test_the_console_script_defers_pymc_extras_and_arviz_and_both_still_work(package):
    out = run("""
        import arviz, pymc_extras
        print(type(arviz).__name__, type(pymc_extras).__name__)
        from pymc_extras.prior import Prior
        print(Prior("Normal").distribution, "arviz_plots" in sys.modules, arviz.from_dict.__module__)
        print(callable(arviz.plot_forest), "arviz_plots" in sys.modules, callable(pymc_extras.fit_pathfinder))
    """, package, after_the_console_script=True)
    assert out == ["Deferred_arviz", "Deferred_pymc_extras", "Normal", "False", "arviz_base.io_dict",
                   "True", "True", "True"]


def _import_a_prior(_payload):
    import sys

    from pymc_extras.prior import Prior

    return Prior("Normal").distribution, "pymc_extras.inference" in sys.modules, "arviz_plots" in sys.modules


def test_local_workers_defer_them_too():
    # a worker is bayescale's own process: it imports pymc_extras.prior without pymc_extras' __init__
    # (pathfinder, the arviz meta-package, matplotlib), 1.5-3.5 s of every worker's start
    from bayescale.workflows.executors import LocalExecutor

    results = dict(LocalExecutor(workers=1).map_unordered(_import_a_prior, [("a", None)]))
    assert results == {"a": ("Normal", False, False)}


def test_xarray_tells_dask_arrays_apart_without_importing_dask(package):
    # xarray imports dask.array (0.6-0.9 s) to ask whether a numpy array is a dask array
    out = run("""
        import sys
        from bayescale.core.deferred import shortcut_imports
        names = ["xarray.namedarray.utils", "xarray.namedarray.pycompat"]
        print(shortcut_imports(names) == names, shortcut_imports(names) == [])
        import numpy as np, xarray as xr
        from xarray.namedarray.utils import is_duck_dask_array
        plain = xr.Dataset({"a": ("x", np.zeros(3))}, coords={"x": [0, 1, 2]})
        print("dask" in sys.modules, is_duck_dask_array(np.zeros(2)), plain.chunks == {})
        import dask.array
        lazy = xr.DataArray(dask.array.zeros((4,), chunks=2), dims="x")
        print(lazy.chunks, isinstance(lazy.data, dask.array.Array), is_duck_dask_array(lazy.data))
        print(float(lazy.sum().compute()), xr.DataArray(np.ones(2)).chunks)
    """, package)
    assert out == ["True", "True", "False", "False", "True", "((2,", "2),)", "True", "True", "0.0", "None"]


def test_shortcuts_leave_a_module_imported_before_them_alone(package):
    out = run("""
        import sys
        import xarray
        from bayescale.core.deferred import shortcut_imports
        print(shortcut_imports(), [type(f).__name__ for f in sys.meta_path if type(f).__name__ == "_AfterImport"])
    """, package)
    assert out == ["['scipy._lib._array_api']", "['_AfterImport']"]


def test_scipy_keeps_its_docstrings_as_written_and_computes_the_same(package):
    # scipy.stats parses ~800 docstrings at import to append a note on array API support (0.4 s)
    code = """
        import sys
        if sys.argv[-1] == "shortcut":
            from bayescale.core.deferred import shortcut_imports
            shortcut_imports(["scipy._lib._array_api"])
        import numpy as np
        from scipy import stats
        doc = stats.rankdata.__doc__
        print("Array_API" in doc.replace(" ", "_"), doc.splitlines()[0].replace(" ", "_"))
        print(stats.rankdata([3, 1, 2]).tolist(), round(float(stats.norm.ppf(0.95)), 6))
    """
    plain = run(code.replace('sys.argv[-1] == "shortcut"', "False"), package)
    shortcut = run(code.replace('sys.argv[-1] == "shortcut"', "True"), package)
    assert plain[0] == "True" and shortcut[0] == "False"
    assert plain[1:] == shortcut[1:] == ["Assign_ranks_to_data,_dealing_with_ties_appropriately.", "[3.0,", "1.0,",
                                         "2.0]", "1.644854"]


def test_the_console_script_fits_without_importing_dask_or_scipys_notes(package, tmp_path):
    out = run("""
        from bayescale.laws.simulate import power_law_data
        import bayescale as bs
        fit = bs.fit(power_law_data(offsets=(400.0,), n=8, seed=1), x="params", y="loss", draws=50, tune=50,
                     chains=1, progress=False)
        fit.predict([1e10]), fit.summary()
        from scipy import stats
        print("dask" in sys.modules, "xarray" in sys.modules, "Array API" in stats.rankdata.__doc__)
    """, package, after_the_console_script=True)
    assert out == ["False", "True", "False"]
