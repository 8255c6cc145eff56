"""Does the drift prior swamp a clean law? Coverage two decades out on curves that follow the law exactly.

Simulates ``--curves`` 20-point curves of the saturating power law over two decades (1e6 to 1e8) with 1%
log-normal noise and no drift: exponent ~ U(0.1, 0.6), the floor a share U(0.2, 0.8) of the curve's
value at the smallest x (seeded), fits each with ``bs.fit`` defaults (500 draws x 2 chains), and scores
where a new observation two decades beyond the data (x = 1e10) falls: inside the 90% (and 50%, 80%,
95%) predictive interval with the default drift prior, and with ``discrepancy=False``.
The drift issue's goal: at most 0.97 at nominal 0.90 with the default.

    .venv/bin/python benchmarks/drift_clean_laws.py --curves 40
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd


def main(argv=None) -> int:
    import bayescale as bs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    x = np.geomspace(1e6, 1e8, 20)
    far = 1e10
    rows = []
    start = time.perf_counter()
    for i in range(args.curves):
        alpha = rng.uniform(0.1, 0.6)
        first = 3.0  # the curve's value at the smallest x
        share = rng.uniform(0.2, 0.8)
        floor, a = share * first, (1 - share) * first * x[0] ** alpha
        y = (floor + a * x**-alpha) * np.exp(rng.normal(0, 0.01, len(x)))
        y_far = (floor + a * far**-alpha) * np.exp(rng.normal(0, 0.01))
        fit = bs.fit(pd.DataFrame({"n": x, "loss": y}), x="n", y="loss", seed=i, draws=500, tune=500, chains=2,
                     progress=False)
        for label, disc in (("default (drift prior)", None), ("posterior alone", False)):
            row = {"curve": i, "method": label}
            for level in (0.5, 0.8, 0.9, 0.95):
                p = fit.predict([far], prob=level, discrepancy=disc).iloc[0]
                row[f"cov{int(level * 100)}"] = float(p["lower"] <= y_far <= p["upper"])
                if level == 0.9:
                    row["width90"] = float(np.log(p["upper"] / p["lower"]))
            rows.append(row)
    table = pd.DataFrame(rows).groupby("method")[["cov50", "cov80", "cov90", "cov95", "width90"]].mean()
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"{args.curves} curves, wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
