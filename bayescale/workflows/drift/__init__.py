"""Learn the drift prior from a corpus of real curves whose continuation is known.

``learn_priors(corpus)`` cuts every curve at several origins, forecasts the rest
(:mod:`~bayescale.workflows.drift.forecasts`), fits the hierarchical model of how the error grows
with distance beyond the data (:mod:`~bayescale.workflows.drift.learn`), and returns the
:class:`~bayescale.laws.drift_prior.DriftPrior` that every fit uses by default
(``bs.fit(..., drift_prior=...)`` or ``bayescale fit ... --drift-prior FILE`` for one of your own).
The corpus is a tidy table (:mod:`~bayescale.workflows.drift.corpus`): ``dataset`` (a source:
one paper or release), ``curve``, ``axis``, ``metric``, ``x``, ``y``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bayescale.laws.drift_prior import DriftPrior, drift_table, load_drift_prior


def learn_priors(corpus: pd.DataFrame, *, law: str = "power", split: Sequence[float] = (0.4, 0.6, 0.8),
                 max_curves: int | None = 60, seed: int = 0, workers: int | None = None, progress: bool = True,
                 errors: pd.DataFrame | None = None) -> DriftPrior:
    """Learn a drift prior from ``corpus`` (or from forecast ``errors`` already made from it).

    Parameters
    ----------
    corpus : pandas.DataFrame
        Tidy corpus (``dataset, curve, axis, metric, x, y``; :func:`~bayescale.workflows.drift.corpus.check_corpus`).
    law : str
        Law that forecasts each curve's continuation.
    split : sequence of float
        Origins: fractions of each curve's log-x range that are fitted.
    max_curves : int, optional
        At most this many curves per data set (seeded draw); None for all.
    seed, workers, progress
        Run seed, worker processes, progress bar.
    errors : pandas.DataFrame, optional
        Errors of an earlier run (:func:`~bayescale.workflows.drift.forecasts.forecast_errors`): no forecasts are made.
    """
    from bayescale.workflows.drift.corpus import PROVENANCE, check_corpus, subsample_curves
    from bayescale.workflows.drift.forecasts import corpus_forecasts, forecast_errors
    from bayescale.workflows.drift.learn import learn_drift

    corpus, subsample = subsample_curves(check_corpus(corpus), max_curves, seed)
    if errors is None:
        result = corpus_forecasts(corpus, law=law, split=split, workers=workers, seed=seed, progress=progress)
        errors = forecast_errors(result, corpus, law=law)
    provenance = []
    for name, frame in corpus.groupby("dataset", sort=True):
        cite, licence, what = PROVENANCE.get(name, ("given by the user", "unknown", "user corpus"))
        provenance.append({"dataset": str(name), "citation": cite, "licence": licence, "curves": what,
                           "metrics": sorted(frame["metric"].unique()), "axes": sorted(frame["axis"].unique()),
                           "subsample": subsample.get(name, "all curves")})
    settings = {"law": law, "origins": list(split), "max_curves": max_curves, "seed": seed,
                "forecast": "nutpie 2 x 500 draws (tune 500) per (curve, origin)"}
    return learn_drift(errors, seed=seed, provenance=provenance, settings=settings)


def drift_prior(path=None) -> pd.DataFrame:
    """The learned drift ``s`` by covariate (the shipped prior, or the one in ``path``);
    ``decades_to_double``: how many decades out the drift's own 90% interval spans a factor of 2."""
    return drift_table(load_drift_prior(path))


__all__ = ["DriftPrior", "drift_prior", "learn_priors", "load_drift_prior"]
