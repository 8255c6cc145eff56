"""PSIS-LOO comparison of shared and varying slopes picks the right one."""

import pytest

import bayescale as bs
from bayescale.errors import DataError
from bayescale.laws.simulate import power_law_data

pytestmark = pytest.mark.slow
OFFSETS = (300.0, 400.0, 500.0, 700.0)


def _pair(df, fast_sampling):
    kwargs = dict(x="params", y="loss", group="group", seed=5, **fast_sampling)
    return bs.fit(df, **kwargs), bs.fit(df, slopes="varying", **kwargs)


@pytest.fixture(scope="module")
def differing(fast_sampling):
    """Shared- and varying-slope fits of four groups whose exponents differ."""
    df = power_law_data(offsets=OFFSETS, exponents=(0.2, 0.3, 0.45, 0.6), floor=1.5, sigma=0.02, n=12, seed=8)
    return _pair(df, fast_sampling)


@pytest.fixture(scope="module")
def equal(fast_sampling):
    """The same fits of four groups sharing one exponent."""
    df = power_law_data(offsets=OFFSETS, exponents=0.35, floor=1.5, sigma=0.02, n=12, seed=9)
    return _pair(df, fast_sampling)


def test_prefers_varying_slopes_when_they_differ(differing):
    shared, varying = differing
    table = bs.compare(shared, varying, names=["shared", "varying"])
    assert table.index[0] == "varying"
    assert table.attrs["favours"] == "varying"
    assert table.loc["varying", "weight"] > 0.9
    assert {"elpd", "p_loo", "elpd_diff", "dse", "weight", "max_pareto_k"} <= set(table.columns)


def test_keeps_shared_slope_when_slopes_are_equal(equal):
    shared, varying = equal
    table = bs.compare(shared, varying, names=["shared", "varying"])
    assert table.attrs["favours"] == "shared", table.attrs["verdict"]


def test_compare_refuses_different_data(differing, equal):
    # the same model and the same number of rows, fitted to two data sets
    a, b = differing[0], equal[0]
    assert len(a.data.y) == len(b.data.y)
    with pytest.raises(DataError, match="is not of the same observations"):
        bs.compare(a, b, names=["a", "b"])
    with pytest.raises(DataError, match="compare needs at least two fits"):
        bs.compare(a)
