"""Rendering a report's sections into one self-contained HTML page, and writing it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bayescale.reports.audit_sections import audit_sections
from bayescale.reports.fit_sections import (
    comparison_section,
    contrast_section,
    data_section,
    diagnostics_section,
    figure_section,
    flag_section,
    parameter_section,
    prediction_section,
    provenance_section,
    reach_section,
)
from bayescale.reports.plan_sections import plan_section
from bayescale.reports.provenance import check_report_path, python_call


def _template():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("bayescale.reports", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("report.html.j2")


def render_report(
    fit,
    *,
    at=None,
    prob: float = 0.9,
    groups: Sequence[str] | None = None,
    title: str | None = None,
    description: str | None = None,
    command: str | None = None,
    audit=None,
    discrepancy=None,
    reach=None,
    reach_groups: Sequence[str] | str | None = None,
    plan=None,
) -> str:
    """Render the HTML report of ``fit`` (a fit, a stacked fit or a Chinchilla fit) as a string.

    Parameters
    ----------
    fit : ScalingFit, StackedFit or ChinchillaFit
        The fitted law; for an audit, ``audit.fit``.
    at : sequence of float, optional
        Prediction targets (scales; compute budgets for the Chinchilla law).
    prob : float
        Mass of the intervals and bands.
    groups : sequence of str, optional
        Groups to predict and draw (default: all).
    title, description : str, optional
        Heading and introduction of the page.
    command : str, optional
        The command that reproduces the report; defaults to a ``bayescale.fit(...)`` call.
    audit : AuditResult, optional
        Adds the audit's verdicts, width check, flags and recommendations.
    discrepancy : float or array of float, optional
        Model discrepancy scale for the predictions and bands (see ``ScalingFit.predict``).
    reach : sequence of float, optional
        Targets of the metric: adds the scale at which the mean curve reaches each
        (``fit.reach``) for ``reach_groups`` (default: every group).
    plan : DataFrame or dict of DataFrame, optional
        A ``fit.plan(...)`` table, or an audit's plans per item (default: ``audit.plans``): adds the
        plan section with its figure (:mod:`bayescale.reports.plan_sections`).

    Returns
    -------
    str
        A complete HTML document with every figure embedded.
    """
    from bayescale import __version__

    if audit is not None and fit is None:
        fit = audit.fit
    sections = list(audit_sections(audit)) if audit is not None else []
    sections += [data_section(fit), figure_section(fit, at, prob, groups, discrepancy), parameter_section(fit, prob)]
    optional = [prediction_section(fit, at, prob, groups, discrepancy),
                reach_section(fit, reach, prob, reach_groups, discrepancy),
                plan_section(plan if plan is not None or audit is None else audit.plans), comparison_section(fit),
                contrast_section(fit, at, prob)]
    sections += [s for s in optional if s is not None]
    sections += [flag_section(fit, at), diagnostics_section(fit)]
    command = command or python_call(fit)
    sections.append(provenance_section(fit, command))
    page_title = title or (audit.title if audit is not None else f"{fit.config.y} against {fit.config.x}")
    return _template().render(
        title=page_title, description=description or "", sections=sections, command=command,
        version=__version__, created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), seed=fit.config.seed,
        summary=repr(fit),
    )


def write_report(fit, path, **kwargs: Any) -> Path:
    """Render the report (see :func:`render_report`) and write it atomically to ``path``."""
    from bayescale.core.files import atomic_write

    path = check_report_path(path)
    text = render_report(fit, **kwargs)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    path.chmod(0o644)  # a page to share: readable like any other output
    return path


def write_audit_report(result, path, *, at=None, command: str | None = None) -> Path:
    """Write the HTML report of an audit (:class:`bayescale.workflows.audit.AuditResult`) to ``path``.

    ``at`` (compute budgets) marks the claim's targets on the figure and predicts there.
    """
    return write_report(result.fit, path, audit=result, at=at, command=command)
