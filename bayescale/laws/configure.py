"""A fit's configuration from the user's settings: checked, seeded, priors merged with the law's defaults.

Every law's ``prepare`` (see :mod:`bayescale.core.registry`) returns ``(config, data)``; the
power and broken laws share :func:`configure_curve_law`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.config import FitConfig
from bayescale.core.registry import law_spec
from bayescale.data.curves import CurveData, check_noise, prepare
from bayescale.errors import LawError
from bayescale.laws.priors import merge_priors, priors_to_dict


def resolve_seed(seed: int | None) -> int:
    """``seed`` as an int, or a fresh random one (recorded in the fit) when None."""
    return int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)


GROUP_OPTIONS = {"slopes": "shared", "floor": "shared", "pooling": "auto"}


def refuse_group_options(law: str, **options: str | None) -> None:
    """Raise if a grouping option (``slopes``, ``floor``, ``pooling``) other than its default is given to ``law``."""
    for name, value in options.items():
        if value not in (None, GROUP_OPTIONS[name]):
            raise LawError(f"{name}={value!r} does not apply to the {law} law")


def configure_curve_law(
    df: pd.DataFrame, *, law: str, x: str, y: str, group: str | None = None, noise: str | None = None,
    slopes: str = "shared", floor: str = "shared", pooling: str = "auto", priors: Mapping[str, Any] | None = None,
    breaks: int | None = None, **sampler: Any,
) -> tuple[FitConfig, CurveData]:
    """Validate ``df`` and resolve the configuration of a one-axis law fitted on ``log y`` (power, broken).

    ``sampler`` holds draws, tune, chains, seed, sampler and target_accept as for :func:`bayescale.fit`.
    """
    noise = "lognormal" if noise is None else noise
    check_noise(noise)
    config = FitConfig(
        law=law, x=x, y=y, group=group, noise=noise, slopes=slopes, floor=floor, pooling=pooling,
        options={} if breaks is None else {"breaks": breaks},
        **{**sampler, "seed": resolve_seed(sampler.get("seed"))},
    ).validate()
    data = prepare(df, x=x, y=y, group=group, law=law, noise=noise)
    config.x_ref, config.y_scale = data.x_ref, data.y_scale
    config.priors = priors_to_dict(merge_priors(law_spec(law).function("default_priors")(data, config), priors))
    return config, data
