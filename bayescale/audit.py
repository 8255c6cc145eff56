r"""Audit a published scaling claim against the data behind it.

A claim file is TOML in the layout of study specs (:mod:`bayescale.spec`: ``[data]``,
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

The data are refitted and every claimed item is compared with its posterior:

- ``p_interval``: posterior probability of the claimed interval;
- ``tail``: two-sided tail probability of the claimed point value,
  :math:`2 \min(P(q \le v), P(q \ge v))`, and ``z``, its distance from the posterior mean in
  posterior standard deviations (on the log scale for positive quantities), which still
  separates claims when the tail is smaller than one over the number of draws;
- verdict: **supported** if ``tail >= 0.10`` (the value lies inside the central 90% posterior
  interval), **weakly supported** if ``0.01 <= tail < 0.10``, **not supported** if
  ``tail < 0.01``; a claim with an interval but no point value is judged the same way on
  ``2 * p_interval``;
- width check: ``width_ratio`` = claimed width / posterior central width at the claimed
  level, and ``runs_needed`` :math:`= n (w_{post} / w_{claim})^2`, the number of runs such an
  interval would need if the noise the data show is real (widths shrink as
  :math:`1/\sqrt{n}`); flagged when the ratio is below 0.5;
- reliability flags: sampler problems, and the extrapolation distance (decades) of each
  claimed target outside the observed params / tokens / compute;
- where more runs help: for candidate runs (compute budgets from the smallest observed to
  beyond the target, at 5, 20 and 80 tokens per parameter), the expected posterior width of
  each item after ``k`` more runs there. This uses a linearised (Laplace) approximation, not
  a refit: the posterior covariance :math:`\Sigma` of the internal parameters
  :math:`\theta = (\log E, \log A, \log B, \alpha, \beta)` gains the Fisher information of
  ``k`` runs, :math:`\Sigma' = (\Sigma^{-1} + k\, I\, g g^T)^{-1}` with :math:`g` the gradient
  of :math:`\log \mu` at the posterior mean and :math:`I = (\nu + 1) / ((\nu + 3) \sigma^2)`
  the Student-t information; the item's width scales by
  :math:`\sqrt{h^T \Sigma' h / h^T \Sigma h}`, with :math:`h = \Sigma^{-1} \mathrm{Cov}(\theta, q)`
  the item's linear regression on the draws.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import SpecError

SUPPORTED = 0.10
WEAK = 0.01
NARROW = 0.5
DEFAULT_PROB = 0.95
CANDIDATE_RATIOS = (5.0, 20.0, 80.0)
PARAMETERS = ("E", "A", "B", "alpha", "beta", "a", "b")
CLAIM_KEYS = {"prob", "source", "parameters", "predictions", "optimal", "runs"}
ITEM_KEYS = {"value", "interval", "prob"}
PREDICTION_KEYS = {"params", "tokens", "compute", "value", "interval", "prob", "label"}
OPTIMAL_KEYS = {"compute", "params", "tokens", "tokens_per_param", "loss", "intervals", "prob", "label"}
VERDICT_TEXT = (f"supported: tail >= {SUPPORTED}; weakly supported: {WEAK} <= tail < {SUPPORTED}; "
                f"not supported: tail < {WEAK} (tail = two-sided posterior tail probability of the claimed value)")


# ---------------------------------------------------------------------------- claim parsing
@dataclass
class ClaimItem:
    """One claimed quantity: what it is, where, and the claimed value and interval."""

    name: str
    kind: str  # parameter | prediction | optimal
    value: float | None
    interval: tuple[float, float] | None
    prob: float
    where: str
    params: float | None = None
    tokens: float | None = None
    compute: float | None = None


@dataclass
class Claim:
    """A parsed claim file."""

    path: Path
    title: str
    source: str
    data: dict[str, Any]
    model: dict[str, Any]
    sampling: dict[str, Any]
    items: list[ClaimItem]
    runs: int = 5
    output: dict[str, Any] = field(default_factory=dict)


def _number(value, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{where}: must be a number, got {value!r}")
    if positive and value <= 0:
        raise SpecError(f"{where}: must be > 0, got {value!r}")
    return float(value)


def _prob(value, where: str) -> float:
    value = _number(value, where)
    if not 0 < value < 1:
        raise SpecError(f"{where}: probabilities must be in (0, 1), got {value!r}")
    return value


def _interval(value, where: str, positive: bool) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise SpecError(f"{where}: must be a list [lower, upper], got {value!r}")
    lo = _number(value[0], f"{where}[0]", positive=positive)
    hi = _number(value[1], f"{where}[1]", positive=positive)
    if lo > hi:
        raise SpecError(f"{where}: lower {lo!r} > upper {hi!r}")
    return lo, hi


def _keys(table: Mapping, allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected some of "
                        f"{', '.join(sorted(allowed))}")


def _value_and_interval(spec, where: str, default_prob: float, positive: bool):
    """A point ``x = 0.3`` or a table ``{value, interval, prob}``."""
    if isinstance(spec, Mapping):
        _keys(spec, ITEM_KEYS, where)
        value = _number(spec["value"], f"{where}.value", positive=positive) if "value" in spec else None
        interval = _interval(spec["interval"], f"{where}.interval", positive) if "interval" in spec else None
        prob = _prob(spec["prob"], f"{where}.prob") if "prob" in spec else default_prob
        if value is None and interval is None:
            raise SpecError(f"{where}: give a value, an interval, or both")
        return value, interval, prob
    return _number(spec, where, positive=positive), None, default_prob


def _parse_items(claim: Mapping, where: str) -> tuple[list[ClaimItem], float]:
    prob = _prob(claim["prob"], f"{where}claim.prob") if "prob" in claim else DEFAULT_PROB
    items: list[ClaimItem] = []
    parameters = claim.get("parameters", {})
    if not isinstance(parameters, Mapping):
        raise SpecError(f"{where}claim.parameters: must be a table")
    for name, spec in parameters.items():
        field_name = f"{where}claim.parameters.{name}"
        if name not in PARAMETERS:
            raise SpecError(f"{field_name}: unknown parameter {name!r}; expected one of {', '.join(PARAMETERS)}")
        value, interval, p = _value_and_interval(spec, field_name, prob, positive=True)
        items.append(ClaimItem(name, "parameter", value, interval, p, field_name))

    for field_name, spec in _array_of_tables(claim, "predictions", where):
        _keys(spec, PREDICTION_KEYS, field_name)
        scales = {k: _number(spec[k], f"{field_name}.{k}", positive=True)
                  for k in ("params", "tokens", "compute") if k in spec}
        if set(scales) not in ({"params", "tokens"}, {"compute"}):
            raise SpecError(f"{field_name}: give params and tokens, or compute (a budget), got {sorted(scales)}")
        value, interval, p = _value_and_interval(
            {k: spec[k] for k in ("value", "interval", "prob") if k in spec}, field_name, prob, positive=True)
        label = spec.get("label") or (f"loss at C={scales['compute']:.3g}" if "compute" in scales
                                      else f"loss at N={scales['params']:.3g}, D={scales['tokens']:.3g}")
        items.append(ClaimItem(str(label), "prediction", value, interval, p, field_name, **scales))

    for field_name, spec in _array_of_tables(claim, "optimal", where):
        _keys(spec, OPTIMAL_KEYS, field_name)
        if "compute" not in spec:
            raise SpecError(f"{field_name}.compute: the budget of a claimed optimal allocation is required")
        compute = _number(spec["compute"], f"{field_name}.compute", positive=True)
        p = _prob(spec["prob"], f"{field_name}.prob") if "prob" in spec else prob
        intervals = spec.get("intervals", {})
        if not isinstance(intervals, Mapping):
            raise SpecError(f"{field_name}.intervals: must be a table of [lower, upper] per quantity")
        _keys(intervals, {"params", "tokens", "tokens_per_param", "loss"}, f"{field_name}.intervals")
        quantities = [q for q in ("params", "tokens", "tokens_per_param", "loss") if q in spec or q in intervals]
        if not quantities:
            raise SpecError(f"{field_name}: claim at least one of params, tokens, tokens_per_param, loss")
        for q in quantities:
            value = _number(spec[q], f"{field_name}.{q}", positive=True) if q in spec else None
            interval = _interval(intervals[q], f"{field_name}.intervals.{q}", True) if q in intervals else None
            items.append(ClaimItem(f"optimal {q} at C={compute:.3g}", "optimal", value, interval, p,
                                   f"{field_name}.{q}", compute=compute))
    seen: dict[str, int] = {}
    for item in items:  # item names key the tables: keep them unique
        seen[item.name] = seen.get(item.name, 0) + 1
        if seen[item.name] > 1:
            item.name = f"{item.name} #{seen[item.name]}"
    if not items:
        raise SpecError(f"{where}claim: claims nothing; add claim.parameters, claim.predictions or claim.optimal")
    return items, prob


def parse_claim(source, *, base: Path | None = None) -> Claim:
    """Read and validate a claim (TOML path or an already-parsed dict).

    Raises
    ------
    SpecError
        One line naming the field at fault.
    """
    from bayescale.spec import check_table, read_toml

    if isinstance(source, Mapping):
        raw, path = dict(source), (base or Path.cwd()) / "claim.toml"
    else:
        path = Path(source)
        raw = read_toml(path, kind="claim")
    where = f"{path}: " if not isinstance(source, Mapping) else ""
    allowed = {"title", "description", "data", "model", "sampling", "output", "claim"}
    unknown = set(raw) - allowed
    if unknown:
        raise SpecError(f"{where}unknown top-level key(s) {', '.join(sorted(unknown))}; "
                        f"expected some of {', '.join(sorted(allowed))}")
    tables = {name: check_table(raw, name, str(path)) for name in ("data", "model", "sampling")}
    output = raw.get("output", {})
    if not isinstance(output, Mapping) or set(output) - {"report"}:
        raise SpecError(f"{where}output: must be a table with 'report' (Markdown path)")
    law = tables["model"].get("law")
    if law != "chinchilla":
        raise SpecError(f"{where}model.law: audit supports law 'chinchilla', got {law!r}")
    x = tables["model"].get("x")
    if not isinstance(x, list) or len(x) != 2 or not all(isinstance(v, str) for v in x):
        raise SpecError(f"{where}model.x: must be [params_column, tokens_column] (or compute), got {x!r}")
    if not isinstance(tables["model"].get("y"), str):
        raise SpecError(f"{where}model.y: the loss column is required")
    claim = raw.get("claim")
    if not isinstance(claim, Mapping):
        raise SpecError(f"{where}claim: the [claim] table is required")
    _keys(claim, CLAIM_KEYS, f"{where}claim")
    items, _ = _parse_items(claim, where)
    runs = claim.get("runs", 5)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise SpecError(f"{where}claim.runs: must be a positive integer (extra runs per candidate), got {runs!r}")
    return Claim(path=path, title=str(raw.get("title", path.stem)), source=str(claim.get("source", "")),
                 data=tables["data"], model=tables["model"], sampling=tables["sampling"], items=items,
                 runs=runs, output=dict(output))


def load_claim_data(claim: Claim) -> pd.DataFrame:
    """The claim's rows (bundled dataset or CSV), with its columns checked."""
    from bayescale.spec import Spec, load_data

    if ("dataset" in claim.data) == ("path" in claim.data):
        raise SpecError(f"{claim.path}: data: needs exactly one of 'dataset' (bundled) or 'path' (CSV file)")
    frame = load_data(Spec(path=claim.path, title=claim.title, data=claim.data, model=claim.model))
    for key, columns in (("model.x", claim.model["x"]), ("model.y", [claim.model["y"]])):
        for column in columns:
            if column not in frame.columns:
                raise SpecError(f"{claim.path}: {key}: column {column!r} is not in the data; "
                                f"columns: {', '.join(map(str, frame.columns))}")
    return frame


# ---------------------------------------------------------------------------- posterior of each item
def item_draws(fit, item: ClaimItem) -> np.ndarray:
    """Posterior draws of a claimed quantity (user units)."""
    if item.kind == "parameter":
        return fit.parameter_draws()[item.name]
    if item.kind == "prediction":
        if item.compute is not None:
            return fit.optimal_draws([item.compute])["loss"][:, 0]
        return fit.curve_draws([item.params], [item.tokens])[:, 0]
    quantity = item.where.rsplit(".", 1)[-1]
    return fit.optimal_draws([item.compute])[quantity][:, 0]


def _tail(draws: np.ndarray, value: float) -> float:
    return float(min(1.0, 2 * min(np.mean(draws <= value), np.mean(draws >= value))))


def _z(draws: np.ndarray, value: float) -> float:
    if np.all(draws > 0) and value > 0:
        draws, value = np.log(draws), math.log(value)
    sd = float(np.std(draws))
    return float((value - np.mean(draws)) / sd) if sd > 0 else float("nan")


def verdict(tail: float) -> str:
    """Words for a tail probability (thresholds in :data:`VERDICT_TEXT`)."""
    if tail >= SUPPORTED:
        return "supported"
    if tail >= WEAK:
        return "weakly supported"
    return "not supported"


def evaluate_item(draws: np.ndarray, item: ClaimItem, n_obs: int) -> dict[str, Any]:
    """Compare one claimed item with its posterior draws."""
    lo_q, hi_q = (1 - item.prob) / 2, 1 - (1 - item.prob) / 2
    post_lo, post_med, post_hi = np.quantile(draws, [lo_q, 0.5, hi_q])
    row: dict[str, Any] = {
        "item": item.name, "kind": item.kind, "claimed": item.value,
        "claimed_lower": item.interval[0] if item.interval else np.nan,
        "claimed_upper": item.interval[1] if item.interval else np.nan,
        "prob": item.prob, "posterior_median": float(post_med),
        "posterior_lower": float(post_lo), "posterior_upper": float(post_hi),
        "p_interval": np.nan, "tail": np.nan, "z": np.nan, "verdict": "",
        "width_ratio": np.nan, "runs_needed": np.nan, "notes": [],
    }
    if item.value is not None:
        row["tail"] = _tail(draws, item.value)
        row["z"] = _z(draws, item.value)
        row["verdict"] = verdict(row["tail"])
        if row["tail"] == 0:
            row["notes"].append(f"tail < 1/{draws.size} (no draw as extreme); |z| = {abs(row['z']):.1f}")
    if item.interval is not None:
        lo, hi = item.interval
        row["p_interval"] = float(np.mean((draws >= lo) & (draws <= hi)))
        if item.value is None:  # an interval alone: judged by its posterior mass, doubled as a two-sided tail
            row["verdict"] = verdict(min(1.0, 2 * row["p_interval"]))
        claimed_width, post_width = hi - lo, float(post_hi - post_lo)
        if post_width > 0:
            row["width_ratio"] = claimed_width / post_width
            row["runs_needed"] = (n_obs * (post_width / claimed_width) ** 2 if claimed_width > 0 else math.inf)
        if item.value is not None and not lo <= item.value <= hi:
            row["notes"].append(f"claimed value {item.value:g} lies outside its own interval [{lo:g}, {hi:g}]")
    return row


# ---------------------------------------------------------------------------- where more runs help
def _internal_draws(fit) -> tuple[np.ndarray, list[str]]:
    from bayescale.posterior import flat

    names = ["log_E", "log_A", "log_B", "alpha", "beta"]
    return np.column_stack([flat(fit.posterior, n) for n in names]), names


def _log_mean_gradient(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """Gradient of log mu w.r.t. (log E, log A, log B, alpha, beta), one row per point."""
    log_e, log_a, log_b, alpha, beta = theta
    terms = np.column_stack([np.full_like(log_n, log_e), log_a - alpha * log_n, log_b - beta * log_d])
    weights = np.exp(terms - terms.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.column_stack([weights[:, 0], weights[:, 1], weights[:, 2],
                            -log_n * weights[:, 1], -log_d * weights[:, 2]])


def _information_per_run(fit) -> float:
    from bayescale.posterior import flat

    sigma = float(np.median(flat(fit.posterior, "sigma")))
    if fit.config.noise == "studentt":
        nu = float(np.median(flat(fit.posterior, "nu")))
        return (nu + 1) / ((nu + 3) * sigma**2)
    if fit.config.noise == "normal":  # on the loss scale: approximate with the median loss
        return float(np.median(fit.data.y / fit.data.y_scale)) ** 2 / sigma**2
    return 1.0 / sigma**2


def candidate_runs(fit, targets: list[float]) -> pd.DataFrame:
    """Candidate new runs: budgets from the smallest observed compute to beyond the targets."""
    c = fit.data.compute
    top = max([c.max() * 10, *[t * 1.0 for t in targets]])
    budgets = np.logspace(np.log10(c.min()), np.log10(top), 7)
    rows = []
    for budget in budgets:
        for ratio in CANDIDATE_RATIOS:
            n = math.sqrt(budget / (6 * ratio))
            rows.append({"compute": budget, "params": n, "tokens": ratio * n, "tokens_per_param": ratio})
    return pd.DataFrame(rows)


def expected_widths(fit, draws: dict[str, np.ndarray], candidates: pd.DataFrame, runs: int) -> pd.DataFrame:
    """Expected width factor of each item after ``runs`` more runs at each candidate (linearised).

    Returns one row per (item, candidate) with ``width_factor`` = expected width after /
    width now.
    """
    theta, _ = _internal_draws(fit)
    sigma = np.cov(theta, rowvar=False)
    precision = np.linalg.inv(sigma)
    centre = theta.mean(axis=0)
    d = fit.data
    grads = _log_mean_gradient(centre, np.log(candidates["params"].to_numpy() / d.n_ref),
                               np.log(candidates["tokens"].to_numpy() / d.d_ref))
    info = _information_per_run(fit) * runs
    posts = [np.linalg.inv(precision + info * np.outer(g, g)) for g in grads]
    rows = []
    centred = theta - centre
    for name, q in draws.items():
        f = np.log(q) if np.all(q > 0) else q
        cov_tq = centred.T @ (f - f.mean()) / (len(f) - 1)
        h = precision @ cov_tq
        now = float(h @ sigma @ h)
        for i, post in enumerate(posts):
            factor = math.sqrt(max(float(h @ post @ h), 0.0) / now) if now > 0 else 1.0
            rows.append({"item": name, **candidates.iloc[i].to_dict(), "runs": runs, "width_factor": factor})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- result
@dataclass
class AuditResult:
    """What an audit found: per-item table, flags, and where more runs help."""

    title: str
    source: str
    items: pd.DataFrame
    flags: pd.DataFrame
    recommendations: pd.DataFrame
    candidates: pd.DataFrame
    n_obs: int
    runs: int
    fit: Any = None

    def verdicts(self) -> dict[str, str]:
        """``{item: verdict}`` for the items with a claimed value."""
        return dict(zip(self.items["item"], self.items["verdict"], strict=True))

    def print(self, *, plain: bool | None = None) -> None:
        """Print the audit as tables."""
        from bayescale.console import print_table

        print(f"{self.title}\n{self.source}\n{self.n_obs} runs refitted.\nVerdict thresholds: {VERDICT_TEXT}")
        print_table(self._verdict_table(), "Claims against the posterior", index=False, plain=plain)
        print_table(self._width_table(), "Width check (claimed / posterior interval width)", index=False,
                    plain=plain)
        if len(self.flags):
            print_table(self.flags[["severity", "code", "item", "message"]], "Flags", index=False, plain=plain)
        else:
            print("\nFlags: none")
        print_table(self.recommendations, f"Where {self.runs} more runs most reduce each interval "
                    "(linearised posterior)", index=False, plain=plain)

    def _verdict_table(self) -> pd.DataFrame:
        return self.items[["item", "claimed", "claimed_lower", "claimed_upper", "prob", "posterior_median",
                           "posterior_lower", "posterior_upper", "p_interval", "tail", "z", "verdict"]]

    def _width_table(self) -> pd.DataFrame:
        table = self.items[self.items["width_ratio"].notna()]
        return table[["item", "claimed_lower", "claimed_upper", "posterior_lower", "posterior_upper",
                      "width_ratio", "runs_needed"]]

    def to_markdown(self) -> str:
        """The audit as a Markdown report."""
        lines = [f"# Audit: {self.title}", ""]
        if self.source:
            lines += [f"Claim source: {self.source}", ""]
        lines += [
            f"{self.n_obs} runs refitted with the Chinchilla law (Student-t noise on log loss). Posterior "
            "intervals are central intervals at each claim's level (`prob`).", "",
            f"Verdicts: {VERDICT_TEXT}. `z` is the claimed value's distance from the posterior mean in "
            "posterior standard deviations (log scale for positive quantities).", "",
            "## Claims against the posterior", "", _markdown_table(self._verdict_table()), "",
        ]
        notes = [(r.item, n) for r in self.items.itertuples() for n in r.notes]
        if notes:
            lines += ["Notes:", ""] + [f"- {item}: {note}" for item, note in notes] + [""]
        width = self._width_table()
        if len(width):
            lines += [
                "## Width check", "",
                f"`width_ratio` = claimed interval width / posterior interval width at the same level "
                f"(flagged below {NARROW}). `runs_needed` = {self.n_obs} x (posterior width / claimed width)^2: "
                "about how many runs an interval that narrow would need if the noise these data show is real "
                "(widths shrink as 1/sqrt(n)).", "", _markdown_table(width), "",
            ]
        lines += ["## Flags", ""]
        lines += [_markdown_table(self.flags[["severity", "code", "item", "message"]]) if len(self.flags)
                  else "None.", ""]
        lines += [
            f"## Where {self.runs} more runs would most reduce each interval", "",
            "Expected width after the extra runs relative to now (`width_factor`), for candidate runs at "
            "compute budgets from the smallest observed to beyond the targets and "
            f"{', '.join(str(int(r)) for r in CANDIDATE_RATIOS)} tokens per parameter. "
            "Linearised (Laplace) approximation around the posterior mean, not a refit.",
            "", _markdown_table(self.recommendations), "",
        ]
        focus = self._focus_item()
        if focus is not None:
            table = self.candidates[self.candidates["item"] == focus].sort_values("width_factor")
            lines += [f"### Every candidate for {focus}", "",
                      _markdown_table(table.drop(columns="item").reset_index(drop=True)), ""]
        return "\n".join(lines)

    def _focus_item(self) -> str | None:
        """The first claimed prediction or allocation (else the first item): the claim's target."""
        if not len(self.items):
            return None
        targets = self.items[self.items["kind"] != "parameter"]
        return str((targets if len(targets) else self.items)["item"].iloc[0])

    def write(self, path) -> None:
        """Write the Markdown report atomically."""
        from bayescale.io import atomic_write

        text = self.to_markdown()
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _format(value) -> str:
    from bayescale.console import format_number

    if isinstance(value, float | np.floating):
        return "inf" if value == math.inf else format_number(float(value))
    return str(value)


def _array_of_tables(claim: Mapping, key: str, where: str):
    """Yield ``(field name, table)`` for each ``[[claim.<key>]]``, refusing anything else."""
    tables = claim.get(key, [])
    if not isinstance(tables, list):
        raise SpecError(f"{where}claim.{key}: must be an array of tables ([[claim.{key}]])")
    for i, spec in enumerate(tables):
        field_name = f"{where}claim.{key}[{i}]"
        if not isinstance(spec, Mapping):
            raise SpecError(f"{field_name}: must be a table")
        yield field_name, spec


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_format(v).replace("|", "/") for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


# ---------------------------------------------------------------------------- entry point
def audit(
    claim,
    *,
    data: pd.DataFrame | None = None,
    fit=None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    sampler: str | None = None,
    progress: bool = False,
    cores: int | None = None,
) -> AuditResult:
    """Refit the data behind a claim and check each claimed item against the posterior.

    Parameters
    ----------
    claim : str, Path or dict
        Claim file (TOML, see the module docstring) or the same layout as a dict.
    data : DataFrame, optional
        The rows to refit instead of the claim's ``[data]``.
    fit : ChinchillaFit, optional
        An existing fit of the same rows to audit against (no refit).
    draws, tune, chains, seed : int, optional
        Override the claim's ``[sampling]``.
    sampler : str, optional
        NUTS implementation (see :func:`bayescale.fit`).

    Returns
    -------
    AuditResult
    """
    from bayescale.chinchilla import ChinchillaFit, chinchilla_target_flags, fit_chinchilla
    from bayescale.flags import sampler_flags

    parsed = parse_claim(claim)
    if fit is None:
        frame = load_claim_data(parsed) if data is None else data
        overrides = {k: v for k, v in {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
                                              "sampler": sampler}.items()
                     if v is not None}
        fit = fit_chinchilla(frame, **{**parsed.model, **parsed.sampling, **overrides}, progress=progress,
                             cores=cores)
    elif not isinstance(fit, ChinchillaFit):
        raise SpecError("fit= must be a ChinchillaFit (bayescale.fit(..., law='chinchilla'))")
    n_obs = len(fit.data.y)
    rows, draws_by_item = [], {}
    flags = [dict(row, item="(fit)") for row in sampler_flags(fit)]
    for item in parsed.items:
        q = item_draws(fit, item)
        draws_by_item[item.name] = q
        row = evaluate_item(q, item, n_obs)
        rows.append(row)
        if not math.isnan(row["width_ratio"]) and row["width_ratio"] < NARROW:
            flags.append({"code": "interval_too_narrow", "severity": "warning", "item": item.name,
                          "message": f"claimed interval is {row['width_ratio']:.3g}x the posterior's; it would "
                                     f"need about {row['runs_needed']:.3g} runs, not {n_obs}",
                          "value": row["width_ratio"]})
        if item.params is not None:
            target = chinchilla_target_flags(fit, points={"params": [item.params], "tokens": [item.tokens]})
        elif item.compute is not None:
            target = chinchilla_target_flags(fit, compute=[item.compute])
        else:
            target = []
        flags += [dict(f, item=item.name) for f in target]
    items = pd.DataFrame(rows)
    targets = [it.compute if it.compute else 6 * it.params * it.tokens for it in parsed.items
               if it.compute or it.params]
    candidates = candidate_runs(fit, targets)
    widths = expected_widths(fit, draws_by_item, candidates, parsed.runs)
    best = widths.loc[widths.groupby("item", sort=False)["width_factor"].idxmin()]
    best = best.assign(width_now=[float(items.set_index("item").loc[n, "posterior_upper"]
                                        - items.set_index("item").loc[n, "posterior_lower"]) for n in best["item"]])
    best["width_after"] = best["width_now"] * best["width_factor"]
    recommendations = best[["item", "compute", "params", "tokens", "tokens_per_param", "runs", "width_now",
                            "width_after", "width_factor"]].reset_index(drop=True)
    flag_frame = pd.DataFrame(flags, columns=["code", "severity", "item", "message", "value"])
    return AuditResult(title=parsed.title, source=parsed.source, items=items, flags=flag_frame,
                       recommendations=recommendations, candidates=widths, n_obs=n_obs, runs=parsed.runs,
                       fit=fit)


class _CallableModule(types.ModuleType):
    """Lets ``bayescale.audit(...)`` call :func:`audit` even after ``import bayescale.audit``
    has bound the submodule to that attribute."""

    def __call__(self, *args, **kwargs):
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
