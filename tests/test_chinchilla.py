"""Chinchilla law: recovery from simulated runs, the published record on real data, allocation, errors."""

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import DataError, DataWarning, LawError
from bayescale.laws.chinchilla import chinchilla_loss, optimal_allocation, prepare_chinchilla

SAMPLING = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}
TRUE = {"E": 1.8, "A": 480.0, "B": 2000.0, "alpha": 0.35, "beta": 0.37}
BESIROGLU = {"E": 1.82, "A": 482.0, "B": 2085.4, "alpha": 0.348, "beta": 0.366}
HOFFMANN = {"B": 410.7, "beta": 0.28}


def simulate(n: int = 120, seed: int = 0, sigma: float = 0.01) -> pd.DataFrame:
    """Runs at Chinchilla-like scales: 5e7..1.6e10 params, 1..300 tokens per parameter."""
    rng = np.random.default_rng(seed)
    params = 10 ** rng.uniform(np.log10(5e7), np.log10(1.6e10), n)
    tokens = params * 10 ** rng.uniform(0, 2.5, n)
    loss = chinchilla_loss(params, tokens, *TRUE.values()) * np.exp(sigma * rng.standard_normal(n))
    return pd.DataFrame({"params": params, "tokens": tokens, "compute": 6 * params * tokens, "loss": loss})


def interval(fit, name, prob=0.95):
    draws = fit.parameter_draws()[name]
    return np.quantile(draws, [(1 - prob) / 2, 1 - (1 - prob) / 2])


@pytest.fixture(scope="module")
def sim_fit():
    return bs.fit(simulate(), law="chinchilla", x=["params", "tokens"], y="loss", noise="lognormal", seed=3,
                  **SAMPLING)


@pytest.fixture(scope="module")
def real_fit():
    df = bs.datasets.load("chinchilla")
    return bs.fit(df, law="chinchilla", x=["params", "tokens"], y="loss", seed=1, **SAMPLING)


@pytest.mark.slow
def test_recovers_the_five_parameters(sim_fit):
    summary = sim_fit.summary(prob=0.95)
    for name, value in TRUE.items():
        lo, hi = interval(sim_fit, name)
        assert lo <= value <= hi, f"{name}={value} outside [{lo}, {hi}]"
    assert summary.loc["alpha", "mean"] == pytest.approx(0.35, abs=0.03)
    assert summary.loc["beta", "mean"] == pytest.approx(0.37, abs=0.03)
    assert summary.loc["E", "mean"] == pytest.approx(1.8, abs=0.05)
    assert sim_fit.diagnostics()["divergences"] == 0


@pytest.mark.slow
def test_real_data_agrees_with_besiroglu_and_puts_hoffmann_in_the_tails(real_fit):
    for name, value in BESIROGLU.items():
        lo, hi = interval(real_fit, name)
        assert lo <= value <= hi, f"Besiroglu {name}={value} outside the 95% interval [{lo:.4g}, {hi:.4g}]"
    for name, value in HOFFMANN.items():
        lo, hi = interval(real_fit, name)
        assert not lo <= value <= hi, f"Hoffmann {name}={value} inside the 95% interval [{lo:.4g}, {hi:.4g}]"
    # far out, not just outside: beta is many posterior sds away
    beta = real_fit.parameter_draws()["beta"]
    assert (beta.mean() - 0.28) / beta.std() > 4


@pytest.mark.slow
def test_tokens_per_parameter_near_twenty_at_chinchilla_budget(real_fit):
    table = real_fit.optimal([5.76e23], prob=0.95).set_index("quantity")
    ratio = table.loc["tokens_per_param"]
    assert 10 < ratio["median"] < 30
    assert ratio["lower"] < 20 < ratio["upper"]
    assert table.loc["params", "lower"] < 7e10 < table.loc["params", "upper"]
    assert set(table.columns) >= {"compute", "median", "lower", "upper", "mean", "prob", "decades_beyond"}
    assert table["decades_beyond"].iloc[0] == pytest.approx(np.log10(5.76e23 / 1.295602e22), abs=1e-3)


@pytest.mark.slow
def test_closed_form_optimum_minimises_loss_on_the_isoflop_line(sim_fit):
    opt = sim_fit.optimal_draws([1e22, 1e24])
    p = sim_fit.parameter_draws()
    for j, c in enumerate([1e22, 1e24]):
        n_star = opt["params"][:, j]
        assert np.allclose(6 * n_star * opt["tokens"][:, j], c)
        law = [p[k] for k in ("E", "A", "B", "alpha", "beta")]
        at_opt = chinchilla_loss(n_star, c / (6 * n_star), *law)
        for factor in (0.8, 1.25):
            n = n_star * factor
            assert np.all(chinchilla_loss(n, c / (6 * n), *law) > at_opt)
        assert np.allclose(opt["loss"][:, j], at_opt)
    a = p["beta"] / (p["alpha"] + p["beta"])
    slope = np.log(opt["params"][:, 1] / opt["params"][:, 0]) / np.log(100)
    assert np.allclose(slope, a)
    assert np.allclose(p["a"] + p["b"], 1)


def test_optimal_allocation_matches_hoffmann_closed_form():
    n, d = optimal_allocation(5.76e23, 406.4, 410.7, 0.34, 0.28)
    g = (0.34 * 406.4 / (0.28 * 410.7)) ** (1 / 0.62)
    assert n == pytest.approx(g * (5.76e23 / 6) ** (0.28 / 0.62))
    assert n * d * 6 == pytest.approx(5.76e23)


@pytest.mark.slow
def test_predict_at_points_and_budgets(real_fit):
    point = real_fit.predict({"params": 7e10, "tokens": 1.4e12}, prob=0.9)
    assert len(point) == 1 and point["lower"][0] < point["median"][0] < point["upper"][0]
    # the larger of the two distances: 1.4e12 tokens vs at most 3.18e11 observed
    assert point["decades_beyond"][0] == pytest.approx(np.log10(1.4e12 / 3.177545e11), abs=1e-3)
    by_compute = real_fit.predict({"params": 7e10, "compute": 6 * 7e10 * 1.4e12}, prob=0.9)
    pd.testing.assert_frame_equal(by_compute, point)
    mean = real_fit.predict(params=[7e10], tokens=[1.4e12], kind="mean", prob=0.9)
    assert (mean["upper"] - mean["lower"])[0] < (point["upper"] - point["lower"])[0]
    budgets = real_fit.predict(compute=[1e21, 1e23], kind="mean")
    assert budgets["median"].is_monotonic_decreasing
    assert np.allclose(budgets["compute"], [1e21, 1e23], rtol=0.05)
    same = real_fit.predict([1e21, 1e23], kind="mean")  # plain numbers are budgets, as for one-input laws
    pd.testing.assert_frame_equal(same, budgets)
    with pytest.raises(DataError, match="either compute"):
        real_fit.predict({"params": 1e9, "tokens": 1e10}, compute=[1e21])
    with pytest.raises(DataError, match="params must be finite and > 0"):
        real_fit.predict(params=[-1.0], tokens=[1e10])
    with pytest.raises(DataError, match="without groups"):
        real_fit.predict([1e21], "web")


@pytest.mark.slow
def test_flags_save_load_and_plot(real_fit, tmp_path):
    flags = real_fit.flags(at=[5.76e23])
    far = flags[(flags["code"] == "extrapolation") & (flags["severity"] == "warning")]
    assert far["message"].str.contains("compute is 1.65 decades").any()
    path = tmp_path / "chinchilla.nc"
    real_fit.save(path)
    loaded = bs.load(path)
    assert type(loaded).__name__ == "ChinchillaFit"
    pd.testing.assert_frame_equal(loaded.optimal([1e23]), real_fit.optimal([1e23]))
    fig = real_fit.plot(at=[5.76e23])
    assert len(fig.axes) == 2
    assert fig.axes[1].get_xscale() == "log"


def test_compute_column_derives_tokens():
    df = simulate(20)
    by_tokens = prepare_chinchilla(df, x=["params", "tokens"], y="loss")
    by_compute = prepare_chinchilla(df.drop(columns="tokens"), x=["params", "compute"], y="loss")
    assert by_compute.derived_tokens and not by_tokens.derived_tokens
    assert np.allclose(by_compute.tokens, by_tokens.tokens)


def test_inconsistent_compute_warns_with_rows():
    df = simulate(20)
    df.loc[[3, 7], "compute"] *= 2
    with pytest.warns(DataWarning, match=r"differs from 6 \* params \* tokens by more than 10% in rows 3, 7"):
        prepare_chinchilla(df, x=["params", "tokens"], y="loss")


def test_bad_inputs_name_the_column_and_rows():
    df = simulate(20)
    bad = df.copy()
    bad.loc[4, "tokens"] = 0
    with pytest.raises(DataError, match=r"column 'tokens' must be > 0 for the chinchilla law; rows 4 are <= 0"):
        bs.fit(bad, law="chinchilla", x=["params", "tokens"], y="loss")
    with pytest.raises(DataError, match=r"x=\[params_column, tokens_column\]"):
        bs.fit(df, law="chinchilla", x="params", y="loss")
    with pytest.raises(DataError, match="column 'size' is not in the data"):
        bs.fit(df, law="chinchilla", x=["size", "tokens"], y="loss")
    with pytest.raises(LawError, match="does not take groups"):
        bs.fit(df, law="chinchilla", x=["params", "tokens"], y="loss", group="params")
    with pytest.raises(DataError, match="7 needed"):
        prepare_chinchilla(df.head(5), x=["params", "tokens"], y="loss")


@pytest.mark.slow
def test_prior_predictive_covers_the_runs(sim_fit):
    table = sim_fit.prior_predictive(draws=200)
    assert len(table) == len(sim_fit.data.y)
    assert table["inside"].mean() > 0.9
    assert (table["lower"] < table["upper"]).all()
