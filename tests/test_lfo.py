"""Leave-future-out weights of stacked fits, their fallback rule, and the BNSL least-squares baseline."""

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import DataError, LawError
from bayescale.fitting.lfo import origin_masks, stacked_forecasts, stacking_weights
from bayescale.laws.formulas import smoothly_broken_power_law
from bayescale.workflows.baselines import bnsl_point, fit_bnsl

SAMPLING = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}


def broken_curve(seed=0, n=20):
    """Exponent 0.05 below the break at 1e8, 0.45 above: the bend is in the last half of the range."""
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 10, n)
    y = smoothly_broken_power_law(x, 0.0, 300.0, 0.05, [0.4], [1e8], [0.3])
    return pd.DataFrame({"x": x, "y": y * np.exp(0.01 * rng.standard_normal(n))})


def power_curve(seed=1, n=20):
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 10, n)
    return pd.DataFrame({"x": x, "y": (0.5 + 300 * x**-0.3) * np.exp(0.02 * rng.standard_normal(n))})


@pytest.fixture(scope="module")
def stacked_broken():
    return bs.fit(broken_curve(), law="auto", x="x", y="y", seed=1, **SAMPLING)


def test_lfo_weights_favour_the_broken_law_when_the_curve_bends(stacked_broken):
    st = stacked_broken
    assert st.weights_method == "lfo"
    assert st.weights["broken"] > 0.9
    table = st.weights_table().set_index("law")
    assert table.loc["broken", "elpd_lfo"] > table.loc["power", "elpd_lfo"]
    # origins 0.6, 0.7, 0.8 of 20 log-spaced points leave 8 later points, each scored once, from the
    # latest origin before it: 2 from 0.6, 2 from 0.7, the last 4 from 0.8
    assert (table["n_points"] == 8).all() and (table["n_origins"] == 3).all()
    np.testing.assert_allclose(table["weight"].sum(), 1.0)
    assert {"elpd_lfo", "weight_lfo"} <= set(st.summary().columns)
    assert not (st.flags()["code"] == "lfo_fallback").any()
    pointwise = st.lfo.pointwise
    assert set(pointwise["law"]) == {"power", "broken"} and len(pointwise) == 2 * 8
    for _, scored in pointwise.groupby("law"):
        assert scored["row"].tolist() == list(range(12, 20))
        assert scored["origin"].tolist() == [0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8]


def test_the_stack_keeps_the_stacked_forecast_of_every_scored_row(stacked_broken):
    forecasts = stacked_broken.lfo.forecasts
    assert forecasts["row"].tolist() == list(range(12, 20))
    assert forecasts["origin"].tolist() == [0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8]
    x = np.log10(broken_curve()["x"].to_numpy())
    step = x[1] - x[0]  # log-spaced: a row's distance is its steps beyond the origin's last fitted row
    np.testing.assert_allclose(forecasts["distance"], step * np.array([1, 2, 1, 2, 1, 2, 3, 4]))
    assert (forecasts["variance"] > 0).all() and forecasts["error"].abs().max() < 0.2


def test_stacked_forecasts_mix_the_laws_draws_with_the_weights():
    df = pd.DataFrame({"x": [1.0, 10.0, 100.0, 1000.0, 1.0, 100.0], "y": np.exp([0, 0, 1.0, 2.0, 0, 3.0]),
                       "g": ["a"] * 4 + ["b"] * 2})
    train = np.array([True, True, False, False, True, False])
    low, high = np.zeros((4, 3)), np.ones((4, 3))  # log y draws of two laws at the 3 later rows
    out = stacked_forecasts(df, [(0.5, train)], {("power", 0.5): low, ("broken", 0.5): high},
                            pd.Series({"power": 0.25, "broken": 0.75}), x="x", y="y", group="g")
    assert out["row"].tolist() == [2, 3, 5]
    np.testing.assert_allclose(out["distance"], [1.0, 2.0, 2.0])  # from each curve's last fitted x
    np.testing.assert_allclose(out["error"], [0.0, 1.0, 2.0])  # the median is the heavier law's draws
    np.testing.assert_allclose(out["variance"], 0.25 * 0.75)


def test_origins_with_no_point_before_the_next_are_not_refitted():
    # 10 points up to 1e8, then 4 from 10^9.6: origins 0.6 and 0.7 (10^8.4, 10^8.8) have no point
    # before the next origin, so every later point is scored from 0.8 (10^9.2)
    rng = np.random.default_rng(3)
    x = np.concatenate([np.logspace(6, 8, 10), np.logspace(9.6, 10, 4)])
    df = pd.DataFrame({"x": x, "y": (0.5 + 300 * x**-0.3) * np.exp(0.02 * rng.standard_normal(14))})
    st = bs.fit(df, law=["power", "broken"], x="x", y="y", seed=4, **SAMPLING)
    assert set(st.lfo.pointwise["origin"]) == {0.8}
    assert sorted(set(st.lfo.pointwise["row"])) == [10, 11, 12, 13]
    assert (st.lfo.table["n_origins"] == 1).all() and (st.lfo.table["n_points"] == 4).all()


@pytest.mark.slow
def test_lfo_weights_are_reproducible_with_the_seed(stacked_broken):
    again = bs.fit(broken_curve(), law="auto", x="x", y="y", seed=1, **SAMPLING)
    pd.testing.assert_frame_equal(again.weights_table(), stacked_broken.weights_table())


def test_lfo_weights_favour_the_power_law_on_a_pure_power_law():
    st = bs.fit(power_curve(), law=["power", "broken"], x="x", y="y", seed=2, **SAMPLING)
    assert st.weights["power"] > 0.7
    table = st.weights_table().set_index("law")
    assert table.loc["power", "elpd_lfo"] > table.loc["broken", "elpd_lfo"]


@pytest.mark.slow
def test_on_pure_power_laws_lfo_favours_the_power_law_more_often_than_loo():
    # the broken law nests the power law, so on one curve either may win, and both weights are often 0 or 1;
    # over several curves the forecasts of the later points favour the simpler law. The mean weights are
    # noisy: sampling the same posterior in other coordinates (the broken law's break share as a Beta, not
    # a Dirichlet) moved LOO's mean on seeds 0-11 from 0.551 to 0.664 and LFO's from 0.745 to 0.734. On
    # seeds 0-15 LFO 0.800 and LOO 0.686 (0.809 / 0.605 before); on 0-23, 0.846 / 0.749
    lfo, loo = [], []
    for seed in range(16):
        st = bs.fit(power_curve(seed=seed), law="auto", x="x", y="y", seed=seed, **SAMPLING)
        table = st.weights_table().set_index("law")
        lfo.append(table.loc["power", "weight"])
        loo.append(table.loc["power", "weight_loo"])
    assert np.mean(lfo) > 0.7 and np.mean(lfo) > np.mean(loo)


@pytest.mark.filterwarnings("ignore::bayescale.errors.SamplingWarning")  # Pareto k at 300 draws: LOO's own caveat
def test_loo_weights_stay_available(stacked_broken):
    st = bs.StackedFit(stacked_broken.fits)  # rebuilt without refits: PSIS-LOO stacking
    assert st.weights_method == "loo"
    np.testing.assert_allclose(st.weights.to_numpy(), st.comparison["weight"].reindex(st.weights.index).to_numpy())
    assert "elpd_lfo" not in st.weights_table().columns


def test_saved_stack_keeps_its_lfo_weights(stacked_broken, tmp_path):
    paths = stacked_broken.save(tmp_path / "st.nc")
    again = bs.StackedFit({name: bs.load(p) for name, p in zip(stacked_broken.fits, paths, strict=True)})
    assert again.weights_method == "lfo"
    pd.testing.assert_series_equal(again.weights, stacked_broken.weights)
    assert "bayescale_lfo_weights" not in stacked_broken.fits["power"].idata.attrs  # the in-memory fit is untouched
    only_power = bs.StackedFit({"power": bs.load(paths[0])})  # another set of laws: the saved weights do not apply
    assert only_power.weights_method == "loo"


def test_short_noisy_curve_falls_back_to_the_power_law_with_a_flag():
    # 9 points: enough for the broken law's full fit (8 needed) but not for its refits at 60% (5 points)
    rng = np.random.default_rng(5)
    x = np.logspace(6, 9, 9)
    df = pd.DataFrame({"x": x, "y": (0.5 + 300 * x**-0.3) * np.exp(0.1 * rng.standard_normal(9))})
    st = bs.fit(df, law="auto", x="x", y="y", seed=3, **SAMPLING)
    assert set(st.fits) == {"power", "broken"}
    assert st.weights["power"] == 1.0 and st.weights["broken"] == 0.0
    flags = st.flags()
    row = flags[flags["code"] == "lfo_fallback"]
    assert len(row) == 1 and row["severity"].iloc[0] == "warning"
    assert "law 'broken' left out of the LFO weights" in row["message"].iloc[0]
    assert "TooFewPoints" in row["message"].iloc[0]


def test_weights_option_is_checked():
    with pytest.raises(LawError, match="weights must be one of lfo, loo, got 'waic'"):
        bs.fit(power_curve(), law="auto", x="x", y="y", weights="waic")


def test_origins_cut_each_curve_at_its_own_log_range():
    df = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 3, "x": [1, 10, 100, 1e3, 1e4, 1e2, 1e3, 1e4]})
    (frac, train), = origin_masks(df, x="x", group="g", origins=[0.5])
    assert frac == 0.5
    assert train.tolist() == [True, True, True, False, False, True, True, False]


def test_stacking_weights_pick_the_law_that_predicts_every_point_better():
    lpd = np.column_stack([np.full(10, -1.0), np.full(10, -3.0)])
    np.testing.assert_allclose(stacking_weights(lpd), [1.0, 0.0], atol=1e-4)
    # each law predicts half the points well: the mixture of both is best
    half = np.where(np.arange(10)[:, None] < 5, [[-1.0, -8.0]], [[-8.0, -1.0]])
    np.testing.assert_allclose(stacking_weights(half), [0.5, 0.5], atol=1e-3)


def test_bnsl_baseline_recovers_a_simulated_break():
    rng = np.random.default_rng(0)
    x = np.logspace(6, 10, 25)
    truth = (1.5, 300.0, 0.1, [0.4], [1e8], [0.3])
    y = smoothly_broken_power_law(x, *truth) * np.exp(0.002 * rng.standard_normal(25))
    fit = fit_bnsl(x, y)
    assert fit.c0 == pytest.approx(0.1, abs=0.02)
    assert fit.c1 == pytest.approx(0.4, abs=0.03)
    assert np.log10(fit.d) == pytest.approx(8.0, abs=0.1)
    assert fit.a == pytest.approx(1.5, rel=0.05)
    assert fit.rmse_log < 0.003
    x_new = np.logspace(10, 11, 4)
    np.testing.assert_allclose(bnsl_point(x, y, x_new)[0], smoothly_broken_power_law(x_new, *truth), rtol=0.01)


def test_bnsl_baseline_needs_six_points():
    with pytest.raises(DataError, match="the broken-power-law baseline needs at least 6 points, got 5"):
        fit_bnsl([1, 2, 3, 4, 5], [5, 4, 3, 2.5, 2.2])
