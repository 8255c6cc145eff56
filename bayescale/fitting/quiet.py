"""Silencing PyMC while it samples: bayescale reports sampler problems itself, as flags."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_pymc() -> Iterator[None]:
    """Silence PyMC's log lines and warnings; bayescale reports sampler problems as flags."""
    pymc_logger = logging.getLogger("pymc")
    level = pymc_logger.level
    pymc_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for category in (FutureWarning, UserWarning, RuntimeWarning):  # RuntimeWarning: early-tuning overflow
                warnings.simplefilter("ignore", category)
            yield
    finally:
        pymc_logger.setLevel(level)
