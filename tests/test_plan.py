"""fit.plan: preposterior ranking of candidate runs per unit cost, the greedy batch, errors, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.errors import DataError
from bayescale.laws.chinchilla import chinchilla_loss


@pytest.fixture(scope="module")
def power_fit(fast_sampling):
    rng = np.random.default_rng(3)
    # a dense stretch from 1e6 to 1e7 (16 points) and a sparse one to 1e8 (4 points)
    x = np.r_[np.geomspace(1e6, 1e7, 16), np.geomspace(2e7, 1e8, 4)]
    y = 1.6 + 60 * x**-0.28 * np.exp(0.01 * rng.standard_normal(len(x)))
    return bs.fit(pd.DataFrame({"params": x, "loss": y}), x="params", y="loss", seed=5, **fast_sampling)


def test_a_run_in_a_dense_stretch_gains_less_than_one_beyond_it(power_fit):
    cands = pd.DataFrame({"params": [3e6, 3e8], "cost": [1.0, 1.0]})
    table = power_fit.plan(at=1e10, candidates=cands, budget=2.0, sims=64, draws=400)
    assert table.attrs["cost_unit"] == "user cost"
    inside, beyond = table["reduction"]
    assert beyond > inside and beyond > 0
    assert (table["expected_width"] <= table["width_now"] * 1.02).all()
    assert table.loc[1, "order"] == 1  # the beyond run is bought first


def test_default_grid_costs_flops_and_the_batch_fits_the_budget(power_fit):
    table = power_fit.plan(at=1e10, budget=1e20, sims=32, draws=300)
    assert {"x", "cost", "expected_width", "reduction_per_cost", "order", "batch_width", "ess", "method"} <= set(
        table.columns)
    assert table["cost"].max() <= 1e20 and table.attrs["batch_cost"] <= 1e20
    assert np.isclose(table.loc[0, "cost"], 6 * table.loc[0, "x"] * 20 * table.loc[0, "x"])
    assert table.attrs["batch_width"] < table.attrs["width_now"]
    chosen = table[table["order"] > 0].sort_values("order")
    assert chosen["batch_width"].is_monotonic_decreasing and chosen["cumulative_cost"].is_monotonic_increasing


def test_zero_budget_or_a_candidate_over_the_budget_is_refused(power_fit):
    with pytest.raises(DataError, match="budget must be a positive"):
        power_fit.plan(at=1e10, budget=0)
    with pytest.raises(DataError, match=r"cost more than the budget 1e\+15"):
        power_fit.plan(at=1e10, candidates=[1e9], budget=1e15)
    with pytest.raises(DataError, match="exactly one quantity"):
        power_fit.plan(budget=1e20)


def test_a_target_below_the_floor_says_no_run_reaches_it(power_fit):
    with pytest.raises(DataError, match="no run reaches loss = 1"):  # on the posterior alone: the floor holds
        power_fit.plan(reach=1.0, budget=1e20, discrepancy=False)
    table = power_fit.plan(reach=1.75, budget=1e20, sims=32, draws=300)
    assert table.attrs["unit"] == "decades of params" and table["reduction"].max() > 0


def test_a_plan_is_bitwise_reproducible_with_its_seed(power_fit):
    a = power_fit.plan(at=1e10, budget=1e20, sims=32, draws=300, seed=11)
    b = power_fit.plan(at=1e10, budget=1e20, sims=32, draws=300, seed=11)
    c = power_fit.plan(at=1e10, budget=1e20, sims=32, draws=300, seed=12)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs
    assert not np.array_equal(a["expected_width"], c["expected_width"])


def test_extending_a_training_curve_pays_only_for_the_stretch_beyond(power_fit):
    table = power_fit.plan(at=1e10, axis="curve", budget=1e9, sims=32, draws=300)
    last = 1e8
    assert np.allclose(table["x"], last * 2.0 ** np.arange(1, len(table) + 1))
    assert np.allclose(table["cost"], table["x"] - last)
    chosen = table[table["order"] > 0].sort_values("order")
    assert chosen["cumulative_cost"].iloc[-1] == pytest.approx(chosen["x"].max() - last)


def test_refits_use_the_compiled_model_and_agree_with_reweighting(power_fit):
    from bayescale.fitting.compiled import cache_info
    from bayescale.workflows.plan import compare_methods

    before = cache_info()["misses"]
    out = compare_methods(power_fit, at=1e10, candidates=[3e8], budget=1e20, refits=3, draws=300)
    assert cache_info()["misses"] == before  # no new compile
    assert len(out) == 3 and np.all(np.isfinite(out["ratio"]))
    assert 0.5 < out.attrs["median_ratio"] < 2.0


def test_chinchilla_plans_isoflop_pairs_for_the_allocation(fast_sampling):
    rng = np.random.default_rng(0)
    compute = np.repeat(np.geomspace(1e18, 1e20, 4), 6)
    n = np.sqrt(compute / 6 / np.tile(np.geomspace(5, 80, 6), 4))
    d = compute / (6 * n)
    loss = chinchilla_loss(n, d, 1.8, 400.0, 1200.0, 0.34, 0.37) * np.exp(0.005 * rng.standard_normal(len(n)))
    fit = bs.fit(pd.DataFrame({"params": n, "tokens": d, "loss": loss}), law="chinchilla",
                 x=["params", "tokens"], y="loss", seed=2, **fast_sampling)
    table = fit.plan(compute=1e23, budget=1e21, sims=32, draws=300, max_scale=5e9)
    assert {"params", "tokens", "compute", "tokens_per_param"} <= set(table.columns)
    assert np.allclose(table["cost"], 6 * table["params"] * table["tokens"])
    assert table["params"].max() <= 5e9 and table.attrs["unit"] == "decades of params"
    assert table.attrs["batch_width"] < table.attrs["width_now"]
