"""Experiment (not a bayescale feature): why the broken law needs ~32 leapfrog steps per draw.

On the 4 ``bench_breaks`` curves (30 points, a break at 1e8, the floor far below the data) the
floor E is the hard direction: log E and the second segment's exponent lie on a tight curved
ridge, with the break position, sharpness and log A moving along. This script samples the
broken law's default model in four sets of coordinates with nutpie, the same posterior in each
except the last:

- ``plain``: the package's coordinates (log E, log alpha_1, ...);
- ``top``: log E = t + log R(u_max), E anchored at the reducible part at the largest x;
- ``straight``: as ``top``, and log alpha_1 = m + softplus(t), which straightens the ridge
  where the top segment's exponent dominates the local slope;
- ``fixed_floor``: log E fixed at ``plain``'s posterior mean, a bound on what any change of
  coordinates for E could gain (not the same posterior).

The changes of variables have unit Jacobian (triangular, ones on the diagonal), so the priors
of E and alpha_1 enter as potentials at the derived values and the posterior is unchanged.
Printed per curve and coordinates: seconds of nutpie's sampling, leapfrog steps over the
kept draws, divergences, min bulk ESS per draw, and the posterior of log E and alpha_1 (the
first three sets must agree).

Measured on 2026-12-02 (stop 28), this script: leapfrog steps 127.5-132.9k (plain), 128.4-142.0k
(top), 133.8-164.8k (straight), 61.5-78.3k (fixed floor); min ESS per draw 0.10-0.13, 0.09-0.15,
0.07-0.13 and 0.13-0.34; no divergences.

Run: ``./dev python benchmarks/experiment_broken_floor.py [--draws 1000]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_breaks import broken_data  # noqa: E402

VARIANTS = ("plain", "top", "straight", "fixed_floor")


def build(data, config, variant: str, fixed_log_floor: float | None = None):
    import pymc as pm
    import pytensor.tensor as pt

    from bayescale.laws import broken
    from bayescale.laws.formulas import log_broken_reducible
    from bayescale.laws.model import _shared_prior, observe
    from bayescale.laws.priors import priors_from_dict

    priors = priors_from_dict(config.priors)
    floor_prior, alpha_sigma = priors["log_E"].parameters, priors["alpha"].parameters["sigma"]
    lo, hi = broken.break_window(data)
    coords = {"obs": np.arange(len(data.y)), "segment": ["segment_0", "segment_1"], "break": ["break_1"]}
    with pm.Model(coords=coords) as model:
        pr = {n: _shared_prior(n, p) for n, p in priors.items() if n not in ("log_E", "alpha")}
        u = pm.Data("log_x", np.log(data.x / data.x_ref), dims="obs")
        position = pr["break_position"].create_variable("break_position")
        log_break = lo + (hi - lo) * pt.cumsum(position)[0]
        share = pr["sharpness"].create_variable("sharpness")[0]
        width = (hi - lo) / (1 + 2 * broken.MARGIN) * (broken.SHARP_MIN + (broken.SHARP_MAX - broken.SHARP_MIN) * share)
        log_a = pr["log_A_mu"].create_variable("log_A_mu")
        a0 = pm.HalfNormal("alpha_0", alpha_sigma)
        if variant == "straight":
            gap = pm.Flat("floor_gap", initval=-2.0)
            log_a1 = pm.Flat("top_slope", initval=-1.0) + pt.softplus(gap)
            a1 = pt.exp(log_a1)
            pm.Potential("alpha_1_prior", pm.logp(pm.HalfNormal.dist(alpha_sigma), a1) + log_a1)
        else:
            a1 = pm.HalfNormal("alpha_1", alpha_sigma)
        pm.Deterministic("alpha", pt.stack([a0, a1]), dims="segment")

        def log_reducible(at):
            return log_broken_reducible(at, log_a, [a0, a1], [log_break], [width], pt.softplus)

        if variant == "plain":
            log_e = pm.Normal("log_E", floor_prior["mu"], floor_prior["sigma"])
        elif variant == "fixed_floor":
            log_e = pm.Deterministic("log_E", pt.as_tensor(float(fixed_log_floor)))
        else:
            if variant == "top":
                gap = pm.Flat("floor_gap", initval=-2.0)
            log_e = pm.Deterministic("log_E", gap + log_reducible(pt.max(u)))
            pm.Potential("log_E_prior", pm.logp(pm.Normal.dist(floor_prior["mu"], floor_prior["sigma"]), log_e))
        observe(pt.exp(log_e) + pt.exp(log_reducible(u)), data.y / data.y_scale, config.noise, pr)
    return model


def main() -> None:
    import arviz_stats as azs
    import nutpie
    import pandas as pd

    from bayescale.laws import broken

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for seed in range(4):
        config, data = broken.prepare(broken_data(seed), x="x", y="y", draws=args.draws, tune=args.draws, chains=4)
        fixed = None
        for variant in VARIANTS:
            compiled = nutpie.compile_pymc_model(build(data, config, variant, fixed))
            start = time.perf_counter()
            trace = nutpie.sample(compiled, draws=args.draws, tune=args.draws, chains=4, seed=11, progress_bar=False,
                                  target_accept=0.99, low_rank_modified_mass_matrix=True)
            seconds = time.perf_counter() - start
            post, stats = trace.posterior.to_dataset(), trace.sample_stats
            names = ["log_A_mu", "alpha", "break_position", "sharpness", "sigma"]
            ess = azs.ess(post[names + ([] if variant == "fixed_floor" else ["log_E"])])
            if variant == "plain":
                fixed = float(post["log_E"].mean())
            rows.append({"curve": seed, "coordinates": variant, "seconds": seconds,
                         "leapfrog_steps": int(stats["n_steps"].sum()), "divergences": int(stats["diverging"].sum()),
                         "ess_per_draw": min(float(ess[v].min()) for v in ess.data_vars) / (4 * args.draws),
                         "log_E": f"{float(post['log_E'].mean()):.2f} ± {float(post['log_E'].std()):.2f}",
                         "alpha_1": round(float(post["alpha"][..., 1].mean()), 3)})
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
