"""Simulated scaling data from known parameters, for tests, tutorials and calibration checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayescale.laws.formulas import saturating_power_law


def power_law_data(
    *,
    offsets: Sequence[float] = (400.0,),
    exponents: float | Sequence[float] = 0.3,
    floor: float = 1.7,
    sigma: float = 0.02,
    n: int = 15,
    x_range: tuple[float, float] = (1e6, 1e9),
    groups: Sequence[str] | None = None,
    seed: int = 0,
    x: str = "params",
    y: str = "loss",
    group: str = "group",
) -> pd.DataFrame:
    """Draw ``n`` log-spaced points per group from ``y = E + A_g x^-alpha_g`` with log-normal noise.

    Parameters
    ----------
    offsets : sequence of float
        ``A_g``, one per group.
    exponents : float or sequence of float
        Shared ``alpha`` or one per group.
    floor : float
        ``E``.
    sigma : float
        Standard deviation of the noise on ``log y``.
    """
    rng = np.random.default_rng(seed)
    names = list(groups) if groups is not None else [f"g{i}" for i in range(len(offsets))]
    alphas = np.broadcast_to(np.asarray(exponents, dtype=float), (len(offsets),))
    xs = np.geomspace(*x_range, n)
    frames = []
    for name, a, alpha in zip(names, offsets, alphas, strict=True):
        mean = saturating_power_law(xs, floor, a, alpha)
        frames.append(pd.DataFrame({group: name, x: xs, y: mean * np.exp(rng.normal(0, sigma, n))}))
    return pd.concat(frames, ignore_index=True)
