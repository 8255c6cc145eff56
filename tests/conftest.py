import matplotlib
import pytest

matplotlib.use("Agg")

#: The files that take longest on a fresh clone (worker seconds under ``--durations=0``), longest
#: first. xdist hands whole files to its two workers in collection order (``--dist loadfile
#: --no-loadscope-reorder``), so these start first and neither worker is left alone with a long
#: file while the other has finished.
LONGEST_FIRST = ("test_observational.py", "test_audit_claims.py", "test_notebooks.py", "test_compile_cache.py",
                 "test_batch.py", "test_worked_audits.py", "test_observational_discrepancy.py", "test_audit.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's tests stay in order


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
        yield
