"""Regime labels, break risk, law disagreement and floor flags: each fires on its case, not on a clean one."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import expit

import bayescale as bs
from bayescale.core.config import FitConfig
from bayescale.data.curves import prepare
from bayescale.laws.formulas import smoothly_broken_power_law
from bayescale.results.flags import (
    break_flags,
    break_probability,
    disagreement_flags,
    floor_table,
    regime_table,
)

X = np.logspace(2, 8, 20)


class CurveStub:
    """An object with the fit interface regime_table reads: data, config, curve_draws (true curve x noise)."""

    def __init__(self, law, y_of_x, noise=0.01, x=X):
        self.data = prepare(pd.DataFrame({"x": x, "y": y_of_x(x)}), x="x", y="y", law="power", noise="normal")
        self.config = FitConfig(law=law, x="x", y="y")
        self._curve = y_of_x
        self._noise = noise

    def curve_draws(self, x, group, *, seed=None):
        rng = np.random.default_rng(0)
        scale = np.exp(self._noise * rng.standard_normal((400, 1)))
        return self._curve(np.asarray(x, dtype=float))[None, :] * scale


REGIME_CASES = {
    "scaling": lambda x: 5 * x**-0.3,
    "plateau": lambda x: 1 + 100 * x**-0.5,
    "cold start": lambda x: smoothly_broken_power_law(x, 0.0, 50.0, 0.0, [0.5], [1e5], [0.3]),
    "emergence": lambda x: 0.02 + 0.8 * expit(2.0 * (np.log(x) - np.log(3e7))),
    "emergence ": lambda x: 0.02 + 0.8 * expit(2.0 * (np.log(x) - np.log(1e5))),  # jumped, then saturated
    "slow scaling": lambda x: 3 * x**-0.01,
}


@pytest.mark.parametrize("regime", list(REGIME_CASES))
def test_regime_with_the_highest_probability_is_right(regime):
    table = regime_table(CurveStub("power", REGIME_CASES[regime]))
    row = table.iloc[0]
    assert row["regime"] == regime.strip() and row["probability"] > 0.9
    probs = row[[c for c in table.columns if c.startswith("p_")]]
    np.testing.assert_allclose(probs.sum(), 1.0)


def stub_broken(log_break, alpha, x=X):
    """A broken-law fit stand-in with a given break posterior (user-x scale of breaks)."""
    fit = CurveStub("broken", lambda v: v**-0.3, x=x)
    n = len(log_break)
    fit.posterior = xr.Dataset({
        "log_break": (("chain", "draw", "break"), np.asarray(log_break, dtype=float).reshape(1, n, 1)),
        "alpha": (("chain", "draw", "segment"), np.asarray(alpha, dtype=float).reshape(1, n, 2)),
    })
    fit.config = FitConfig(law="broken", x="x", y="y")
    return fit


def test_break_risk_fires_when_breaks_sit_between_the_data_and_the_target():
    n = 1000
    rng = np.random.default_rng(1)
    u_max = np.log(X.max() / np.exp(np.mean(np.log(X))))
    # 60% of draws: a real slope change just past the data; 40%: inside the data
    beyond = rng.random(n) < 0.6
    log_break = np.where(beyond, u_max + 0.5, u_max - 3.0)
    alpha = np.column_stack([np.full(n, 0.3), np.full(n, 0.05)])
    risky = stub_broken(log_break, alpha)
    p = break_probability(risky, [1e9, 1e12])
    np.testing.assert_allclose(p, beyond.mean())
    rows = break_flags(risky, [1e12])
    assert len(rows) == 1 and rows[0]["code"] == "break_risk" and rows[0]["severity"] == "warning"
    # the same breaks with no change of slope, or all inside the data: quiet
    flat_alpha = np.column_stack([np.full(n, 0.3), np.full(n, 0.31)])
    assert break_flags(stub_broken(log_break, flat_alpha), [1e12]) == []
    assert break_flags(stub_broken(np.full(n, u_max - 3.0), alpha), [1e12]) == []
    # a target inside the data has no room for a break beyond it
    np.testing.assert_allclose(break_probability(risky, [1e5]), 0.0)


class StackStub:
    """A stacked-fit stand-in whose per-law predictions are given."""

    def __init__(self, medians, width=1.0):
        self.weights = pd.Series({k: 1 / len(medians) for k in medians})
        self.config = FitConfig(law="power", x="x", y="y")
        self._medians, self._width = medians, width

    def predict(self, at, prob=0.9, by_law=False):
        rows = [{"law": "stacked", "group": "all", "x": at[0], "median": np.mean(list(self._medians.values())),
                 "lower": 0.0, "upper": self._width}]
        rows += [{"law": k, "group": "all", "x": at[0], "median": m, "lower": m - 0.1, "upper": m + 0.1}
                 for k, m in self._medians.items()]
        return pd.DataFrame(rows)


def test_law_disagreement_fires_only_when_the_laws_part_ways():
    rows = disagreement_flags(StackStub({"power": 0.2, "broken": 0.9}), [1e12])
    assert len(rows) == 1 and rows[0]["code"] == "law_disagreement"
    np.testing.assert_allclose(rows[0]["value"], 0.7)
    assert disagreement_flags(StackStub({"power": 0.45, "broken": 0.55}), [1e12]) == []


@pytest.fixture(scope="module")
def near_floor_fit():
    """A loss that is already close to its floor E = 2 at the end of the data."""
    rng = np.random.default_rng(3)
    x = np.logspace(6, 10, 15)
    y = (2.0 + 50 * x**-0.35) * np.exp(0.005 * rng.standard_normal(x.size))
    return bs.fit(pd.DataFrame({"x": x, "y": y}), x="x", y="y", seed=3, draws=300, tune=300, chains=2,
                  progress=False, cores=1)


def test_floor_is_an_output_and_near_floor_fires_far_out(near_floor_fit):
    table = floor_table(near_floor_fit, at=[1e7, 1e14])
    assert (table["floor_lower"] < 2.0).all() and (table["floor_upper"] > 2.0).all()
    near, far = table.iloc[0], table.iloc[1]
    assert near["distance_median"] > far["distance_median"] > 0
    flags = near_floor_fit.flags(at=[1e7, 1e14])
    assert "irreducible_floor" in set(flags["code"])
    assert set(flags.loc[flags["x"] == 1e14, "code"]) >= {"near_floor"}
    assert set(flags.loc[flags["x"] == 1e7, "code"]) == {"distance_to_floor"}


def test_regime_from_the_posterior_of_a_real_fit(near_floor_fit):
    table = regime_table(near_floor_fit)
    assert table.iloc[0]["regime"] == "plateau"
    flags = near_floor_fit.flags()
    regime = flags[flags["code"] == "regime"].iloc[0]
    assert regime["severity"] == "warning" and "plateau" in regime["message"]
