"""Observational scaling model: validation, recovery on simulated tables, held-out coverage, CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bayescale.errors import DataError, DataWarning, LawError
from bayescale.workflows.observational import (
    ObservationalFit,
    create_observational_model,
    initial_point,
    observational,
    pca_baseline,
    prepare_observational,
    simulate_table,
)

BENCH = ["B1", "B2", "B3", "B4", "B5"]


def small_table() -> pd.DataFrame:
    df, _ = simulate_table(n_families=3, models_per_family=4, n_benchmarks=3, k=1, seed=5)
    return df


# -- validation (no sampling) ---------------------------------------------------------------


def test_table_without_numeric_benchmarks_is_refused():
    df = pd.DataFrame({"Model": ["a", "b"], "Model Family": ["f", "f"], "FLOPs": [1.0, 2.0], "note": ["x", "y"]})
    with pytest.raises(DataError, match=r"no numeric benchmark columns with scores in \[0, 1\]"):
        prepare_observational(df, compute="FLOPs")
    with pytest.raises(DataError, match=r"benchmark columns \['note'\] are not numeric"):
        prepare_observational(df, compute="FLOPs", benchmarks=["note"], k=1)


@pytest.mark.parametrize("value", [0.0, -3.0])
def test_compute_not_positive_is_refused(value):
    df = small_table()
    df.loc[2, "FLOPs"] = value
    with pytest.raises(DataError, match=r"compute column 'FLOPs' must be > 0; rows \[2\] are <= 0"):
        prepare_observational(df, compute="FLOPs", benchmarks=["B1", "B2"], k=1)


def test_other_bad_inputs_name_the_column():
    df = small_table()
    with pytest.raises(DataError, match=r"compute column 'FLOP' not in the table"):
        prepare_observational(df, compute="FLOP", benchmarks=["B1"], k=1)
    with pytest.raises(DataError, match=r"benchmark columns \['B9'\] not in the table"):
        prepare_observational(df, compute="FLOPs", benchmarks=["B1", "B9"], k=1)
    pct = df.copy()
    pct["B2"] *= 100
    with pytest.raises(DataError, match=r"benchmark column 'B2' has scores outside \[0, 1\].*divide by 100"):
        prepare_observational(pct, compute="FLOPs", benchmarks=["B1", "B2"], k=1)
    with pytest.raises(LawError, match=r"k=3 capability dimensions need at least 3 benchmarks, got 2"):
        prepare_observational(df, compute="FLOPs", benchmarks=["B1", "B2"], k=3)
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match=r"model column 'Model' repeats \['m0'\]"):
        prepare_observational(dup, compute="FLOPs", benchmarks=["B1"], k=1)
    empty = df.copy()
    empty["B3"] = np.nan
    with pytest.raises(DataError, match=r"benchmark column 'B3' has no observed scores"):
        prepare_observational(empty, compute="FLOPs", benchmarks=["B1", "B3"], k=1)


def test_bad_options_refused_before_sampling():
    df = small_table()
    with pytest.raises(LawError, match=r"noise must be one of \('shared', 'pooled', 'anchors', 'benchmark'\), got 'x'"):
        observational(df, benchmarks=["B1", "B2"], compute="FLOPs", k=1, noise="x")
    with pytest.raises(LawError, match=r"method must be 'nuts' or 'advi', got 'hmc'"):
        observational(df, benchmarks=["B1", "B2"], compute="FLOPs", k=1, method="hmc")
    with pytest.raises(LawError, match=r"k \(capability dimensions\) must be a positive integer, got 0"):
        observational(df, benchmarks=["B1", "B2"], compute="FLOPs", k=0)


def test_missing_compute_rows_dropped_with_warning_or_refused():
    df = small_table()
    df.loc[[1, 4], "FLOPs"] = np.nan
    with pytest.warns(DataWarning, match=r"dropped 2 rows without 'FLOPs' \(rows \[1, 4\]\)"):
        data = prepare_observational(df, compute="FLOPs", benchmarks=["B1", "B2"], k=1)
    assert data.dropped == ["m1", "m4"] and len(data.models) == len(df) - 2
    with pytest.raises(DataError, match=r"compute column 'FLOPs' is missing in rows \[1, 4\]"):
        prepare_observational(df, compute="FLOPs", benchmarks=["B1", "B2"], k=1, missing_compute="error")


def test_missing_scores_are_kept_and_listed():
    df = small_table()
    df.loc[3, "B2"] = np.nan
    data = prepare_observational(df, compute="FLOPs", benchmarks=["B1", "B2", "B3"], k=2)
    assert data.scores.shape == (len(df), 3)  # no row dropped
    assert data.missing().to_dict("records") == [{"model": "m3", "family": "F0", "benchmark": "B2"}]
    rows, cols = data.observed_cells
    assert len(rows) == 3 * len(df) - 1


def test_default_floors_and_benchmark_detection():
    df = pd.DataFrame({"Model": list("abcd"), "Model Family": list("ffgg"), "FLOPs (1E21)": [1, 2, 3, 4],
                       "MMLU": [0.3, 0.4, 0.5, 0.6], "Winograd": [0.55, 0.6, 0.62, 0.7], "Size": [1, 5, 9, 20]})
    data = prepare_observational(df, k=1)
    assert data.benchmarks == ["MMLU", "Winograd"]  # "Size" is outside [0, 1]
    np.testing.assert_allclose(data.floors, [0.25, 0.5])


def test_initial_point_matches_the_identified_parametrisation():
    df, _ = simulate_table(n_families=4, models_per_family=8, n_benchmarks=5, k=2, noise=0.0, seed=2)
    data = prepare_observational(df, compute="FLOPs", benchmarks=BENCH, k=2)
    init = initial_point(data, 2)
    assert init["capability_first"].shape == (32,) and init["resid_z"].shape == (32, 1)
    assert init["W_low"].shape == (5 * 2 - 3,)  # strictly-lower entries of a 5 x 2 matrix
    assert init["b_free"].shape == (3,)  # anchors B1, B2 have intercept 0
    assert np.isfinite(np.concatenate([np.ravel(v) for v in init.values()])).all()
    model = create_observational_model(data, 2)
    free = {rv.name for rv in model.free_RVs}
    assert set(init) <= free  # every start value names a free variable of the model
    assert {"capability_first", "resid_z", "W_low", "b_free", "beta_z", "alpha_z"} <= set(init)


def test_pca_baseline_recovers_a_noiseless_sigmoid():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=60)
    features = np.column_stack([latent + 0.01 * rng.normal(size=60) for _ in range(4)])
    target = 0.25 + 0.75 / (1 + np.exp(-(1.5 * latent - 0.3)))
    train = latent < 0.5
    out = pca_baseline(features, target, train, k=1, floor=0.25)
    assert np.abs(out["mean"] - target).max() < 0.02
    assert (out["upper"] > out["lower"]).all()


# -- one small NUTS fit shared by the recovery tests -----------------------------------------

SIZES = [9, 8, 8, 7, 1]  # the last family has a single model: allowed, pooled


@pytest.fixture(scope="module")
def sim():
    df, truth = simulate_table(n_families=5, models_per_family=SIZES, n_benchmarks=5, k=1, noise=0.02,
                               missing=0.1, seed=11)
    # hold out the largest model of each big family: predicted from family and compute alone
    held = df.groupby("Model Family")["FLOPs"].transform("max").eq(df["FLOPs"]) & df["Model Family"].ne("F4")
    fit = observational(df[~held], benchmarks=BENCH, compute="FLOPs", k=1, floors={"B1": 0.25}, draws=300,
                        tune=300, chains=2, seed=7, progress=False)
    return {"df": df, "truth": truth, "held": held.to_numpy(), "fit": fit}


@pytest.mark.slow
def test_fit_reports_and_samples_cleanly(sim):
    fit = sim["fit"]
    assert isinstance(fit, ObservationalFit)
    diag = fit.diagnostics()
    assert diag["max_rhat"] < 1.05, diag
    assert diag["divergences"] <= 5, diag
    assert "5 families, k=1, nuts" in repr(fit)


@pytest.mark.slow
def test_deterministics_are_computed_from_the_draws_with_their_dims(sim):
    """Only the free variables are traced while sampling; the deterministics are computed afterwards."""
    post = sim["fit"].idata.posterior
    assert post["beta"].dims == ("chain", "draw", "family", "capability")
    assert post["W"].dims == ("chain", "draw", "benchmark", "capability")
    xr_beta = post["beta_mu"] + post["beta_sigma"] * post["beta_z"]
    np.testing.assert_array_equal(post["beta"].values, xr_beta.transpose(*post["beta"].dims).values)
    np.testing.assert_array_equal(post["W"].sel(benchmark="B1", capability="c1").values, 1.0)
    np.testing.assert_array_equal(post["capability_score"].sel(capability="c1").values,
                                  post["capability_first"].values)
    assert (post["sigma"] == post["sigma_shared"]).all()


@pytest.mark.slow
def test_loadings_recovered(sim):
    load = sim["fit"].loadings().set_index("benchmark")
    true_w = sim["truth"]["W"][:, 0]
    assert load.loc["B1", "mean"] == 1.0  # unit-diagonal anchor
    est = load["mean"].to_numpy()
    assert np.abs(est - true_w).max() < 0.35, (est, true_w)
    inside = (load["lower"].to_numpy() <= true_w + 1e-9) & (true_w - 1e-9 <= load["upper"].to_numpy())
    assert inside.sum() >= 4


@pytest.mark.slow
def test_family_efficiencies_recovered(sim):
    fit, truth = sim["fit"], sim["truth"]
    eff = fit.efficiencies().set_index("family").loc[[f"F{i}" for i in range(5)]]
    # truth in the fit's units: mean logit at the fit's reference compute (u = 0 of the fitted rows);
    # the single-model family F4 is left out of the comparisons (its interval is wide by design)
    u0 = (fit.data.log_c_mean - np.log(sim["df"]["FLOPs"]).mean()) / np.log(sim["df"]["FLOPs"]).std(ddof=0)
    w_mean = truth["W"].mean(axis=0)
    true_eff = (truth["alpha"] + truth["beta"] * u0) @ w_mean + truth["b"].mean()
    true_slope = truth["beta"] @ w_mean * math.log(10) / np.log(sim["df"]["FLOPs"]).std(ddof=0)
    big = eff["n_models"].to_numpy() > 1
    est = eff["efficiency"].to_numpy()
    assert np.corrcoef(est[big], true_eff[big])[0, 1] > 0.9
    eff_inside = (eff["lower"] <= true_eff) & (true_eff <= eff["upper"])
    assert eff_inside[big].sum() >= 3, (eff, true_eff)
    slope_inside = (eff["slope_lower"] <= true_slope) & (true_slope <= eff["slope_upper"])
    assert slope_inside[big].sum() >= 3, (eff, true_slope)
    assert np.isclose(eff["p_most_efficient"].sum(), 1.0)
    best_true = f"F{np.argmax(np.where(big, true_eff, -np.inf))}"
    assert eff.loc[big, "p_most_efficient"].idxmax() == best_true
    assert eff.loc["F4", "n_models"] == 1 and eff.loc["F4", "upper"] - eff.loc["F4", "lower"] > 0


@pytest.mark.slow
def test_missing_cells_imputed_with_calibrated_intervals(sim):
    fit, truth = sim["fit"], sim["truth"]
    pred = fit.predict_missing()
    assert len(pred) == int(np.isnan(fit.data.scores).sum()) > 5
    index = {m: i for i, m in enumerate(sim["df"]["Model"])}
    true = np.array([truth["scores"][index[m], BENCH.index(b)] for m, b in zip(pred["model"], pred["benchmark"],
                                                                            strict=True)])
    inside = (pred["lower"] <= true) & (true <= pred["upper"])
    assert inside.mean() >= 0.75, pred.assign(true=true)
    assert np.abs(pred["mean"] - true).mean() < 0.05


@pytest.mark.slow
def test_held_out_models_predicted_from_compute_cover_nominally(sim):
    fit, truth, df = sim["fit"], sim["truth"], sim["df"]
    new = df[sim["held"]]
    pred = fit.predict(new, prob=0.9)
    assert len(pred) == len(new) * 5 and pred["known_family"].all()
    rows = {m: i for i, m in enumerate(df["Model"])}
    true = np.array([truth["scores"][rows[m], BENCH.index(b)] for m, b in zip(pred["model"], pred["benchmark"],
                                                                           strict=True)])
    inside = (pred["lower"] <= true) & (true <= pred["upper"])
    assert inside.mean() >= 0.75, pred.assign(true=true)
    # a new family: wider than a known one at the same compute
    unknown = fit.predict(new.assign(**{"Model Family": "brand-new"}), prob=0.9)
    assert not unknown["known_family"].any()
    assert (unknown["upper"] - unknown["lower"]).mean() > (pred["upper"] - pred["lower"]).mean()


@pytest.mark.slow
def test_capabilities_and_plot(sim, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    fit = sim["fit"]
    cap = fit.capabilities()
    assert len(cap) == len(fit.data.models) and (cap["lower"] < cap["upper"]).all()
    true_cap = sim["truth"]["capability"][~sim["held"], 0]
    assert np.corrcoef(cap["mean"], true_cap)[0, 1] > 0.95
    ax = fit.plot("B3")
    assert len(ax.collections) >= 4  # bands and points of the plotted families
    ax.figure.savefig(tmp_path / "obs.png")
    with pytest.raises(DataError, match=r"benchmark 'B9' was not fitted"):
        fit.plot("B9")
    with pytest.raises(DataError, match=r"compute column 'FLOPs' must be a positive number; rows \[0\]"):
        fit.predict(pd.DataFrame({"Model Family": ["F0"], "FLOPs": [0.0]}))


@pytest.mark.slow
def test_two_capabilities_loadings_recovered():
    """k = 2: lower-triangular loadings with unit diagonal are recovered, mixed signs included."""
    bench = [f"B{j + 1}" for j in range(6)]
    df, truth = simulate_table(n_families=5, models_per_family=[8, 8, 7, 7, 6], n_benchmarks=6, k=2, noise=0.02,
                               missing=0.1, seed=21)
    fit = observational(df, benchmarks=bench, compute="FLOPs", k=2, floors={"B1": 0.25}, draws=250, tune=250,
                        chains=2, seed=5, progress=False)
    assert fit.diagnostics()["max_rhat"] < 1.05
    load = fit.loadings()
    assert len(load) == 6 + 5  # lower triangle of a 6 x 2 matrix
    true = np.array([truth["W"][int(b[1:]) - 1, int(c[1:]) - 1] for b, c in zip(load["benchmark"],
                                                                                load["capability"], strict=True)])
    assert np.abs(load["mean"] - true).max() < 0.25, load.assign(true=true)
    inside = (load["lower"] <= true + 1e-9) & (true - 1e-9 <= load["upper"])
    assert inside.sum() >= 9, load.assign(true=true)
    b3 = load[(load["benchmark"] == "B3") & (load["capability"] == "c2")]
    assert (b3["upper"] < 0).all()  # a negative loading is found negative


def test_advi_runs_and_orders_models():
    df, truth = simulate_table(n_families=3, models_per_family=6, n_benchmarks=3, k=1, seed=4, missing=0.05)
    fit = observational(df, benchmarks=["B1", "B2", "B3"], compute="FLOPs", k=1, floors={"B1": 0.25},
                        method="advi", advi_steps=3000, draws=200, chains=1, seed=3, progress=False)
    assert fit.diagnostics() == {"method": "advi"} and fit.n_draws == 200
    cap = fit.capabilities()
    assert np.corrcoef(cap["mean"], truth["capability"][:, 0])[0, 1] > 0.9


# -- CLI ------------------------------------------------------------------------------------

SPEC = """
title = "simulated table"
[data]
path = "table.csv"
[model]
benchmarks = ["B1", "B2", "B3", "B4", "B5"]
family = "Model Family"
compute = "FLOPs"
k = 1
floors = {{ B1 = 0.25 }}
[holdout]
target = "B5"
column = "FLOPs"
below = {cutoff}
[sampling]
draws = 100
tune = 150
chains = 2
seed = 3
[output]
prob = 0.9
"""


def test_cli_spec_errors(tmp_path, capsys):
    from bayescale.cli import main

    spec = tmp_path / "bad.toml"
    spec.write_text('[data]\npath = "t.csv"\n[model]\nbenchmarks = ["B1"]\nkk = 2\n')
    assert main(["observational", str(spec)]) == 2
    assert "unknown keys ['kk'] in [model]" in capsys.readouterr().err
    spec.write_text('[data]\ndataset = "x"\npath = "t.csv"\n[model]\nbenchmarks = ["B1"]\n')
    assert main(["observational", str(spec)]) == 2
    assert "[data] needs exactly one of dataset = NAME or path = CSV" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_holdout_run(sim, tmp_path, capsys):
    from bayescale.cli import main

    df = sim["df"][~sim["held"]]  # the fixture's table and model: its compiled model serves this fit too
    df.to_csv(tmp_path / "table.csv", index=False)
    cutoff = float(np.quantile(df["FLOPs"], 0.7))
    (tmp_path / "spec.toml").write_text(SPEC.format(cutoff=cutoff))
    png = tmp_path / "out" / "obs.png"
    code = main(["observational", str(tmp_path / "spec.toml"), "--plain", "--quiet", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Family compute efficiency" in out and "Benchmark loadings" in out
    assert "Held-out B5" in out and "pca_least_squares" in out and "bayesian" in out
    assert "max_rhat=" in out
    assert png.is_file() and png.stat().st_size > 1000
