"""The sections of an audit's report: verdicts per claimed item, flags, and where more runs help."""

from __future__ import annotations

import pandas as pd

from bayescale.reports.html import Section, figure_uri, table_html

VERDICT_CLASSES = {"supported": "v-yes", "weakly supported": "v-weak", "inconclusive": "v-open",
                   "not supported": "v-no"}


def verdict_table_html(frame: pd.DataFrame) -> str:
    """:func:`table_html` with each verdict cell drawn as a coloured badge (class ``verdict v-...``)."""
    import re

    def badge(match) -> str:
        word = match.group(1)
        return f'<td><span class="verdict {VERDICT_CLASSES[word]}">{word}</span></td>'

    words = "|".join(sorted(VERDICT_CLASSES, key=len, reverse=True))
    return re.sub(rf"<td>({words})</td>", badge, table_html(frame, index=False))


def audit_sections(result) -> list[Section]:
    """The audit of a :class:`bayescale.workflows.audit.AuditResult`: one row per claimed item with its verdict,
    a figure per item where a picture helps, the claimed values against the posterior, the width
    check, the flags and where more runs would help."""
    from bayescale.workflows.audit import PROBABILITY_TEXT, VERDICT_TEXT
    from bayescale.workflows.audit.figures import audit_figures

    verdicts = Section("Verdicts", "claims")
    verdicts.paragraphs.append(f"{result.n_obs} runs refitted with the {result.law} law. {result.source}")
    verdicts.paragraphs.append(f"Claimed values: {VERDICT_TEXT}. Claimed events: {PROBABILITY_TEXT}. Each row "
                               "states the rule that gave its verdict, the evidence, the flags that bear on it and "
                               "where more runs would narrow it most.")
    verdicts.tables.append(("One row per claimed item", verdict_table_html(result.table())))
    sections = [verdicts]
    figures = audit_figures(result)
    if figures:
        drawn = Section("Each claim on the posterior", "claim-figures")
        drawn.paragraphs.append("The claim in red (dashed: a claimed value; shaded between dashed lines: a claimed "
                                "interval or range), the posterior in blue (a histogram with its central interval, or "
                                "median curves with their bands).")
        verdict_of = result.verdicts()
        drawn.figures += [(f"{item}: {verdict_of.get(item, '')}", figure_uri(fig)) for item, fig in figures.items()]
        sections.append(drawn)
    values, width = result._verdict_table(), result._width_table()
    if len(values) or len(width):
        against = Section("Claimed values against the posterior", "values")
        if len(values):
            against.tables.append(("Claimed values and posterior intervals", verdict_table_html(values)))
        if len(width):
            against.tables.append(("Width check (claimed / posterior interval width)", table_html(width, index=False)))
        sections.append(against)
    flags = Section("Audit flags", "audit-flags")
    if len(result.flags):
        flags.tables.append(("Flags and their reasons",
                             table_html(result.flags[["severity", "code", "item", "message"]], index=False)))
    else:
        flags.paragraphs.append("No flags.")
    sections.append(flags)
    if len(result.recommendations):
        more = Section(f"Where {result.runs} more runs would most reduce each interval", "recommendations")
        more.paragraphs.append(result._recommendation_text().replace("`", ""))
        more.tables.append(("Recommended runs", table_html(result.recommendations, index=False)))
        sections.append(more)
    return sections
