"""``bayescale.observational``: fit the capability model to a benchmark table by NUTS or ADVI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bayescale.errors import LawError
from bayescale.workflows.observational.data import prepare_observational
from bayescale.workflows.observational.model import NOISE, compiled_model, initial_point, sample
from bayescale.workflows.observational.result import ObservationalFit


def observational(
    df: pd.DataFrame,
    *,
    benchmarks: Sequence[str] | None = None,
    family: str = "Model Family",
    compute: str = "FLOPs (1E21)",
    model: str | None = "Model",
    k: int = 3,
    floors: Mapping[str, float] | None = None,
    method: str = "nuts",
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    seed: int | None = None,
    progress: bool = True,
    cores: int | None = None,
    advi_steps: int = 20000,
    missing_compute: str = "drop",
    noise: str = "shared",
) -> ObservationalFit:
    """Fit the Bayesian observational-scaling capability model to a benchmark table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per model: a family column, a compute column and benchmark score
        columns (fractions in [0, 1]; NaN for scores not measured).
    benchmarks : list of str, optional
        Score columns, in the order that sets the identification (benchmark 1 loads on
        capability 1 only, ...). Default: every numeric column with values in [0, 1].
    family, compute, model : str
        Columns of the model family, the training compute (> 0, any unit) and the
        model name (``None``: use the row index).
    k : int
        Capability dimensions.
    floors : mapping, optional
        Chance floor per benchmark; defaults from :data:`DEFAULT_FLOORS`, else 0.
    method : {"nuts", "advi"}
        NUTS (default) or mean-field ADVI (``advi_steps`` iterations).
    draws, tune, chains, seed, progress, cores
        Sampler settings.
    missing_compute : {"drop", "error"}
        What to do with rows whose compute is missing.
    noise : {"shared", "pooled", "anchors", "benchmark"}
        Score-noise sd: one for all benchmarks (default); one per benchmark pooled
        log-normally; one for the anchors and one per other benchmark; one per benchmark
        (the last three mix badly on the ObsScaling table, see the module docstring).

    Returns
    -------
    ObservationalFit
    """
    data = prepare_observational(df, benchmarks=benchmarks, family=family, compute=compute, model=model,
                                 floors=floors, k=k, missing_compute=missing_compute)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    if noise not in NOISE:
        raise LawError(f"noise must be one of {NOISE}, got {noise!r}")
    if method not in ("nuts", "advi"):
        raise LawError(f"method must be 'nuts' or 'advi', got {method!r}")
    pm_model = compiled_model(data, k=k, noise=noise)
    idata = sample(pm_model, method=method, draws=draws, tune=tune, chains=chains, seed=seed,
                   progress=progress, cores=cores, advi_steps=advi_steps, initvals=initial_point(data, k))
    settings = {"noise": noise, "draws": draws, "tune": tune, "chains": chains, "cores": cores,
                "advi_steps": advi_steps, "progress": progress}
    return ObservationalFit(idata=idata, data=data, k=k, method=method, seed=seed,
                            columns={"family": family, "compute": compute, "model": model}, settings=settings)
