"""``audit(claim)``: refit the data behind a claim and judge every claimed item."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import SpecError
from bayescale.workflows.audit.claims import load_claim_data, parse_claim
from bayescale.workflows.audit.context import FLAG_COLUMNS, Context, Outcome, flag_codes
from bayescale.workflows.audit.judge import COLUMNS, NARROW, evaluate_item, width_flag
from bayescale.workflows.audit.result import AuditResult

FIT_OPTIONS = ("draws", "tune", "chains", "seed", "sampler", "target_accept")


def _evaluators() -> dict:
    import bayescale.workflows.audit.curves as curves
    import bayescale.workflows.audit.groups as groups
    import bayescale.workflows.audit.trend as trend

    return {"parameter": curves.parameter, "reach": curves.reach, "emergence": curves.emergence,
            "groups": groups.groups, "population": groups.population, "trend": trend.trend}


def _chinchilla_item(ctx: Context, item) -> tuple[Outcome, Any]:
    from bayescale.workflows.audit.chinchilla_items import item_draws, item_flags

    if item.kind == "reach":
        from bayescale.workflows.audit.curves import reach

        outcome = reach(ctx, item)
        q = outcome.evidence[item.name]["draws"]
        return outcome, q if np.all(np.isfinite(q)) and np.all(q > 0) else None  # a never-reached target: no rule
    draws = item_draws(ctx.fit, item)
    row = evaluate_item(draws, item, ctx.n_obs)
    flags = [dict(f, item=item.name) for f in item_flags(ctx.fit, item)]
    row["flags"] = flag_codes(flags)
    return Outcome([row], flags, {item.name: {"draws": draws}}), draws


def _chinchilla_recommendations(ctx, parsed, items, draws_by_item):
    from bayescale.workflows.audit.more_runs import recommendations

    targets = [it.compute if it.compute else 6 * it.params * it.tokens for it in parsed.items
               if it.compute or it.params]
    targets += [it.fields["by"] for it in parsed.items if it.kind == "reach"]
    recs, widths = recommendations(ctx.fit, items, draws_by_item, targets, parsed.runs)
    more = {r.item: f"C={r.compute:.3g} at {r.tokens_per_param:g} tok/param: width x{r.width_factor:.2f}"
                    f" for {r.cost:.3g} FLOPs"
            for r in recs.itertuples()}
    return recs, widths, more


def _generic_recommendations(candidates: dict[str, pd.DataFrame]):
    from bayescale.workflows.audit.more_runs import best_per_cost

    columns = ["item", "group", "x", "runs", "cost", "width_factor", "reduction_per_cost"]
    # the planner's tables carry their settings in attrs (arrays among them), which concat would compare
    frames = [pd.DataFrame(table.to_dict("list")).assign(item=name) for name, table in candidates.items()
              if table is not None and len(table)]
    if not frames:
        empty = pd.DataFrame(columns=columns)
        return empty, empty, {}
    widths = pd.concat(frames, ignore_index=True)[columns]
    if widths["group"].isna().all():  # an ungrouped fit
        widths = widths.drop(columns="group")
    recs = best_per_cost(widths)
    more = {r.item: f"x={r.x:.3g}{f' ({r.group})' if isinstance(getattr(r, 'group', None), str) else ''}: "
                    f"width x{r.width_factor:.2f} for cost {r.cost:.3g}"
            for r in recs.itertuples()}
    return recs, widths, more


def _fit(parsed, frame, overrides, progress, cores):
    from bayescale.fitting.dispatch import fit

    # the caller's draws/tune/seed win over the claim file's
    settings = {**parsed.model, **parsed.sampling, **overrides}
    return fit(frame, **settings, progress=progress, cores=cores)


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
    plan: dict | None = None,
) -> AuditResult:
    """Refit the data behind a claim and judge each claimed item against the posterior.

    Parameters
    ----------
    claim : str, Path or dict
        Claim file (TOML, see :mod:`bayescale.workflows.audit`) or the same layout as a dict.
    data : DataFrame, optional
        The rows to refit instead of the claim's ``[data]``.
    fit : ScalingFit or ChinchillaFit, optional
        An existing fit of the same rows and model to audit against (no refit of the main
        model; group, emergence and trend claims still refit the alternatives they need,
        from ``data`` or the claim's ``[data]``).
    draws, tune, chains, seed : int, optional
        Override the claim's ``[sampling]``.
    sampler : str, optional
        NUTS implementation (see :func:`bayescale.fit`).
    plan : dict, optional
        Plan the next runs per claimed item: ``budget`` (required) and optional ``items``,
        ``max_scale``, ``sims``, ``seed`` (:mod:`bayescale.workflows.audit.plan_items`); the tables
        land in ``result.plans``.

    Returns
    -------
    AuditResult
    """
    from bayescale.results.chinchilla import ChinchillaFit
    from bayescale.results.flags import sampler_flags

    parsed = parse_claim(claim)
    if plan is not None:
        from bayescale.workflows.audit.plan_items import plan_options

        plan = plan_options(parsed, plan)
    overrides = {k: v for k, v in {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
                                   "sampler": sampler}.items() if v is not None}
    frame = None
    if data is not None:
        from bayescale.workflows.audit.claim_kinds import check_against_data

        check_against_data(parsed, data)
        frame = data
    elif fit is None or any(it.kind in ("groups", "emergence", "trend") for it in parsed.items):
        frame = load_claim_data(parsed)  # every item is checked against the rows here, before sampling
    if fit is None:
        fit = _fit(parsed, frame, overrides, progress, cores)
    elif (parsed.law == "chinchilla") != isinstance(fit, ChinchillaFit) or fit.config.law != parsed.law:
        raise SpecError(f"fit= must be a fit of the claim's law {parsed.law!r}, got {fit.config.law!r}")
    sampling = {k: getattr(fit.config, k) for k in FIT_OPTIONS if getattr(fit.config, k, None) is not None}
    model = {k: v for k, v in parsed.model.items() if k != "discrepancy"}  # alternatives need no learned s
    ctx = Context(fit=fit, claim=parsed, frame=frame, runs=parsed.runs,
                  fit_kwargs={**model, **sampling, "progress": progress, "cores": cores})
    rows, flags, evidence, candidates, draws_by_item = [], [], {}, {}, {}
    flags += [dict(row, item="(fit)") for row in sampler_flags(fit)]
    if getattr(fit, "calibrated", False):  # [model] discrepancy = true, or a fit= that learned s
        from bayescale.results.chinchilla_drift import audit_note

        flags += [dict(row, item="(fit)") for row in audit_note(fit)]
    evaluators = _evaluators()
    for item in parsed.items:
        if parsed.law == "chinchilla":
            outcome, q = _chinchilla_item(ctx, item)
            if q is not None:
                draws_by_item[item.name] = q
        else:
            outcome = evaluators[item.kind](ctx, item)
            candidates[item.name] = outcome.candidates
        for row in outcome.rows:
            flags += width_flag(row, ctx.n_obs)
        rows += outcome.rows
        flags += outcome.flags
        evidence.update(outcome.evidence)
    items = pd.DataFrame(rows, columns=COLUMNS)
    if parsed.law == "chinchilla" and draws_by_item:
        recs, widths, more = _chinchilla_recommendations(ctx, parsed, items, draws_by_item)
    else:
        recs, widths, more = _generic_recommendations(candidates)
    items["more_runs"] = [more.get(name, "") for name in items["item"]]
    plans = {}
    if plan is not None:
        from bayescale.workflows.audit.plan_items import plan_items

        plans = plan_items(fit, _plan_inputs(parsed, candidates, draws_by_item), plan)
    items["flags"] = [", ".join(filter(None, [f, "interval_too_narrow" if not math.isnan(w) and w < NARROW else ""]))
                      for f, w in zip(items["flags"], items["width_ratio"], strict=True)]
    return AuditResult(title=parsed.title, source=parsed.source, items=items,
                       flags=pd.DataFrame(flags, columns=FLAG_COLUMNS), recommendations=recs, candidates=widths,
                       n_obs=ctx.n_obs, runs=parsed.runs, fit=fit, law=parsed.law, evidence=evidence, plans=plans)


def _plan_inputs(parsed, candidates: dict, draws_by_item: dict) -> dict[str, dict]:
    """Per plannable item: its draws, groups and target scales (compute budgets for Chinchilla)."""
    if parsed.law != "chinchilla":
        return {name: t.attrs["plan_input"] for name, t in candidates.items() if t is not None and
                "plan_input" in t.attrs}
    by = {it.name: it.compute or (6 * it.params * it.tokens if it.params else None) or it.fields.get("by")
          for it in parsed.items}
    return {name: {"draws": np.asarray(q, dtype=float), "groups": [], "targets": [by[name]] if by.get(name) else []}
            for name, q in draws_by_item.items()}
