"""The smoothly broken power law: pure function, recovery of a break, a clean curve, options."""

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import LawError
from bayescale.laws.formulas import log_broken_reducible, smoothly_broken_power_law

SAMPLING = {"draws": 300, "tune": 300, "chains": 2, "progress": False, "cores": 1}
TRUE_BREAK = 1e8


def broken_frame(seed=0, n=15):
    """Two groups (offsets 300 and 600) sharing a break at 1e8: exponent 0.05 before, 0.45 after."""
    rng = np.random.default_rng(seed)
    x = np.logspace(6, 10, n)
    rows = []
    for name, b in (("a", 300.0), ("b", 600.0)):
        y = smoothly_broken_power_law(x, 0.0, b, 0.05, [0.4], [TRUE_BREAK], [0.3])
        rows.append(pd.DataFrame({"x": x, "y": y * np.exp(0.02 * rng.standard_normal(n)), "source": name}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def with_break():
    return bs.fit(broken_frame(), law="broken", x="x", y="y", group="source", seed=3, **SAMPLING)


@pytest.fixture(scope="module")
def clean():
    rng = np.random.default_rng(1)
    x = np.logspace(6, 10, 20)
    y = 0.5 + 300 * x**-0.3 * np.exp(0.02 * rng.standard_normal(x.size))
    return bs.fit(pd.DataFrame({"x": x, "y": y}), law="broken", x="x", y="y", seed=4, **SAMPLING)


def test_bnsl_form_equals_the_anchored_form_used_in_the_model():
    x = np.logspace(5, 11, 50)
    a, b, c0, c, d, f = 0.7, 200.0, 0.1, [0.3, -0.2], [1e7, 1e9], [0.4, 0.8]
    direct = smoothly_broken_power_law(x, a, b, c0, c, d, f)
    x_ref = 1e8
    u = np.log(x / x_ref)
    exponents = [c0, c0 + c[0], c0 + c[0] + c[1]]
    breaks = [np.log(di / x_ref) for di in d]
    # value of the reducible part at x_ref fixes log A
    log_a = np.log(smoothly_broken_power_law(np.array([x_ref]), 0.0, b, c0, c, d, f))[0]
    anchored = a + np.exp(log_broken_reducible(u, log_a, exponents, breaks, f, lambda z: np.logaddexp(0, z)))
    np.testing.assert_allclose(anchored, direct, rtol=1e-10)
    # far past both breaks the local exponent is the last segment's
    slope = -np.diff(np.log(direct - a))[-5:] / np.diff(np.log(x))[-5:]
    np.testing.assert_allclose(slope, exponents[-1], atol=0.01)


def test_one_break_samples_the_dirichlets_first_share_as_a_beta_with_the_same_density(monkeypatch):
    # the model's gradient through PyMC's simplex transform cost about twice as much per evaluation; its
    # coordinate for two parts is half the Beta's log-odds, so the densities differ by log 2 exactly
    import pytensor.tensor as pt

    from bayescale.laws import broken

    config, data = broken.prepare(broken_frame().query("source == 'a'"), x="x", y="y")
    beta = broken.build_model(data, config)
    assert "break_fraction" in beta.named_vars and beta["break_position"] in beta.deterministics
    with monkeypatch.context() as m:
        m.setattr(broken, "_break_shares", lambda prior, k: pt.cumsum(prior.create_variable("break_position"))[:k])
        dirichlet = broken.build_model(data, config)
    assert dirichlet["break_position"] in dirichlet.free_RVs
    new, old = beta.compile_logp(), dirichlet.compile_logp()
    rng = np.random.default_rng(0)
    start = dirichlet.initial_point()
    for _ in range(5):
        point = {name: value + rng.normal(0, 0.5, size=np.shape(value)) for name, value in start.items()}
        y = point.pop("break_position_simplex__")[0]
        np.testing.assert_allclose(new({**point, "break_fraction_logodds__": 2 * y}), old(point | {
            "break_position_simplex__": np.array([y])}) - np.log(2), rtol=0, atol=1e-6)
    config2, data2 = broken.prepare(broken_frame(), x="x", y="y", group="source", breaks=2)
    two = broken.build_model(data2, config2)
    assert two["break_position"] in two.free_RVs  # three segments stay a Dirichlet


def test_break_posterior_covers_the_true_break_without_divergences(with_break):
    d = with_break.diagnostics()
    assert d["divergences"] == 0 and d["max_r_hat"] < 1.05
    table = with_break.breaks()
    assert list(table["break"]) == ["break_1"]
    row = table.iloc[0]
    assert row["lower"] < TRUE_BREAK < row["upper"]
    assert row["decades"] < 1.0  # located to within a decade
    assert row["exponent_before"] < 0.15 and 0.3 < row["exponent_after"] < 0.6
    assert row["prob_slope_change"] > 0.95 and row["inside_data"] > 0.95


def test_groups_pool_offsets_and_predict_follows_the_post_break_slope(with_break):
    summary = with_break.summary()
    assert "log_A_sigma" in summary.index and "alpha[segment_1]" in summary.index
    pred = with_break.predict([1e9, 1e10], kind="mean").set_index("group")
    # offsets 300 vs 600: group b sits about twice as high
    ratio = pred.loc["b", "median"].to_numpy() / pred.loc["a", "median"].to_numpy()
    np.testing.assert_allclose(ratio, 2.0, rtol=0.1)
    truth = smoothly_broken_power_law(np.array([1e9, 1e10]), 0.0, 300.0, 0.05, [0.4], [TRUE_BREAK], [0.3])
    a = pred.loc["a"]
    assert ((a["lower"] < truth * 1.05) & (a["upper"] > truth * 0.95)).all()


def test_clean_curve_samples_without_divergences_and_predicts(clean):
    assert clean.diagnostics()["divergences"] == 0
    pred = clean.predict([1e11], kind="mean").iloc[0]
    truth = 0.5 + 300 * 1e11**-0.3
    assert pred["lower"] < truth < pred["upper"]
    # no break in the data: the two exponents agree within their uncertainty
    table = clean.breaks()
    assert abs(table["exponent_before"].iloc[0] - table["exponent_after"].iloc[0]) < 0.15


def test_broken_fit_saves_and_reloads(with_break, tmp_path):
    path = tmp_path / "broken.nc"
    with_break.save(path)
    again = bs.load(path)
    assert again.config.law == "broken"
    pd.testing.assert_frame_equal(again.breaks(), with_break.breaks())


def test_broken_law_options_are_checked():
    df = broken_frame()
    with pytest.raises(LawError, match="breaks must be 1 or 2"):
        bs.fit(df, law="broken", x="x", y="y", breaks=3)
    with pytest.raises(LawError, match="breaks= applies to the broken law only"):
        bs.fit(df, law="power", x="x", y="y", breaks=2)
    with pytest.raises(LawError, match="shares its exponents across groups"):
        bs.fit(df, law="broken", x="x", y="y", group="source", slopes="varying")


def test_breaks_table_needs_a_broken_fit(clean):
    from bayescale.laws.broken import break_table

    class Other:
        config = type("C", (), {"law": "power"})()

    with pytest.raises(LawError, match="needs a fit of the broken or turning law"):
        break_table(Other())


def test_plot_marks_the_break_posterior(with_break):
    fig = with_break.plot(at=[1e11])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "break, 90% interval" in labels and "break, median" in labels and "extrapolation" in labels


def test_two_breaks_are_ordered_and_inside_the_window():
    import pymc as pm

    from bayescale.core.config import FitConfig
    from bayescale.data.curves import prepare
    from bayescale.fitting.single import build_model
    from bayescale.laws.broken import break_window
    from bayescale.laws.priors import priors_to_dict

    df = broken_frame()
    config = FitConfig(law="broken", x="x", y="y", options={"breaks": 2})
    data = prepare(df, x="x", y="y", law="broken")
    from bayescale.laws.broken import default_priors

    config.priors = priors_to_dict(default_priors(data, config))
    with build_model(data, config) as model:
        prior = pm.sample_prior_predictive(draws=300, random_seed=0)
    assert model.coords["break"] == ("break_1", "break_2")
    breaks = prior["prior"]["log_break"].values.reshape(-1, 2)
    lo, hi = break_window(data)
    assert (np.diff(breaks, axis=1) > 0).all() and (breaks > lo).all() and (breaks < hi).all()
    width = prior["prior"]["width"].values.ravel()
    span = np.log(data.x.max() / data.x.min())
    assert width.min() >= 0.02 * span * 0.999 and width.max() <= 0.5 * span * 1.001
