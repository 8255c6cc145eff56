"""The learned drift prior: learning it, leaving data sets out, shipping it, and using it by default."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.cli import main
from bayescale.errors import DataError
from bayescale.laws import discrepancy as disc
from bayescale.laws.drift_prior import DriftPrior, drift_table, load_drift_prior
from bayescale.results.intervals import interval_columns


def _curve(seed: int = 0, n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 8, n)
    return pd.DataFrame({"n": x, "loss": 1.7 + 40 * x**-0.3 * np.exp(rng.normal(0, 0.01, n))})


@pytest.fixture(scope="module")
def fits():
    df = _curve()
    options = {"x": "n", "y": "loss", "seed": 3, "draws": 200, "tune": 200, "chains": 2, "progress": False}
    return bs.fit(df, **options), bs.fit(df, discrepancy=False, **options)


def simulated_errors(rng, *, mu=-3.0, tau=0.5, kappa=0.3, sets=6, curves=12) -> pd.DataFrame:
    """Forecast errors with a known drift: s_j = exp(mu + tau u_k + kappa eta_j) per curve j of set k."""
    rows = []
    for k in range(sets):
        u = rng.standard_normal()
        for j in range(curves):
            s = np.exp(mu + tau * u + kappa * rng.standard_normal())
            d = np.linspace(0.1, 1.5, 8)
            var = np.full(8, 0.01**2)
            rows.append(pd.DataFrame({"dataset": f"set{k}", "curve": f"set{k}:{j}", "metric": "loss", "law": "power",
                                      "d": d, "var": var, "err": rng.normal(0, np.sqrt(var + (s * d) ** 2))}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.slow
def test_learn_drift_recovers_the_population():
    from bayescale.workflows.drift.learn import learn_drift

    errors = simulated_errors(np.random.default_rng(11))
    prior = learn_drift(errors, draws=300, tune=300, seed=1)
    mu = np.asarray(prior.data["draws"]["mu"])
    kappa = np.asarray(prior.data["draws"]["kappa"])
    assert np.quantile(mu, 0.05) < -3.0 < np.quantile(mu, 0.95)
    assert np.quantile(kappa, 0.05) < 0.3 < np.quantile(kappa, 0.95)
    assert prior.data["settings"]["max_r_hat"] < 1.02
    assert sorted(prior.data["datasets"]) == [f"set{k}" for k in range(6)]


def test_leave_one_out_never_lets_a_data_set_see_itself(monkeypatch):
    from bayescale.workflows.drift import learn

    seen = {}

    def fake(errors, **options):
        names = sorted(errors["dataset"].unique())
        seen[tuple(names)] = True
        return DriftPrior({"datasets": {n: {} for n in names}})

    monkeypatch.setattr(learn, "learn_drift", fake)
    errors = simulated_errors(np.random.default_rng(0), sets=3, curves=2)
    priors = learn.leave_one_out(errors)
    assert sorted(priors) == ["set0", "set1", "set2"]
    for name, prior in priors.items():
        assert name not in prior.data["datasets"]
        assert len(prior.data["datasets"]) == 2


def test_the_shipped_prior_reads_and_says_where_it_comes_from():
    prior = load_drift_prior()
    assert prior.source == "shipped" and prior.data["version"] == 1
    names = {row["dataset"] for row in prior.data["provenance"]}
    assert {"olmo_ladder", "gadre", "porian", "gemstones", "lcdb", "chinchilla"} <= names
    assert all(row["citation"] for row in prior.data["provenance"])
    table = drift_table(prior)
    assert set(table["scale"]) == {"log", "logit"}
    assert (table["s_lower"] < table["s_median"]).all() and (table["s_median"] < table["s_upper"]).all()
    s = prior.s_draws("loss", "power", 5000, np.random.default_rng(0))
    assert (s > 0).all() and (s <= disc.S_MAX).all()


@pytest.mark.parametrize("content, message", [
    (None, "cannot be read"),
    ("{not json", "is not valid JSON"),
    (json.dumps({"format": "something-else"}), "is not a bayescale drift prior"),
    (json.dumps({"format": "bayescale-drift-prior", "version": 99}), "is a drift prior of version 99"),
])
def test_a_missing_corrupt_or_foreign_drift_file_is_one_line_and_exit_2(tmp_path, capsys, content, message):
    path = tmp_path / "prior.json"
    if content is not None:
        path.write_text(content)
    assert main(["drift-prior", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: drift prior file {str(path)!r}") and message in err[0]


def test_fit_refuses_a_bad_drift_prior_before_sampling(tmp_path, capsys):
    data = tmp_path / "d.csv"
    _curve().to_csv(data, index=False)
    assert main(["fit", str(data), "--x", "n", "--y", "loss", "--drift-prior", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "drift prior file" in err[0] and "cannot be read" in err[0]


def test_no_discrepancy_is_the_posterior_alone_bitwise(fits):
    default, plain = fits
    xs = [1e7, 1e9, 1e10]
    alone = plain.predict(xs)
    # the same frame as quantiles of the predictive draws, with no drift code path in between
    draws = plain.predictive_draws(np.asarray(xs, float), "all")
    expected = pd.DataFrame({"group": "all", "n": xs, **interval_columns(draws, 0.9), "prob": 0.9})
    pd.testing.assert_frame_equal(alone.drop(columns="decades_beyond"), expected)
    pd.testing.assert_frame_equal(default.predict(xs, discrepancy=False), alone)
    assert plain.drift_prior is None and plain.config.drift == {}


def test_the_default_widens_beyond_the_data_only(fits):
    default, _ = fits
    with_prior = default.predict([1e7, 1e10])
    alone = default.predict([1e7, 1e10], discrepancy=False)
    inside, far = 0, 1
    assert with_prior.loc[inside, ["lower", "upper"]].equals(alone.loc[inside, ["lower", "upper"]])
    width = with_prior["upper"] - with_prior["lower"]
    assert width[far] > 1.2 * (alone["upper"] - alone["lower"])[far]
    assert "drift prior" in default.discrepancy_text()
    # reproducible with the fit's seed
    pd.testing.assert_frame_equal(default.predict([1e10]), default.predict([1e10]))


def test_a_saved_fit_keeps_its_drift_prior(fits, tmp_path):
    default, _ = fits
    default.save(tmp_path / "f.nc")
    again = bs.load(tmp_path / "f.nc")
    assert again.drift_prior.identity() == default.drift_prior.identity()
    pd.testing.assert_frame_equal(again.predict([1e10]), default.predict([1e10]))


def test_bounded_metrics_drift_on_the_logit_scale_and_stay_in_bounds():
    rng = np.random.default_rng(0)
    draws = np.full((4000, 2), 0.3)
    out = disc.widen(draws, [0.0, 2.0], 1.0, rng, link="logit")
    assert (out[:, 0] == 0.3).all()
    assert ((out[:, 1] > 0) & (out[:, 1] < 1)).all() and out[:, 1].std() > 0.1
    assert disc.link_name("error") == "logit" and disc.link_name(None) == "log"


def test_a_held_out_value_changes_no_forecast():
    df = _curve(seed=4, n=16)
    changed = df.copy()
    changed.loc[changed.index[-1], "loss"] *= 1.5  # a held-out point (beyond the 60% split)
    options = {"x": "n", "y": "loss", "law": "power", "draws": 100, "tune": 100, "baselines": False,
               "workers": 1, "progress": False, "seed": 2}
    a = bs.backtest(df, **options).points
    b = bs.backtest(changed, **options).points
    keep = ["method", "x", "median", "lower90", "upper90"]
    pd.testing.assert_frame_equal(a[keep], b[keep])
    assert {"bayescale", "bayescale+prior"} <= set(a["method"])


def test_check_corpus_names_the_bad_rows():
    from bayescale.workflows.drift.corpus import check_corpus

    good = pd.DataFrame({"dataset": "a", "curve": "c", "axis": "tokens", "metric": "loss", "x": [1.0, 2.0],
                         "y": [3.0, 2.0]})
    check_corpus(good)
    with pytest.raises(DataError, match=r"missing column\(s\) \['metric'\]"):
        check_corpus(good.drop(columns="metric"))
    with pytest.raises(DataError, match=r"column 'axis' must be one of .*rows \[1\] hold \['seconds'\]"):
        check_corpus(good.assign(axis=["tokens", "seconds"]))
    with pytest.raises(DataError, match=r"column 'y' must be a finite number > 0; rows \[0\]"):
        check_corpus(good.assign(y=[-1.0, 2.0]))
    with pytest.raises(DataError, match=r"rows \[0\] are errors or accuracies"):
        check_corpus(good.assign(metric="error", y=[1.5, 0.5]))
