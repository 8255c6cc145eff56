r"""Audit a published scaling claim against the data behind it.

A claim file is TOML in the layout of study specs (:mod:`bayescale.io.spec`: ``[data]``,
``[model]``, ``[sampling]``) plus a ``[claim]`` table::

    title = "Hoffmann et al. (2022), approach 3"
    [data]
    dataset = "chinchilla"                 # or: path = "runs.csv" (relative to the claim file)
    [model]
    law = "chinchilla"
    x = ["params", "tokens"]
    y = "loss"
    [claim]
    prob = 0.8                             # level of the claimed intervals (default 0.95)
    [claim.parameters]
    beta = 0.28                            # a point value ...
    a = { value = 0.46, interval = [0.454, 0.455] }   # ... or a value with its interval
    [[claim.predictions]]                  # loss at (params, tokens), or at a budget: compute = 5.76e23
    params = 7e10
    tokens = 1.4e12
    value = 1.94
    [[claim.optimal]]                      # claimed compute-optimal allocation at a budget
    compute = 5.76e23
    params = 7e10
    tokens_per_param = 20

Any law with one scale axis (``power``, ``broken``, ``sigmoid``) takes these kinds too::

    [claim.parameters]                     # user-unit parameters of the law (fit.summary() names):
    alpha = 0.3                            # power: alpha, A, E; broken: "alpha[0]", "break_x[0]", ...;
    "A[pile]" = { value = 40, interval = [30, 50] }   # sigmoid: midpoint_x, steepness_per_decade, ...
    [[claim.reach]]                        # "loss 2.1 is reached by x = 1e11"
    target = 2.1
    by = 1e11
    group = "pile"                         # required in a grouped model
    [[claim.emergence]]                    # sigmoid midpoint / broken law's first break
    scale = 1e22                           # or interval = [1e21, 1e23]
    abrupt = true                          # optional: sharp jump, and better than a smooth alternative by LOO
    [[claim.groups]]
    kind = "gap_shrinks"                   # shared_slopes | min_rate | gap_shrinks | never_worse | equivalent
    a = "4chan"
    b = "pile"
    range = [1e5, 1e6]
    [[claim.population]]                   # an aggregate re-weighted to another population
    weights = { pile = 0.7, 4chan = 0.3 }
    at = [1e6]
    value = 2.2                            # or rate = 0.05 (least fall of the reducible part per decade)
    [[claim.trend]]                        # "the trend holds up to S": refit below cutoff, score above
    cutoff = 1e5
    up_to = 1e6

Each kind is judged by one of two rules (:mod:`bayescale.workflows.audit.judge`): a claimed value by
its two-sided posterior tail probability (supported: tail >= 0.10; weakly supported: >= 0.01;
not supported below), a claimed event by its posterior probability P (supported: P >= 0.9;
not supported: P <= 0.1; inconclusive between). What each kind computes is documented in
:mod:`bayescale.workflows.audit.curves` (parameters, reach, emergence), :mod:`bayescale.workflows.audit.groups`
(groups, population) and :mod:`bayescale.workflows.audit.trend`; Chinchilla's predictions and
allocations in :mod:`bayescale.workflows.audit.chinchilla_items`; where more runs would narrow each item
most per unit cost, for every law, in :mod:`bayescale.workflows.audit.more_runs` (the run planner of
:mod:`bayescale.workflows.plan`). Bad claims fail in :mod:`bayescale.workflows.audit.claims` and
:mod:`bayescale.workflows.audit.claim_kinds`, before any sampling.

For the Chinchilla law every claimed item is compared with its posterior:

- ``p_interval``: posterior probability of the claimed interval;
- ``tail``: two-sided tail probability of the claimed point value,
  :math:`2 \min(P(q \le v), P(q \ge v))`, and ``z``, its distance from the posterior mean in
  posterior standard deviations (on the log scale for positive quantities), which still
  separates claims when the tail is smaller than one over the number of draws;
- width check: ``width_ratio`` = claimed width / posterior central width at the claimed
  level, and ``runs_needed`` :math:`= n (w_{post} / w_{claim})^2`, the number of runs such an
  interval would need if the noise the data show is real (widths shrink as
  :math:`1/\sqrt{n}`); flagged when the ratio is below 0.5;
- reliability flags: sampler problems, and the extrapolation distance (decades) of each
  claimed target outside the observed params / tokens / compute.
"""

from __future__ import annotations

from bayescale.workflows.audit.chinchilla_items import item_draws
from bayescale.workflows.audit.claims import DEFAULT_PROB, Claim, ClaimItem, load_claim_data, parse_claim
from bayescale.workflows.audit.engine import audit
from bayescale.workflows.audit.judge import (
    NARROW,
    PROBABILITY_TEXT,
    SUPPORTED,
    VERDICT_TEXT,
    WEAK,
    evaluate_item,
    event_verdict,
    verdict,
)
from bayescale.workflows.audit.more_runs import CANDIDATE_RATIOS, candidate_runs, expected_widths
from bayescale.workflows.audit.result import AuditResult

__all__ = ["CANDIDATE_RATIOS", "DEFAULT_PROB", "NARROW", "PROBABILITY_TEXT", "SUPPORTED",
           "VERDICT_TEXT", "WEAK", "AuditResult", "Claim", "ClaimItem", "audit", "candidate_runs",
           "evaluate_item", "event_verdict", "expected_widths", "item_draws", "load_claim_data", "parse_claim",
           "verdict"]
