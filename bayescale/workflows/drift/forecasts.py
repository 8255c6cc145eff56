r"""Forecasts of corpus curves from their early parts, and their errors on the drift's scale.

Every curve of a corpus (:mod:`bayescale.workflows.drift.corpus`) is cut at several origins
(fractions of its log-x range, as :func:`bayescale.backtest` does) and the rest forecast with a
law. For every held-out point at :math:`d = \log_{10}(x / \max x_{\mathrm{fit}}) > 0` decades
beyond the fitted rows, the error of the median and the predictive variance are taken on the
drift's scale :math:`g` (:func:`bayescale.laws.discrepancy.link_name`: :math:`\log y` for losses,
:math:`\operatorname{logit} y` for errors and accuracies, which are bounded),

.. math:: e = g(y) - \operatorname{median}_i g(Y_i), \qquad v = \operatorname{var}_i g(Y_i),

the data of :func:`bayescale.workflows.drift.learn.learn_drift`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayescale.laws.discrepancy import link_fn, link_name

ERROR_COLUMNS = ("dataset", "curve", "cutoff", "axis", "metric", "law", "n_train", "d", "err", "var")


def corpus_forecasts(corpus: pd.DataFrame, *, law: str = "power", split: Sequence[float] = (0.4, 0.6, 0.8),
                     draws: int = 500, tune: int = 500, baselines: bool = False, keep_draws: int = 200,
                     workers: int | None = None, seed: int = 0, out=None, resume: bool = False,
                     progress: bool = True):
    """Backtest every curve of ``corpus`` at every origin in ``split``; a :class:`BacktestResult` with draws.

    ``result.draws`` keeps ``keep_draws`` predictive draws of every method at every held-out
    point (for :func:`forecast_errors` and for scoring under other discrepancies).
    """
    from bayescale.workflows.backtest import backtest_datasets
    from bayescale.workflows.drift.corpus import check_corpus

    corpus = check_corpus(corpus)
    data = {name: {"df": frame, "x": "x", "y": "y", "group": "curve", "split": list(split)}
            for name, frame in corpus.groupby("dataset", sort=True)}
    return backtest_datasets(data, law=law, draws=draws, tune=tune, baselines=baselines, discrepancy=False,
                             workers=workers, seed=seed, out=out, resume=resume, progress=progress,
                             keep_draws=keep_draws)


def forecast_errors(result, corpus: pd.DataFrame, *, method: str = "bayescale", law: str = "power") -> pd.DataFrame:
    """One row per held-out point beyond the fitted range: :data:`ERROR_COLUMNS`.

    ``result`` is a :func:`corpus_forecasts` result (with ``draws``); ``corpus`` gives each
    curve's axis and metric, hence the drift's scale.
    """
    kinds = corpus.drop_duplicates("curve").set_index("curve")[["axis", "metric"]]
    n_train = result.fits.set_index(["dataset", "curve", "cutoff"])["n_train"] if len(result.fits) else {}
    rows = []
    for (dataset, curve, cutoff), item in result.draws.items():
        if method not in item["draws"]:
            continue
        axis, metric = kinds.loc[curve, "axis"], kinds.loc[curve, "metric"]
        name = link_name(metric)
        beyond = item["distance"] > 0
        if not beyond.any():
            continue
        g_draws = link_fn(np.asarray(item["draws"][method], dtype=float)[:, beyond], name)
        g_y = link_fn(np.asarray(item["y"], dtype=float)[beyond], name)
        rows.append(pd.DataFrame({"dataset": dataset, "curve": curve, "cutoff": cutoff, "axis": axis,
                                  "metric": metric, "law": law, "n_train": int(n_train[(dataset, curve, cutoff)]),
                                  "d": item["distance"][beyond], "err": g_y - np.median(g_draws, axis=0),
                                  "var": np.var(g_draws, axis=0)}))
    if not rows:
        return pd.DataFrame(columns=list(ERROR_COLUMNS))
    out = pd.concat(rows, ignore_index=True)
    return out[np.isfinite(out["err"]) & np.isfinite(out["var"])].reset_index(drop=True)
