import matplotlib
import pytest

matplotlib.use("Agg")

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
