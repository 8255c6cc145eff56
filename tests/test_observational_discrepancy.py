"""Learned forecast drift of the observational model: calibrated held-out intervals, bad input."""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from bayescale.errors import DataError
from bayescale.workflows.observational import (
    ObservationalFit,
    holdout,
    prepare_observational,
    score_mean,
    simulate_table,
)
from bayescale.workflows.observational import model as model_module
from bayescale.workflows.observational.drift import _refit, decades_beyond, forward_chain, grid_posterior

BENCH = ["B1", "B2", "B3", "B4"]
S0, S = 0.8, 0.6  # simulated drift of B4's logit: sd s0 at the median compute, + s per decade beyond


def drifted_table(seed: int = 4) -> pd.DataFrame:
    """A simulated table whose last benchmark drifts off the capability model, more so beyond the median compute."""
    df, truth = simulate_table(n_families=8, models_per_family=8, n_benchmarks=4, k=1, noise=0.02, seed=seed)
    rng = np.random.default_rng(seed + 100)
    log_c = np.log10(df["FLOPs"].to_numpy())
    d = np.maximum(log_c - np.median(log_c), 0.0)
    eta = truth["capability"] @ truth["W"][3] + truth["b"][3]
    delta = np.sqrt(S0**2 + (S * d) ** 2) * rng.standard_normal(len(df))
    df["B4"] = np.clip(score_mean(eta + delta, 0.0) + 0.02 * rng.standard_normal(len(df)), 0.0, 1.0)
    return df


def unsampled_fit() -> ObservationalFit:
    data = prepare_observational(drifted_table(), benchmarks=BENCH, compute="FLOPs", k=1)
    return ObservationalFit(idata=None, data=data, k=1, method="nuts", seed=0,
                            columns={"family": "Model Family", "compute": "FLOPs", "model": "Model"})


# -- bad input (no sampling) ----------------------------------------------------------------
def test_bad_discrepancy_flag_is_refused_in_one_line():
    fit = unsampled_fit()
    for call in (lambda: fit.predict_missing(discrepancy="yes"),
                 lambda: fit.predict(drifted_table().head(2), discrepancy=1)):
        with pytest.raises(DataError, match=r"discrepancy must be True or False, got") as err:
            call()
        assert "\n" not in str(err.value)
    df = drifted_table()
    with pytest.raises(DataError, match="discrepancy must be True or False, got 'calibrated'"):
        holdout(df, target="B4", train=np.arange(len(df)) < 40, benchmarks=BENCH, k=1, compute="FLOPs",
                discrepancy="calibrated")


def test_forward_chain_and_predict_missing_refuse_bad_requests_before_sampling():
    fit = unsampled_fit()
    with pytest.raises(DataError, match=r"benchmark 'B9' was not fitted; fitted: \['B1'"):
        forward_chain(fit, "B9")
    with pytest.raises(DataError, match=r"cuts must be quantiles in \(0, 1\), got \[0.5, 1.5\]"):
        forward_chain(fit, "B4", cuts=[0.5, 1.5])
    with pytest.raises(DataError, match=r"benchmarks \['nope'\] were not fitted"):
        fit.predict_missing(benchmarks=["nope"])
    few = fit.data.scores.copy()
    few[7:, 3] = np.nan
    fit.data.scores = few
    with pytest.raises(DataError, match="benchmark 'B4' has 7 observed scores; forward chaining needs at least 8"):
        forward_chain(fit, "B4")


def test_grid_posterior_checks_shapes_and_finds_the_drift_of_simulated_errors():
    rng = np.random.default_rng(0)
    n, draws = 150, 300
    center = np.linspace(-3, 2, n)
    eta = center + 0.4 * rng.standard_normal((draws, n))  # posterior draws of each cell's logit
    sigma = np.full((draws, n), 0.03)
    truth_eta = center + 0.4 * rng.standard_normal(n) + 0.7 * rng.standard_normal(n)  # drift sd 0.7
    truth = np.clip(score_mean(truth_eta, 0.0) + 0.03 * rng.standard_normal(n), 0.0, 1.0)
    s0, s, w = grid_posterior(truth, eta, sigma, np.zeros(n), 0.0)
    marginal = w.sum(axis=1)
    assert 0.55 < (s0 * marginal).sum() < 0.85
    with pytest.raises(DataError, match="grid_posterior needs truth"):
        grid_posterior(truth[:-1], eta, sigma, np.zeros(n), 0.0)


def test_decades_beyond_is_zero_inside_and_counts_decades_outside():
    ref = 10.0 ** np.arange(11)  # q90 of log10 = 9
    np.testing.assert_allclose(decades_beyond([1e3, 1e9, 1e11], ref), [0.0, 0.0, 2.0])


# -- calibration on a simulated table (sampling) -------------------------------------------
@pytest.fixture(scope="module")
def drifted():
    df = drifted_table()
    train = (df["FLOPs"] < df["FLOPs"].quantile(0.6)).to_numpy()
    model_module._COMPILED.clear()
    with mock.patch.object(model_module, "create_observational_model",
                           wraps=model_module.create_observational_model) as build:
        fit, table, scores = holdout(df, target="B4", train=train, benchmarks=BENCH, k=1, compute="FLOPs",
                                     draws=150, tune=150, chains=1, seed=3, progress=False, discrepancy=True)
    return fit, table, scores.set_index("method"), build.call_count


@pytest.mark.slow
def test_forward_chain_refits_reuse_the_fits_compiled_model_and_reproduce_it(drifted):
    fit, builds = drifted[0], drifted[3]
    assert len(fit.drift["B4"].cells["cut"].unique()) == 3  # three refits with other cells hidden ...
    assert builds == 1  # ... and one model built and compiled for the fit and all of them
    again = _refit(fit, fit.data.scores)  # the cached model, its cells set back: the fit's draws, bit for bit
    for name in ("capability_score", "W", "b", "sigma"):
        np.testing.assert_array_equal(again.draws(name), fit.draws(name))


@pytest.mark.slow
def test_forward_chain_names_each_refit_when_the_fit_shows_progress(drifted, monkeypatch, capsys):
    from bayescale.workflows.observational import drift

    fit = drifted[0]
    shown = []

    def no_sampling(model, **kwargs):
        shown.append(kwargs["progress"])
        return fit.idata

    monkeypatch.setattr(drift, "sample", no_sampling)
    monkeypatch.setitem(fit.settings, "progress", True)
    forward_chain(fit, "B4")
    lines = capsys.readouterr().err.splitlines()
    assert shown == [True, True, True]  # each refit shows its own progress bar too
    assert len(lines) == 3
    for i, (line, cut) in enumerate(zip(lines, ["0.5", "0.65", "0.8"], strict=True)):
        assert re.fullmatch(rf"learning B4's drift: refit {i + 1} of 3, its \d+ scores above the {cut} quantile "
                            r"of compute hidden", line), line
    monkeypatch.setitem(fit.settings, "progress", False)
    forward_chain(fit, "B4")
    assert capsys.readouterr().err == "" and shown[3:] == [False, False, False]


@pytest.mark.slow
def test_calibrated_held_out_coverage_is_nominal_where_plain_is_not(drifted):
    fit, table, scores, _ = drifted
    n = int(scores.loc["bayesian", "n"])
    band = 2 * np.sqrt(0.9 * 0.1 / n)
    plain, calibrated = scores.loc["bayesian", "coverage"], scores.loc["bayesian_drift", "coverage"]
    assert abs(calibrated - 0.9) <= band, scores
    assert plain < 0.9 - band, scores
    # widening does not move the point forecast much
    assert scores.loc["bayesian_drift", "mae"] <= 1.1 * scores.loc["bayesian", "mae"], scores


@pytest.mark.slow
def test_learned_drift_covers_the_simulated_one(drifted):
    fit = drifted[0]
    summary = fit.drift["B4"].summary()
    assert summary["s0_lower"] <= S0 <= summary["s0_upper"], summary
    assert summary["n_cells"] > 20
    assert set(fit.drift["B4"].cells.columns) >= {"cut", "model", "decades", "truth", "eta_mean"}


# -- CLI --------------------------------------------------------------------------------------
SPEC = """
[data]
path = "table.csv"
[model]
benchmarks = ["B1", "B2", "B3", "B4"]
family = "Model Family"
compute = "FLOPs"
k = 1
[holdout]
target = "B4"
column = "FLOPs"
below = {cutoff}
[sampling]
draws = 100
tune = 100
chains = 1
seed = 3
"""


@pytest.mark.slow
def test_cli_discrepancy_flag_reports_calibrated_held_out_scores(drifted, tmp_path, capsys):
    from bayescale.cli import main

    df = drifted_table()  # the fixture's table and split: its compiled model serves these fits too
    df.to_csv(tmp_path / "table.csv", index=False)
    (tmp_path / "spec.toml").write_text(SPEC.format(cutoff=float(df["FLOPs"].quantile(0.6))))
    code = main(["observational", str(tmp_path / "spec.toml"), "--plain", "--quiet", "--discrepancy"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "bayesian_drift" in out and "drift_lower" in out
    assert "Learned drift" in out and "s0_upper" in out
