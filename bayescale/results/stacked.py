r"""Model-form uncertainty: fit several laws, weight them by stacking, predict with the mixture.

Every candidate law is fitted to the same rows. Their pointwise log-likelihoods are put on
one scale, the density of :math:`y` in the user's units (log-normal and Student-t fits
live on :math:`\log(y / y_{scale})`: Jacobian :math:`-\log y`; normal fits on
:math:`y / y_{scale}`: :math:`-\log y_{scale}`; binomial counts: :math:`+\log n`, each
count spread over its width :math:`1/n` of accuracy), then compared by PSIS-LOO and
weighted by stacking of predictive distributions (Yao et al. 2018, via
``arviz_stats.compare``). The stacked predictive is the mixture

.. math:: p(\tilde y \mid y) = \sum_l w_l \, p_l(\tilde y \mid y),

sampled by drawing, for every sample, a law with probability :math:`w_l` and one of its
posterior draws. Where the laws disagree (typically far beyond the data) the stacked
interval widens: that is the point. A Pareto :math:`\hat k > 0.7` makes LOO unreliable for
that point, and a :class:`~bayescale.errors.SamplingWarning` says so.

For forecasting, the default weights are leave-future-out instead (``weights="lfo"``,
:mod:`bayescale.fitting.lfo`): each law is refitted to the smaller scales of every curve and
weighted by stacking its predictive densities of the larger ones. ``weights="loo"`` keeps
the PSIS-LOO stacking weights; the LOO table is computed either way.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayescale.core.posterior import NEW_GROUP
from bayescale.errors import DataError, LawError, SamplingWarning
from bayescale.results.loo import loo_on_y
from bayescale.results.planning import Plannable

PARETO_K_LIMIT = 0.7


@dataclass
class LFOResult:
    """Per-law LFO scores and weights, the pointwise scores (``row``: position in the fitted frame),
    the reasons for any fallback and the stacked forecasts of the scored rows
    (:func:`bayescale.fitting.lfo.stacked_forecasts`)."""

    table: pd.DataFrame
    pointwise: pd.DataFrame
    weights: pd.Series | None
    notes: list[str] = field(default_factory=list)
    forecasts: pd.DataFrame | None = None  # the stacked forecast of each scored row (not saved with the fit)


def lfo_flags(notes: list[str]) -> list[dict]:
    """``lfo_fallback`` flag rows (the columns of :mod:`bayescale.results.flags`) for the LFO notes."""
    return [{"code": "lfo_fallback", "severity": "warning", "group": None, "x": None,
             "message": f"leave-future-out weights: {note}", "value": None} for note in notes]


LFO_ATTR = "bayescale_lfo_weights"


def _lfo_json(stacked) -> str | None:
    import json

    if stacked.weights_method != "lfo":
        return None
    return json.dumps({"laws": sorted(stacked.fits), "weights": stacked.weights.to_dict(),
                       "table": stacked.lfo.table.reset_index().to_dict(orient="list"), "notes": stacked.lfo.notes})


def _saved_lfo(fits: dict):
    """The LFO weights saved with these very laws by :meth:`StackedFit.save`, or None."""
    import json

    stamps = {f.idata.attrs.get(LFO_ATTR) for f in fits.values()}
    if len(stamps) != 1 or None in stamps:
        return None
    saved = json.loads(stamps.pop())
    if saved["laws"] != sorted(fits):
        return None
    table = pd.DataFrame(saved["table"])
    table = table.set_index("law") if "law" in table.columns else table
    return LFOResult(table, pd.DataFrame(), pd.Series(saved["weights"], dtype=float), list(saved["notes"]))


class StackedFit(Plannable):
    """Several laws fitted to the same data, averaged by stacking weights.

    Attributes
    ----------
    fits : dict of str -> ScalingFit
        One fit per candidate law.
    comparison : pandas.DataFrame
        PSIS-LOO table (on the density of y), best first: ``elpd``, ``p_loo``, ``elpd_diff``,
        ``dse``, ``weight`` (PSIS-LOO stacking) and ``max_pareto_k``; with LFO weights also
        ``elpd_lfo`` and ``weight_lfo`` (see :attr:`lfo`).
    weights : pandas.Series
        Stacking weight of each law (sums to 1), by :attr:`weights_method`.
    weights_method : {"lfo", "loo"}
        Where :attr:`weights` come from: leave-future-out (:mod:`bayescale.fitting.lfo`) or PSIS-LOO.
    lfo : bayescale.results.stacked.LFOResult or None
        LFO scores per law (``table``), per scored point (``pointwise``) and fallback notes,
        when the fit was made with ``weights="lfo"``.
    dropped : dict of str -> str
        Candidates of ``law="auto"`` left out, with the reason (too few points for them).
    choice : str or None
        How ``law="auto"`` chose its candidates (an ``auto_laws`` info flag); None for a list of laws.
    """

    def __init__(self, fits: dict, dropped: dict | None = None, lfo=None, choice: str | None = None):
        if not fits:
            raise LawError("a stacked fit needs at least one law")
        self.fits = dict(fits)
        self.dropped = dict(dropped or {})
        self.choice = choice
        first = next(iter(self.fits.values()))
        self.seed = int(first.config.seed)
        for name, f in self.fits.items():
            if len(f.data.y) != len(first.data.y) or not np.allclose(f.data.y, first.data.y):
                raise DataError(f"fit {name!r} is not of the same observations as the others")
        self.lfo = lfo if lfo is not None else _saved_lfo(self.fits)
        lfo = self.lfo
        self.weights_method = "lfo" if lfo is not None and lfo.weights is not None else "loo"
        self.comparison = self._compare()
        source = lfo.weights if self.weights_method == "lfo" else self.comparison["weight"]
        self.weights = source.reindex(list(self.fits)).fillna(0.0).astype(float)
        self.weights = self.weights / self.weights.sum()
        if lfo is not None and len(lfo.table):
            self.comparison = self.comparison.join(lfo.table[["elpd_lfo", "weight_lfo"]])

    def _compare(self) -> pd.DataFrame:
        import arviz_stats as azs

        loos = {name: loo_on_y(f) for name, f in self.fits.items()}
        if len(loos) == 1:
            (name, loo), = loos.items()
            table = pd.DataFrame({"elpd": [float(loo.elpd)], "p_loo": [float(loo.p)], "elpd_diff": [0.0],
                                  "dse": [0.0], "weight": [1.0]}, index=[name])
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = pd.DataFrame(azs.compare(loos, method="stacking", round_to="none"))
            keep = [c for c in ["elpd", "p", "elpd_diff", "dse", "weight"] if c in table.columns]
            table = table[keep].rename(columns={"p": "p_loo"}).astype(float)
        table["max_pareto_k"] = [float(np.max(loos[n].pareto_k)) for n in table.index]
        bad = table.index[table["max_pareto_k"] > PARETO_K_LIMIT].tolist()
        if bad and len(loos) > 1 and self.weights_method == "loo":  # one law, or LFO weights: LOO weighs nothing
            warnings.warn(
                f"Pareto k above {PARETO_K_LIMIT} for laws {bad} (max {table['max_pareto_k'].max():.2f}): "
                "LOO and the stacking weights are unreliable for some points", SamplingWarning, stacklevel=3,
            )
        table.index.name = "law"
        return table

    def __repr__(self) -> str:
        w = ", ".join(f"{k}={v:.2f}" for k, v in self.weights.items())
        return f"<StackedFit {len(self.fits)} laws ({w}), {len(self.data.y)} points>"

    # the data, configuration and seed of the best-weighted law stand for the ensemble
    @property
    def best(self):
        return self.fits[self.weights.idxmax()]

    @property
    def data(self):
        return self.best.data

    @property
    def config(self):
        return self.best.config

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """The LOO comparison with stacking weights (see :attr:`comparison`).

        ``prob`` is accepted for the same call as :meth:`bayescale.ScalingFit.summary`;
        each law's parameters are in ``fits[name].summary(prob)``.
        """
        return self.comparison.copy()

    def weights_table(self) -> pd.DataFrame:
        """One row per law: the weight used (``weight``, by ``method``), the PSIS-LOO ``elpd_loo`` and
        ``weight_loo``, and, with LFO, ``elpd_lfo``, ``weight_lfo`` and the points and origins scored."""
        loo = self.comparison.reindex(list(self.fits))
        table = pd.DataFrame({"law": list(self.fits), "weight": self.weights.to_numpy(),
                              "method": self.weights_method, "elpd_loo": loo["elpd"].to_numpy(),
                              "weight_loo": loo["weight"].to_numpy()})
        if self.lfo is not None and len(self.lfo.table):
            lfo = self.lfo.table.reindex(list(self.fits))
            for col in ("elpd_lfo", "weight_lfo", "n_points", "n_origins"):
                table[col] = lfo[col].to_numpy()
        return table

    def save(self, path) -> list[str]:
        """Save every law's fit next to ``path`` (``out.nc`` -> ``out.power.nc``, ``out.broken.nc``).

        Reload them with :func:`bayescale.load` and rebuild the ensemble with
        ``StackedFit({name: fit, ...})``: LFO weights are stored in every file and come back with
        the same laws (PSIS-LOO weights are recomputed). Returns the paths written.
        """
        from pathlib import Path

        path = Path(path)
        written = []
        stamp = _lfo_json(self)
        for name, f in self.fits.items():
            target = path.with_name(f"{path.stem}.{name}{path.suffix or '.nc'}")
            if stamp is not None:  # the LFO weights travel with every law's file (refits are not saved)
                f.idata.attrs[LFO_ATTR] = stamp
            try:
                f.save(target)
            finally:
                f.idata.attrs.pop(LFO_ATTR, None)
            written.append(str(target))
        return written

    def _mixture(self, per_law: dict[str, np.ndarray], seed: int | None) -> np.ndarray:
        rng = np.random.default_rng([self.seed if seed is None else seed, 777])
        n = min(d.shape[0] for d in per_law.values())
        names = list(per_law)
        w = self.weights.reindex(names).to_numpy()
        pick = rng.choice(len(names), size=n, p=w / w.sum())
        out = np.empty((n, next(iter(per_law.values())).shape[1]))
        for i, name in enumerate(names):
            rows = np.flatnonzero(pick == i)
            if rows.size:
                out[rows] = per_law[name][rng.choice(per_law[name].shape[0], size=rows.size, replace=False)]
        return out

    def curve_draws(self, x, group: str, *, seed: int | None = None) -> np.ndarray:
        """Stacked draws of the mean curve (mixture of the laws by weight)."""
        return self._mixture({k: f.curve_draws(x, group, seed=seed) for k, f in self.fits.items()}, seed)

    def predictive_draws(self, x, group: str, *, seed: int | None = None) -> np.ndarray:
        """Stacked posterior predictive draws (mixture of the laws by weight)."""
        return self._mixture({k: f.predictive_draws(x, group, seed=seed) for k, f in self.fits.items()}, seed)

    def predict(self, x, group: str | Sequence[str] | None = None, *, prob: float = 0.9,
                kind: str = "predictive", seed: int | None = None, by_law: bool = False,
                discrepancy=None) -> pd.DataFrame:
        """Stacked prediction at new scales, optionally with each law's own prediction.

        Same arguments and columns as :meth:`bayescale.ScalingFit.predict`, plus ``law``
        (``"stacked"`` for the mixture) when ``by_law=True``, which appends one block per law.
        """
        from bayescale.laws.discrepancy import widen
        from bayescale.results.intervals import (
            check_kind,
            check_prob,
            interval_columns,
            positive_scales,
            requested_groups,
        )

        prob, kind, xs = check_prob(prob), check_kind(kind), positive_scales(x)
        # each law widened by its own drift scale (its prior's by default) before the laws are mixed
        scales = {k: f.resolve_discrepancy(discrepancy, seed) for k, f in self.fits.items()}
        groups = requested_groups(group, self.data.groups)
        rows = []
        for g in groups:
            if g != NEW_GROUP and g not in self.data.groups:
                self.best._group_code(g)  # raises the usual DataError
            decades = self.best._decades_beyond(xs, g)
            per_law = {}
            for k, f in self.fits.items():
                draws = (f.predictive_draws if kind == "predictive" else f.curve_draws)(xs, g, seed=seed)
                if scales[k] is not None:
                    rng = f._rng(seed, salt=20_000 + f._group_code(g))
                    draws = widen(draws, decades, scales[k], rng, link=f.drift_link)
                per_law[k] = draws
            blocks = {"stacked": self._mixture(per_law, seed)}
            if by_law:
                blocks.update(per_law)
            for name, draws in blocks.items():
                frame = pd.DataFrame({"group": g, self.config.x: xs, **interval_columns(draws, prob), "prob": prob})
                frame["decades_beyond"] = decades
                if by_law:
                    frame.insert(0, "law", name)
                rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    def resolve_discrepancy(self, discrepancy=None, seed: int | None = None):
        """The best law's draws of ``s`` (each law widens by its own in :meth:`predict`)."""
        return self.best.resolve_discrepancy(discrepancy, seed)

    def discrepancy_text(self, discrepancy=None) -> str:
        """What the forecasts' widening is, in words (each law by its own drift prior by default)."""
        return self.best.discrepancy_text(discrepancy) + (" for each law" if discrepancy in (None, True) else "")

    def turns(self, prob: float = 0.9) -> pd.DataFrame:
        """Where the stack's turning law turns (:meth:`bayescale.ScalingFit.turns`), with its stacking
        ``weight``; raises :class:`~bayescale.errors.LawError` when the stack has no turning law."""
        if "turning" not in self.fits:
            raise LawError(f"turns() needs the turning law among the stacked laws; this stack has "
                           f"{', '.join(self.fits)}")
        return self.fits["turning"].turns(prob).assign(weight=float(self.weights["turning"]))

    def diagnostics(self) -> dict[str, float]:
        """Worst sampler diagnostics over the laws."""
        ds = [f.diagnostics() for f in self.fits.values()]
        return {"max_r_hat": max(d["max_r_hat"] for d in ds), "min_ess_bulk": min(d["min_ess_bulk"] for d in ds),
                "min_ess_tail": min(d["min_ess_tail"] for d in ds),
                "divergences": sum(d["divergences"] for d in ds), "draws": min(d["draws"] for d in ds)}

    def flags(self, at=None) -> pd.DataFrame:
        """Reliability flags of the ensemble (see :func:`bayescale.results.flags.stacked_flags`)."""
        from bayescale.results.flags import COLUMNS, stacked_flags

        table = stacked_flags(self, at=at)
        notes = lfo_flags(self.lfo.notes) if self.lfo is not None else []
        if self.choice is not None:
            notes.append({"code": "auto_laws", "severity": "info", "group": None, "x": None,
                          "message": f"law='auto' chose its candidates: {self.choice}", "value": None})
        return pd.concat([table, pd.DataFrame(notes, columns=COLUMNS)], ignore_index=True) if notes else table

    def plot(self, *, at=None, prob: float = 0.9, groups: Sequence[str] | None = None, ax=None, discrepancy=None):
        """Data with the stacked median curve and predictive band per group (``discrepancy`` as in
        :meth:`predict`)."""
        from bayescale.results.intervals import check_prob
        from bayescale.results.plotting import plot_fit

        fig = plot_fit(self, at=at, prob=check_prob(prob), groups=groups, ax=ax, discrepancy=discrepancy)
        laws = ", ".join(f"{k} {w:.2f}" for k, w in self.weights.items())
        fig.axes[0].set_title(f"stacked laws ({laws}), {int(prob * 100)}% predictive bands")
        return fig

    # ------------------------------------------------------------------ the inverse question
    def reach_draws(self, target: float, group: str | None = None, discrepancy=None, *,
                    seed: int | None = None) -> np.ndarray:
        """Stacked reach draws: each law's :meth:`~bayescale.ScalingFit.reach_draws`, mixed by weight
        (as :meth:`predict` mixes curves)."""
        for f in self.fits.values():
            f.resolve_discrepancy(discrepancy, seed)  # checked before any law's reach
        per_law = {k: f.reach_draws(target, group, discrepancy, seed=seed)[:, None] for k, f in self.fits.items()}
        return self._mixture(per_law, seed)[:, 0]

    def reach(self, target, group: str | Sequence[str] | None = None, prob: float = 0.9, discrepancy=None, *,
              seed: int | None = None) -> pd.DataFrame:
        """The scale at which the stacked mean curve reaches ``target``; arguments and columns as
        :meth:`bayescale.ScalingFit.reach`, with the draws of :meth:`reach_draws`."""
        from bayescale.results.intervals import check_prob, requested_groups
        from bayescale.results.reach import check_targets, reach_table

        prob = check_prob(prob)
        for f in self.fits.values():
            targets = check_targets(target, law=f.config.law, noise=f.config.noise)
        groups = requested_groups(group, self.data.groups)
        for g in groups:
            self.best._group_code(g)
        return reach_table(lambda t, g: self.reach_draws(t, g, discrepancy, seed=seed), targets, groups, prob,
                           lambda g: self.best._group_range(g)[1])
