"""The laws ``bayescale.fit`` knows, each as a small bundle of functions.

A law supplies its default priors, its PyMC model, its mean curve evaluated on
posterior draws (NumPy, no recompilation), and its parameters in the user's units.
Adding a law means adding one :class:`LawSpec` to :data:`LAWS`; model code is imported
only when a law is used, so the CLI stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from bayescale.errors import LawError


@dataclass(frozen=True)
class LawSpec:
    """One law: metadata plus dotted paths to its functions.

    ``module`` must define ``prepare(df, **settings) -> (config, data)`` (validate the frame and
    resolve the configuration; ``settings`` are :func:`bayescale.fit`'s arguments),
    ``default_priors(data, config) -> dict``,
    ``build_model(data, config) -> pm.Model``,
    ``curve(posterior, data, group_code, rng, x) -> ndarray`` (mean draws, user units,
    shape (samples, len(x)); ``group_code = -1`` for a new group) and
    ``user_parameters(posterior, data) -> xr.Dataset``.
    """

    name: str
    module: str
    n_params: int
    positive_x: bool
    description: str
    options: tuple[str, ...] = ()  # law-specific arguments of bayescale.fit it takes (breaks, trials)
    target_accept: float = 0.95  # NUTS target acceptance unless the user sets one
    result: str = "bayescale.results.scaling.ScalingFit"  # the fit object it returns
    # the module that learns a distance-growing discrepancy by refits for bayescale.fit(..., discrepancy=True):
    # check(data) before sampling, learn_at_fit(fit, cores=) after (None: only through bayescale.backtest)
    discrepancy: str | None = None

    def function(self, name: str) -> Callable:
        return getattr(import_module(self.module), name)

    def discrepancy_function(self, name: str) -> Callable:
        return getattr(import_module(self.discrepancy), name)

    def result_type(self) -> type:
        module, _, name = self.result.rpartition(".")
        return getattr(import_module(module), name)


LAWS: dict[str, LawSpec] = {
    "power": LawSpec("power", "bayescale.laws.power", 4, True, "saturating power law y = E + A x^-alpha"),
    # the broken law's free break under a near-zero slope change needs small steps: target_accept 0.99
    "broken": LawSpec("broken", "bayescale.laws.broken", 6, True,
                      "smoothly broken power law y = a + b x^-c0 prod (1 + (x/d)^(1/f))^(-c f)",
                      options=("breaks",), target_accept=0.99),
    # the broken law's model with signed exponents: it may turn up (bayescale.laws.turning)
    "turning": LawSpec("turning", "bayescale.laws.turning", 6, True,
                       "turning broken power law: BNSL with exponents of either sign (U shapes, double descent)",
                       options=("breaks",), target_accept=0.99),
    "sigmoid": LawSpec("sigmoid", "bayescale.laws.sigmoid", 4, True,
                       "emergence: y = floor + (ceiling - floor) sigmoid(k (log x - x0))", options=("trials",)),
    "chinchilla": LawSpec("chinchilla", "bayescale.laws.chinchilla", 6, True,
                          "Chinchilla law L = E + A N^-alpha + B D^-beta",
                          result="bayescale.results.chinchilla.ChinchillaFit",
                          discrepancy="bayescale.fitting.chinchilla_drift"),
}


def law_spec(name: str) -> LawSpec:
    """Look a law up by name, raising :class:`~bayescale.errors.LawError` if unknown."""
    if not isinstance(name, str) or name not in LAWS:
        raise LawError(f"unknown law {name!r}; expected one of: {', '.join(sorted(LAWS))}")
    return LAWS[name]
