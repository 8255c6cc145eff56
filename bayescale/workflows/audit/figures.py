"""One figure per row of an audit, and the Markdown report with those figures beside it.

:data:`PLOTS` maps each kind of audit row to the function of :mod:`bayescale.workflows.audit.plots`
that draws it from the result's ``evidence``; :meth:`AuditResult.figures` reads it and returns
``{item: Figure}``.
Rows a picture does not help (the ``: abrupt`` row of an emergence claim, whose evidence is
a LOO table; the ``: every group`` row of a population claim, drawn with the aggregate) get
none.

>>> from bayescale.workflows.audit.figures import audit_figures, write_markdown
>>> audit_figures(result)["4 epochs ~ new data (within 1%)"].savefig("gap.png")
>>> write_markdown(result, "out/audit.md")    # the report, PNGs in out/audit_files/
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bayescale.workflows.audit.plots import (
    emergence_figure,
    groups_figure,
    parameter_figure,
    population_figure,
    reach_figure,
    trend_figure,
)


def _row(result, item: str):
    rows = result.items[result.items["item"] == item]
    return rows.iloc[0] if len(rows) else None


def _given(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def _claimed_interval(row) -> tuple[float, float] | None:
    lo, hi = _given(row["claimed_lower"]), _given(row["claimed_upper"])
    return (lo, hi) if lo is not None and hi is not None else None


def _value_item(result, item: str):
    """Parameters, and Chinchilla's predictions and allocations: the posterior of the quantity."""
    row, evidence = _row(result, item), result.evidence.get(item, {})
    if row is None or "draws" not in evidence:
        return None
    return parameter_figure(evidence["draws"], name=item, value=_given(row["claimed"]),
                            interval=_claimed_interval(row), prob=float(row["prob"]), verdict=row["verdict"])


def _reach_item(result, item: str):
    row, e = _row(result, item), result.evidence.get(item, {})
    if row is None or "draws" not in e:
        return None
    unit = "compute" if result.law == "chinchilla" else result.fit.config.x
    return reach_figure(e["draws"], target=e["target"], by=e["by"], x_label=unit, label=item,
                        prob=float(row["prob"]), verdict=row["verdict"])


def _emergence_group(result, draws) -> str | None:
    """The group an emergence claim was judged for (its draws are that group's midpoint), or the
    population of groups (:data:`bayescale.NEW_GROUP`); ``None`` for an ungrouped fit."""
    from bayescale.core.posterior import NEW_GROUP
    from bayescale.workflows.audit.curves import emergence_draws

    fit = result.fit
    if fit.data.n_groups < 2 or fit.config.law != "sigmoid":
        return None
    matches = [g for g in fit.data.groups if np.array_equal(emergence_draws(fit, g), draws)]
    return matches[0] if matches else NEW_GROUP


def _emergence_item(result, item: str):
    row, e = _row(result, item), result.evidence.get(item, {})
    if row is None or "draws" not in e:  # the ": abrupt" row: its evidence is a LOO table, in the row's words
        return None
    return emergence_figure(result.fit, midpoint_draws=e["draws"], scale=e.get("claimed"), interval=e.get("interval"),
                            group=e["group"] if "group" in e else _emergence_group(result, e["draws"]),
                            prob=float(row["prob"]), label=item, verdict=row["verdict"])


def _groups_item(result, item: str):
    row, e = _row(result, item), result.evidence.get(item, {})
    if row is None or not e:
        return None
    kind, common = e.get("kind"), {"label": item, "verdict": row["verdict"]}
    if kind is None or kind == "shared_slopes":
        return groups_figure(result.fit, **common)
    if kind == "min_rate":
        return groups_figure(result.fit, at=e.get("at") or float(result.fit.data.x.max()), **common)
    return groups_figure(result.fit, range_=e["range"], pair=(e["a"], e["b"]),
                         gap="relative" if kind == "equivalent" else "absolute", tolerance=e.get("tolerance"),
                         **common)


def _population_item(result, item: str):
    row, e = _row(result, item), result.evidence.get(item, {})
    if row is None or "weights" not in e:  # the ": every group" row is drawn with the aggregate
        return None
    return population_figure(result.fit, weights=e["weights"], at=e["x"], value=e.get("claimed"),
                             interval=e.get("interval"), prob=float(row["prob"]), label=item, verdict=row["verdict"])


def _trend_item(result, item: str):
    row, e = _row(result, item), result.evidence.get(item, {})
    if row is None or "refit" not in e:
        return None
    d = result.fit.data
    held = (d.x > e["cutoff"]) & (d.x <= e["up_to"])
    groups = np.asarray([d.groups[i] for i in d.group_index], dtype=object)[held] if d.n_groups > 1 else None
    return trend_figure(e["refit"], held_x=d.x[held], held_y=d.y[held], held_groups=groups, cutoff=e["cutoff"],
                        up_to=e["up_to"], label=item, verdict=row["verdict"])


#: the figure of each kind of audit row (read by :meth:`AuditResult.figures`)
PLOTS = {"parameter": _value_item, "prediction": _value_item, "optimal": _value_item, "reach": _reach_item,
         "emergence": _emergence_item, "groups": _groups_item, "population": _population_item,
         "trend": _trend_item}


def audit_figures(result) -> dict:
    """``{item: Figure}``: one figure per row of ``result.items`` that a picture helps."""
    return result.figures()




def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:60] or "item"


def write_figures(result, folder, *, dpi: int = 110) -> list[tuple[str, str, Path]]:
    """Write each row's figure as a PNG into ``folder``; ``[(item, verdict, path)]`` in row order."""
    folder = Path(folder)
    figures = audit_figures(result)
    if not figures:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    verdicts = result.verdicts()
    written = []
    for i, (item, fig) in enumerate(figures.items(), start=1):
        path = folder / f"{i:02d}_{_slug(item)}.png"
        fig.savefig(path, dpi=dpi)
        written.append((item, verdicts.get(item, ""), path))
    return written


def markdown(result, path) -> str:
    """The Markdown report of ``result`` with a figure per row, the PNGs written next to ``path``.

    The figures go into ``<stem>_files/`` beside the report and are linked by relative paths.
    """
    path = Path(path)
    text = result.to_markdown()
    written = write_figures(result, path.parent / f"{path.stem}_files")
    if not written:
        return text
    lines = ["", "## Figures", "",
             "Each claim drawn on the posterior: the claim in red (dashed: a claimed value; shaded between dashed "
             "lines: a claimed interval or range), the posterior in blue (a histogram with its central interval, or "
             "median curves with their bands).", ""]
    for item, verdict, png in written:
        rel = png.relative_to(path.parent).as_posix()
        lines += [f"### {item}: {verdict}", "", f"![{item}: {verdict}]({rel})", ""]
    return text.rstrip("\n") + "\n" + "\n".join(lines)


def write_markdown(result, path) -> Path:
    """Write the Markdown report with its figures (see :func:`markdown`) atomically to ``path``."""
    from bayescale.core.files import atomic_write

    path = Path(path)
    text = markdown(result, path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


