r"""The learned drift prior: how far laws depart from their data, learned across many real curves.

Beyond its data a forecast's :math:`g(y)` (:math:`\log y` for a loss, :math:`\operatorname{logit} y`
for an error or accuracy; :func:`bayescale.laws.discrepancy.link_name`) gets the discrepancy
:math:`\delta \sim N(0, (s\,d)^2)` at :math:`d` decades beyond the fitted range
(:mod:`bayescale.laws.discrepancy`). How large :math:`s` is cannot be learned from a data set's
own fitted rows; it is learned from corpora of curves whose continuation is known
(:mod:`bayescale.workflows.drift`). The population it found ships with the package
(``drift_prior.json``: posterior draws of the hyperparameters, their provenance and a version),
and for a new curve

.. math:: \log s = \mu + x^\top \beta + \tau u + \kappa \eta, \qquad u, \eta \sim N(0, 1),

with :math:`x` the fit's covariates (:data:`EFFECTS`): whether the metric is bounded, and the law;
draws above ``S_MAX`` (1 per decade) are set to it.
``bayescale learn-priors`` relearns the file from a user's corpus; ``bs.fit(..., drift_prior=PATH)``
uses it. :func:`drift_table` shows the learned :math:`s` by covariate.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.laws.discrepancy import BOUNDED_METRICS, S_MAX

FORMAT = "bayescale-drift-prior"
VERSION = 1
#: covariates of log s, each an indicator against the baseline (a loss forecast by the power law)
EFFECTS = ("bounded", "broken", "sigmoid")
SHIPPED = "drift_prior.json"


AXES = ("steps", "tokens", "params", "compute", "examples")
METRICS = ("loss", "error", "accuracy")


def check_metric(measure: str | None) -> str | None:
    """``measure`` if it is one of :data:`METRICS` (or None: read as a loss, the stated default)."""
    if measure is not None and measure not in METRICS:
        raise DataError(f"measure must be one of {', '.join(METRICS)}, got {measure!r}")
    return measure


def check_axis(axis: str | None) -> str | None:
    """``axis`` if it is one of :data:`AXES` (or None: not known)."""
    if axis is not None and axis not in AXES:
        raise DataError(f"axis must be one of {', '.join(AXES)}, got {axis!r}")
    return axis


def design_row(metric: str | None, law: str) -> list[float]:
    """The covariates :data:`EFFECTS` of a forecast of ``metric`` by ``law``."""
    return [float(metric in BOUNDED_METRICS), float(law == "broken"), float(law == "sigmoid")]


class DriftPrior:
    """A learned population of drift scales: hyperparameter draws, provenance and settings.

    Create one with :func:`load_drift_prior` (the shipped one by default) or
    :func:`bayescale.workflows.drift.learn.learn_drift`.
    """

    def __init__(self, data: dict, source: str = "learned"):
        self.data = data
        self.source = source

    def __repr__(self) -> str:
        n = len(self.data["draws"]["mu"])
        return (f"<DriftPrior v{self.data['version']} from {len(self.data['datasets'])} data sets, {n} draws, "
                f"{self.source}>")

    def s_draws(self, metric: str | None, law: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of ``s`` for a new curve of a new data set with these covariates."""
        draws = self.data["draws"]
        m = len(draws["mu"])
        idx = rng.integers(m, size=n) if n != m else np.arange(m)
        x = design_row(metric, law)
        mean = np.asarray(draws["mu"])[idx] + sum(xi * np.asarray(draws[f"beta_{e}"])[idx]
                                                   for xi, e in zip(x, EFFECTS, strict=True) if xi)
        spread = np.hypot(np.asarray(draws["tau"])[idx], np.asarray(draws["kappa"])[idx])
        # capped at S_MAX: past a factor e per decade at one sd a law says nothing, and the tail
        # of the lognormal would otherwise rule every mean
        return np.minimum(np.exp(mean + spread * rng.standard_normal(n)), S_MAX)

    def log_density(self, grid: np.ndarray, metric: str | None, law: str) -> np.ndarray:
        """Population predictive log density of ``log s`` at ``grid`` (a mixture over the draws)."""
        draws = self.data["draws"]
        x = design_row(metric, law)
        mean = np.asarray(draws["mu"]) + sum(xi * np.asarray(draws[f"beta_{e}"])
                                             for xi, e in zip(x, EFFECTS, strict=True) if xi)
        sd = np.hypot(np.asarray(draws["tau"]), np.asarray(draws["kappa"]))
        z = (np.asarray(grid)[:, None] - mean[None, :]) / sd[None, :]
        log_terms = -0.5 * z**2 - np.log(sd)[None, :] - 0.5 * np.log(2 * np.pi)
        top = log_terms.max(axis=1, keepdims=True)
        return (top + np.log(np.mean(np.exp(log_terms - top), axis=1, keepdims=True)))[:, 0]

    def identity(self) -> dict:
        """What a saved fit records about the prior it used."""
        return {"format": FORMAT, "version": self.data["version"], "created": self.data.get("created"),
                "source": self.source, "datasets": sorted(self.data["datasets"])}

    def to_json(self) -> str:
        return json.dumps(self.data)

    def save(self, path: str | Path) -> None:
        """Write the prior as JSON (the format :func:`load_drift_prior` reads)."""
        from bayescale.core.files import atomic_write

        atomic_write(path, lambda tmp: Path(tmp).write_text(self.to_json(), encoding="utf-8"))


def _check(data, where: str) -> dict:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"{where} is not a bayescale drift prior (no \"format\": \"{FORMAT}\"); make one with "
                        "`bayescale learn-priors`")
    if data.get("version") != VERSION:
        raise DataError(f"{where} is a drift prior of version {data.get('version')!r}; this bayescale reads "
                        f"version {VERSION}")
    draws = data.get("draws")
    needed = ["mu", "tau", "kappa", *(f"beta_{e}" for e in EFFECTS)]
    if not isinstance(draws, dict) or any(k not in draws for k in needed):
        raise DataError(f"{where} lacks the hyperparameter draws {needed}")
    lengths = {len(draws[k]) for k in needed}
    if len(lengths) != 1 or 0 in lengths:
        raise DataError(f"{where}: the hyperparameter draws must be non-empty and of one length")
    values = np.concatenate([np.asarray(draws[k], dtype=float) for k in needed])
    if not np.isfinite(values).all() or (np.asarray(draws["tau"]) < 0).any() or (np.asarray(draws["kappa"]) <= 0).any():
        raise DataError(f"{where}: hyperparameter draws must be finite, with tau >= 0 and kappa > 0")
    return data


@lru_cache(maxsize=1)
def _shipped() -> dict:
    """The shipped prior's data, read and checked once per process (every default fit records it)."""
    text = (resources.files("bayescale.laws") / SHIPPED).read_text(encoding="utf-8")
    return _check(json.loads(text), f"the shipped {SHIPPED}")


def load_drift_prior(path: str | Path | DriftPrior | None = None) -> DriftPrior:
    """The drift prior in ``path`` (a file from ``bayescale learn-priors``), or the shipped one.

    Raises :class:`bayescale.errors.DataError` naming the file when it is missing, not JSON, or
    not a drift prior of this version.
    """
    if isinstance(path, DriftPrior):
        return path
    if path is None:
        return DriftPrior(_shipped(), source="shipped")
    where = f"drift prior file {str(path)!r}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{where} cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"{where} is not valid JSON ({exc})") from None
    return DriftPrior(_check(data, where), source=str(path))


def from_identity(data: dict | None) -> DriftPrior | None:
    """The prior a saved fit recorded (its embedded draws), or None when it used none."""
    if not data:
        return None
    return DriftPrior(_check(data["prior"], "the drift prior saved with this fit"), source=data.get("source", "saved"))


def drift_table(prior: DriftPrior | None = None, prob: float = 0.9) -> pd.DataFrame:
    """The learned ``s`` by covariate: median and central interval of a new curve's ``s``, and
    ``decades_to_double``: how many decades beyond the data the drift's own 90% interval spans a
    factor of 2 (``exp(2 * 1.645 * s * d) = 2`` at the median ``s``; on the logit scale for
    bounded metrics, where it is a factor of 2 in the odds)."""
    prior = load_drift_prior(prior)
    rng = np.random.default_rng(0)
    rows = []
    for law in ("power", "broken", "sigmoid"):
        for metric in ("loss", "error") if law != "sigmoid" else ("accuracy",):
            s = prior.s_draws(metric, law, 20_000, rng)
            lo, med, hi = np.quantile(s, [(1 - prob) / 2, 0.5, (1 + prob) / 2])
            rows.append({"law": law, "metric": metric, "scale": "logit" if metric in BOUNDED_METRICS else "log",
                         "s_median": med, "s_lower": lo, "s_upper": hi,
                         "decades_to_double": float(np.log(2) / (2 * 1.6449 * med))})
    out = pd.DataFrame(rows)
    out.attrs["learned"] = prior.data.get("effects_learned", [])
    return out
