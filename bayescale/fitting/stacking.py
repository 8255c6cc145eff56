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

STACKABLE = ("power", "broken", "sigmoid", "turning")
WEIGHTS = ("lfo", "loo")
RISE_LEVEL = 0.05  # law="auto" reads a fraction as an accuracy only if it rises at this one-sided level
WORDS = ("the power and broken power laws", "the sigmoid law")
MEASURES = ("loss", "error", "accuracy")  # what y measures, as a user may tell law="auto"
TURN_NOISES = 3.0  # law="auto" adds the turning law when a curve rises above its running minimum by this many noise sds


def rise_above_minimum(x: np.ndarray, log_y: np.ndarray) -> tuple[np.ndarray, float]:
    """Per point of one curve (sorted by ``x``; at least 3 points), how far ``log y`` rises above the lowest
    ``log y`` before it (0 for the first point), and the curve's noise ``s``: the robust sd of the second
    differences of ``log y``, ``1.4826 MAD / sqrt(6)`` (a smooth trend cancels; at least 1e-6)."""
    v = np.asarray(log_y, dtype=float)[np.argsort(np.asarray(x, dtype=float), kind="stable")]
    d2 = np.diff(v, 2)
    s = max(1.4826 * float(np.median(np.abs(d2 - np.median(d2)))) / np.sqrt(6), 1e-6)
    return np.append(0.0, v[1:] - np.minimum.accumulate(v)[:-1]), s


def turn_evidence(df: pd.DataFrame, *, x: str, y: str, group: str | None = None) -> tuple[bool, str]:
    """Whether the rows show a turn: a curve that rises above an earlier minimum by more than its noise.

    Per curve (group), with the rows sorted by ``x``: the noise ``s`` of ``log y`` is the robust
    sd of its second differences (``1.4826 MAD / sqrt(6)``: a smooth trend cancels, and a turn
    barely moves it); the rise at each point is ``log y`` minus the lowest ``log y`` before it. A
    turn is evidenced when at least two points rise more than ``TURN_NOISES * sqrt(2) * s`` above
    that running minimum (the sd of a difference of two noisy points is ``sqrt(2) s``). Curves of
    fewer than 6 points are not judged. Returns the verdict and a sentence with the largest rise.
    """
    if y not in df.columns or x not in df.columns:
        return False, "no turn judged"
    xs = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float))
    keys = df[group].astype(str).to_numpy() if group and group in df.columns else np.zeros(len(df), dtype=int)
    best = (0.0, None, 0.0)  # (rise in noise sds, curve, rise in log y)
    for key in np.unique(keys):
        rows = (keys == key) & np.isfinite(xs) & np.isfinite(ly)
        if rows.sum() < 6:
            continue
        rise, s = rise_above_minimum(xs[rows], ly[rows])
        score = np.sort(rise)[-2] / (np.sqrt(2) * s)  # the second largest: two points must rise
        if score > best[0]:
            best = (float(score), key, float(np.sort(rise)[-2]))
    found = best[0] > TURN_NOISES
    where = f" (curve {best[1]!r})" if group else ""
    return found, (f"the data rise above an earlier minimum{where} by {best[2]:.3g} in log y, {best[0]:.1f} noise sds "
                   f"{'>' if found else '<='} {TURN_NOISES:g}")


def auto_laws(df: pd.DataFrame, *, x: str, y: str, trials=None, measure: str | None = None,
              group: str | None = None) -> tuple[list[str], str]:
    """The candidates of ``law="auto"`` and the reason for them, in one sentence.

    A ``measure`` the user states decides: ``"loss"`` or ``"error"`` falls with scale (the
    power and broken power laws), ``"accuracy"`` rises (the sigmoid law). Without it, eval-set
    sizes, or a fraction in [0, 1] that *clearly* rises with scale (Spearman's rho above 0 at
    the one-sided level :data:`RISE_LEVEL`), make it an accuracy. Anything else is read as a
    loss or an error that falls with scale. The test matters on short noisy curves, where an
    error rate may rise by chance between a few points and a sigmoid fitted to that rise
    extrapolates it; an error rate that really rises needs ``measure="error"``.

    A loss or an error gets the turning law (:mod:`bayescale.laws.turning`) as a third candidate
    only where some curve (``group``) turns inside the data (:func:`turn_evidence`): it costs a
    fit and its refits, and on monotone curves it forecasts what the broken law does.
    """
    measure = check_measure(measure, "auto", trials)
    if measure == "accuracy":
        return ["sigmoid"], f"measure={measure!r} (stated): {y!r} read as an accuracy that rises with scale, {WORDS[1]}"
    if trials is not None:
        return ["sigmoid"], f"eval-set sizes (trials=) make it correct counts: {WORDS[1]}"
    if measure is not None:
        why = f"measure={measure!r} (stated): {y!r} read as {_article(measure)} that falls with scale, {WORDS[0]}"
    elif y not in df.columns or x not in df.columns:
        return ["power", "broken"], WORDS[0]
    elif not pd.to_numeric(df[y], errors="coerce").between(0, 1).all():
        why = f"{y!r} is not a fraction in [0, 1]: read as a loss falling with scale, {WORDS[0]}"
    else:
        from scipy.stats import spearmanr

        rho, p = spearmanr(pd.to_numeric(df[x], errors="coerce"), pd.to_numeric(df[y], errors="coerce"),
                           alternative="greater", nan_policy="omit")
        test = f"Spearman rho {rho:.2f} with {x!r}, one-sided p {p:.3g}"
        if p < RISE_LEVEL:
            return ["sigmoid"], (f"{y!r} is a fraction in [0, 1] rising with scale ({test}): an accuracy, {WORDS[1]} "
                                 "(if it is an error rate, say so: measure='error')")
        why = (f"{y!r} is a fraction in [0, 1] that does not clearly rise with scale ({test} >= {RISE_LEVEL}): "
               f"read as an error falling with scale, {WORDS[0]}")
    turns, evidence = turn_evidence(df, x=x, y=y, group=group)
    if turns:
        return ["power", "broken", "turning"], f"{why}; and the turning law: {evidence}"
    return ["power", "broken"], why


def _article(measure: str) -> str:
    return "an " + measure if measure[0] in "aeiou" else "a " + measure


def check_measure(measure: str | None, law, trials=None) -> str | None:
    """Validate ``measure=``: one of :data:`MEASURES`, one the named laws fit (an accuracy for the sigmoid,
    a loss or error for the falling laws), and an accuracy with ``trials``.

    With ``law="auto"`` it chooses the candidate laws; with every law it is a covariate of the drift prior.
    """
    if measure is None:
        return None
    if measure not in MEASURES:
        raise LawError(f"measure must be one of {', '.join(map(repr, MEASURES))}, got {measure!r}")
    if not (isinstance(law, str) and law == "auto"):
        named = [law] if isinstance(law, str) else list(law) if isinstance(law, Sequence) else []
        wrong = [name for name in named if (name == "sigmoid") != (measure == "accuracy")]
        if wrong:
            raise LawError(f"measure={measure!r} does not fit the {wrong[0]} law (the sigmoid's y is an accuracy, "
                           "the other laws' a loss or error that falls with scale)")
    if trials is not None and measure != "accuracy":
        raise LawError(f"trials= makes y correct counts, an accuracy; measure={measure!r} contradicts it")
    return measure


def candidate_laws(df: pd.DataFrame, law, *, x: str, y: str, trials=None, measure: str | None = None,
                   group: str | None = None) -> list[str]:
    """Resolve ``law`` (a list of names or ``"auto"``) into the candidate laws (``"auto"``: :func:`auto_laws`)."""
    if isinstance(law, str) and law == "auto":
        return auto_laws(df, x=x, y=y, trials=trials, measure=measure, group=group)[0]
    check_measure(measure, law, trials)
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
                seed: int | None = None, weights: str = "lfo", measure: str | None = None, **options) -> StackedFit:
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
    if isinstance(law, str) and law == "auto":
        laws, choice = auto_laws(df, x=x, y=y, trials=trials, measure=measure, group=options.get("group"))
    else:
        laws, choice = candidate_laws(df, law, x=x, y=y, trials=trials, measure=measure), None
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
    priors = options.pop("priors", None)
    per_law = bool(priors) and set(priors) <= set(laws)  # {"power": {...}, "broken": {...}}
    fits, dropped, used = {}, {}, {}
    for name in laws:
        extra = {"priors": priors.get(name) if per_law else priors}
        if name in ("broken", "turning") and breaks is not None:
            extra["breaks"] = breaks
        if name == "sigmoid":
            extra["trials"] = trials
            extra["noise"] = noise if noise in ("binomial", "beta") else None
        else:
            extra["noise"] = noise
        used[name] = {**options, **extra}
        try:
            fits[name] = fit(df, law=name, x=x, y=y, seed=seed, measure=None if name == "sigmoid" else measure,
                             **options, **extra)
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
    return StackedFit(fits, dropped=dropped, lfo=lfo, choice=choice)
