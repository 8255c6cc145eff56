"""Stacking across law forms: weights, the mixture predictive, candidates, LOO on one scale."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import LawError, SamplingWarning
from bayescale.fitting.stacking import auto_laws, candidate_laws
from bayescale.laws.formulas import smoothly_broken_power_law
from bayescale.results.loo import log_jacobian
from bayescale.results.stacked import StackedFit

SAMPLING = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}
FAR = 1e12


def truth(x):
    return smoothly_broken_power_law(np.asarray(x, dtype=float), 1.0, 300.0, 0.05, [0.4], [1e8], [0.3])


@pytest.fixture(scope="module")
def stacked():
    rng = np.random.default_rng(0)
    x = np.logspace(6, 10, 24)
    df = pd.DataFrame({"x": x, "y": truth(x) * np.exp(0.02 * rng.standard_normal(x.size))})
    with warnings.catch_warnings():  # a point or two with Pareto k > 0.7 is expected at 300 draws
        warnings.simplefilter("ignore", SamplingWarning)
        return bs.fit(df, law=["power", "broken"], x="x", y="y", seed=5, **SAMPLING)


def test_stacking_puts_the_weight_on_the_generating_law(stacked):
    assert isinstance(stacked, StackedFit)
    assert stacked.weights["broken"] > 0.9
    np.testing.assert_allclose(stacked.weights.sum(), 1.0)
    table = stacked.summary()
    assert table.index[0] == "broken" and table.loc["power", "elpd_diff"] < -10
    assert {"elpd", "p_loo", "weight", "max_pareto_k"} <= set(table.columns)


def test_stacked_interval_covers_a_broken_truth_that_the_power_law_misses(stacked):
    pred = stacked.predict([FAR], by_law=True, discrepancy=False).set_index("law")  # the posterior alone
    true = truth([FAR])[0]
    power, mix = pred.loc["power"], pred.loc["stacked"]
    assert not power["lower"] <= true <= power["upper"]  # a straight line averages both slopes: wrong
    assert mix["lower"] <= true <= mix["upper"]
    assert set(pred.index) == {"stacked", "power", "broken"} and pred["decades_beyond"].eq(2.0).all()
    # a discrepancy widens every block beyond the data, and by the same recipe as a single law
    wide = stacked.predict([1e9, FAR], by_law=True, discrepancy=0.1).set_index("law")
    plain = stacked.predict([1e9, FAR], by_law=True, discrepancy=False).set_index("law")
    inside, far = wide["decades_beyond"].eq(0), wide["decades_beyond"].eq(2)
    pd.testing.assert_frame_equal(wide[inside], plain[inside])
    log_sd = {name: np.log(t[far]["upper"] / t[far]["lower"]) / (2 * 1.6449) for name, t in (("wide", wide),
                                                                                              ("plain", plain))}
    np.testing.assert_allclose(log_sd["wide"], np.hypot(log_sd["plain"], 0.1 * 2), rtol=0.15)


def test_mixture_draws_follow_the_weights():
    mix = StackedFit.__new__(StackedFit)
    mix.weights = pd.Series({"low": 0.3, "high": 0.7})
    mix.seed = 0
    draws = mix._mixture({"low": np.zeros((4000, 2)), "high": np.ones((4000, 2))}, seed=None)
    assert draws.shape == (4000, 2)
    assert abs(draws[:, 0].mean() - 0.7) < 0.03
    np.testing.assert_array_equal(draws[:, 0], draws[:, 1])  # whole curves are drawn, not points


def test_pareto_k_problems_are_warned(stacked, monkeypatch):
    import bayescale.results.stacked as stacked_module

    monkeypatch.setattr(stacked_module, "PARETO_K_LIMIT", -1.0)
    with pytest.warns(SamplingWarning, match="Pareto k above -1.0"):
        StackedFit(stacked.fits)


def test_log_likelihoods_are_put_on_the_density_of_y(stacked):
    power = stacked.fits["power"]
    np.testing.assert_allclose(log_jacobian(power), -np.log(power.data.y))


def test_candidates_for_auto_and_lists():
    loss = pd.DataFrame({"x": [1.0, 10, 100], "y": [3.0, 2.0, 1.5]})
    acc = pd.DataFrame({"x": np.logspace(8, 11, 6), "y": [0.1, 0.15, 0.2, 0.4, 0.7, 0.8]})
    assert candidate_laws(loss, "auto", x="x", y="y") == ["power", "broken"]
    assert candidate_laws(acc, "auto", x="x", y="y") == ["sigmoid"]
    assert candidate_laws(loss, "auto", x="x", y="y", trials="n") == ["sigmoid"]
    with pytest.raises(LawError, match="each candidate law may appear once"):
        candidate_laws(loss, ["power", "power"], x="x", y="y")
    with pytest.raises(LawError, match="cannot be stacked"):
        candidate_laws(loss, ["power", "chinchilla"], x="x", y="y")
    with pytest.raises(LawError, match="only the sigmoid law models counts"):
        candidate_laws(loss, ["power", "sigmoid"], x="x", y="y", trials="n")
    with pytest.raises(LawError, match="non-empty list"):
        candidate_laws(loss, [], x="x", y="y")


def test_auto_reads_a_fraction_as_an_accuracy_only_when_it_clearly_rises():
    # an OPT BIG-bench error rate over 6 checkpoints: up by chance at the end, not an accuracy
    noisy = pd.DataFrame({"x": np.linspace(8e9, 4.8e10, 6), "y": [0.451, 0.439, 0.447, 0.43, 0.455, 0.462]})
    laws, why = auto_laws(noisy, x="x", y="y")
    assert laws == ["power", "broken"]
    assert why == ("'y' is a fraction in [0, 1] that does not clearly rise with scale (Spearman rho 0.49 with 'x', "
                   "one-sided p 0.164 >= 0.05): read as an error falling with scale, the power and broken power laws")
    rising = noisy.assign(y=[0.40, 0.43, 0.42, 0.47, 0.52, 0.55])
    assert auto_laws(rising, x="x", y="y") == (["sigmoid"], (
        "'y' is a fraction in [0, 1] rising with scale (Spearman rho 0.94 with 'x', one-sided p 0.0024): an "
        "accuracy, the sigmoid law (if it is an error rate, say so: measure='error')"))
    assert auto_laws(noisy, x="x", y="y", trials=100)[0] == ["sigmoid"]
    assert auto_laws(noisy.assign(y=noisy["y"] * 10), x="x", y="y")[1].startswith("'y' is not a fraction in [0, 1]")


def test_a_stated_measure_decides_the_candidates_of_auto():
    rising_error = pd.DataFrame({"x": np.linspace(8e9, 4.8e10, 6), "y": [0.40, 0.43, 0.42, 0.47, 0.52, 0.55]})
    # an error that rises well above its first value also gets the turning law (inverse scaling)
    laws, why = auto_laws(rising_error, x="x", y="y", measure="error")
    assert laws == ["power", "broken", "turning"]
    assert why.startswith("measure='error' (stated): 'y' read as an error that falls with scale, the power and broken "
                          "power laws; and the turning law: the data rise above an earlier minimum by ")
    falling = rising_error.assign(y=rising_error["y"].to_numpy()[::-1])
    assert candidate_laws(falling, "auto", x="x", y="y", measure="loss") == ["power", "broken"]
    assert auto_laws(falling, x="x", y="y", measure="accuracy") == (["sigmoid"], (
        "measure='accuracy' (stated): 'y' read as an accuracy that rises with scale, the sigmoid law"))
    assert auto_laws(falling, x="x", y="y", measure="accuracy", trials=100)[0] == ["sigmoid"]
    with pytest.raises(LawError, match=r"^measure must be one of 'loss', 'error', 'accuracy', got 'errors'$"):
        auto_laws(falling, x="x", y="y", measure="errors")
    with pytest.raises(LawError, match=r"^trials= makes y correct counts, an accuracy; measure='error' contradicts"):
        candidate_laws(falling, "auto", x="x", y="y", measure="error", trials="n")
    # named laws take a measure they can model (the drift prior's covariate), and refuse one they cannot
    assert candidate_laws(falling, ["power", "broken"], x="x", y="y", measure="error") == ["power", "broken"]
    named = r"^measure='accuracy' does not fit the %s law"
    with pytest.raises(LawError, match=named % "power"):
        candidate_laws(falling, ["power", "broken"], x="x", y="y", measure="accuracy")
    with pytest.raises(LawError, match=named % "power"):  # refused before any sampling
        bs.fit(falling, law="power", x="x", y="y", measure="accuracy")


def test_auto_says_how_it_chose_in_an_info_flag(stacked):
    flags = StackedFit(stacked.fits, choice="'y' is not a fraction in [0, 1]").flags()
    row = flags[flags["code"] == "auto_laws"]
    assert row["severity"].tolist() == ["info"]
    assert row["message"].tolist() == ["law='auto' chose its candidates: 'y' is not a fraction in [0, 1]"]
    assert "auto_laws" not in stacked.flags()["code"].tolist()


def test_auto_leaves_out_laws_the_data_cannot_support():
    x = np.logspace(6, 9, 6)  # 6 points: enough for the power law (5), not the broken law (7)
    df = pd.DataFrame({"x": x, "y": (1.5 + 300 * x**-0.3) * np.exp(0.01 * np.random.default_rng(1).normal(size=6))})
    with pytest.warns(bs.errors.DataWarning, match=r"law 'broken' left out of law='auto': 6 points are fewer than "
                                                   r"the 7 needed for the broken law") as record:
        fit = bs.fit(df, law="auto", x="x", y="y", seed=2, **SAMPLING)
    assert list(fit.fits) == ["power"] and fit.weights["power"] == 1.0
    assert not [w for w in record if issubclass(w.category, SamplingWarning)]  # one law: no weights to distrust
    assert set(fit.dropped) == {"broken"}
    with pytest.raises(bs.errors.TooFewPoints, match="6 points are fewer than the 7 needed for the broken law"):
        bs.fit(df, law=["power", "broken"], x="x", y="y", seed=2, **SAMPLING)  # named laws: as asked or not at all
    with pytest.raises(bs.errors.TooFewPoints, match="3 points are fewer than the 5 needed for the power law"):
        bs.fit(df.head(3), law="auto", x="x", y="y", seed=2, **SAMPLING)


def test_stacked_fit_plots_and_flags(stacked):
    fig = stacked.plot(at=[FAR])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any(label.startswith("break (broken law, weight") for label in labels)
    assert fig.axes[0].get_title().startswith("stacked laws (power 0.0")
    flags = stacked.flags(at=[FAR])
    assert {"regime", "extrapolation", "irreducible_floor"} <= set(flags["code"])
    regime = flags[flags["code"] == "regime"].iloc[0]
    assert "cold start" in regime["message"]


def test_stacked_fit_saves_each_law_and_rebuilds(stacked, tmp_path):
    paths = stacked.save(tmp_path / "stack.nc")
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["stack.power.nc", "stack.broken.nc"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        again = StackedFit({name: bs.load(p) for name, p in zip(stacked.fits, paths, strict=True)})
    pd.testing.assert_series_equal(again.weights, stacked.weights)
    pd.testing.assert_frame_equal(again.predict([FAR]), stacked.predict([FAR]))


@pytest.mark.parametrize("command", ["fit", "backtest"])
def test_cli_passes_measure_on(command, tmp_path, monkeypatch, capsys):
    import bayescale.workflows.backtest as backtest_module
    from bayescale.cli import main

    asked = {}

    def record(df, **kwargs):
        asked.update(kwargs)
        raise LawError("stopped before sampling")

    monkeypatch.setattr(bs, "fit", record)
    monkeypatch.setattr(backtest_module, "backtest", record)
    path = tmp_path / "runs.csv"
    pd.DataFrame({"n": np.logspace(6, 9, 8), "error": np.linspace(0.4, 0.5, 8)}).to_csv(path, index=False)
    law = ["--law", "auto"] if command == "fit" else []  # the backtest's default law is auto
    code = main([command, str(path), "--x", "n", "--y", "error", *law, "--measure", "error", "--quiet"])
    assert code == 2 and "error: stopped before sampling" in capsys.readouterr().err
    assert (asked["law"], asked["measure"]) == ("auto", "error")
