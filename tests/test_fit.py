"""Parameter recovery and the fit object's outputs, on data simulated from known parameters."""

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import DataError, OutputError
from bayescale.laws.simulate import power_law_data

TRUE = {"offsets": (300.0, 500.0, 900.0), "exponents": 0.32, "floor": 1.8, "sigma": 0.02}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def df():
    return power_law_data(**TRUE, n=15, x_range=(1e6, 1e9), groups=["a", "b", "c"], seed=3)


@pytest.fixture(scope="module")
def shared(df, fast_sampling):
    return bs.fit(df, x="params", y="loss", group="group", seed=11, **fast_sampling)


def test_recovers_exponent_offsets_and_floor(shared):
    table = shared.summary(prob=0.9)
    truth = {"alpha": TRUE["exponents"], "E": TRUE["floor"]}
    truth |= {f"A[{g}]": a for g, a in zip("abc", TRUE["offsets"], strict=True)}
    for name, value in truth.items():
        row = table.loc[name]
        assert row.hdi_lower <= value <= row.hdi_upper, (name, value, row.to_dict())
    assert abs(table.loc["alpha", "mean"] - TRUE["exponents"]) < 0.03
    assert set(table.columns) == {"mean", "sd", "hdi_lower", "hdi_upper", "r_hat", "ess_bulk", "ess_tail"}
    assert table["r_hat"].max() < 1.05


def test_predict_is_tidy_and_reproducible(shared):
    pred = shared.predict([1e10, 1e11], ["a", "c"], prob=0.8)
    assert list(pred.columns) == ["group", "params", "median", "lower", "upper", "mean", "prob", "decades_beyond"]
    assert len(pred) == 4
    assert (pred["lower"] < pred["median"]).all() and (pred["median"] < pred["upper"]).all()
    assert np.allclose(pred["decades_beyond"], [1, 2, 1, 2])
    # the offsets order the groups, whatever the draw
    assert (pred.query("group == 'a'")["median"].values < pred.query("group == 'c'")["median"].values).all()
    pd.testing.assert_frame_equal(pred, shared.predict([1e10, 1e11], ["a", "c"], prob=0.8))


def test_new_group_is_wider_than_observed(shared):
    pred = shared.predict([1e10], ["b", bs.NEW_GROUP], prob=0.9, discrepancy=False)  # the posterior's own widths
    width = (pred["upper"] - pred["lower"]).to_numpy()
    assert width[1] > 1.5 * width[0]


def test_mean_interval_is_inside_predictive(shared):
    mean = shared.predict([1e7], "b", kind="mean")
    pred = shared.predict([1e7], "b", kind="predictive")
    assert pred["lower"].iloc[0] < mean["lower"].iloc[0] < mean["upper"].iloc[0] < pred["upper"].iloc[0]


def test_predict_rejects_bad_requests(shared):
    with pytest.raises(DataError, match=r"unknown group 'zz'; observed groups are a, b, c"):
        shared.predict([1e9], "zz")
    with pytest.raises(DataError, match=r"x must be finite and > 0; got \[-1.0\]"):
        shared.predict([-1.0])
    with pytest.raises(DataError, match=r"prob must be a number in \(0, 1\), got 1.5"):
        shared.predict([1e9], prob=1.5)


def test_discrepancy_widens_forecasts_beyond_the_data_only(shared):
    xs = [1e8, 1e11]  # inside the observed 1e6..1e9, then 2 decades beyond
    plain = shared.predict(xs, "b", kind="mean", discrepancy=False)
    wider = shared.predict(xs, "b", kind="mean", discrepancy=0.1)
    pd.testing.assert_series_equal(plain.loc[0], wider.loc[0])  # no discrepancy inside the data
    z = 2 * 1.6449
    sd_plain, sd_wider = (np.log(t.loc[1, "upper"] / t.loc[1, "lower"]) / z for t in (plain, wider))
    assert sd_wider == pytest.approx(np.hypot(sd_plain, 0.1 * 2), rel=0.1)
    pd.testing.assert_frame_equal(wider, shared.predict(xs, "b", kind="mean", discrepancy=0.1))
    draws = shared.predict(xs, "b", kind="mean", discrepancy=np.full(40, 0.1))  # draws of s, resampled
    assert np.log(draws.loc[1, "upper"] / draws.loc[1, "lower"]) / z == pytest.approx(sd_wider, rel=0.1)
    with pytest.raises(DataError, match=r"discrepancy s must be finite and >= 0; bad values at positions \[1\]"):
        shared.predict(xs, "b", discrepancy=[0.1, -0.2])
    with pytest.raises(DataError, match="discrepancy must be a number or an array of draws of s, got 'wide'"):
        shared.predict(xs, "b", discrepancy="wide")


def test_contrast_gap_shrinks_with_shared_exponent(shared):
    table = shared.contrast("a", "c", at=[1e6, 1e9, 1e12]).set_index("quantity")
    diff = table.loc["log_A_difference"]
    assert diff["lower"] < np.log(300 / 900) < diff["upper"]
    assert diff["prob_positive"] == 0.0
    gaps = table.loc["gap"]
    assert (gaps["median"] < 0).all() and gaps["median"].is_monotonic_increasing
    # with one shared exponent the gap between offsets can only shrink as x grows
    assert table.loc["gap_shrinks", "mean"] == 1.0


def test_flags_report_extrapolation_and_are_quiet_inside(shared):
    inside = shared.flags(at=[1e8])
    assert "extrapolation" not in set(inside["code"])
    far = shared.flags(at=[1e12])
    rows = far[far.code == "extrapolation"]
    assert len(rows) == 3 and (rows.severity == "warning").all() and np.allclose(rows.value, 3.0)
    assert list(far.columns) == ["code", "severity", "group", "x", "message", "value"]


def test_priors_are_visible_and_prior_predictive_covers_data(shared):
    priors = shared.priors
    assert {"alpha", "log_A_mu", "log_A_sigma", "log_E", "sigma"} <= set(priors.index)
    assert "LogNormal" in priors.loc["alpha", "prior"]
    check = shared.prior_predictive(draws=200)
    assert len(check) == 45 and check["inside"].mean() > 0.9


def test_plot_has_data_curves_and_extrapolation_zone(shared):
    fig = shared.plot(at=[1e11])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"a", "b", "c", "extrapolation"} <= set(labels)
    assert len(ax.collections) >= 6  # scatter + band per group


def test_save_load_round_trip_gives_identical_predictions(shared, tmp_path):
    path = tmp_path / "fit.nc"
    shared.save(path)
    loaded = bs.load(path)
    assert loaded.config == shared.config
    pd.testing.assert_frame_equal(loaded.predict([1e10], [bs.NEW_GROUP, "a"]),
                                  shared.predict([1e10], [bs.NEW_GROUP, "a"]))
    pd.testing.assert_frame_equal(loaded.summary(), shared.summary())
    assert not list(tmp_path.glob(".*tmp"))


def test_failed_save_leaves_nothing_behind(shared, tmp_path, monkeypatch):
    with pytest.raises(OutputError, match="does not exist"):
        shared.save(tmp_path / "missing" / "fit.nc")
    import xarray as xr

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        shared.save(tmp_path / "fit.nc")
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.nc"
    bad.write_text("not netcdf")
    with pytest.raises(DataError, match="is not a readable netCDF file"):
        bs.load(bad)
    with pytest.raises(DataError, match="no saved fit at"):
        bs.load(tmp_path / "none.nc")


def test_same_seed_same_posterior(df, fast_sampling, shared):
    again = bs.fit(df, x="params", y="loss", group="group", seed=11, **fast_sampling)
    np.testing.assert_array_equal(again.posterior["alpha"].values, shared.posterior["alpha"].values)
