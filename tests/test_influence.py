"""One wild point: warned before sampling when it lies decades away in x, refused when it would
overflow, and named after the fit (``influential_points``) when the fit rests on it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.data.curves import isolated_points, prepare
from bayescale.errors import DataError, DataWarning
from bayescale.laws.simulate import power_law_data


def _curve(n=15, seed=3, start=0):
    df = power_law_data(n=n, x_range=(1e6, 1e9), seed=seed)
    df.index = range(start, start + n)  # the user's row labels, not positions
    return df


def _isolation_warnings(df, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepare(df, x="params", y="loss", **kwargs)
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


# ---------------------------------------------------------------------------- before sampling
def test_a_point_decades_away_is_warned_naming_its_row_and_x():
    df = _curve(start=100)
    df.loc[114, "params"] = 1e30
    assert _isolation_warnings(df) == [
        "row 114 (params=1e+30) lies 21.2 decades of 'params' away from the other points (1e+06 to 6.11e+08): "
        "a typo or a unit error? Such a point decides the fit alone; check it, or drop it explicitly"
    ]


def test_x_of_1e308_warns_with_its_row_then_is_refused_before_sampling():
    df = _curve()
    df.loc[14, "params"] = 1e308
    with pytest.warns(DataWarning, match=r"^row 14 \(params=1e\+308\) lies 299\.2 decades"), \
            pytest.raises(DataError) as err:
        bs.fit(df, x="params", y="loss", draws=10, tune=10, chains=1, progress=False)
    assert str(err.value) == (
        "column 'params' holds 1e+308 in row 14; values beyond 1e+300 overflow when plotted or extrapolated: "
        "rescale the column (e.g. to billions) or correct the row")


def test_two_isolated_points_below_are_named_together_and_groups_are_checked_apart():
    df = _curve()
    df.loc[[0, 1], "params"] = [1e-3, 2e-3]
    assert len(msgs := _isolation_warnings(df)) == 1
    assert msgs[0].startswith("row 0 (params=0.001), row 1 (params=0.002) lie 9.1 decades")
    # the same x values are unremarkable in a group that spans them
    wide = _curve().assign(group="a")
    far = wide.copy().assign(group="b", params=np.geomspace(1e-3, 1e12, 15))
    both = pd.concat([wide, far], ignore_index=True)
    assert _isolation_warnings(both, group="group") == []
    both.loc[29, "params"] = 1e40  # the last point of group b, 29 decades beyond its others
    assert len(msgs := _isolation_warnings(both, group="group")) == 1
    assert msgs[0].startswith("row 29 (params=1e+40) lies 29.1 decades") and "of group 'b'" in msgs[0]


@pytest.mark.parametrize("xs", [
    np.geomspace(1e2, 1e12, 12),                      # evenly spread over ten decades
    np.r_[np.geomspace(1e6, 1e9, 10), 5e11],          # 2.7 decades beyond: not more than 3
    np.r_[np.geomspace(1e6, 1e11, 10), 1e15],         # 4 decades beyond, but the rest spans 5
    np.r_[np.geomspace(1e6, 1e7, 3), np.geomspace(1e12, 1e13, 3)],  # two clusters of three
])
def test_regular_designs_are_not_isolated(xs):
    assert isolated_points(xs, np.zeros(xs.size, dtype=int)) == []


# ---------------------------------------------------------------------------- after the fit
@pytest.fixture(scope="module")
def outlier_fit(fast_sampling):
    df = _curve(start=100)
    df.loc[107, "loss"] *= 3  # one gross outlier in y, mid-curve
    return bs.fit(df, x="params", y="loss", seed=1, **fast_sampling)


@pytest.mark.slow
def test_a_gross_outlier_in_y_is_named_by_influential_points(outlier_fit, tmp_path):
    flags = outlier_fit.flags()
    rows = flags[flags.code == "influential_points"]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row.severity == "warning" and row.value > 1.0
    y = outlier_fit.data.frame.loc[107, "loss"]
    assert f"1 point(s) with Pareto k > 0.7, the worst above 1: row 107 (params=3.16e+07, loss={y:.4g}): k=" \
        in row.message
    outlier_fit.save(tmp_path / "fit.nc")  # the user's row labels survive saving
    again = bs.load(tmp_path / "fit.nc").flags()
    assert again[again.code == "influential_points"].message.tolist() == [row.message]


@pytest.mark.slow
def test_flags_asked_again_at_other_scales_reuse_the_leave_one_out_of_the_first_call(outlier_fit, monkeypatch):
    from bayescale.results import loo

    first = outlier_fit.flags(at=[1e10])
    calls = []
    monkeypatch.setattr(loo, "loo_on_y", lambda fit: calls.append(fit))  # would break the flags if it ran
    again = outlier_fit.flags(at=[1e10])
    pd.testing.assert_frame_equal(again, first)
    other = outlier_fit.flags(at=[1e12])
    assert calls == []
    assert other[other.code == "influential_points"].message.tolist() == \
        first[first.code == "influential_points"].message.tolist()
    assert other[other.code == "extrapolation"].x.tolist() == [1e12]


@pytest.mark.slow
def test_influential_points_reach_the_stacked_flags_and_the_report(outlier_fit):
    from bayescale.reports import render_report
    from bayescale.results.stacked import StackedFit

    stacked = StackedFit({"power": outlier_fit}).flags()
    rows = stacked[stacked.code == "influential_points"]
    assert len(rows) == 1 and rows.iloc[0].message.startswith("power law: 1 point(s) with Pareto k > 0.7")
    html = render_report(outlier_fit)
    assert "influential_points" in html and "row 107 (params=3.16e+07" in html


@pytest.mark.slow
def test_a_clean_curve_raises_no_influential_warning(fast_sampling):
    # the end points of a clean 15-point curve reach k 0.7 to 0.9 (an info row at most); the
    # outlier above reaches 1.5
    fit = bs.fit(_curve(seed=4), x="params", y="loss", seed=1, **fast_sampling)
    flags = fit.flags()
    rows = flags[flags.code == "influential_points"]
    assert (rows.severity == "info").all() and (rows.value <= 1.0).all(), rows.message.tolist()


def _fake_fit(data, k, monkeypatch, **config):
    """A fit whose PSIS-LOO gives Pareto ``k``: the flag's wording without sampling."""
    from types import SimpleNamespace

    from bayescale.results import loo

    monkeypatch.setattr(loo, "loo_on_y", lambda fit: SimpleNamespace(pareto_k=np.asarray(k)))
    return SimpleNamespace(idata=SimpleNamespace(children={"log_likelihood": None}), data=data,
                           config=SimpleNamespace(**config))


def test_influential_points_names_both_inputs_of_a_chinchilla_fit(monkeypatch):
    from bayescale.laws.chinchilla import prepare_chinchilla
    from bayescale.results.flags import influential_flags

    df = bs.datasets.load("chinchilla").iloc[:12].copy()
    df.index += 500
    k = np.zeros(12)
    k[[3, 7]] = [0.8, 1.4]
    fit = _fake_fit(prepare_chinchilla(df, x=["params", "tokens"], y="loss"), k, monkeypatch,
                    law="chinchilla", noise="studentt", group=None)
    (row,) = influential_flags(fit)
    a, b = df.iloc[7], df.iloc[3]
    assert (row["severity"], row["value"], row["group"]) == ("warning", 1.4, None)
    assert row["message"] == (
        f"2 point(s) with Pareto k > 0.7, the worst above 1: row 507 (params={a.params:.3g}, "
        f"tokens={a.tokens:.3g}, loss={a.loss:.4g}): k=1.40; row 503 (params={b.params:.3g}, "
        f"tokens={b.tokens:.3g}, loss={b.loss:.4g}): k=0.80; the fit rests on them: check them for a typo, "
        "a unit error or a run from another setup")


def test_influential_points_is_one_row_per_group_and_info_up_to_k_1(monkeypatch):
    from bayescale.results.flags import influential_flags

    df = pd.concat([_curve().assign(group="a"), _curve(seed=5).assign(group="b")], ignore_index=True)
    k = np.zeros(30)
    k[[16, 29]] = [0.75, 0.9]  # both in group b
    fit = _fake_fit(prepare(df, x="params", y="loss", group="group"), k, monkeypatch,
                    law="power", noise="lognormal", group="group")
    (row,) = influential_flags(fit)
    assert (row["severity"], row["group"], row["value"]) == ("info", "b", 0.9)
    assert row["message"].startswith("2 point(s) with Pareto k between 0.7 and 1: row 29 (params=1e+09, ")
    assert "; row 16 (params=1.64e+06, " in row["message"]
    k[16] = 1.2
    (row,) = influential_flags(fit)
    assert row["severity"] == "warning"
    assert row["message"].endswith("(or refit with noise='studentt', robust to outliers)")
