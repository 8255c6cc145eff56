import matplotlib
import pytest

matplotlib.use("Agg")

FAST = {"draws": 300, "tune": 400, "chains": 2, "progress": False, "cores": 1}


@pytest.fixture(scope="session")
def fast_sampling():
    """Small NUTS settings shared by the sampling tests."""
    return dict(FAST)
