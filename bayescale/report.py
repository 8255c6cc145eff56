"""A self-contained HTML report of a fit or an audit, to read in a browser or share as one file.

The page holds the data, the fitted curves with their bands and extrapolation zone, the
parameter table, predictions at the targets, the flags with their reasons, the law
comparison and stacking weights (stacked fits), the offsets and gaps between groups
(grouped fits), sampler diagnostics, the versions and seed, and the command that
reproduces it. Figures are embedded as base64 PNG and the page declares a Content
Security Policy that forbids any network request, so it opens offline, as an e-mail
attachment or from a CI artefact.

>>> import bayescale as bs
>>> from bayescale.report import write_report
>>> fit = bs.fit(df, x="step", y="loss", group="domain", seed=1)
>>> write_report(fit, "report.html", at=[1e6, 3e6])

From the shell: ``bayescale run SPEC.toml --report out.html`` or
``bayescale audit claim.toml --report out.html``.
"""

from __future__ import annotations

import base64
import io
import platform
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import BayescaleError, OutputError

#: distributions whose versions the report records
VERSIONED = ("bayescale", "pymc", "pytensor", "nutpie", "numba", "arviz-base", "arviz-stats", "numpy", "pandas",
             "xarray", "matplotlib")
MAX_DATA_ROWS = 400
MAX_CONTRASTS = 12


@dataclass
class Section:
    """One titled block of the page: text, tables (HTML) and figures (data URIs)."""

    title: str
    anchor: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (caption, html)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (alt text, data URI)
    details: list[tuple[str, str]] = field(default_factory=list)  # (summary, table html), collapsed


# ---------------------------------------------------------------------------- formatting
def _number(value) -> str:
    from bayescale.console import format_number

    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return format_number(float(value))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def table_html(frame: pd.DataFrame, *, index: bool | None = None) -> str:
    """``frame`` as an HTML table (escaped; numbers to 4 significant digits, right-aligned)."""
    from html import escape

    if index is None:
        index = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
    frame = frame.reset_index() if index else frame
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in frame.columns]
    head = "".join(f'<th{" class=num" if num else ""} scope="col">{escape(str(c))}</th>'
                   for c, num in zip(frame.columns, numeric, strict=True))
    rows = []
    for row in frame.itertuples(index=False):
        cells = "".join(f'<td{" class=num" if num else ""}>{escape(_number(v))}</td>'
                        for v, num in zip(row, numeric, strict=True))
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def figure_uri(fig, *, dpi: int = 110) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (the figure is closed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except Exception:  # noqa: BLE001 - Figure objects made without pyplot need no closing
        pass
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def versions() -> dict[str, str]:
    """Python and the versions of the libraries that shape a fit."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def command_line(argv: Sequence[str] | None = None) -> str:
    """The ``bayescale ...`` command that is running (from ``sys.argv`` by default), shell-quoted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return "bayescale " + shlex.join(argv)


def reproduce_command(args, positional: Sequence[str], *, seed: int | None = None) -> str:
    """The ``bayescale`` command line that ``args`` (a parsed :mod:`argparse` namespace) came from.

    Options come back in the order they were declared; ``seed`` (the seed the fit actually
    used) replaces a missing or different ``--seed``, so the command repeats the same draws.
    """
    values = dict(vars(args))
    parts = ["bayescale", str(values.pop("command", "") or "")]
    parts += [str(values.pop(name)) for name in positional]
    if seed is not None and "seed" in values:
        values["seed"] = seed
    for name, value in values.items():
        if callable(value) or value is None or value is False:
            continue
        option = "--" + name.replace("_", "-")
        if value is True:
            parts.append(option)
        elif isinstance(value, list | tuple):
            parts += [option, *map(_argument, value)]
        else:
            parts += [option, _argument(value)]
    return shlex.join(p for p in parts if p)


def _argument(value) -> str:
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def check_report_path(path) -> Path | None:
    """Refuse, before any sampling, a report path that is not ``.html`` or cannot be written."""
    from bayescale.io import check_writable

    if not path:
        return None
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"report {str(path)!r} must end in .html")
    return check_writable(path, "report")


def python_call(fit) -> str:
    """A ``bayescale.fit(...)`` call with the fit's options, for reports made from Python."""
    c = fit.config
    parts = [f"law={c.law!r}", f"x={c.x!r}", f"y={c.y!r}"]
    if getattr(c, "group", None):
        parts.append(f"group={c.group!r}")
    for name, default in (("noise", None), ("slopes", "shared"), ("floor", "shared")):
        value = getattr(c, name, default)
        if value is not None and value != default:
            parts.append(f"{name}={value!r}")
    parts += [f"draws={c.draws}", f"tune={c.tune}", f"chains={c.chains}", f"seed={c.seed}"]
    if c.sampler != "nutpie":  # fit's default
        parts.append(f"sampler={c.sampler!r}")
    return f"bayescale.fit(df, {', '.join(parts)})"


# ---------------------------------------------------------------------------- sections
def _kind(fit) -> str:
    if hasattr(fit, "fits") and hasattr(fit, "weights"):
        return "stacked"
    if hasattr(fit, "optimal") and hasattr(fit.data, "tokens"):
        return "chinchilla"
    return "single"


def data_frame(fit) -> pd.DataFrame:
    """The observations of a fit as a tidy frame in the user's units."""
    d = fit.data
    c = fit.config
    if hasattr(d, "tokens"):  # two-input law
        names = list(getattr(d, "x_names", ["params", "tokens"]))
        return pd.DataFrame({names[0]: d.params, names[1]: d.tokens, c.y: d.y})
    frame = pd.DataFrame({c.x: d.x, c.y: d.y})
    if c.group:
        frame.insert(0, c.group, [d.groups[i] for i in d.group_index])
    return frame


def data_section(fit) -> Section:
    frame = data_frame(fit)
    c = fit.config
    section = Section("Data", "data")
    group = c.group if getattr(c, "group", None) and c.group in frame.columns else None
    numeric = [col for col in frame.columns if col != group]
    section.paragraphs.append(
        f"{len(frame)} observations" + (f" in {frame[group].nunique()} groups of {group!r}" if group else "")
        + f"; the metric is {c.y!r}."
    )
    if group:
        stats = frame.groupby(group, sort=False).agg(
            n=(c.y, "size"), **{f"{col}_min": (col, "min") for col in numeric},
            **{f"{col}_max": (col, "max") for col in numeric},
        )
    else:
        stats = pd.DataFrame({"n": [len(frame)], **{f"{col}_min": [frame[col].min()] for col in numeric},
                              **{f"{col}_max": [frame[col].max()] for col in numeric}})
    section.tables.append(("Range of the observations", table_html(stats)))
    shown = frame.head(MAX_DATA_ROWS)
    label = f"All {len(frame)} rows" if len(frame) <= MAX_DATA_ROWS else f"First {MAX_DATA_ROWS} of {len(frame)} rows"
    section.details.append((label, table_html(shown, index=False)))
    return section


def figure_section(fit, at, prob: float, groups, discrepancy=None) -> Section:
    section = Section("Fitted curves", "curves")
    fig = fit.plot(at=at, prob=prob, groups=groups, **({} if discrepancy is None else {"discrepancy": discrepancy}))
    if _kind(fit) == "chinchilla":
        text = ("Left: loss against parameters along isoFLOP lines with posterior median and bands, and the "
                "compute-optimal point of each line. Right: the compute-optimal number of parameters against "
                "compute, with its band.")
    else:
        text = (f"Log-log axes: the observations, the posterior median curve and its {int(prob * 100)}% "
                "posterior predictive band per group. The shaded region beyond the largest observed scale is the "
                "extrapolation zone; dotted lines mark the prediction targets.")
        if discrepancy is not None:
            text += f" Beyond the data the band includes a model discrepancy of {_discrepancy_text(discrepancy)}."
    section.paragraphs.append(text)
    section.figures.append((f"fitted {fit.config.law} law with {int(prob * 100)}% bands", figure_uri(fig)))
    return section


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.index.name = frame.index.name or "parameter"
    return frame


def parameter_section(fit, prob: float) -> Section:
    section = Section("Parameters", "parameters")
    section.paragraphs.append(
        f"Posterior mean, standard deviation and {int(prob * 100)}% highest-density interval of each parameter in "
        "the units of the data, with r_hat and effective sample sizes."
    )
    if _kind(fit) == "stacked":
        for name, sub in fit.fits.items():
            section.tables.append((f"{name} law", table_html(_named(sub.summary(prob=prob)))))
    else:
        section.tables.append(("Posterior summary", table_html(_named(fit.summary(prob=prob)))))
    return section


def _discrepancy_text(discrepancy) -> str:
    s = np.atleast_1d(np.asarray(discrepancy, dtype=float))
    value = f"{s[0]:.3g}" if s.size == 1 else f"{s.mean():.3g} (mean of {s.size} draws)"
    return f"s = {value}: the sd of log y grows by s per decade beyond the observed range"


def prediction_section(fit, at, prob: float, groups, discrepancy=None) -> Section | None:
    if at is None or len(np.atleast_1d(at)) == 0:
        return None
    section = Section("Predictions at the targets", "predictions")
    section.paragraphs.append(
        f"Median and central {int(prob * 100)}% posterior predictive interval (a new measurement at that scale "
        "falls inside with that probability). decades_beyond is how far, in powers of ten, a target lies outside "
        "the observed range."
        + ("" if discrepancy is None else f" The intervals include a model discrepancy of "
           f"{_discrepancy_text(discrepancy)}.")
    )
    widen = {} if discrepancy is None else {"discrepancy": discrepancy}
    if _kind(fit) == "chinchilla":
        section.tables.append(("Loss at the compute-optimal allocation of each budget",
                               table_html(fit.predict(compute=list(np.atleast_1d(at)), prob=prob))))
        section.tables.append(("Compute-optimal allocation", table_html(fit.optimal(list(np.atleast_1d(at)),
                                                                                    prob=prob))))
    elif _kind(fit) == "stacked":
        section.tables.append(("Stacked and per-law predictions",
                               table_html(fit.predict(at, groups, prob=prob, by_law=True, **widen))))
    else:
        section.tables.append(("Predictions", table_html(fit.predict(at, groups, prob=prob, **widen))))
    return section


def reach_section(fit, targets, prob: float, groups=None, discrepancy=None) -> Section | None:
    """Where the mean curve reaches each target (:meth:`bayescale.ScalingFit.reach`)."""
    if targets is None or len(np.atleast_1d(targets)) == 0:
        return None
    from bayescale.reach import HORIZON_DECADES

    chinchilla = _kind(fit) == "chinchilla"
    section = Section("Reaching the targets", "reach")
    scale = "the compute (FLOP) at which the loss of the compute-optimal allocation" if chinchilla else \
        f"the {fit.config.x} at which the mean curve"
    section.paragraphs.append(
        f"For each target, {scale} gets there: posterior median and central {int(prob * 100)}% interval over "
        "all draws, a draw that never gets there (the target at or past its floor or ceiling, or more than "
        f"{HORIZON_DECADES:g} decades beyond the data) counting as infinitely far, so an interval may end at inf. "
        "p_never is the share of such draws; decades_beyond how far the median lies beyond the largest observed "
        "scale."
        + ("" if discrepancy is None else f" The draws include a model discrepancy of {_discrepancy_text(discrepancy)}"
           ", as one slope drift per draw.")
    )
    widen = {} if discrepancy is None else {"discrepancy": discrepancy}
    table = fit.reach(list(np.atleast_1d(targets)), None if chinchilla else groups, prob=prob, **widen)
    section.tables.append(("Reach", table_html(table)))
    if not chinchilla:
        section.figures.append(("Each target (dotted) and the scale that reaches it: median and interval",
                                figure_uri(reach_figure(fit, table, prob, discrepancy))))
    return section


def reach_figure(fit, table: pd.DataFrame, prob: float, discrepancy=None):
    """The fit's plot of the reach table's groups, extended to the finite median reaches, with them marked."""
    from bayescale.reach import mark_reach

    x_max = float(np.max(fit.data.x))
    ends = table[["median", "upper"]].to_numpy().ravel()
    finite = ends[np.isfinite(ends) & (ends > x_max)]
    at = [float(min(finite.max(), x_max * 1e6))] if len(finite) else None
    groups = list(dict.fromkeys(table["group"]))
    fig = fit.plot(at=at, prob=prob, groups=groups, **({} if discrepancy is None else {"discrepancy": discrepancy}))
    ax = fig.axes[0]
    mark_reach(ax, table, {g: line.get_color() for g, line in zip(groups, ax.get_lines(), strict=False)})
    ax.legend(fontsize=7, frameon=False)
    return fig


def flag_section(fit, at) -> Section:
    section = Section("Flags", "flags")
    flags = fit.flags(at=at)
    if len(flags) == 0:
        section.paragraphs.append("No flags: the sampler converged and no target is far outside the data.")
        return section
    warnings = int((flags["severity"] == "warning").sum())
    section.paragraphs.append(
        f"{warnings} warning(s) and {len(flags) - warnings} note(s). Warnings are reasons not to trust a number as "
        "it stands; notes are outputs worth reading."
    )
    keep = [c for c in ("severity", "code", "group", "item", "x", "message", "value") if c in flags.columns]
    section.tables.append(("Flags and their reasons", table_html(flags[keep], index=False)))
    return section


def comparison_section(fit) -> Section | None:
    if _kind(fit) != "stacked":
        return None
    section = Section("Law comparison", "comparison")
    weights = ", ".join(f"{name} {w:.2f}" for name, w in fit.weights.items())
    section.paragraphs.append(
        "PSIS-LOO on the density of the metric (elpd: expected log predictive density, higher is better; dse: "
        "standard error of the difference) and its stacking weights; with leave-future-out weights also elpd_lfo "
        "(log predictive density of each curve's later points from refits on its earlier ones) and weight_lfo. "
        f"Stacking weights: {weights}. They are the {getattr(fit, 'weights_method', 'loo').upper()} ones. "
        "Predictions above "
        "mix the laws by these weights, so where the laws disagree the interval widens."
    )
    section.tables.append(("LOO comparison", table_html(fit.comparison)))
    return section


def contrast_section(fit, at, prob: float) -> Section | None:
    target = fit.best if _kind(fit) == "stacked" else fit
    if _kind(target) == "chinchilla" or target.data.n_groups < 2:
        return None
    groups = list(target.data.groups)
    reference = groups[0]
    xs = np.sort(np.unique(np.concatenate([np.asarray(target.data.x_range, dtype=float),
                                           np.atleast_1d(at if at is not None else [])]).astype(float)))
    rows = []
    for other in groups[1:MAX_CONTRASTS + 1]:
        try:
            table = target.contrast(other, reference, at=xs, prob=prob)
        except (BayescaleError, KeyError):
            return None  # this law has no log offsets to compare
        rows.append(table.assign(contrast=f"{other} - {reference}"))
    frame = pd.concat(rows, ignore_index=True)
    frame = frame[["contrast", *[c for c in frame.columns if c != "contrast"]]]
    section = Section("Group offsets and gaps", "contrasts")
    section.paragraphs.append(
        f"Each group against {reference!r}: log_A_difference is the difference in log offsets; gap is the "
        f"difference in the fitted curve of {target.config.y!r} at each scale (the observed range and the "
        "targets); gap_shrinks (in the mean column) is the posterior probability that the gap is smaller at the "
        "largest scale than at the smallest; prob_positive is the posterior probability of a positive difference."
    )
    if len(groups) > MAX_CONTRASTS + 1:
        section.paragraphs.append(f"Only the first {MAX_CONTRASTS} of {len(groups) - 1} contrasts are shown.")
    section.tables.append(("Contrasts", table_html(frame, index=False)))
    return section


def diagnostics_section(fit) -> Section:
    section = Section("Sampler diagnostics", "diagnostics")
    d = fit.diagnostics()
    section.paragraphs.append(
        "r_hat should be at most 1.01, effective sample sizes at least 400 and divergences zero; otherwise a "
        "flag above says so."
    )
    frame = pd.DataFrame({"quantity": list(d), "value": [float(v) for v in d.values()]})
    section.tables.append(("Diagnostics", table_html(frame, index=False)))
    return section


def provenance_section(fit, command: str) -> Section:
    c = fit.config
    section = Section("Reproduce", "reproduce")
    section.paragraphs.append("Run this to make the same fit and report (same data, options and seed):")
    law = ", ".join(fit.fits) if _kind(fit) == "stacked" else c.law
    settings = pd.DataFrame({
        "setting": ["law", "seed", "sampler", "chains", "draws", "tune", "noise"],
        "value": [law, str(c.seed), c.sampler, str(c.chains), str(c.draws), str(c.tune), str(c.noise)],
    })
    section.tables.append(("Fit settings", table_html(settings, index=False)))
    found = versions()
    section.tables.append(("Versions", table_html(pd.DataFrame({"package": list(found),
                                                                 "version": list(found.values())}), index=False)))
    return section


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
    """The audit of a :class:`bayescale.audit.AuditResult`: one row per claimed item with its verdict,
    a figure per item where a picture helps, the claimed values against the posterior, the width
    check, the flags and where more runs would help."""
    from bayescale.audit import PROBABILITY_TEXT, VERDICT_TEXT
    from bayescale.audit_figures import audit_figures

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


# ---------------------------------------------------------------------------- page
def _template():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("bayescale", "templates"), autoescape=select_autoescape(["html", "j2"]))
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
                reach_section(fit, reach, prob, reach_groups, discrepancy), comparison_section(fit),
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
    from bayescale.io import atomic_write

    path = check_report_path(path)
    text = render_report(fit, **kwargs)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    path.chmod(0o644)  # a page to share: readable like any other output
    return path


def write_audit_report(result, path, *, at=None, command: str | None = None) -> Path:
    """Write the HTML report of an audit (:class:`bayescale.audit.AuditResult`) to ``path``.

    ``at`` (compute budgets) marks the claim's targets on the figure and predicts there.
    """
    return write_report(result.fit, path, audit=result, at=at, command=command)
