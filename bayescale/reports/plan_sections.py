"""The report's plan section: which runs narrow a forecast (or each claimed item) most per unit cost.

One figure per plan (expected width of the interval against cumulative cost, the greedy batch's
runs marked; :func:`bayescale.workflows.plan.figure.plot_plan`) and its batch as a table, for a
spec's ``[plan]`` (``bayescale run spec.toml --report r.html``) or an audit's per-item plans
(``bayescale audit claim.toml --plan --report r.html``).
"""

from __future__ import annotations

import pandas as pd

from bayescale.reports.html import Section, figure_uri, table_html


def plan_section(plans: pd.DataFrame | dict[str, pd.DataFrame] | None) -> Section | None:
    """The section for one plan table (``fit.plan``) or several (``{item: table}``); None without any."""
    from bayescale.workflows.plan.figure import plan_view, plot_plan

    if plans is None or (isinstance(plans, dict) and not plans):
        return None
    tables = list(plans.values()) if isinstance(plans, dict) else [plans]
    first = tables[0].attrs
    section = Section("Plan the next runs", "plan")
    section.paragraphs.append(
        f"Candidate runs ranked by the expected width of the {first['prob']:.0%} interval after each, by "
        f"preposterior simulation ({first['sims']} simulated outcomes per candidate from the posterior predictive, "
        "the posterior reweighted by their likelihood; refits where too few draws keep weight), and the greedy "
        f"batch under the budget ({first['budget']:.4g} {first['cost_unit']}) that narrows it most per unit cost. "
        f"Seed {first['seed']}: the same seed gives the same plan. In the figure, grey: each candidate alone at its "
        "cost; blue: the width after the batch so far against its cumulative cost.")
    for table in tables:
        shown, title, summary = plan_view(table)
        section.figures.append((f"{title}: expected width against cumulative cost", figure_uri(plot_plan(table))))
        section.tables.append((f"{title}. {summary[0].upper()}{summary[1:]}", table_html(shown, index=False)))
    return section
