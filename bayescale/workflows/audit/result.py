"""What an audit found (:class:`AuditResult`): one row per judged statement, flags, where more runs help."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bayescale.core.formats import markdown_table
from bayescale.workflows.audit.judge import NARROW, PROBABILITY_TEXT, VERDICT_TEXT
from bayescale.workflows.audit.more_runs import CANDIDATE_RATIOS

VALUE_KINDS = ("parameter", "prediction", "optimal")


@dataclass
class AuditResult:
    """What an audit found.

    Attributes
    ----------
    items : DataFrame
        One row per judged statement (a claimed item, plus an ``: abrupt`` row for an abrupt
        emergence claim and an ``: every group`` row for a population claim): ``item``,
        ``kind``, ``claim`` (in words), the claimed and posterior numbers where they apply,
        ``probability`` (posterior probability that the claim holds, for event claims),
        ``verdict``, ``rule`` (the rule that gave it), ``evidence`` (in words), ``flags``
        (codes of the flags that bear on it), ``more_runs`` (where more runs narrow it most).
    flags : DataFrame
        ``code``, ``severity``, ``item``, ``message``, ``value``.
    recommendations, candidates : DataFrame
        The best candidate run per item and every candidate, with ``width_factor`` (expected
        width after ``runs`` more runs there / width now).
    evidence : dict
        Per row of ``items``, the numbers a figure of it needs (draws, curves, comparisons).
    plans : dict
        Per claimed item, the run planner's table with its batch under the budget (``audit(plan=...)``).
    """

    title: str
    source: str
    items: pd.DataFrame
    flags: pd.DataFrame
    recommendations: pd.DataFrame
    candidates: pd.DataFrame
    n_obs: int
    runs: int
    fit: Any = None
    law: str = "chinchilla"
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: dict[str, pd.DataFrame] = field(default_factory=dict)

    def verdicts(self) -> dict[str, str]:
        """``{item: verdict}`` for every row."""
        return dict(zip(self.items["item"], self.items["verdict"], strict=True))

    def table(self) -> pd.DataFrame:
        """One row per judged statement, in words: item, claim, evidence, verdict, rule, flags, more runs."""
        return self.items[["item", "claim", "evidence", "verdict", "rule", "flags", "more_runs"]]

    def figures(self) -> dict[str, Any]:
        """``{item: Figure}`` for the rows whose kind has a plotting function in
        :data:`bayescale.workflows.audit.figures.PLOTS`."""
        from bayescale.workflows.audit.figures import PLOTS

        out = {}
        for row in self.items.itertuples(index=False):
            plot = PLOTS.get(row.kind)
            figure = plot(self, row.item) if plot is not None else None
            if figure is not None:
                out[row.item] = figure
        return out

    def print(self, *, plain: bool | None = None) -> None:
        """Print the audit as tables: verdict and item first, the evidence under its row when it does not fit.

        Under ``--format json`` (:func:`bayescale.core.console.output`) the tables are ``verdicts``
        (:meth:`table`), ``claims``, ``width``, ``flags`` and ``recommendations``.
        """
        from functools import partial

        from bayescale.core.console import note, print_table
        from bayescale.core.tables import screen_width

        show = partial(print_table, index=False, plain=plain, lead=("verdict", "severity", "item"))
        lines = [self.title, self.source, f"{self.n_obs} runs refitted ({self.law} law).",
                 f"Value verdicts: {VERDICT_TEXT}", f"Event verdicts: {PROBABILITY_TEXT}"]
        note("\n".join(wrapped for line in lines for wrapped in textwrap.wrap(line, screen_width()) or [""]))
        show(self.table(), "Verdicts", name="verdicts", below=("evidence", "rule"))
        values = self._verdict_table()
        if len(values):
            show(values, "Claims against the posterior", name="claims")
        width = self._width_table()
        if len(width):
            show(width, "Width check (claimed / posterior interval width)", name="width")
        show(self.flags[["severity", "code", "item", "message"]], "Flags", name="flags")  # "Flags: none" when empty
        if len(self.recommendations):
            show(self.recommendations, f"Where {self.runs} more runs most reduce each interval", name="recommendations")
        for shown, title, summary in self._plan_views():
            show(shown, title, name="plan")
            note(summary)

    def _plan_views(self) -> list[tuple[pd.DataFrame, str, str]]:
        from bayescale.workflows.plan.figure import plan_view

        return [plan_view(table) for table in self.plans.values()]

    def _verdict_table(self) -> pd.DataFrame:
        values = self.items[self.items["tail"].notna() | self.items["p_interval"].notna()]
        return values[["item", "claimed", "claimed_lower", "claimed_upper", "prob", "posterior_median",
                       "posterior_lower", "posterior_upper", "p_interval", "tail", "z", "verdict"]]

    def _width_table(self) -> pd.DataFrame:
        table = self.items[self.items["width_ratio"].notna()]
        return table[["item", "claimed_lower", "claimed_upper", "posterior_lower", "posterior_upper",
                      "width_ratio", "runs_needed"]]

    def _recommendation_text(self) -> str:
        where = (f"runs at compute budgets from the smallest observed to beyond the targets and "
                 f"{', '.join(str(int(r)) for r in CANDIDATE_RATIOS)} tokens per parameter, costing 6 N D FLOPs"
                 if self.law == "chinchilla" else
                 "runs at nine scales from the smallest observed to ten times the largest (or the claim's target)")
        return ("The candidate with the largest expected reduction of the interval per unit cost, for " + where
                + ". Expected width after the extra runs relative to now (`width_factor`) by preposterior "
                "simulation: outcomes drawn from the posterior predictive, the posterior draws reweighted by "
                "their likelihood (bayescale.workflows.plan).")

    def to_markdown(self) -> str:
        """The audit as a Markdown report: one row per item with its verdict, then the details."""
        lines = [f"# Audit: {self.title}", ""]
        if self.source:
            lines += [f"Claim source: {self.source}", ""]
        lines += [
            f"{self.n_obs} runs refitted with the {self.law} law. Posterior intervals are central intervals at "
            "each claim's level (`prob`).", "",
            f"Verdicts on claimed values: {VERDICT_TEXT}. `z` is the claimed value's distance from the posterior "
            "mean in posterior standard deviations (log scale for positive quantities).", "",
            f"Verdicts on claimed events: {PROBABILITY_TEXT}. Each row states the rule that gave its verdict.", "",
            "## Verdicts", "", markdown_table(self.table()), "",
        ]
        notes = [(r.item, n) for r in self.items.itertuples() for n in r.notes]
        if notes:
            lines += ["Notes:", ""] + [f"- {item}: {note}" for item, note in notes] + [""]
        values = self._verdict_table()
        if len(values):
            lines += ["## Claims against the posterior", "", markdown_table(values), ""]
        width = self._width_table()
        if len(width):
            lines += [
                "## Width check", "",
                f"`width_ratio` = claimed interval width / posterior interval width at the same level "
                f"(flagged below {NARROW}). `runs_needed` = {self.n_obs} x (posterior width / claimed width)^2: "
                "about how many runs an interval that narrow would need if the noise these data show is real "
                "(widths shrink as 1/sqrt(n)).", "", markdown_table(width), "",
            ]
        lines += ["## Flags", ""]
        lines += [markdown_table(self.flags[["severity", "code", "item", "message"]]) if len(self.flags)
                  else "None.", ""]
        if len(self.recommendations):
            lines += [f"## Where {self.runs} more runs would most reduce each interval", "",
                      self._recommendation_text(), "", markdown_table(self.recommendations), ""]
        for shown, title, summary in self._plan_views():
            lines += [f"## {title}", "", markdown_table(shown), "", summary, ""]
        focus = self._focus_item()
        if focus is not None:
            table = self.candidates[self.candidates["item"] == focus].sort_values("width_factor")
            lines += [f"### Every candidate for {focus}", "",
                      markdown_table(table.drop(columns="item").reset_index(drop=True)), ""]
        return "\n".join(lines)

    def _focus_item(self) -> str | None:
        """The first item with candidates that is not a parameter (else the first with any): the claim's target."""
        if not len(self.candidates):
            return None
        with_candidates = self.items[self.items["item"].isin(set(self.candidates["item"]))]
        if not len(with_candidates):
            return None
        targets = with_candidates[with_candidates["kind"] != "parameter"]
        return str((targets if len(targets) else with_candidates)["item"].iloc[0])

    def write(self, path) -> None:
        """Write the Markdown report atomically, with a figure per item (PNGs in ``<stem>_files/`` beside it)."""
        from bayescale.workflows.audit.figures import write_markdown

        write_markdown(self, path)
