"""Preposterior simulation: expected interval widths after candidate runs, by reweighting or by refits.

See :mod:`bayescale.workflows.plan` for the method; here the arrays. ``S`` simulations, ``A``
atoms (observations the candidates would make), ``N`` draws of all components together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_ESS = 100.0  # median effective sample size below which reweighting is not trusted (method="auto")


@dataclass
class Simulation:
    """Hypothetical observations and their log-likelihood under every draw."""

    log_prior: np.ndarray  # (N,) log mixture weight of each draw
    q: np.ndarray  # (N,) the quantity per draw
    order: np.ndarray  # argsort of q
    y: np.ndarray  # (S, A) hypothetical observations
    ll: np.ndarray  # (S, A, N) log-likelihood of y[s, a] under draw n
    truth: list[tuple[int, int]]  # per simulation, (component, thinned row) it was drawn from
    prob: float

    def widths(self, log_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Width of the central ``prob`` interval of q under weights ``exp(log_w)`` (S, N), and the ESS."""
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        ess = 1.0 / np.sum(w**2, axis=1)
        cum = np.cumsum(w[:, self.order], axis=1)
        qs = self.q[self.order]
        tail = (1 - self.prob) / 2
        lo = qs[np.minimum(np.argmax(cum >= tail, axis=1), len(qs) - 1)]
        hi = qs[np.minimum(np.argmax(cum >= 1 - tail, axis=1), len(qs) - 1)]
        return hi - lo, ess

    def width_now(self) -> float:
        return float(self.widths(self.log_prior[None, :])[0][0])

    def after(self, atoms: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Log weights (S, N) after observing ``atoms`` (on top of ``base``)."""
        start = np.broadcast_to(self.log_prior, (self.y.shape[0], len(self.q))) if base is None else base
        return start + self.ll[:, atoms, :].sum(axis=1) if len(atoms) else np.array(start)


def simulate(comps, q_parts: list[np.ndarray], atoms, sims: int, prob: float, rng: np.random.Generator) -> Simulation:
    """Draw ``sims`` truths from the posterior mixture and observations at every atom from them."""
    weights = np.array([c.weight for c in comps])
    weights = weights / weights.sum()
    pick = rng.choice(len(comps), size=sims, p=weights)
    means = [c.mean(atoms) for c in comps]
    y = np.empty((sims, len(atoms)))
    truth: list[tuple[int, int]] = [(0, 0)] * sims
    for k, comp in enumerate(comps):
        where = np.flatnonzero(pick == k)
        if not where.size:
            continue
        rows = rng.choice(comp.n, size=where.size, replace=where.size > comp.n)
        y[where] = comp.noise.sample(means[k][rows], rows, rng)
        for s, r in zip(where, rows, strict=True):
            truth[s] = (k, int(r))
    ll = np.concatenate([c.noise.log_likelihood(y, m) for c, m in zip(comps, means, strict=True)], axis=2)
    ll = np.where(np.isfinite(ll), ll, -1e300)
    log_prior = np.concatenate([np.full(c.n, np.log(w / c.n)) for c, w in zip(comps, weights, strict=True)])
    q = np.concatenate(q_parts)
    return Simulation(log_prior, q, np.argsort(q, kind="stable"), y, ll, truth, prob)


def refit_widths(comp, quantity_of, sim: Simulation, atoms, observes: np.ndarray, refits: int, seed: int,
                 draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Per simulation (the first ``refits``), the width after a refit and the width by reweighting.

    The refit adds the simulation's observations at ``observes`` to the data and samples again
    through the compile cache (same structure: no new compile).
    """
    rows = np.arange(min(refits, sim.y.shape[0]))
    by_reweight, _ = sim.widths(sim.after(observes)[rows])
    by_refit = np.empty(len(rows))
    for s in rows:
        new = comp.refit(atoms.iloc[observes], sim.y[s, observes], seed=seed + 1000 + int(s), draws=draws)
        q = quantity_of(new)
        lo, hi = np.quantile(q, [(1 - sim.prob) / 2, 1 - (1 - sim.prob) / 2])
        by_refit[s] = hi - lo
    return by_refit, by_reweight


def greedy(sim: Simulation, table, observes: list[np.ndarray], budget: float) -> list[tuple[int, float, float]]:
    """Greedy batch under ``budget``: each step adds the candidate with the largest width reduction per
    extra cost (a chain's extension pays only beyond the chain's furthest chosen point).

    A candidate counts only when its expected reduction exceeds twice its Monte Carlo standard error
    (paired over the simulations). Returns ``(candidate, cumulative cost, expected width after the
    batch so far)`` per step.
    """
    cost, chain = table["cost"].to_numpy(dtype=float), table["chain"].to_numpy()
    paid: dict = {}
    seen = np.zeros(sim.y.shape[1], dtype=bool)
    state = sim.after(np.array([], dtype=int))
    now = sim.widths(state)[0]
    spent, steps, chosen = 0.0, [], set()
    while True:
        best = None
        for c in range(len(cost)):
            extra = cost[c] - paid.get(chain[c], 0.0)
            new = observes[c][~seen[observes[c]]]
            if c in chosen or extra <= 0 or spent + extra > budget * (1 + 1e-12) or not new.size:
                continue
            trial = sim.after(new, state)
            w = sim.widths(trial)[0]
            diff = now - w  # paired over the same simulations: a gain must beat its own Monte Carlo error
            gain = float(np.mean(diff)) / extra
            if np.mean(diff) > 2 * np.std(diff) / np.sqrt(len(diff)) and (best is None or gain > best[0]):
                best = (gain, c, extra, new, trial, w)
        if best is None:
            return steps
        _, c, extra, new, state, now = best
        chosen.add(c)
        paid[chain[c]] = cost[c]
        seen[new] = True
        spent += extra
        steps.append((c, spent, float(np.mean(now))))
