"""Cost of the drift prior in a default fit: fit, predict and reach with the prior against discrepancy=False.

    .venv/bin/python benchmarks/drift_cost.py     # medians of 8 repeats each, a 20-point power law
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd


def median_time(call, n: int = 8) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> int:
    import bayescale as bs
    from bayescale.laws.drift_prior import load_drift_prior

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    x = np.logspace(6, 8, 20)
    df = pd.DataFrame({"n": x, "loss": 1.7 + 40 * x**-0.3 * np.exp(rng.normal(0, 0.01, 20))})
    kw = {"x": "n", "y": "loss", "seed": 1, "progress": False}
    bs.fit(df, **kw)
    bs.fit(df, discrepancy=False, **kw)  # both compiled and warm before timing
    with_prior = median_time(lambda: bs.fit(df, **kw))
    alone = median_time(lambda: bs.fit(df, discrepancy=False, **kw))
    fit = bs.fit(df, **kw)
    rows = [("fit", with_prior, alone),
            ("predict", median_time(lambda: fit.predict([1e9, 1e10])),
             median_time(lambda: fit.predict([1e9, 1e10], discrepancy=False))),
            ("reach", median_time(lambda: fit.reach(1.8)), median_time(lambda: fit.reach(1.8, discrepancy=False)))]
    for name, a, b in rows:
        print(f"{name:8s} drift prior {a:.4f} s, posterior alone {b:.4f} s, ratio {a / b:.2f}")
    print(f"loading the shipped prior: {median_time(load_drift_prior):.4f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
