"""Predictive intervals at larger, held-out scales cover the truth about as often as they claim.

The 20 curves go through ``fit_many``, which reuses one compiled model; its fits equal
``bayescale.fit``'s within Monte Carlo error (tests/test_batch.py).
"""

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.laws.simulate import power_law_data

pytestmark = pytest.mark.slow
HELD_OUT = [3e8, 1e9]


def test_90_percent_intervals_cover_held_out_larger_scales():
    rng = np.random.default_rng(2026)
    curves, truth = [], []
    for i in range(20):
        alpha, offset, floor, sigma = rng.uniform(0.15, 0.5), 10 ** rng.uniform(1.5, 3.0), rng.uniform(1.0, 2.5), 0.03
        train = power_law_data(offsets=(offset,), exponents=alpha, floor=floor, sigma=sigma, n=12,
                               x_range=(1e6, 1e8), seed=i)
        curves.append(train.assign(curve=f"c{i:02d}"))
        held = (floor + offset * np.array(HELD_OUT) ** -alpha) * np.exp(rng.normal(0, sigma, 2))
        truth += [{"curve": f"c{i:02d}", "params": xv, "truth": t} for xv, t in zip(HELD_OUT, held, strict=True)]
    result = bs.fit_many(pd.concat(curves, ignore_index=True), by="curve", x="params", y="loss", at=HELD_OUT,
                         draws=300, tune=400, chains=2, seed=1, workers=1, progress=False)
    assert result.failed.empty
    scored = result.predictions.merge(pd.DataFrame(truth), on=["curve", "params"], validate="one_to_one")
    assert len(scored) == 40
    coverage = float(((scored["lower"] <= scored["truth"]) & (scored["truth"] <= scored["upper"])).mean())
    assert 0.75 <= coverage <= 1.0, coverage
