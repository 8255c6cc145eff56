"""Calibrated Chinchilla extrapolation: the discrepancy learned by forward chaining over compute."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import binom

import bayescale as bs
from bayescale.cli import main
from bayescale.core.config import FitConfig
from bayescale.errors import DataError, LawError, SpecError
from bayescale.fitting.chinchilla_drift import learn
from bayescale.laws.chinchilla import chinchilla_loss, prepare_chinchilla
from bayescale.results import chinchilla_drift
from bayescale.results.chinchilla import ChinchillaFit

SAMPLING = {"draws": 200, "tune": 300, "chains": 2, "progress": False, "cores": 1}
TRUE = (1.7, 400.0, 2000.0, 0.34, 0.28)  # E, A, B, alpha, beta
KINK = 0.03  # log loss per decade of compute beyond 10^19.5: the slope drifts there


def simulate_drift(kink: float = KINK, seed: int = 0, sigma: float = 0.004, start: float = 19.5) -> pd.DataFrame:
    """IsoFLOP runs at budgets 1e18..1e22 (quarter-decade steps, 2.5..160 tokens per parameter) whose log
    loss drifts from the Chinchilla law by ``kink`` per decade of compute beyond ``10**start``."""
    rng = np.random.default_rng(seed)
    compute = np.repeat(10.0 ** np.arange(18.0, 22.01, 0.25), 7)
    ratio = np.tile([2.5, 5, 10, 20, 40, 80, 160], 17)
    params = np.sqrt(compute / (6 * ratio))
    tokens = ratio * params
    drift = kink * np.maximum(np.log10(compute) - start, 0.0)
    loss = chinchilla_loss(params, tokens, *TRUE) * np.exp(drift + sigma * rng.standard_normal(len(compute)))
    return pd.DataFrame({"params": params, "tokens": tokens, "compute": compute, "loss": loss})


@pytest.fixture(scope="module")
def drift_fit():
    """Fitted on the runs up to 1e20 FLOP, with the discrepancy learned; the held-out runs beyond."""
    df = simulate_drift()
    train, test = df[df["compute"] <= 1e20], df[df["compute"] > 1e20]
    fit = bs.fit(train, law="chinchilla", x=["params", "tokens"], y="loss", seed=5, discrepancy=True, **SAMPLING)
    return fit, test


def coverage(table: pd.DataFrame, y: np.ndarray) -> int:
    return int(np.sum((y >= table["lower"].to_numpy()) & (y <= table["upper"].to_numpy())))


@pytest.mark.slow
def test_learned_discrepancy_covers_a_drifting_slope_where_the_plain_fit_does_not(drift_fit):
    fit, test = drift_fit
    points = {"params": test["params"], "tokens": test["tokens"]}
    y = test["loss"].to_numpy()
    n = len(y)
    lo, hi = binom.ppf(0.005, n, 0.9), binom.ppf(0.995, n, 0.9)  # 99% band of the count inside a 90% interval
    plain_table = fit.predict(points, prob=0.9, discrepancy=False)
    table = fit.predict(points, prob=0.9, discrepancy=True)
    plain, calibrated = coverage(plain_table, y), coverage(table, y)
    assert plain < lo, (plain, n)
    # Not over-confident. The upper side of the band is not asserted: under one deterministic kink
    # the final fit, which saw half a decade of it, extrapolates better than the forward-chaining
    # refits that learned s, so the intervals may cover every run (5 seeds: 50 to 56 of 56).
    assert lo <= calibrated <= n, (calibrated, lo, hi, n)
    width = np.log(table["upper"] / table["lower"]) / np.log(plain_table["upper"] / plain_table["lower"])
    assert np.median(width) < 5  # honest, not merely wide (about 3.2 here)
    # the log loss drifts by KINK per decade, and the in-sample errors see most of it
    s = chinchilla_drift.summary(fit).iloc[0]
    assert s["distance"] == "compute"
    assert 0.3 * KINK < s["s"] < 1.5 * KINK, s.to_dict()


@pytest.mark.slow
def test_learned_scale_survives_save_and_load(drift_fit, tmp_path):
    fit, test = drift_fit
    path = tmp_path / "fit.nc"
    fit.save(path)
    loaded = bs.load(path)
    assert loaded.calibrated
    pd.testing.assert_frame_equal(chinchilla_drift.summary(loaded), chinchilla_drift.summary(fit))
    points = {"params": test["params"][:3], "tokens": test["tokens"][:3]}
    pd.testing.assert_frame_equal(loaded.predict(points, discrepancy=True), fit.predict(points, discrepancy=True))
    # the CLI serves the learned discrepancy from the saved file, and its report says which one widened the tables
    report = tmp_path / "report.html"
    assert main(["predict", str(path), "--at", "1e22", "--discrepancy", "--reach", "2.0", "--plain",
                 "--report", str(report)]) == 0
    html = report.read_text(encoding="utf-8")
    assert "Model discrepancy beyond the data: the s this fit learned by forward chaining" in html
    assert "The bands leave out the model discrepancy; the tables include it." in html


@pytest.mark.slow
def test_discrepancy_widens_budgets_and_reach_only_beyond_the_data(drift_fit):
    fit, _ = drift_fit
    plain = fit.predict(compute=[1e19, 1e22], discrepancy=False)
    wide = fit.predict(compute=[1e19, 1e22], discrepancy=True)
    width = (wide["upper"] / wide["lower"]) / (plain["upper"] / plain["lower"])
    assert width[0] == pytest.approx(1.0)  # inside the fitted compute: unchanged
    assert width[1] > 1.05
    target = float(fit.predict(compute=[1e21], kind="mean")["median"].iloc[0])
    r0, r1 = fit.reach([target], discrepancy=False).iloc[0], fit.reach([target], discrepancy=True).iloc[0]
    assert r1["upper"] / r1["lower"] > r0["upper"] / r0["lower"]


@pytest.mark.slow
def test_audit_judges_a_far_loss_claim_on_the_learned_discrepancy(drift_fit):
    fit, test = drift_fit
    # a held-out run at 1e22 FLOP (two decades beyond the fitted compute), 20 tokens per parameter
    far = test[(test["compute"] == 1e22) & np.isclose(test["tokens"], 20 * test["params"])].iloc[0]
    claim = {"data": {"dataset": "chinchilla"},
             "model": {"law": "chinchilla", "x": ["params", "tokens"], "y": "loss", "discrepancy": True},
             "claim": {"prob": 0.9, "predictions": [{"params": float(far["params"]), "tokens": float(far["tokens"]),
                                                     "value": float(far["loss"])}]}}
    plain_tree = fit.idata.copy()
    del plain_tree[chinchilla_drift.GROUP]
    plain_fit = ChinchillaFit(plain_tree, fit.data, fit.config)
    plain = bs.audit({**claim, "model": {**claim["model"], "discrepancy": False}}, fit=plain_fit, data=fit.data.frame)
    calibrated = bs.audit(claim, fit=fit, data=fit.data.frame)
    assert "calibrated" not in set(plain.flags["code"])
    (note,) = calibrated.flags[calibrated.flags["code"] == "calibrated"].itertuples()
    assert note.item == "(fit)" and "per decade of compute" in note.message
    row_plain, row_cal = plain.items.iloc[0], calibrated.items.iloc[0]
    width = np.log(row_cal["posterior_upper"] / row_cal["posterior_lower"])
    assert width > 2 * np.log(row_plain["posterior_upper"] / row_plain["posterior_lower"])
    # the run's loss drifted above the law: outside the plain 90% interval, inside the calibrated one,
    # so the claim of that loss is supported only on the calibrated posterior
    assert row_plain["posterior_upper"] < far["loss"] and row_plain["verdict"] != "supported"
    assert row_cal["posterior_lower"] <= far["loss"] <= row_cal["posterior_upper"]
    assert row_cal["verdict"] == "supported"


# ---------------------------------------------------------------------------- bad input, no sampling
@pytest.fixture
def unlearned_fit():
    """A ChinchillaFit with a made-up posterior (no sampling) and no learned discrepancy."""
    df = simulate_drift()
    data = prepare_chinchilla(df, x=["params", "tokens"], y="loss")
    rng = np.random.default_rng(0)
    shape = (1, 20)
    post = xr.Dataset({name: (("chain", "draw"), value + 0.001 * rng.standard_normal(shape)) for name, value in
                       {"log_E": np.log(1.7 / data.y_scale), "log_A": -2.0, "log_B": -2.0, "alpha": 0.34,
                        "beta": 0.28, "sigma": 0.004, "nu": 10.0}.items()})
    config = FitConfig(law="chinchilla", x=["params", "tokens"], y="loss", noise="studentt", draws=20, chains=1,
                       seed=1).validate()
    return ChinchillaFit(xr.DataTree.from_dict({"posterior": post}), data, config)


def test_discrepancy_on_a_fit_that_learned_none_is_one_line(unlearned_fit):
    assert not unlearned_fit.calibrated
    with pytest.raises(DataError, match=r"^this chinchilla fit has no learned discrepancy; fit with "
                                        r"discrepancy=True or call bayescale.fitting.chinchilla_drift.learn\(fit\)$"):
        unlearned_fit.predict({"params": [1e10], "tokens": [2e11]}, discrepancy=True)
    with pytest.raises(DataError, match="no learned discrepancy"):
        unlearned_fit.reach([2.0], discrepancy=True)
    # a given scale needs nothing learned; a bad one is refused
    assert len(unlearned_fit.predict({"params": [1e10], "tokens": [2e11]}, discrepancy=0.02)) == 1
    with pytest.raises(DataError, match="discrepancy s must be finite and >= 0"):
        unlearned_fit.predict({"params": [1e10], "tokens": [2e11]}, discrepancy=-1.0)


def test_bad_learning_options_are_refused_before_sampling(unlearned_fit):
    with pytest.raises(DataError, match=r"^discrepancy distance must be one of \('compute', 'axes'\), got 'flops'$"):
        learn(unlearned_fit, distance="flops")
    with pytest.raises(DataError, match="cuts must be fractions strictly between 0 and 1"):
        learn(unlearned_fit, cuts=[0.5, 1.2])
    with pytest.raises(DataError, match=r"cut 0.05 refits 6 of 119 runs; it needs at least 10"):
        learn(unlearned_fit, cuts=[0.05])
    assert not unlearned_fit.calibrated  # nothing was stored
    # too few runs for the default cuts: refused by bayescale.fit before the main fit samples
    with pytest.raises(DataError, match=r"^discrepancy cut 0.5 refits 8 of 15 runs; it needs at least 10"):
        bs.fit(simulate_drift().head(15), law="chinchilla", x=["params", "tokens"], y="loss", discrepancy=True)
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 0.5]})
    # the registry says which laws learn s at fit time: one-input laws and stacks are refused
    with pytest.raises(LawError, match="discrepancy=True at fit time applies to the chinchilla law, not 'power'"):
        bs.fit(frame, law="power", x="x", y="y", discrepancy=True)
    with pytest.raises(LawError, match=r"applies to the chinchilla law, not \['power', 'broken'\]"):
        bs.fit(frame, law=["power", "broken"], x="x", y="y", discrepancy=True)
    with pytest.raises(LawError, match=r"^discrepancy= at fit time is None \(the drift prior\), False \(the posterior "
                                       r"alone\) or True \(learn s by refits\), got 0.02"):
        bs.fit(simulate_drift(), law="chinchilla", x=["params", "tokens"], y="loss", discrepancy=0.02)


def test_cli_discrepancy_without_a_scale(unlearned_fit, tmp_path, capsys):
    path = tmp_path / "plain.nc"
    unlearned_fit.save(path)
    assert main(["predict", str(path), "--at", "1e22", "--discrepancy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: this chinchilla fit has no learned discrepancy") and len(err.splitlines()) == 1
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"params": [1e8, 1e9, 1e10], "loss": [3.0, 2.5, 2.2]}).to_csv(csv, index=False)
    assert main(["fit", str(csv), "--x", "params", "--y", "loss", "--discrepancy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --discrepancy without S uses the s a chinchilla fit learns"), err
    assert len(err.splitlines()) == 1


def test_audit_judges_loss_claims_on_the_calibrated_posterior(unlearned_fit):
    from types import SimpleNamespace

    from bayescale.workflows.audit.chinchilla_items import item_draws

    item = SimpleNamespace(kind="prediction", compute=None, params=1e11, tokens=2e12, name="loss")
    plain = item_draws(unlearned_fit, item)
    assert chinchilla_drift.audit_note(unlearned_fit) == []
    # errors that say s is about 0.05 per decade (no sampling: stored as learn() stores them)
    d = np.tile([0.5, 1.0, 1.5], 40)
    errors = pd.DataFrame({"cut": 0.5, "n_fit": 50, "d": d, "var": 1e-6,
                           "err": 0.05 * d * np.random.default_rng(1).standard_normal(d.size)})
    chinchilla_drift.store(unlearned_fit, errors, "compute")
    assert unlearned_fit.calibrated
    wide = item_draws(unlearned_fit, item)
    spread = np.log(np.quantile(wide, 0.95) / np.quantile(wide, 0.05))
    assert spread > 5 * np.log(np.quantile(plain, 0.95) / np.quantile(plain, 0.05))
    (note,) = chinchilla_drift.audit_note(unlearned_fit)
    assert note["code"] == "calibrated" and "per decade of compute" in note["message"]
    assert 0.035 < note["value"] < 0.065


def test_claims_and_specs_ask_for_the_learned_discrepancy_in_model(tmp_path):
    from bayescale.io.spec import load_spec
    from bayescale.workflows.audit.claims import parse_claim

    claim = {"data": {"dataset": "chinchilla"}, "claim": {"parameters": {"alpha": 0.34}},
             "model": {"law": "chinchilla", "x": ["params", "tokens"], "y": "loss", "discrepancy": True}}
    assert parse_claim(claim).model["discrepancy"] is True
    with pytest.raises(SpecError, match=r"model.discrepancy = true applies to the chinchilla law, not 'power'"):
        parse_claim({**claim, "model": {"x": "params", "y": "loss", "discrepancy": True}})
    with pytest.raises(SpecError, match=r"model.discrepancy must be true \(learn s by refits\) or false, got 0.02"):
        parse_claim({**claim, "model": {**claim["model"], "discrepancy": 0.02}})
    spec = tmp_path / "study.toml"
    spec.write_text('[data]\ndataset = "chinchilla"\n[model]\nlaw = "chinchilla"\nx = ["params", "tokens"]\n'
                    'y = "loss"\ndiscrepancy = true\n[predict]\nat = [1e22]\ndiscrepancy = 0.02\n')
    loaded = load_spec(spec)  # a given s for chinchilla predictions is no longer refused
    assert loaded.fit_kwargs()["discrepancy"] is True and loaded.predict["discrepancy"] == 0.02
    spec.write_text('[data]\ndataset = "chinchilla"\n[model]\nlaw = "sigmoid"\nx = "params"\ny = "loss"\n'
                    'discrepancy = true\n')
    with pytest.raises(SpecError, match=r"study.toml: model.discrepancy = true applies to the chinchilla law"):
        load_spec(spec)
