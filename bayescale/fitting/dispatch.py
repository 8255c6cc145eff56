"""``bayescale.fit``: one law (:mod:`bayescale.fitting.single`) or several laws, stacked
(:mod:`bayescale.fitting.stacking`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from bayescale.fitting.single import check_discrepancy, fit_law
from bayescale.fitting.stacking import check_measure, fit_stacked
from bayescale.results.scaling import ScalingFit


def fit(
    df: pd.DataFrame,
    *,
    law: str = "power",
    x: str,
    y: str,
    group: str | None = None,
    noise: str | None = None,
    slopes: str = "shared",
    floor: str = "shared",
    pooling: str = "auto",
    priors: Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    target_accept: float | None = None,
    progress: bool = True,
    cores: int | None = None,
    breaks: int | None = None,
    trials: str | int | None = None,
    weights: str = "lfo",
    measure: str | None = None,
    axis: str | None = None,
    discrepancy: bool | None = None,
    drift_prior=None,
) -> ScalingFit:
    """Fit a scaling law to a tidy data frame.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per observation.
    law : str or list of str
        ``"power"``: saturating power law ``y = E + A x^-alpha``; ``"broken"``: smoothly
        broken power law (:mod:`bayescale.laws.broken`); ``"sigmoid"``: emergence curve
        (:mod:`bayescale.laws.sigmoid`). A list of laws, or ``"auto"``, fits each candidate and
        returns a :class:`bayescale.results.stacked.StackedFit` that averages them by stacking.
        ``"chinchilla"``: ``L = E + A N^-alpha + B D^-beta`` with ``x=[params, tokens]`` (or
        ``[params, compute]``), returning a :class:`~bayescale.results.chinchilla.ChinchillaFit`.
    x, y : str
        Columns of the scale and the metric.
    group : str, optional
        Column of the group (data source, subgroup, family). Offsets ``log A_g`` are
        partially pooled across groups; the exponent is shared unless
        ``slopes="varying"``.
    noise : {"lognormal", "studentt", "normal"}, optional
        Observation noise; default ``lognormal`` (``studentt`` for ``law="chinchilla"``).
        ``studentt`` is robust to outliers (on ``log y``).
    slopes : {"shared", "varying"}
        Share the exponent across groups, or pool ``log alpha_g`` hierarchically.
    floor : {"shared", "group"}
        One irreducible floor ``E`` for all groups, or pooled per-group floors.
    pooling : {"auto", "centered", "noncentered"}
        Parametrisation of the partial pooling (power law). Non-centred
        (``log A_g = mu + tau z_g``) suits groups with few points; centred suits groups
        with many informative points. ``auto`` picks centred when every group has at
        least 10 points. The model is the same; only the sampler's geometry changes.
    priors : mapping, optional
        Replacement priors by parameter name (``pymc_extras.prior.Prior`` or dicts);
        see ``fit.priors`` for the names and defaults.
    draws, tune, chains : int
        NUTS settings.
    seed : int, optional
        Seed for sampling and for every later random draw of the fit; a random one is
        chosen (and recorded in the fit) when omitted.
    sampler : {"nutpie", "pymc", "numpyro", "blackjax"}
        NUTS implementation. ``nutpie`` (the default) compiles a law's model once per
        structure and reuses it for every later fit in the process, so a repeat fit costs
        only its sampling (:mod:`bayescale.fitting.compiled`); ``pymc`` builds and compiles the
        model anew for each fit.
    target_accept : float, optional
        NUTS target acceptance (default 0.95; 0.99 for the broken law); raise it (e.g.
        0.99) if divergences are flagged.
    progress : bool
        Show a progress bar while sampling.
    cores : int, optional
        Processes for parallel chains (default: all cores, at most one per chain).
    breaks : int, optional
        Number of breaks of the broken law (1, the default, or 2).
    trials : str or int, optional
        Sigmoid law only: column holding the evaluation-set size of each row, or one size
        for all rows; the likelihood is then binomial on correct counts. Without it, a Beta
        likelihood on the accuracy.
    weights : {"lfo", "loo"}
        Stacked fits only (a list of laws or ``"auto"``): weight the laws by leave-future-out
        stacking (refits on each curve's smaller scales score its larger ones; :mod:`bayescale.fitting.lfo`),
        or by PSIS-LOO stacking. Ignored for a single law.
    measure : {"loss", "error", "accuracy"}, optional
        What ``y`` measures. With ``law="auto"`` it chooses the candidates: a loss or an error
        rate falls with scale (the power and broken power laws), an accuracy rises (the sigmoid
        law); by default it is read from the data (eval-set sizes, or a fraction in [0, 1] that
        clearly rises with ``x``, mean an accuracy); state ``measure="error"`` for an error rate
        that rises over the observed range. For every law it is a covariate of the drift prior:
        errors and accuracies, bounded in (0, 1), drift on the logit scale; anything else
        (the default, when not given) is read as a loss and drifts on the log scale.
    axis : {"steps", "tokens", "params", "compute", "examples"}, optional
        What ``x`` is; recorded with the fit (a covariate a relearned drift prior may use).
    discrepancy : bool, optional
        Beyond the data, forecasts (``predict``, ``reach``, ``flags``, ``plot``) integrate over the
        drift scale ``s`` of the learned drift prior (:mod:`bayescale.laws.drift_prior`) by default
        (None). ``False``: the posterior alone, the law taken as exact. ``True``: Chinchilla law
        only, learn ``s`` by forward chaining over compute (refits on the lowest 0.5 to 0.8 of the
        runs, :mod:`bayescale.fitting.chinchilla_drift`), partially informed by nothing else.
    drift_prior : path or DriftPrior, optional
        The drift prior to use (a file written by ``bayescale learn-priors``); default the one
        shipped with bayescale (``bayescale.drift_prior()`` shows it).

    Returns
    -------
    ScalingFit

    Raises
    ------
    bayescale.errors.BayescaleError
        On bad data, unknown law or options, or bad priors, before any sampling.
    """
    if not isinstance(law, str) or law == "auto":
        check_discrepancy(law, discrepancy)  # fit_law checks a single law's
        return fit_stacked(df, law=law, x=x, y=y, group=group, noise=noise, slopes=slopes, floor=floor,
                           priors=priors, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                           target_accept=target_accept, progress=progress, cores=cores, breaks=breaks,
                           trials=trials, weights=weights, measure=measure, axis=axis, discrepancy=discrepancy,
                           drift_prior=drift_prior)
    check_measure(measure, law, trials)
    return fit_law(df, law=law, x=x, y=y, group=group, noise=noise, slopes=slopes, floor=floor, pooling=pooling,
                   priors=priors, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                   target_accept=target_accept, progress=progress, cores=cores, breaks=breaks, trials=trials,
                   discrepancy=discrepancy, measure=measure, axis=axis, drift_prior=drift_prior)
