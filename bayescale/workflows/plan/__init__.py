r"""Plan the next runs: which experiment narrows a forecast, a reach or an allocation most per unit cost.

``fit.plan(...)`` (any fit: every law, stacked, grouped, Chinchilla) delegates here.

Quantity
    :math:`q`, one value per posterior draw: the prediction at a scale and group (``at=``; with
    the noise of a new measurement, ``kind="predictive"``), ``log10`` of the scale at which a
    target is reached (``reach=``; a draw that never reaches it counts as 20 decades beyond the
    data), ``log10`` of the compute-optimal parameters at a budget (``compute=``, Chinchilla),
    or any per-draw quantity (``quantity=``, e.g. an audit's claimed item).

Preposterior width
    Let :math:`\theta_1..\theta_n` be the posterior draws (of every law of a stacked fit, each
    weighted by its stacking weight: :math:`\pi_i = w_{l(i)} / n_{l(i)}`), each with its slope
    drift :math:`\delta_i` of :math:`\log y` per decade beyond the data when there is a
    discrepancy (:mod:`bayescale.workflows.plan.model`). A candidate run observes
    :math:`y_a` at atoms :math:`a` (one new run; or, for a training curve, every checkpoint an
    extension passes). For simulation :math:`s = 1..S` a truth :math:`i_s \sim \pi` is drawn
    and :math:`y^{(s)}_a \sim p(y \mid \theta_{i_s}, \delta_{i_s})` (posterior predictive, with
    the drift beyond the data). Reweighting (importance sampling with the posterior as
    proposal) gives the posterior after the run,

    .. math:: w^{(s)}_i \propto \pi_i \prod_a p(y^{(s)}_a \mid \theta_i, \delta_i),

    and the width :math:`W^{(s)}` of the central 90% interval of :math:`q` under
    :math:`w^{(s)}`. The expected width after the run is :math:`\bar W = S^{-1} \sum_s W^{(s)}`,
    the reduction :math:`W_0 - \bar W` per unit cost ranks the candidates. Reweighting is exact
    as :math:`n \to \infty` but degrades when a run is so informative that few draws keep weight;
    its effective sample size :math:`(\sum_i w_i^2)^{-1}` is reported, and under ``method="auto"``
    a candidate whose median ESS falls below 100 is scored by refits instead: the data plus the
    simulated runs, sampled again through the compile cache (no new compile), for the first
    ``refits`` simulations. ``method="refit"`` refits every candidate; ``method="reweight"``
    never does. The same simulations serve both, so their difference is measured per simulation
    (``compare_methods``).

Batch
    Greedy under the budget: repeatedly add the candidate with the largest expected reduction
    per extra cost given the runs already chosen (the joint reweighting multiplies their
    likelihoods; an extension of a run already extended pays only for the stretch beyond),
    until nothing affordable narrows the interval. The width after the whole batch is the
    expected width under all its runs together.

Everything random comes from ``seed`` (default: the fit's), so a plan is bitwise reproducible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.workflows.plan.candidates import (
    Candidates,
    check_budget,
    chinchilla,
    one_axis,
    replicate,
    within_budget,
)
from bayescale.workflows.plan.model import DEFAULT, components, fit_default_discrepancy, quantity_draws
from bayescale.workflows.plan.preposterior import MIN_ESS, greedy, refit_widths, simulate
from bayescale.workflows.plan.quantity import (
    Quantity,
    at_quantity,
    item_quantity,
    optimal_quantity,
    reach_quantity,
)

METHODS = ("auto", "reweight", "refit")

__all__ = ["DEFAULT", "METHODS", "Quantity", "compare_methods", "item_quantity", "plan"]


def _quantity(fit, *, at, group, reach, compute, quantity, kind, given, seed) -> Quantity:
    chosen = [name for name, v in (("at", at), ("reach", reach), ("compute", compute), ("quantity", quantity))
              if v is not None]
    if len(chosen) != 1:
        raise DataError("plan needs exactly one quantity to pin down: at= (a prediction), reach= (a target), "
                        f"compute= (a Chinchilla allocation) or quantity=; got {chosen or 'none'}")
    if isinstance(quantity, Quantity):
        return quantity
    if quantity is not None:
        return item_quantity(quantity, "quantity")
    if at is not None:
        return at_quantity(fit, at, group, kind)
    if reach is not None:
        return reach_quantity(fit, reach, group, given, seed)
    return optimal_quantity(fit, compute)


def _candidates(fit, q: Quantity, candidates, *, axis, cost, cost_per_unit, max_scale) -> Candidates:
    if axis not in ("runs", "curve"):
        raise DataError(f"axis must be 'runs' (new runs) or 'curve' (extend a training run), got {axis!r}")
    law = fit.config.law
    if law == "chinchilla":
        if axis == "curve":
            raise DataError("axis='curve' extends one training run of a one-input law; a chinchilla fit plans runs")
        return chinchilla(fit, q, candidates, cost=cost, max_scale=max_scale)
    return one_axis(fit, q, candidates, axis=axis, cost=cost, cost_per_unit=float(cost_per_unit),
                    max_scale=max_scale)


def plan(
    fit,
    *,
    budget: float,
    at=None,
    group: str | None = None,
    reach: float | None = None,
    compute: float | None = None,
    quantity=None,
    candidates=None,
    cost=None,
    cost_per_unit: float = 1.0,
    axis: str = "runs",
    max_scale: float | None = None,
    runs: int = 1,
    kind: str = "predictive",
    method: str = "auto",
    batch: bool = True,
    sims: int = 128,
    draws: int = 1000,
    refits: int = 8,
    prob: float = 0.9,
    seed: int | None = None,
    discrepancy=DEFAULT,
) -> pd.DataFrame:
    """Rank candidate runs by how much they narrow a quantity per unit cost, and pick a batch under a budget.

    Parameters
    ----------
    fit : ScalingFit, StackedFit or ChinchillaFit
        The fit to plan from.
    budget : float
        Total cost the batch may spend (FLOPs by default; see ``cost``).
    at, reach, compute, quantity
        Exactly one: a scale to predict at (for Chinchilla a compute budget, or
        ``{"params": N, "tokens": D}``); a target the metric is to reach; a budget whose
        compute-optimal parameter count is to be pinned down (Chinchilla); or a callable
        ``fit -> draws`` (one value per posterior draw).
    group : str, optional
        The group of ``at`` / ``reach`` in a grouped fit (also the group whose runs the default
        candidates extend).
    candidates : sequence of float or pandas.DataFrame, optional
        Scales, or a frame with the x column (Chinchilla: ``params`` and ``tokens``) and optional
        ``group``, ``cost`` and ``chain``; default a grid
        (:mod:`bayescale.workflows.plan.candidates`).
    cost : callable, optional
        ``cost(candidates_frame) -> array``; default ``6 N D`` FLOPs (or the frame's ``cost``).
    cost_per_unit : float
        Multiplies the default cost (e.g. ``6 N`` FLOPs per token of a training-curve extension).
    axis : {"runs", "curve"}
        New runs, or extensions of the group's training run (doubling; an extension from ``t``
        to ``2t`` costs ``t`` and observes the checkpoints between).
    max_scale : float, optional
        Largest affordable scale (Chinchilla: parameter count); larger default candidates are dropped.
    runs : int
        Replicate runs per candidate (``axis="runs"``): each observes ``runs`` points and costs ``runs`` times.
    kind : {"predictive", "mean"}
        For ``at=``: the interval of a new measurement, or of the law's curve.
    method : {"auto", "reweight", "refit"}
        How the posterior after a run is found (module docstring).
    sims, draws, refits : int
        Simulated outcomes per candidate, posterior draws used (thinned evenly, per law), refits per
        candidate where refitting.
    prob : float
        Mass of the interval whose width is planned.
    batch : bool
        Also choose the greedy batch (False: rank the candidates only).
    seed : int, optional
        Default: the fit's seed. The same seed gives bitwise the same plan.
    discrepancy : optional
        As for ``predict`` / ``reach``; default whatever the fit's ``reach_draws`` defaults to.

    Returns
    -------
    pandas.DataFrame
        One row per candidate: its scale (``group``, x; Chinchilla ``params``, ``tokens``,
        ``compute``, ``tokens_per_param``), ``cost``, ``width_now``, ``expected_width``,
        ``width_factor``, ``reduction``, ``reduction_per_cost``, ``ess`` (median effective
        sample size of the reweighting), ``method``, and for the greedy batch ``order`` (1, 2,
        ...; 0 when not chosen), ``cumulative_cost`` and ``batch_width`` (expected width after
        the batch up to that run). ``attrs``: ``quantity``, ``unit``, ``cost_unit``, ``budget``,
        ``width_now``, ``batch_width``, ``batch_cost``, ``method``, ``seed``, ``sims``, ``draws``.
    """
    if method not in METHODS:
        raise DataError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(refits, int | np.integer) or refits < 1:
        raise DataError(f"refits must be an integer >= 1, got {refits!r}")
    setup = _setup(fit, budget=budget, at=at, group=group, reach=reach, compute=compute, quantity=quantity,
                   candidates=candidates, cost=cost, cost_per_unit=cost_per_unit, axis=axis, max_scale=max_scale,
                   runs=runs, kind=kind, sims=sims, draws=draws, prob=prob, seed=seed, discrepancy=discrepancy)
    q, cands, comps, sim, seed, disc = setup
    table = _score(sim, comps, q, cands, method, refits, seed, draws)
    return _with_batch(table, sim, cands, check_budget(budget), q, method, seed, sims, draws, disc, batch)


def _setup(fit, *, budget, at=None, group=None, reach=None, compute=None, quantity=None, candidates=None,
           cost=None, cost_per_unit=1.0, axis="runs", max_scale=None, runs=1, kind="predictive", sims=128, draws=1000,
           prob=0.9, seed=None, discrepancy=DEFAULT):
    """Quantity, candidates, components and simulated outcomes of a plan (arguments as :func:`plan`)."""
    budget = check_budget(budget)
    for name, v, least in (("sims", sims, 8), ("draws", draws, 50)):
        if not isinstance(v, int | np.integer) or v < least:
            raise DataError(f"{name} must be an integer >= {least}, got {v!r}")
    if not 0 < prob < 1:
        raise DataError(f"prob must be in (0, 1), got {prob!r}")
    seed = int(fit.config.seed if seed is None else seed)
    given = {} if discrepancy is DEFAULT else {"discrepancy": discrepancy}
    disc = fit_default_discrepancy(fit) if discrepancy is DEFAULT else discrepancy
    q = _quantity(fit, at=at, group=group, reach=reach, compute=compute, quantity=quantity, kind=kind,
                  given=given, seed=seed)
    cands = replicate(_candidates(fit, q, candidates, axis=axis, cost=cost, cost_per_unit=cost_per_unit,
                                  max_scale=max_scale), runs)
    cands = within_budget(cands, budget, user_given=candidates is not None)
    comps = components(fit, draws=draws, seed=seed, discrepancy=disc, groups=[q.group] if q.group else [])
    parts = [quantity_draws(c, q.draws) for c in comps]
    if not all(np.all(np.isfinite(p)) for p in parts):
        raise DataError(f"the quantity ({q.label}) is not finite on every posterior draw")
    sim = simulate(comps, parts, cands.atoms, sims, prob, np.random.default_rng([seed, 33]))
    return q, cands, comps, sim, seed, disc


def _score(sim, comps, q, cands: Candidates, method, refits, seed, draws) -> pd.DataFrame:
    table = cands.table.copy()
    width_now = sim.width_now()
    expected, ess, how = [], [], []
    for obs in cands.observes:
        w, e = sim.widths(sim.after(obs))
        use_refit = len(comps) == 1 and (method == "refit" or (method == "auto" and np.median(e) < MIN_ESS))
        if use_refit:
            by_refit, _ = refit_widths(comps[0], _quantity_of(q, comps[0]), sim, cands.atoms, obs, refits, seed,
                                       min(draws, comps[0].fit.config.draws))
            expected.append(float(np.mean(by_refit)))
        else:
            expected.append(float(np.mean(w)))
        ess.append(float(np.median(e)))
        how.append("refit" if use_refit else "reweight")
    table["width_now"] = width_now
    table["expected_width"] = expected
    table["width_factor"] = table["expected_width"] / width_now if width_now > 0 else 1.0
    table["reduction"] = width_now - table["expected_width"]
    table["reduction_per_cost"] = table["reduction"] / table["cost"]
    table["ess"] = ess
    table["method"] = how
    return table


def _quantity_of(q: Quantity, template):
    """The quantity's draws on a refitted fit (all its draws), with the template's drift settings."""
    from bayescale.workflows.plan.model import Component, noise_of

    def of(new_fit):
        rows = np.arange(new_fit.posterior.sizes["chain"] * new_fit.posterior.sizes["draw"])
        drift = np.resize(template.drift, len(rows))
        comp = Component(new_fit, 1.0, rows, drift, noise_of(new_fit, rows), template.chinchilla)
        return quantity_draws(comp, q.draws)

    return of


def _with_batch(table, sim, cands, budget, q, method, seed, sims, draws, disc, batch=True) -> pd.DataFrame:
    steps = greedy(sim, table, cands.observes, budget) if batch else []
    table["order"] = 0
    table["cumulative_cost"] = np.nan
    table["batch_width"] = np.nan
    for k, (c, spent, width) in enumerate(steps, start=1):
        table.loc[c, ["order", "cumulative_cost", "batch_width"]] = [k, spent, width]
    if table["chain"].str.startswith("run ").all():
        table = table.drop(columns="chain")
    width_now = sim.width_now()
    table.attrs.update(
        quantity=q.label, unit=q.unit, cost_unit=cands.cost_unit, budget=budget, width_now=width_now,
        batch_width=steps[-1][2] if steps else width_now, batch_cost=steps[-1][1] if steps else 0.0,
        method=method, seed=seed, sims=sims, draws=draws, prob=sim.prob,
        discrepancy=None if disc is None else "given",
    )
    return table


def compare_methods(fit, *, budget: float, candidate: int = 0, refits: int = 8, **kwargs) -> pd.DataFrame:
    """Reweighting against refitting on the same simulated outcomes of one candidate of :func:`plan`.

    Returns one row per simulation: ``width_refit``, ``width_reweight`` and their ratio, with
    ``attrs["median_ratio"]`` and ``attrs["mean_abs_relative_difference"]``.
    """
    kwargs = {"sims": max(refits, 8), **kwargs}
    q, cands, comps, sim, seed, _ = _setup(fit, budget=budget, **kwargs)
    if len(comps) != 1:
        raise DataError("compare_methods refits one law; a stacked fit is planned by reweighting only")
    refit, reweight = refit_widths(comps[0], _quantity_of(q, comps[0]), sim, cands.atoms, cands.observes[candidate],
                                   refits, seed, min(kwargs.get("draws", 1000), comps[0].fit.config.draws))
    out = pd.DataFrame({"width_refit": refit, "width_reweight": reweight, "ratio": reweight / refit})
    out.attrs.update(median_ratio=float(np.median(out["ratio"])),
                     mean_abs_relative_difference=float(np.mean(np.abs(out["ratio"] - 1))),
                     width_now=sim.width_now(), candidate=cands.table.iloc[candidate].to_dict())
    return out
