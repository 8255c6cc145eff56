"""Compare fits of the same data by PSIS-LOO (arviz-stats)."""

from __future__ import annotations

import warnings

import pandas as pd

from bayescale.errors import DataError


def _label(fit) -> str:
    c = fit.config
    return f"{c.law}/{c.slopes} slopes/{c.noise}"


def compare(*fits, names=None, threshold: float = 2.0) -> pd.DataFrame:
    """Rank fits of the same data by expected log predictive density (PSIS-LOO).

    Parameters
    ----------
    *fits : ScalingFit
        Two or more fits of the same rows (e.g. shared and varying slopes).
    names : sequence of str, optional
        Labels; default ``law/slopes/noise``.
    threshold : float
        The top model is "favoured" when its ELPD lead exceeds ``threshold`` standard
        errors of the difference; otherwise the comparison is inconclusive and the
        simpler model (first given) is kept.

    Returns
    -------
    pandas.DataFrame
        One row per fit, best first: ``elpd``, ``p_loo``, ``elpd_diff``, ``dse`` (SE of
        the difference), ``weight`` (stacking), ``max_pareto_k``. ``attrs["favours"]``
        names the favoured fit and ``attrs["verdict"]`` says why.
    """
    import arviz_stats as azs

    if len(fits) < 2:
        raise DataError("compare needs at least two fits")
    names = list(names) if names is not None else [_label(f) for f in fits]
    if len(set(names)) != len(names) or len(names) != len(fits):
        raise DataError(f"compare needs one distinct name per fit, got {names}")
    first = fits[0]
    for name, f in zip(names[1:], fits[1:], strict=True):
        same = len(f.data.y) == len(first.data.y) and (f.data.y == first.data.y).all()
        if not same:
            raise DataError(f"fit {name!r} is not of the same observations as {names[0]!r}")
        if (f.config.noise == "normal") != (first.config.noise == "normal"):
            raise DataError("log-likelihoods on y and on log y cannot be compared; use one noise scale")
    loos = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, f in zip(names, fits, strict=True):
            loos[name] = azs.loo(f.idata, pointwise=True)
        table = azs.compare(loos, round_to="none")
    table = pd.DataFrame(table)
    table["max_pareto_k"] = [float(loos[n].pareto_k.max()) for n in table.index]
    keep = [c for c in ["elpd", "p", "elpd_diff", "dse", "weight", "max_pareto_k"] if c in table.columns]
    table = table[keep].rename(columns={"p": "p_loo"}).astype(float)
    best = table.index[0]
    lead = float(table["elpd"].iloc[0] - table["elpd"].iloc[1])
    se = float(table["dse"].iloc[1])
    if best != names[0] and lead > threshold * se:
        favours, verdict = best, f"{best} is favoured: ELPD lead {lead:.1f} > {threshold} x SE {se:.1f}"
    elif best == names[0]:
        favours, verdict = best, f"{best} is best (ELPD lead {lead:.1f}, SE {se:.1f})"
    else:
        favours = names[0]
        verdict = (f"no clear preference: {best} leads by {lead:.1f} <= {threshold} x SE {se:.1f}; "
                   f"keep the simpler {names[0]}")
    if (table["max_pareto_k"] > 0.7).any():
        verdict += "; some Pareto k > 0.7, so LOO is unreliable for a few points"
    table.attrs["favours"] = favours
    table.attrs["verdict"] = verdict
    table.attrs["warnings"] = [str(w.message) for w in caught]
    return table
