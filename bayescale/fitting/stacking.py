"""Fitting several laws to the same rows and weighting them (the result: :class:`bayescale.results.stacked.StackedFit`).

The weights are leave-future-out by default (:mod:`bayescale.fitting.lfo`) or PSIS-LOO stacking;
the math of the mixture is in :mod:`bayescale.results.stacked`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayescale.errors import DataWarning, LawError, TooFewPoints
from bayescale.results.stacked import StackedFit

STACKABLE = ("power", "broken", "sigmoid")
WEIGHTS = ("lfo", "loo")


def candidate_laws(df: pd.DataFrame, law, *, x: str, y: str, trials=None) -> list[str]:
    """Resolve ``law`` (a list of names or ``"auto"``) into the candidate laws.

    ``"auto"`` picks by the metric: the sigmoid when eval-set sizes are given or the metric
    is a fraction that rises with scale (an accuracy), otherwise the power and broken
    power laws (a loss or error that falls with scale).
    """
    if isinstance(law, str) and law == "auto":
        if trials is not None:
            return ["sigmoid"]
        if y in df.columns and x in df.columns:
            xs = pd.to_numeric(df[x], errors="coerce")
            ys = pd.to_numeric(df[y], errors="coerce")
            rising = xs.corr(ys, method="spearman") > 0
            if ys.between(0, 1).all() and rising:
                return ["sigmoid"]
        return ["power", "broken"]
    if isinstance(law, str) or not isinstance(law, Sequence) or len(law) == 0:
        raise LawError(f"law must be a law name, a non-empty list of names or 'auto', got {law!r}")
    laws = [str(name) for name in law]
    if len(set(laws)) != len(laws):
        raise LawError(f"each candidate law may appear once, got {laws}")
    bad = [name for name in laws if name not in STACKABLE]
    if bad:
        raise LawError(f"laws {bad} cannot be stacked; candidates are {', '.join(STACKABLE)}")
    if trials is not None and laws != ["sigmoid"]:
        raise LawError("with trials= only the sigmoid law models counts; stack it alone or drop trials")
    return laws


def fit_stacked(df: pd.DataFrame, *, law, x: str, y: str, trials=None, breaks=None, noise=None,
                seed: int | None = None, weights: str = "lfo", **options) -> StackedFit:
    """Fit each candidate law to ``df`` and combine them by stacking (see :func:`bayescale.fit`).

    ``weights="lfo"`` (the default) weights the laws by exact-refit leave-future-out stacking
    (:func:`bayescale.fitting.lfo.lfo_weights`, refits seeded from ``seed``); ``"loo"`` by PSIS-LOO stacking.

    ``priors`` may map law names to each law's priors (``{"broken": {...}}``); other
    options go to every law, ``breaks`` to the broken law and ``trials`` to the sigmoid.
    With ``law="auto"`` a candidate with more parameters than the data can support is left
    out with a :class:`~bayescale.errors.DataWarning` (listed in ``StackedFit.dropped``); a
    list of laws named by the user is fitted as asked or not at all.
    """
    from bayescale.fitting.single import fit_law as fit

    if weights not in WEIGHTS:
        raise LawError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    laws = candidate_laws(df, law, x=x, y=y, trials=trials)
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
    priors = options.pop("priors", None)
    per_law = bool(priors) and set(priors) <= set(laws)  # {"power": {...}, "broken": {...}}
    fits, dropped, used = {}, {}, {}
    for name in laws:
        extra = {"priors": priors.get(name) if per_law else priors}
        if name == "broken" and breaks is not None:
            extra["breaks"] = breaks
        if name == "sigmoid":
            extra["trials"] = trials
            extra["noise"] = noise if noise in ("binomial", "beta") else None
        else:
            extra["noise"] = noise
        used[name] = {**options, **extra}
        try:
            fits[name] = fit(df, law=name, x=x, y=y, seed=seed, **options, **extra)
        except TooFewPoints as exc:
            if law != "auto":
                raise
            dropped[name] = str(exc)
    if not fits:  # not even the simplest candidate: say so in its words
        raise TooFewPoints(next(iter(dropped.values())))
    for name, why in dropped.items():
        warnings.warn(f"law {name!r} left out of law='auto': {why}", DataWarning, stacklevel=3)
    lfo = None
    if weights == "lfo" and len(fits) > 1:
        from bayescale.fitting.lfo import lfo_weights

        lfo = lfo_weights(df, fits, x=x, y=y, seed=seed, options={name: used[name] for name in fits})
    return StackedFit(fits, dropped=dropped, lfo=lfo)
