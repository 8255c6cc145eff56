"""A self-contained HTML report of a fit or an audit, to read in a browser or share as one file.

The page holds the data, the fitted curves with their bands and extrapolation zone, the
parameter table, predictions at the targets, the flags with their reasons, the law
comparison and stacking weights (stacked fits), the offsets and gaps between groups
(grouped fits), sampler diagnostics, the versions and seed, and the command that
reproduces it. Figures are embedded as base64 PNG and the page declares a Content
Security Policy that forbids any network request, so it opens offline, as an e-mail
attachment or from a CI artefact.

>>> import bayescale as bs
>>> from bayescale.reports import write_report
>>> fit = bs.fit(df, x="step", y="loss", group="domain", seed=1)
>>> write_report(fit, "report.html", at=[1e6, 3e6])

From the shell: ``bayescale run SPEC.toml --report out.html`` or
``bayescale audit claim.toml --report out.html``.
"""

from __future__ import annotations

from bayescale.reports.provenance import check_report_path, reproduce_command
from bayescale.reports.render import render_report, write_audit_report, write_report

__all__ = ["check_report_path", "render_report", "reproduce_command", "write_audit_report", "write_report"]
