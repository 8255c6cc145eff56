"""Backtests: splits, scores, baselines on noise-free data, failures recorded, calibration on simulated curves."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import bayescale
from bayescale.errors import DataError, SpecError
from bayescale.laws import discrepancy
from bayescale.workflows import backtest as bt
from bayescale.workflows import baselines

FAST = {"law": "power", "draws": 300, "tune": 300, "chains": 2, "workers": 1, "progress": False}


def simulate(n_curves: int, *, n_points: int = 12, sigma: float = 0.02, seed: int = 0) -> pd.DataFrame:
    """Curves y = E + A x^-alpha with log-normal noise, parameters varying by curve."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_curves):
        E, A, alpha = rng.uniform(1.0, 2.0), rng.uniform(20, 60), rng.uniform(0.25, 0.45)
        x = np.logspace(3, 7, n_points)
        y = (E + A * x**-alpha) * np.exp(rng.normal(0, sigma, n_points))
        rows.append(pd.DataFrame({"curve": f"c{c:02d}", "x": x, "y": y}))
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------------- baselines, noise-free
def test_least_squares_recovers_noise_free_power_law():
    x = np.logspace(6, 9, 15)
    y = 1.5 + 3e3 * x**-0.4
    fit = baselines.fit_power_ls(x, y)
    np.testing.assert_allclose(fit.E, 1.5, rtol=1e-6)
    assert fit.alpha == pytest.approx(0.4, rel=1e-6)
    assert fit.A_at_one == pytest.approx(3e3, rel=1e-5)
    x_far = np.array([1e10, 1e11])
    np.testing.assert_allclose(baselines.power_ls_point(x[:10], y[:10], x_far)[0], 1.5 + 3e3 * x_far**-0.4,
                               rtol=1e-6)


def test_bootstrap_and_loglinear_collapse_on_noise_free_data():
    x = np.logspace(0, 3, 10)
    y = 2.0 + 5.0 * x**-0.5
    draws = baselines.power_ls_bootstrap(x, y, [1e4, 1e5], n_boot=50, seed=1)
    assert draws.shape == (50, 2)
    np.testing.assert_allclose(draws, np.broadcast_to(2.0 + 5.0 * np.array([1e4, 1e5]) ** -0.5, (50, 2)), rtol=1e-6)
    line = baselines.fit_loglinear(x, 3.0 * x**-0.7)
    assert line.slope == pytest.approx(-0.7)
    assert np.exp(line.intercept) == pytest.approx(3.0)
    np.testing.assert_allclose(baselines.loglinear_draws(x, 3.0 * x**-0.7, [1e5], n_draws=20), 3.0 * 1e5**-0.7,
                               rtol=1e-9)


def test_baselines_reject_bad_input():
    with pytest.raises(DataError, match="at least 3 points, got 2"):
        baselines.fit_power_ls([1, 2], [1, 2])
    with pytest.raises(DataError, match=r"x > 0 and y > 0; bad rows \[1\]"):
        baselines.fit_power_ls([1, 2, 3], [1, -2, 3])


# ---------------------------------------------------------------------- splits and scores
def test_splits_parse_and_cut():
    assert [c.label for c in bt.parse_split(0.6)] == ["frac:0.6"]
    assert [c.label for c in bt.parse_split("frac:0.4,0.6")] == ["frac:0.4", "frac:0.6"]
    assert bt.parse_split({"last": 2}) == [bt.Cutoff("last", 2)]
    x = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    np.testing.assert_array_equal(bt.train_mask(x, bt.Cutoff("frac", 0.5)), [True, True, True, False, False])
    np.testing.assert_array_equal(bt.train_mask(x, bt.Cutoff("x", 100.0)), [True, True, False, False, False])
    np.testing.assert_array_equal(bt.train_mask(x[::-1], bt.Cutoff("last", 2)), [False, False, True, True, True])
    with pytest.raises(SpecError, match=r"split fraction must be in \(0, 1\), got 1.5"):
        bt.parse_split(1.5)
    with pytest.raises(SpecError, match="unknown split kind 'median'"):
        bt.parse_split("median:3")
    with pytest.raises(SpecError, match="split 'last' needs a whole number of points >= 1, got '0'"):
        bt.parse_split("last:0")


def test_crps_and_scores_match_definitions():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(200, 3))
    y = np.array([0.0, 1.0, -2.0])
    brute = np.mean(np.abs(draws - y), axis=0) - 0.5 * np.mean(np.abs(draws[:, None, :] - draws[None, :, :]),
                                                               axis=(0, 1))
    np.testing.assert_allclose(bt.crps_from_draws(draws, y), brute, rtol=1e-10)
    scores = bt.score_draws(np.array([1.0, 5.0]), np.tile(np.linspace(0.5, 1.5, 101)[:, None], (1, 2)))
    assert scores["covered90"].tolist() == [1.0, 0.0]
    assert scores["pit"][0] == pytest.approx(0.5)
    assert scores["abs_rel_err"].tolist() == pytest.approx([0.0, 0.8])
    lo, hi = np.quantile(np.linspace(0.5, 1.5, 101), [0.05, 0.95])  # 0.55, 1.45
    width = np.log(hi / lo)
    # inside: the log width alone; a miss above adds 20 times the log distance to the upper end
    assert scores["interval_score90"].tolist() == pytest.approx([width, width + 20 * np.log(5.0 / hi)])
    point = bt.score_draws(np.array([2.0]), np.array([[1.0]]))  # a point forecast: CRPS is the absolute log error
    assert point["crps_log"][0] == pytest.approx(np.log(2.0))
    assert np.isnan(point["covered90"][0]) and np.isnan(point["interval_score90"][0])


def test_discrepancy_scale_recovered():
    rng = np.random.default_rng(3)
    d = rng.uniform(0.05, 1.0, 4000)
    err = rng.normal(0, np.sqrt(0.01**2 + (0.2 * d) ** 2))
    assert discrepancy.max_likelihood(d, err, np.full_like(d, 0.01**2)) == pytest.approx(0.2, rel=0.05)
    assert discrepancy.max_likelihood(d, rng.normal(0, 0.01, 4000), np.full_like(d, 0.01**2)) < 0.01


def test_discrepancy_posterior_keeps_what_few_errors_cannot_rule_out():
    rng = np.random.default_rng(4)
    d = rng.uniform(0.05, 1.0, 2000)
    grid, weights = discrepancy.posterior(d, rng.normal(0, np.sqrt(0.01**2 + (0.2 * d) ** 2)),
                                             np.full_like(d, 0.01**2))
    cdf = np.cumsum(weights)
    low, high = grid[np.searchsorted(cdf, [0.05, 0.95])]
    assert low < 0.2 < high and high - low < 0.03
    # 20 short-range errors of pure noise: the point estimate is 0, the posterior still allows s ~ 0.1
    d = np.linspace(0.05, 0.3, 20)
    err = 0.08 * np.array([-1, 1] * 10) * 0.9
    assert discrepancy.max_likelihood(d, err, np.full_like(d, 0.08**2)) == 0
    grid, weights = discrepancy.posterior(d, err, np.full_like(d, 0.08**2))
    assert grid[np.searchsorted(np.cumsum(weights), 0.95)] > 0.1
    grid, weights = discrepancy.posterior([], [], [])  # no errors: the uniform prior on [0, S_MAX]
    np.testing.assert_allclose(weights, 1 / len(grid))
    assert grid[-1] == discrepancy.S_MAX


def test_data_set_without_in_sample_backtests_records_why(monkeypatch):
    def fake_draws(frame, x_eval, spec, seed):  # skip sampling: the bookkeeping is under test
        rng = np.random.default_rng(seed)
        return np.exp(rng.normal(0, 0.01, (50, len(x_eval)))) * frame["y"].min(), {}

    monkeypatch.setattr(bt.tasks, "_bayes_draws", fake_draws)
    six = simulate(2, n_points=6, seed=1)  # 5 training scales at "last:1": no room for an inner fit
    result = bt.backtest_datasets({"six": {"df": six, "x": "x", "y": "y", "group": "curve", "split": "last:1"},
                                   "long": {"df": simulate(2, n_points=12, seed=2), "x": "x", "y": "y",
                                            "group": "curve", "split": "last:2"}},
                                  discrepancy=True, baselines=False, workers=1, progress=False)
    support = result.discrepancy_support.set_index("dataset")
    assert support.loc["six", "curves"] == 0 and np.isnan(support.loc["six", "s"])
    assert support.loc["long", "curves"] == 2 and support.loc["long", "errors"] == 2 * 4  # 6 inner of 10
    assert support.loc["long", "s_low"] <= support.loc["long", "s"] <= support.loc["long", "s_high"]
    assert set(result.discrepancy) == {"long"}
    missing = result.failures[result.failures["method"] == "bayescale+disc"]
    assert sorted(missing["curve"]) == ["c00", "c01"] and set(missing["dataset"]) == {"six"}
    assert missing["reason"].str.startswith("no curve of this data set had enough training rows").all()
    scored = result.points.groupby("dataset")["method"].unique().map(set).to_dict()
    assert scored == {"six": {"bayescale"}, "long": {"bayescale", "bayescale+disc"}}
    s = result.discrepancy_draws(n=300, seed=1)  # only "long" learned s: no need to name it
    assert s.shape == (300,) and (s >= 0).all() and (s <= discrepancy.S_MAX).all()
    np.testing.assert_array_equal(s, result.discrepancy_draws("long", n=300, seed=1))
    with pytest.raises(DataError, match="no discrepancy learned for 'six'; learned for long"):
        result.discrepancy_draws("six")
    with pytest.raises(DataError, match="this backtest learned no discrepancy; run it with discrepancy=True"):
        bt.BacktestResult(result.points, result.failures).discrepancy_draws()


# ---------------------------------------------------------------------- the loop
@pytest.mark.slow
def test_train_column_is_honoured_exactly(one_bnsl_start):
    df = simulate(2, n_points=10, seed=5)
    rng = np.random.default_rng(1)
    df["train"] = rng.random(len(df)) < 0.7  # not a prefix in x: the column alone decides
    df.loc[df.groupby("curve")["x"].idxmax(), "train"] = False
    df.loc[df.groupby("curve")["x"].idxmin(), "train"] = True
    result = bayescale.backtest(df, x="x", y="y", group="curve", train_column="train", n_boot=20, **FAST)
    assert result.failures.empty
    for curve, frame in df.groupby("curve"):
        scored = result.points[(result.points["curve"] == curve) & (result.points["method"] == "ls")]
        held_out = frame[~frame["train"]].sort_values("x")
        np.testing.assert_array_equal(scored["x"].to_numpy(), held_out["x"].to_numpy())
        train = frame[frame["train"]]
        expected = baselines.fit_power_ls(train["x"], train["y"])(held_out["x"].to_numpy())
        np.testing.assert_allclose(scored["median"].to_numpy(), expected, rtol=1e-8)
    assert set(result.points["method"]) == {"bayescale", "bayescale+prior", "ls", "ls_bootstrap", "loglinear", "bnsl",
                                            "bnsl_signed"}
    assert set(result.points["cutoff"]) == {"column:train"}
    fits = result.fits.set_index("curve")
    assert fits["n_train"].to_dict() == df.groupby("curve")["train"].sum().to_dict()
    assert (fits["status"] == "ok").all() and (fits["max_r_hat"] < 1.1).all() and (fits["divergences"] >= 0).all()


def test_bad_train_column_named():
    df = simulate(1, n_points=6)
    df["train"] = ["yes"] + [True] * 5
    message = r"train column 'train' must be boolean \(true/false, 1/0\); bad values at rows \[0\]"
    with pytest.raises(DataError, match=message):
        bayescale.backtest(df, x="x", y="y", train_column="train", **FAST)
    with pytest.raises(DataError, match="train column 'fit_me' is not in the data"):
        bayescale.backtest(df, x="x", y="y", train_column="fit_me", **FAST)
    with pytest.raises(DataError, match="column 'loss' is not in the data"):
        bayescale.backtest(df, x="x", y="loss", **FAST)


@pytest.mark.slow
def test_failing_curve_is_recorded_and_skipped(monkeypatch, one_bnsl_start):
    df = simulate(3, n_points=10, seed=2)
    df.loc[df["curve"] == "c01", "y"] *= -1  # not a positive metric: cannot be scored on the log scale
    short = pd.DataFrame({"curve": "short", "x": [1.0, 10.0, 100.0, 1000.0], "y": [3.0, 2.0, 1.5, 1.2]})
    real = bt.tasks._bayes_draws

    def flaky(frame, x_eval, spec, seed):  # the sampler blows up on one curve only
        if frame["y"].iloc[0] == df.loc[df["curve"] == "c02", "y"].iloc[0]:
            raise FloatingPointError("sampler exploded")
        return real(frame, x_eval, spec, seed)

    monkeypatch.setattr(bt.tasks, "_bayes_draws", flaky)
    result = bayescale.backtest(pd.concat([df, short]), x="x", y="y", group="curve", n_boot=20, **FAST)
    failures = result.failures.set_index("curve")
    assert "'y' must be > 0 to be scored on the log scale" in failures.loc["c01", "reason"]
    assert failures.loc["short", "reason"] == "only 2 training rows (2 distinct 'x'; need 5)"
    assert failures.loc["c02", "method"] == "bayescale"
    assert failures.loc["c02", "reason"] == "FloatingPointError: sampler exploded"
    scored = result.points.groupby("curve")["method"].unique().map(set).to_dict()
    assert scored["c00"] == {"bayescale", "bayescale+prior", "ls", "ls_bootstrap", "loglinear", "bnsl", "bnsl_signed"}
    # the baselines still ran on its split
    assert scored["c02"] == {"ls", "ls_bootstrap", "loglinear", "bnsl", "bnsl_signed"}
    assert "c01" not in scored and "short" not in scored


class StackStub:
    """Stands in for a stacked fit in a backtest: constant draws, fixed weights, no sampling."""

    data = SimpleNamespace(groups=["c"])
    weights = pd.Series({"power": 0.75, "broken": 0.25})

    def predictive_draws(self, x, group, seed=None):
        return np.ones((20, len(x)))

    def diagnostics(self):
        return {}


def _record_fits(monkeypatch, stub) -> list:
    seen = []

    def record(frame, **kwargs):
        seen.append((len(frame), kwargs["law"], kwargs["measure"]))
        return stub

    monkeypatch.setattr(bayescale, "fit", record)
    return seen


def test_law_auto_is_the_default_and_a_stated_measure_reaches_every_fit(monkeypatch):
    seen = _record_fits(monkeypatch, StackStub())
    df = simulate(2, n_points=10, seed=3)
    fast = {k: v for k, v in FAST.items() if k != "law"}
    result = bayescale.backtest(df, measure="error", x="x", y="y", group="curve", baselines=False, discrepancy=True,
                                **fast)
    assert result.failures.empty
    # per curve the outer fit (6 of 10 rows) and the in-sample one (5 of those 6: at least MIN_TRAIN)
    assert sorted(seen) == [(5, "auto", "error")] * 2 + [(6, "auto", "error")] * 2
    assert result.fits["laws"].tolist() == ["power 0.75, broken 0.25"] * 2  # what the forecast rests on
    with pytest.raises(bayescale.errors.LawError, match=r"measure='accuracy' does not fit the power law"):
        bayescale.backtest(df, measure="accuracy", x="x", y="y", group="curve", **FAST)


def test_a_stack_learns_the_discrepancy_from_its_own_leave_future_out_forecasts(monkeypatch):
    stub = StackStub()
    stub.weights_method = "lfo"
    stub.lfo = SimpleNamespace(forecasts=pd.DataFrame({"distance": [0.1, 0.2, 0.3], "error": [0.02, -0.04, 0.1],
                                                       "variance": [1e-4] * 3}))
    seen = _record_fits(monkeypatch, stub)
    df = simulate(2, n_points=10, seed=3)
    result = bayescale.backtest(df, x="x", y="y", group="curve", baselines=False, discrepancy=True,
                                **{**FAST, "law": "auto"})
    assert sorted(seen) == [(6, "auto", None)] * 2  # no inner refit: the stack's LFO refits are the inner errors
    support = result.discrepancy_support.set_index("dataset").loc["data"]
    assert (support["curves"], support["errors"]) == (2, 2 * 3)
    assert support["s"] > 0.05  # errors of 0.1 at 0.3 decades against a predictive sd of 0.01


def test_cli_backtest_says_to_use_the_learned_s_with_the_law_it_was_learned_for(monkeypatch, tmp_path, capsys):
    from bayescale.cli import main

    stub = StackStub()
    stub.weights_method = "lfo"
    stub.lfo = SimpleNamespace(forecasts=pd.DataFrame({"distance": [0.1, 0.2], "error": [0.02, -0.04],
                                                       "variance": [1e-4] * 2}))
    _record_fits(monkeypatch, stub)
    csv = tmp_path / "curves.csv"
    simulate(1, n_points=10, seed=3).to_csv(csv, index=False)
    assert main(["backtest", str(csv), "--x", "x", "--y", "y", "--workers", "1", "--no-baselines",
                 "--discrepancy", "--quiet", "--plain"]) == 0
    assert "); use it with 'bayescale fit ... --law auto --discrepancy " in capsys.readouterr().out


def test_inner_split_keeps_enough_scales_for_evenly_spaced_checkpoints():
    log_spaced = np.logspace(0, 4, 11)
    np.testing.assert_array_equal(bt.inner_mask(log_spaced, 0.6), log_spaced <= 10**2.4 + 1e-9)
    # checkpoints every 1000 steps crowd the top of the log range: 60% of it holds only 3 of them,
    # so the inner fit takes the 5 smallest scales and scores the other 3
    steps = np.arange(1, 9) * 1000.0
    assert bt.inner_mask(steps, 0.6).tolist() == [True] * 5 + [False] * 3
    # too few scales for any inner fit: the mask is left as the fraction gives it
    assert bt.inner_mask(steps[:4], 0.6).tolist() == [True, True, False, False]


@pytest.mark.slow
def test_intervals_calibrated_on_curves_simulated_from_the_model(tmp_path, one_bnsl_start):
    """Data from the model itself: 90% intervals cover ~90% of held-out points (binomial band).

    The bands catch intervals of a wrong width: with the bayescale draws shrunk around their median to
    0.7 times their log spread, 90% coverage falls to 0.73 (strict band); widened 1.5 times, the mean
    |PIT - 0.5| falls to 0.19 (band 0.196-0.304). Both measured with this seed (checked by hand).
    """
    from scipy.stats import binom

    df = simulate(16, n_points=10, sigma=0.03, seed=11)
    result = bayescale.backtest(df, x="x", y="y", group="curve", split="frac:0.7", n_boot=20, discrepancy=True,
                                **FAST)
    assert result.failures.empty
    ours = result.points[result.points["method"] == "bayescale"]
    n = len(ours)
    assert n == 16 * 3
    widened = result.points[result.points["method"] == "bayescale+disc"]
    for level in (50, 80, 90):
        lo, hi = binom.ppf([0.005, 0.995], n, level / 100) / n
        assert lo <= ours[f"covered{level}"].mean() <= hi, level
        # the law is exact here: the discrepancy must not turn honest intervals into over-wide ones
        assert lo - 0.05 <= widened[f"covered{level}"].mean() <= hi + 0.05, level
    # PIT ~ uniform: |PIT - 0.5| has mean 1/4 and variance 1/48 (too narrow: larger; too wide: smaller)
    assert abs(np.abs(ours["pit"] - 0.5).mean() - 0.25) <= 2.576 * np.sqrt(1 / 48 / n)
    # the data follow the law exactly: the in-sample backtests call for (almost) no discrepancy
    support = result.discrepancy_support.set_index("dataset").loc["data"]
    assert support["curves"] == 16 and support["errors"] == 16 * 2  # 5 inner scales of 7, 2 scored each
    assert result.discrepancy["data"] == support["s"] < 0.05
    table = result.table()
    assert list(table.columns) == ["dataset", "cutoff", "metric", "bayescale", "bayescale+prior", "bayescale+disc",
                                   "ls", "ls_bootstrap", "loglinear", "bnsl", "bnsl_signed"]
    assert table.set_index("metric").loc["n_points", "bayescale"] == n
    folder = result.save(tmp_path / "bt")
    assert {p.name for p in folder.iterdir()} >= {"points.csv", "table.csv", "failures.csv", "by_distance.csv"}
    fig = result.plot_calibration()
    assert len(fig.axes[0].lines) >= 4
    result.plot_error()


def test_cli_backtest(tmp_path, capsys, one_bnsl_start):
    from bayescale.cli import main

    df = simulate(2, n_points=8, seed=4)
    df.loc[df["curve"] == "c01", "y"] = 0.0
    csv = tmp_path / "curves.csv"
    df.to_csv(csv, index=False)
    code = main(["backtest", str(csv), "--x", "x", "--y", "y", "--group", "curve", "--split", "last:2",
                 "--law", "power", "--workers", "1", "--draws", "200", "--tune", "200", "--n-boot", "20", "--quiet",
                 "--plain", "--out", str(tmp_path / "out"), "--plot-calibration", str(tmp_path / "cal.png"),
                 "--discrepancy"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Backtest (methods as columns)" in out and "ls_bootstrap" in out
    assert "'y' must be > 0" in out
    points = pd.read_csv(tmp_path / "out" / "points.csv")
    assert set(points["curve"]) == {"c00"} and len(points[points["method"] == "bayescale"]) == 2
    # 6 training scales: the inner fit takes 5 and scores 1, and the line says how to use what it learned
    s = pd.read_csv(tmp_path / "out" / "discrepancy.csv").iloc[0]
    assert (s["curves"], s["errors"]) == (1, 1)
    assert f"from 1 held-in rows of 1 curves); use it with 'bayescale fit ... --discrepancy {s['s']:.3g}'" in out
    assert (tmp_path / "cal.png").stat().st_size > 0
    assert main(["backtest", str(csv), "--x", "x", "--y", "y", "--split", "frac:2"]) == 2
    assert "split fraction must be in (0, 1), got 2.0" in capsys.readouterr().err
