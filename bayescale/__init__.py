"""bayescale: Bayesian, uncertainty-aware forecasting of scaling laws.

Imports are lazy so ``bayescale --help`` and ``import bayescale`` stay fast; PyMC is
loaded on the first fit.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "fit": ("bayescale.fitting.dispatch", "fit"),
    "observational": ("bayescale.workflows.observational", "observational"),
    "ObservationalFit": ("bayescale.workflows.observational", "ObservationalFit"),
    "fit_many": ("bayescale.workflows.batch", "fit_many"),
    "backtest": ("bayescale.workflows.backtest", "backtest"),
    "load_batch": ("bayescale.workflows.batch", "load_batch"),
    "load": ("bayescale.results.load", "load_fit"),
    "compare": ("bayescale.results.comparison", "compare"),
    "ScalingFit": ("bayescale.results.scaling", "ScalingFit"),
    "ChinchillaFit": ("bayescale.results.chinchilla", "ChinchillaFit"),
    "StackedFit": ("bayescale.results.stacked", "StackedFit"),
    "audit": ("bayescale.workflows.audit", "audit"),
    "drift_prior": ("bayescale.workflows.drift", "drift_prior"),
    "learn_priors": ("bayescale.workflows.drift", "learn_priors"),
    "load_drift_prior": ("bayescale.laws.drift_prior", "load_drift_prior"),
    "NEW_GROUP": ("bayescale.core.posterior", "NEW_GROUP"),
    "datasets": ("bayescale.datasets", None),
    "errors": ("bayescale.errors", None),
    "BayescaleError": ("bayescale.errors", "BayescaleError"),
    "DataError": ("bayescale.errors", "DataError"),
}

__all__ = [*_EXPORTS, "__version__"]


def _exact_floating_point() -> None:
    """Turn off numba's fastmath for every model bayescale compiles (see :mod:`bayescale.fitting.compiled`).

    With fastmath (PyTensor's default) LLVM may reassociate sums, so a model compiled afresh
    and the same model loaded from the on-disk cache gave different draws for one seed.
    Set through ``PYTENSOR_FLAGS`` so that nothing heavy is imported here.
    """
    import os
    import sys

    if "pytensor" in sys.modules:
        sys.modules["pytensor"].config.numba__fastmath = False
    else:
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "numba__fastmath=False") if f)


_exact_floating_point()


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bayescale' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = import_module(module) if attr is None else getattr(import_module(module), attr)
    globals()[name] = value
    return value
