r"""Backtests: fit the small-scale part of each curve, score forecasts of the large-scale part.

``backtest(df, x=, y=, group=, split=)`` cuts every curve (the rows sharing the ``group``
columns) into a training part and a held-out part, fits bayescale's law (by default
``law="auto"``, the stacked candidate laws) to the training part and, on the same split, four
least-squares baselines (:mod:`bayescale.workflows.baselines`): the saturating power law by
least squares (point only; the power law whatever ``law`` is), the same with a 1000-resample
residual bootstrap interval, a straight line in log-log space with its t prediction interval,
and the smoothly broken power law (BNSL, one break) by least squares from a grid of starts
(``bnsl``, point only; it needs 6 training points) and the same with starts that turn up
(``bnsl_signed``). Each held-out point is scored for every method.

Splits (one or several per curve; several cutoffs are a rolling origin, reported apart)
    ``0.6`` or ``"frac:0.6"``: fit on the first 60% of the curve's log-x range;
    ``"x:1e9"`` / ``{"x": 1e9}``: fit on ``x < 1e9``; ``"last:2"`` / ``{"last": 2}``: fit on
    all but the 2 largest ``x``; ``"column:train"`` / ``{"column": "train"}``: fit on the
    rows where the boolean column ``train`` is true, score the others.

Scores of one held-out point :math:`(x, y)` with predictive draws :math:`X_1..X_m`
    distance :math:`d = \log_{10}(x / \max x_{train})` (decades beyond the fit range);
    coverage of the central 50/80/90% intervals; relative width (upper - lower) / median;
    PIT :math:`= \#\{X_i < y\}/m`; CRPS of :math:`\log y`,

    .. math:: \mathrm{CRPS} = \frac1m\sum_i |\log X_i - \log y|
              - \frac1{2m^2}\sum_{i,j} |\log X_i - \log X_j|,

    (the absolute log error for a point forecast); the interval score of the 90% interval
    :math:`[l, u]` on the log scale (Gneiting & Raftery 2007), width plus the penalty for a miss,

    .. math:: \mathrm{IS} = (\log u - \log l) + \frac{2}{0.1}\left[(\log l - \log y)_+
              + (\log y - \log u)_+\right],

    which rewards intervals that are honest and no wider than needed; log error of the median
    :math:`\log(\tilde X / y)` (RMSLE is its root mean square) and absolute relative error
    :math:`|\tilde X - y| / y`.

Distance-growing discrepancy (``discrepancy=True``, DESIGN.md "Calibration")
    Each curve is also refitted on the first ``inner`` fraction (default 60%) of its
    *training* log-x range (at least its 5 smallest distinct scales). The log errors
    :math:`e_j` of the median on the rest of the training rows, at distances :math:`d_j`
    beyond that inner range, with predictive log variance :math:`v_j`, are pooled across the
    curves of a data set and inform the scale :math:`s` of a discrepancy whose sd grows
    linearly with distance,

    .. math:: e_j \sim \mathcal N\!\left(0,\; v_j + (s\, d_j)^2\right), \qquad
              s \sim \mathrm{Uniform}(0, 1),

    the uniform prior on a standard deviation of Gelman (2006). The posterior of :math:`s` is
    computed on a grid; forecasts of method ``bayescale+disc`` add
    :math:`\mathcal N(0, (s_i\, d)^2)` to each log predictive draw :math:`i`, with
    :math:`s_i` drawn from that posterior. Integrating over :math:`s` matters when the
    in-sample errors are few or short-range: they rarely rule out a sizeable :math:`s`, and
    a point estimate would then be 0. Only training rows inform :math:`s`, through the same
    Bayesian fit that makes the forecast, so held-out rows never leak into the interval.

    A stack weighted by leave-future-out (``law="auto"`` or a list of laws) has made such
    errors already: its refits at 60, 70 and 80% of the training range forecast the later
    training rows (:func:`bayescale.fitting.lfo.stacked_forecasts`, the laws mixed with the
    final weights, :math:`d_j` beyond each origin's last fitted row). Those are used instead of
    an inner refit. An inner refit of a stack cannot weigh its laws on the few inner rows and
    falls back to the simplest law, so its errors, and :math:`s`, would be that law's.
"""

from __future__ import annotations

from bayescale.workflows.backtest.result import BacktestResult
from bayescale.workflows.backtest.run import backtest, backtest_datasets
from bayescale.workflows.backtest.scores import METHODS, crps_from_draws, score_draws, summarise
from bayescale.workflows.backtest.splits import Cutoff, inner_mask, parse_split, train_mask
from bayescale.workflows.backtest.tasks import run_task

__all__ = ["METHODS", "BacktestResult", "Cutoff", "backtest", "backtest_datasets", "crps_from_draws", "inner_mask",
           "parse_split", "run_task", "score_draws", "summarise", "train_mask"]
