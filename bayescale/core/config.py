"""The configuration of a fit: everything needed to rebuild its model and redo it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bayescale.errors import LawError

SLOPES = ("shared", "varying")
POOLING = ("auto", "centered", "noncentered")
FLOORS = ("shared", "group")
SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax")


@dataclass
class FitConfig:
    """Law, columns, model options, priors and sampler settings of one fit."""

    law: str
    x: str
    y: str
    group: str | None = None
    noise: str = "lognormal"
    slopes: str = "shared"
    floor: str = "shared"
    pooling: str = "auto"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 0
    sampler: str = "pymc"
    target_accept: float = 0.95
    priors: dict[str, dict] = field(default_factory=dict)
    x_ref: float = 1.0
    y_scale: float = 1.0
    #: law-specific options (e.g. ``{"breaks": 2}`` for the broken law, ``{"trials": "n"}`` for the sigmoid)
    options: dict[str, Any] = field(default_factory=dict)
    #: what y measures (loss, error, accuracy) and the kind of x (steps, tokens, params, compute,
    #: examples): the covariates of the drift prior
    measure: str | None = None
    axis: str | None = None
    #: the drift prior forecasts use beyond the data (``{"source": ..., "prior": {...}}``), or {} for none
    drift: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> FitConfig:
        if self.slopes not in SLOPES:
            raise LawError(f"slopes must be one of {SLOPES}, got {self.slopes!r}")
        if self.floor not in FLOORS:
            raise LawError(f"floor must be one of {FLOORS}, got {self.floor!r}")
        if self.pooling not in POOLING:
            raise LawError(f"pooling must be one of {POOLING}, got {self.pooling!r}")
        if self.sampler not in SAMPLERS:
            raise LawError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        for name in ("draws", "tune", "chains"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "tune" else 1):
                raise LawError(f"{name} must be a positive integer, got {value!r}")
        if not 0 < self.target_accept < 1:
            raise LawError(f"target_accept must be in (0, 1), got {self.target_accept!r}")
        return self

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FitConfig:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)
