"""The sections of a fit's report: data, curves, parameters, predictions, reach, flags, comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescale.errors import BayescaleError
from bayescale.reports.html import Section, figure_uri, table_html
from bayescale.reports.provenance import versions

MAX_DATA_ROWS = 400


MAX_CONTRASTS = 12


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
    chinchilla = _kind(fit) == "chinchilla"  # its isoFLOP figure draws the plain posterior
    fig = fit.plot(at=at, prob=prob, groups=groups, **({} if chinchilla else {"discrepancy": discrepancy}))
    if chinchilla:
        text = ("Left: loss against parameters along isoFLOP lines with posterior median and bands, and the "
                "compute-optimal point of each line. Right: the compute-optimal number of parameters against "
                "compute, with its band. The bands leave out the model discrepancy; the tables include it.")
    else:
        text = (f"Log-log axes: the observations, the posterior median curve and its {int(prob * 100)}% "
                "posterior predictive band per group. The shaded region beyond the largest observed scale is the "
                "extrapolation zone; dotted lines mark the prediction targets.")
        text += f" Beyond the data the band's model discrepancy: {_discrepancy_text(fit, discrepancy)}."
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


def _discrepancy_text(fit, discrepancy) -> str:
    """Which discrepancy widened the forecasts (the sd of log y, or logit y, grows by s per decade beyond the data)."""
    return fit.discrepancy_text(discrepancy)


def prediction_section(fit, at, prob: float, groups, discrepancy=None) -> Section | None:
    if at is None or len(np.atleast_1d(at)) == 0:
        return None
    section = Section("Predictions at the targets", "predictions")
    section.paragraphs.append(
        f"Median and central {int(prob * 100)}% posterior predictive interval (a new measurement at that scale "
        "falls inside with that probability). decades_beyond is how far, in powers of ten, a target lies outside "
        "the observed range."
        + f" Model discrepancy beyond the data: {_discrepancy_text(fit, discrepancy)}."
    )
    widen = {"discrepancy": discrepancy}
    if _kind(fit) == "chinchilla":
        section.tables.append(("Loss at the compute-optimal allocation of each budget",
                               table_html(fit.predict(compute=list(np.atleast_1d(at)), prob=prob, **widen))))
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
    from bayescale.results.reach import HORIZON_DECADES

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
        + f" Model discrepancy beyond the data, as one slope drift per draw: {_discrepancy_text(fit, discrepancy)}."
    )
    widen = {"discrepancy": discrepancy}
    table = fit.reach(list(np.atleast_1d(targets)), None if chinchilla else groups, prob=prob, **widen)
    section.tables.append(("Reach", table_html(table)))
    if not chinchilla:
        section.figures.append(("Each target (dotted) and the scale that reaches it: median and interval",
                                figure_uri(reach_figure(fit, table, prob, discrepancy))))
    return section


def reach_figure(fit, table: pd.DataFrame, prob: float, discrepancy=None):
    """The fit's plot of the reach table's groups, extended to the finite median reaches, with them marked."""
    from bayescale.results.reach import mark_reach

    x_max = float(np.max(fit.data.x))
    ends = table[["median", "upper"]].to_numpy().ravel()
    finite = ends[np.isfinite(ends) & (ends > x_max)]
    at = [float(min(finite.max(), x_max * 1e6))] if len(finite) else None
    groups = list(dict.fromkeys(table["group"]))
    fig = fit.plot(at=at, prob=prob, groups=groups, discrepancy=discrepancy)
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
