import time

import matplotlib
import pytest

matplotlib.use("Agg")

#: Files that compile models in this process, longest first (worker seconds on a fresh clone under
#: ``--durations=0``). xdist hands whole files to its two workers in the order of the list below
#: (``--dist loadfile --no-loadscope-reorder``), each worker taking the next when it is nearly done.
FIRST = ("test_observational.py", "test_audit_claims.py", "test_compile_cache.py", "test_batch.py",
         "test_worked_audits.py", "test_observational_discrepancy.py", "test_lfo.py", "test_broken.py")
#: Files whose work runs in new processes (notebook kernels, the CLI, killed and resumed runs), longest
#: first. They run after every other file: a new process loads from the shared on-disk cache what the
#: workers have compiled (notebooks: 90 s warm against 156 s on an empty cache), and their decreasing
#: lengths fill the end of the run so that neither worker is left alone with a long file.
LAST = ("test_notebooks.py", "test_resume.py", "test_workers.py", "test_readme.py", "test_cli_bad_input.py",
        "test_backtest_resume.py", "test_cli.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.path.name
        if name in FIRST:
            return (0, FIRST.index(name))
        return (2, LAST.index(name)) if name in LAST else (1, 0)

    items.sort(key=rank)  # stable: each file's tests stay in order, other files in collection order


_STARTED = time.perf_counter()


def machine_reference_seconds() -> float:
    """Seconds this machine takes for the baseline a user would otherwise run: the least-squares power
    law with a 1000-draw residual bootstrap on 20 points (the benchmarks' baseline)."""
    import numpy as np

    from bayescale.workflows.baselines import power_ls_bootstrap

    x = np.logspace(6, 10, 20)
    y = (0.5 + 300 * x**-0.3) * np.exp(0.02 * np.random.default_rng(0).standard_normal(20))
    started = time.perf_counter()
    power_ls_bootstrap(x, y, [1e11])
    return time.perf_counter() - started


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The run's wall time in units of :func:`machine_reference_seconds`.

    The suite's seconds move by a factor of two between days on the same machine (the reference took
    0.9-1.2 s on some days, 2.2 s on others); the ratio is what to compare between runs.
    """
    ran = sum(len(terminalreporter.stats.get(outcome, [])) for outcome in ("passed", "failed"))
    if hasattr(config, "workerinput") or ran < 100:  # whole runs only: it costs 2-3 s
        return
    wall = time.perf_counter() - _STARTED
    reference = machine_reference_seconds()
    terminalreporter.write_line(f"machine reference (least squares + 1000 bootstrap, 20 points): {reference:.2f} s; "
                                f"this run {wall:.0f} s = {wall / reference:.0f} references")


FAST = {"draws": 300, "tune": 400, "chains": 2, "progress": False, "cores": 1}


@pytest.fixture(scope="session")
def fast_sampling():
    """Small NUTS settings shared by the sampling tests."""
    return dict(FAST)


@pytest.fixture(scope="module")
def one_bnsl_start():
    """The BNSL baseline fitted from one start instead of its grid of 72 (seconds per curve), from the
    first test of a module that asks for it to the end of that module.

    For backtests whose assertions are about bookkeeping, resume and bayescale's own intervals:
    the BNSL column is still produced and deterministic; its fit quality is tested in test_lfo.py.
    Only this process is patched: a worker or CLI subprocess still runs the full grid.
    """
    from bayescale.workflows import baselines

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(baselines, "BNSL_BREAKS", (0.5,))
        patch.setattr(baselines, "BNSL_SHARPNESS", (0.5,))
        patch.setattr(baselines, "BNSL_EXPONENTS", ((0.3, 0.3),))
        patch.setattr(baselines, "BNSL_TURNING", ((0.3, -0.6),))
        yield


@pytest.fixture(autouse=True)
def _screen_100_columns(monkeypatch):
    """Tables are laid out for 100 columns whatever terminal runs the suite (xdist workers inherit one)."""
    monkeypatch.setenv("COLUMNS", "100")
