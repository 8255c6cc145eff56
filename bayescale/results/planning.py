"""``fit.plan``: which runs narrow a forecast most per unit cost, for every fit kind.

The planner lives in :mod:`bayescale.workflows.plan`, a layer above the results; the method
imports it by name on first use (as the law registry loads law modules), so results do not
depend on workflows.
"""

from __future__ import annotations

from importlib import import_module

import pandas as pd

PLANNER = "bayescale.workflows.plan"


class Plannable:
    """Adds :meth:`plan` to a fit object."""

    def plan(self, *, budget: float, **options) -> pd.DataFrame:
        """Rank candidate runs by expected narrowing of a quantity per unit cost; pick a batch under ``budget``.

        ``options`` as :func:`bayescale.workflows.plan.plan`: one of ``at=``, ``reach=``, ``compute=``
        (Chinchilla) or ``quantity=``; ``candidates=``, ``cost=``, ``axis=``, ``max_scale=``, ``seed=``,
        ``discrepancy=`` (default: the fit's own default, as ``predict`` and ``reach``), ...

        Returns
        -------
        pandas.DataFrame
            One row per candidate with ``cost``, ``expected_width``, ``reduction_per_cost`` and the
            greedy batch (``order``, ``cumulative_cost``, ``batch_width``).
        """
        return import_module(PLANNER).plan(self, budget=budget, **options)
