"""A fit's forecasts beyond its data: which drift prior they use, and the draws of ``s`` they widen by.

Mixed into :class:`bayescale.results.scaling.ScalingFit`; the widening itself is
:func:`bayescale.laws.discrepancy.widen`, the prior :mod:`bayescale.laws.drift_prior`.
"""

from __future__ import annotations

import numpy as np

from bayescale.laws.discrepancy import check_scale, link_name


class DriftForecasts:
    """The drift-prior side of a fit (needs ``config``, ``posterior`` and ``_rng``)."""

    @property
    def metric(self) -> str | None:
        """What ``y`` measures as the drift prior reads it: ``measure=`` of the fit (the sigmoid's is an accuracy)."""
        return "accuracy" if self.config.law == "sigmoid" else self.config.measure

    @property
    def drift_link(self) -> str:
        """The scale the discrepancy acts on: ``"logit"`` for errors and accuracies, else ``"log"``."""
        return link_name(self.metric)

    @property
    def drift_prior(self):
        """The :class:`~bayescale.laws.drift_prior.DriftPrior` this fit's forecasts use beyond the data, or None."""
        from bayescale.laws.drift_prior import from_identity

        cached = getattr(self, "_drift_prior", None)  # (the config's drift record, the prior read from it)
        if cached is None or cached[0] is not self.config.drift:
            cached = self._drift_prior = (self.config.drift, from_identity(self.config.drift))
        return cached[1]

    def drift_draws(self, seed: int | None = None) -> np.ndarray | None:
        """One draw of the drift scale ``s`` per posterior draw, from the fit's drift prior (None without one)."""
        prior = self.drift_prior
        if prior is None:
            return None
        n = self.posterior.sizes["chain"] * self.posterior.sizes["draw"]
        return prior.s_draws(self.metric, self.config.law, n, self._rng(seed, salt=30_000))

    def resolve_discrepancy(self, discrepancy=None, seed: int | None = None) -> np.ndarray | None:
        """The draws of ``s`` a forecast widens by: the drift prior's for None (the default) or True,
        none for False, else ``discrepancy`` itself (a number or draws of ``s``), checked."""
        if discrepancy is None or discrepancy is True:
            return self.drift_draws(seed)
        if discrepancy is False:
            return None
        return check_scale(discrepancy)

    def discrepancy_text(self, discrepancy=None) -> str:
        """What a forecast's widening is, in words, for tables and reports."""
        if discrepancy is False or (discrepancy in (None, True) and self.drift_prior is None):
            return "none (the posterior alone)"
        if discrepancy is None or discrepancy is True:
            s = self.drift_draws()
            return (f"the drift prior ({self.drift_prior.source} v{self.drift_prior.data['version']}; "
                    f"s median {np.median(s):.3g} per decade on the {self.drift_link} scale)")
        s = np.atleast_1d(np.asarray(discrepancy, dtype=float))
        value = f"s = {s[0]:.3g}" if s.size == 1 else f"s ~ {s.size} draws (median {np.median(s):.3g})"
        return f"{value} (the sd of {self.drift_link} y grows by s per decade beyond the data)"

