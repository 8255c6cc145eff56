"""``[[claim.trend]]``: "the trend holds up to scale S", tested by refitting below a cutoff.

The claim's model is refitted on the rows with ``x <= cutoff``; the rows with
``cutoff < x <= up_to`` are scored against the refit's posterior predictive
(:func:`bayescale.workflows.backtest.score_draws`: 90% coverage and the interval score of log y).
The verdict:

- **not supported** when the held-out points fall outside the 90% predictive interval more
  often than a calibrated forecast would with probability 0.01 (binomial tail of the
  covered count, ``P(covered <= k | n, 0.9) < 0.01``): the trend broke;
- **supported** otherwise, when the held-out points reach to within 0.1 decade of ``S``;
- **inconclusive** otherwise: the trend held as far as the data go, short of ``S``.

The row reports the extrapolation distance of ``S`` beyond the refit's data and how far of
it the held-out points cover, both in decades.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescale.workflows.audit.context import Context, Outcome, flag_codes, target_flags
from bayescale.workflows.audit.judge import empty_row

BROKEN_TAIL = 0.01
REACH_SLACK = 0.1  # decades


def _scores(refit, test: pd.DataFrame, x: str, y: str, group: str | None) -> pd.DataFrame:
    from bayescale.workflows.backtest import score_draws

    frames = []
    for name, rows in (test.groupby(group) if group else [(refit.data.groups[0], test)]):
        draws = refit.predictive_draws(rows[x].to_numpy(dtype=float), str(name))
        values = rows[y].to_numpy(dtype=float)
        if np.all(values > 0):
            frames.append(score_draws(values, draws))
        else:  # additive metrics at or below 0: coverage only
            lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
            frames.append(pd.DataFrame({"covered90": ((values >= lo) & (values <= hi)).astype(float),
                                        "interval_score90": np.nan}))
    return pd.concat(frames, ignore_index=True)


def trend(ctx: Context, item) -> Outcome:
    from scipy.stats import binom

    cfg, f = ctx.fit.config, item.fields
    frame = ctx.frame
    xs = frame[cfg.x].to_numpy(dtype=float)
    train, test = frame[xs <= f["cutoff"]], frame[(xs > f["cutoff"]) & (xs <= f["up_to"])]
    refit = ctx.refit(data=train)
    scores = _scores(refit, test, cfg.x, cfg.y, cfg.group)
    n, k = len(scores), int(scores["covered90"].sum())
    tail = float(binom.cdf(k, n, 0.9))
    top = float(train[cfg.x].max())
    claimed = float(np.log10(f["up_to"] / top))
    tested = float(np.log10(test[cfg.x].max() / top))
    if tail < BROKEN_TAIL:
        verdict = "not supported"
    elif tested >= claimed - REACH_SLACK:
        verdict = "supported"
    else:
        verdict = "inconclusive"
    row = empty_row(item, f"refit on x <= {f['cutoff']:.3g} forecasts the points up to {f['up_to']:.3g}")
    coverage = k / n
    score = float(scores["interval_score90"].mean())
    row.update(claimed=f["up_to"], verdict=verdict,
               rule=(f"not: P(<= {k} of {n} covered | calibrated) < {BROKEN_TAIL}; supported if held-out points "
                     f"reach within {REACH_SLACK} decade of S; else inconclusive"),
               evidence=(f"{len(train)} points refitted, {n} scored: 90% coverage {coverage:.2f}, interval score "
                         f"{score:.3g} (P(<= {k} covered | calibrated) {tail:.2g}); "
                         f"S is {claimed:.2f} decades beyond the refit's data, held-out points "
                         f"reach {tested:.2f}"))
    groups = [None] if cfg.group is None else list(refit.data.groups)
    flags = target_flags(refit, item.name, [f["up_to"]], groups)
    row["flags"] = flag_codes(flags)
    evidence = {"cutoff": f["cutoff"], "up_to": f["up_to"], "coverage90": coverage, "interval_score90": score,
                "n_train": len(train), "n_test": n, "decades_claimed": claimed, "decades_tested": tested,
                "scores": scores, "refit": refit}
    return Outcome([row], flags, {item.name: evidence})
