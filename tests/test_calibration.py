"""Predictive intervals at larger, held-out scales cover the truth about as often as they claim."""

import numpy as np
import pytest

import bayescale as bs
from bayescale.simulate import power_law_data

pytestmark = pytest.mark.slow


def test_90_percent_intervals_cover_held_out_larger_scales(fast_sampling):
    rng = np.random.default_rng(2026)
    hits = []
    for i in range(20):
        alpha = rng.uniform(0.15, 0.5)
        offset = 10 ** rng.uniform(1.5, 3.0)
        floor = rng.uniform(1.0, 2.5)
        sigma = 0.03
        train = power_law_data(offsets=(offset,), exponents=alpha, floor=floor, sigma=sigma, n=12,
                               x_range=(1e6, 1e8), seed=i)
        held_out_x = np.array([3e8, 1e9])
        truth = (floor + offset * held_out_x**-alpha) * np.exp(rng.normal(0, sigma, 2))
        fit = bs.fit(train, x="params", y="loss", seed=i, **(fast_sampling | {"draws": 250}))
        pred = fit.predict(held_out_x, prob=0.9)
        hits += list((pred["lower"] <= truth) & (truth <= pred["upper"]))
    coverage = float(np.mean(hits))
    assert 0.75 <= coverage <= 1.0, coverage
