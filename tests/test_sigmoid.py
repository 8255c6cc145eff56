"""Emergence: binomial counts with the eval-set size, Beta without it, validation of accuracies."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import bayescale as bs
from bayescale.errors import DataError, DataWarning, LawError

SAMPLING = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}
MIDPOINT = 1e23


def accuracies(seed=0, n=50):
    """15 models from 1e20 to 1e24 FLOPs: chance 0.05, ceiling 0.85, steepness 1.5 per e-fold."""
    rng = np.random.default_rng(seed)
    x = np.logspace(20, 24, 15)
    p = 0.05 + 0.8 * expit(1.5 * (np.log(x) - np.log(MIDPOINT)))
    acc = np.round(p * n) / n if seed is None else rng.binomial(n, p) / n
    return pd.DataFrame({"flops": x, "acc": acc, "true": p})


@pytest.fixture(scope="module")
def large_and_small():
    # the true accuracies rounded to steps of 1/50: exact counts of 50 and of 1000 items alike
    df = accuracies(seed=None)
    big = bs.fit(df, law="sigmoid", x="flops", y="acc", trials=1000, seed=1, **SAMPLING)
    small = df.assign(n=50)
    return big, bs.fit(small, law="sigmoid", x="flops", y="acc", trials="n", seed=1, **SAMPLING)


def test_binomial_fit_recovers_the_midpoint(large_and_small):
    big, _ = large_and_small
    assert big.diagnostics()["divergences"] == 0
    s = big.summary()
    assert s.loc["midpoint_x", "hdi_lower"] < MIDPOINT < s.loc["midpoint_x", "hdi_upper"]
    assert abs(s.loc["floor", "mean"] - 0.05) < 0.02 and abs(s.loc["ceiling", "mean"] - 0.85) < 0.05
    assert big.config.options == {"likelihood": "betabinomial", "trials": 1000, "trials_predict": 1000}


def test_a_smaller_eval_set_gives_a_wider_interval_at_the_same_accuracies(large_and_small):
    big, small = large_and_small
    at = [1e22, 1e23, 3e24]
    wide = small.predict(at, kind="mean")
    narrow = big.predict(at, kind="mean")
    ratio = (wide["upper"] - wide["lower"]) / (narrow["upper"] - narrow["lower"])
    assert (ratio > 1.5).all()
    pred = small.predict(at)
    assert pred["lower"].ge(0).all() and pred["upper"].le(1).all()
    # predictive accuracies of a 50-item eval come in steps of 1/50
    draws = small.predictive_draws([1e23], "all")
    np.testing.assert_allclose(draws * 50, np.round(draws * 50))


def test_beta_likelihood_without_eval_set_size():
    df = accuracies(seed=2)
    df.loc[0, "acc"] = 0.0
    with pytest.warns(DataWarning, match="exactly 0 or 1"):
        fit = bs.fit(df, law="sigmoid", x="flops", y="acc", seed=2, **SAMPLING)
    assert fit.config.options["likelihood"] == "beta" and "kappa" in fit.summary().index
    pred = fit.predict([1e21, 1e24])
    assert pred["lower"].gt(0).all() and pred["upper"].lt(1).all()
    assert pred["median"].iloc[0] < 0.15 < 0.6 < pred["median"].iloc[1]


@pytest.mark.parametrize(
    ("change", "kwargs", "error", "match"),
    [
        (lambda d: d.assign(acc=d.acc * 100), {}, DataError, "must be an accuracy in \\[0, 1\\].*divide percentages"),
        (lambda d: d.assign(acc=-d.acc - 0.1), {}, DataError, "negative"),
        (lambda d: d.assign(n=10.5), {"trials": "n"}, DataError, "column 'n' must hold eval-set sizes"),
        (lambda d: d, {"trials": "n"}, DataError, "column 'n' is not in the data"),
        (lambda d: d, {"trials": 0}, DataError, "trials must be a column name or an integer >= 1"),
        (lambda d: d, {"noise": "binomial"}, LawError, "needs trials="),
        (lambda d: d, {"noise": "betabinomial"}, LawError, "needs trials="),
        (lambda d: d, {"noise": "beta", "trials": 50}, LawError, "cannot use trials="),
        (lambda d: d, {"noise": "lognormal"}, LawError, "takes noise='betabinomial' or 'binomial'"),
    ],
)
def test_sigmoid_inputs_are_validated(change, kwargs, error, match):
    with pytest.raises(error, match=match):
        bs.fit(change(accuracies()), law="sigmoid", x="flops", y="acc", **kwargs)


def test_trials_only_for_the_sigmoid():
    with pytest.raises(LawError, match="trials= applies to the sigmoid law only"):
        bs.fit(accuracies().assign(acc=lambda d: d.acc + 0.01), law="power", x="flops", y="acc", trials=50)


def test_sigmoid_fit_saves_reloads_and_plots(large_and_small, tmp_path):
    _, small = large_and_small
    path = tmp_path / "sigmoid.nc"
    small.save(path)
    again = bs.load(path)
    assert again.config.options == small.config.options
    pd.testing.assert_frame_equal(again.predict([1e22, 1e24]), small.predict([1e22, 1e24]))
    fig = small.plot(at=[1e25])
    assert fig.axes[0].get_yscale() == "linear"


def test_pure_binomial_is_narrower_than_beta_binomial_and_flags_emergence(large_and_small):
    big, _ = large_and_small
    pure = bs.fit(accuracies(seed=None), law="sigmoid", x="flops", y="acc", trials=1000, noise="binomial", seed=1,
                  **SAMPLING)
    assert pure.config.options["likelihood"] == "binomial" and "kappa" not in pure.summary().index
    a, b = pure.predict([1e23]).iloc[0], big.predict([1e23]).iloc[0]
    assert a["upper"] - a["lower"] <= b["upper"] - b["lower"] + 1e-9
    flags = pure.flags(at=[1e26])
    assert "irreducible_floor" not in set(flags["code"])  # a sigmoid has a ceiling, not a floor
    regime = flags[flags["code"] == "regime"].iloc[0]
    assert "emergence" in regime["message"]


def test_prior_predictive_is_on_the_accuracy_scale(large_and_small):
    big, small = large_and_small
    for fit in (big, small):
        check = fit.prior_predictive(draws=200)
        assert ((check["lower"] >= 0) & (check["upper"] <= 1)).all()
        assert check["inside"].mean() > 0.8  # weakly informative: the priors alone reach the data
