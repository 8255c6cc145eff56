r"""Observational scaling: a Bayesian capability model across model families.

Ruan, Maddison and Hashimoto (2024, arXiv:2405.10938) observe that the benchmark scores of
public language models lie in a low-dimensional capability space, and that each model
family turns log-compute into capability at its own rate. Their method is PCA plus least
squares; here it is one Bayesian model, so every output carries an interval.

Model
-----
For model :math:`m` of family :math:`f(m)` with training compute :math:`C_m`, benchmark
:math:`j` with chance floor :math:`\phi_j` (e.g. 0.25 for 4-way multiple choice) and
:math:`k` capability dimensions:

.. math::

    u_m &= (\log C_m - \overline{\log C}) / \mathrm{sd}(\log C) \\
    c_m &= \alpha_{f(m)} + \beta_{f(m)} u_m + \tau \odot \varepsilon_m,
        \qquad \varepsilon_m \sim N(0, I_k) \\
    \beta_f &= \mu_\beta + \tau_\beta z^\beta_f, \qquad
    \alpha_f = \mu_\alpha + \tau_\alpha z^\alpha_f, \qquad z \sim N(0, 1) \\
    s_{mj} &\sim N\big(\phi_j + (1 - \phi_j)\,\mathrm{sigmoid}(W_j \cdot c_m + b_j),\ \sigma_j\big)

Families are partially pooled (a family with one model borrows its slope from the
others). Only observed cells :math:`(m, j)` enter the likelihood, so missing scores are
imputed by the model rather than dropping rows; their posterior predictive is reported by
:meth:`ObservationalFit.predict_missing`. The score noise is one :math:`\sigma_j = \sigma`
for all benchmarks (``noise="shared"``, the default). ``"pooled"`` (one per benchmark,
log-normal around a common sd), ``"anchors"`` (one shared by the anchor benchmarks, one per
other benchmark) and ``"benchmark"`` (one each) are available but mix badly on the
ObsScaling table with NUTS (r_hat 1.2 to 2, divergences): a benchmark's own residual can
then move between the capabilities and its noise. On that table ``"pooled"`` gave
held-out 90% intervals closer to nominal than ``"shared"`` (see
``benchmarks/bench_observational.py``), so the default under-covers: read its intervals as
a lower bound on the uncertainty.

Identification (stated, as the issue asks): the first ``k`` benchmarks, in the order given,
are anchors. The loading matrix :math:`W` (benchmarks x k) is lower triangular with unit
diagonal (a positive diagonal fixed to 1) and the anchors' intercepts are 0
(:math:`b_1 = \dots = b_k = 0`). So benchmark 1 loads on capability 1 only, capability 1
is measured in the chance-corrected logit units of benchmark 1, capability 2 is what
benchmark 2 shows beyond capability 1, and so on. This removes rotation, sign, scale and
origin freedom. Choose a broad benchmark first (e.g. MMLU), then ones that measure
different skills (e.g. HumanEval, GSM8K).

Family efficiency is reported in a rotation-free unit: the mean over benchmarks of the
logit :math:`W_j \cdot (\alpha_f + \beta_f u_{ref}) + b_j` at a common reference compute
(the geometric mean compute of the table unless ``at`` is given), i.e. how capable a family
is for the same compute. ``slope_per_decade`` is the change of that mean logit per tenfold
compute.

Sampler: NUTS (``method="nuts"``, default) or mean-field ADVI (``method="advi"``, faster,
intervals usually too narrow).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayescale.errors import DataError, LawError

#: Chance-level floors of well-known benchmarks (fraction correct of random guessing).
DEFAULT_FLOORS = {
    "MMLU": 0.25,
    "ARC-C": 0.25,
    "HellaSwag": 0.25,
    "Winograd": 0.5,
    "Winogrande": 0.5,
    "XWinograd": 0.5,
    "TruthfulQA": 0.0,
    "GSM8K": 0.0,
    "HumanEval": 0.0,
}

NEW_FAMILY = "(new family)"


@dataclass
class ObservationalData:
    """A validated benchmark table: scores (models x benchmarks, NaN = missing) and compute."""

    models: list[str]
    benchmarks: list[str]
    families: list[str]
    family_index: np.ndarray
    compute: np.ndarray
    scores: np.ndarray
    floors: np.ndarray
    log_c_mean: float
    log_c_sd: float
    dropped: list[str] = field(default_factory=list)

    @property
    def u(self) -> np.ndarray:
        """Standardised log compute of each model."""
        return self.standardise(self.compute)

    def standardise(self, compute) -> np.ndarray:
        return (np.log(np.asarray(compute, dtype=float)) - self.log_c_mean) / self.log_c_sd

    @property
    def observed_cells(self) -> tuple[np.ndarray, np.ndarray]:
        return np.nonzero(~np.isnan(self.scores))

    def missing(self) -> pd.DataFrame:
        """One row per missing (model, benchmark) cell."""
        rows, cols = np.nonzero(np.isnan(self.scores))
        return pd.DataFrame({
            "model": [self.models[i] for i in rows],
            "family": [self.families[self.family_index[i]] for i in rows],
            "benchmark": [self.benchmarks[j] for j in cols],
        })


def prepare_observational(
    df: pd.DataFrame,
    *,
    benchmarks: Sequence[str] | None = None,
    family: str = "Model Family",
    compute: str = "FLOPs (1E21)",
    model: str | None = "Model",
    floors: Mapping[str, float] | None = None,
    k: int = 3,
    missing_compute: str = "drop",
) -> ObservationalData:
    """Validate a benchmark table (one row per model) for :func:`observational`.

    Benchmark scores must be fractions in [0, 1]; missing scores (NaN) are allowed and
    modelled. Rows without compute are dropped with a :class:`~bayescale.errors.DataWarning`
    (``missing_compute="drop"``) or refused (``"error"``); compute <= 0 is refused.
    """
    import warnings

    from bayescale.errors import DataWarning

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    for name, col in (("family", family), ("compute", compute)):
        if col not in df.columns:
            raise DataError(f"{name} column {col!r} not in the table; columns are {list(df.columns)}")
    if model is not None and model not in df.columns:
        raise DataError(f"model column {model!r} not in the table; columns are {list(df.columns)}")
    if benchmarks is None:
        skip = {family, compute, model}
        benchmarks = [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
                      and df[c].dropna().between(0, 1).all()]
        if not benchmarks:
            raise DataError("no numeric benchmark columns with scores in [0, 1] in the table; "
                            "pass benchmarks=[...] naming the score columns")
    benchmarks = list(benchmarks)
    if not benchmarks:
        raise DataError("benchmarks is empty: name at least one score column")
    unknown = [b for b in benchmarks if b not in df.columns]
    if unknown:
        raise DataError(f"benchmark columns {unknown} not in the table")
    if len(set(benchmarks)) != len(benchmarks):
        raise DataError(f"benchmark columns repeated: {benchmarks}")
    non_numeric = [b for b in benchmarks if not pd.api.types.is_numeric_dtype(df[b])]
    if non_numeric:
        raise DataError(f"benchmark columns {non_numeric} are not numeric")
    if not isinstance(k, int | np.integer) or k < 1:
        raise LawError(f"k (capability dimensions) must be a positive integer, got {k!r}")
    if k > len(benchmarks):
        raise LawError(f"k={k} capability dimensions need at least {k} benchmarks, got {len(benchmarks)}")
    if missing_compute not in ("drop", "error"):
        raise LawError(f"missing_compute must be 'drop' or 'error', got {missing_compute!r}")
    if len(df) == 0:
        raise DataError("the table has no rows")

    comp = pd.to_numeric(df[compute], errors="coerce")
    bad = np.flatnonzero(df[compute].notna() & comp.isna())
    if len(bad):
        raise DataError(f"compute column {compute!r} is not numeric in rows {bad[:10].tolist()}")
    nonpos = np.flatnonzero((comp <= 0).to_numpy())
    if len(nonpos):
        raise DataError(f"compute column {compute!r} must be > 0; rows {nonpos[:10].tolist()} are <= 0")
    nonfinite = np.flatnonzero(np.isinf(comp.to_numpy()))
    if len(nonfinite):
        raise DataError(f"compute column {compute!r} is infinite in rows {nonfinite[:10].tolist()}")
    no_fam = np.flatnonzero(df[family].isna().to_numpy())
    if len(no_fam):
        raise DataError(f"family column {family!r} is missing in rows {no_fam[:10].tolist()}")
    names = (df[model].astype(str) if model is not None else pd.Series(df.index.astype(str), index=df.index))
    dup = names[names.duplicated()].tolist()
    if dup:
        raise DataError(f"model column {model!r} repeats {dup[:5]}: one row per model")

    no_comp = np.flatnonzero(comp.isna().to_numpy())
    dropped: list[str] = []
    if len(no_comp):
        if missing_compute == "error":
            raise DataError(f"compute column {compute!r} is missing in rows {no_comp[:10].tolist()}")
        dropped = names.iloc[no_comp].tolist()
        warnings.warn(f"dropped {len(no_comp)} rows without {compute!r} (rows {no_comp[:10].tolist()}"
                      f"{'...' if len(no_comp) > 10 else ''})", DataWarning, stacklevel=3)
    keep = comp.notna().to_numpy()
    if keep.sum() < 2:
        raise DataError(f"need at least 2 models with compute, got {int(keep.sum())}")

    scores = df.loc[keep, benchmarks].to_numpy(dtype=float)
    for j, b in enumerate(benchmarks):
        col = scores[:, j]
        out = np.flatnonzero(~np.isnan(col) & ((col < 0) | (col > 1)))
        if len(out):
            hint = " (percentages? divide by 100)" if np.nanmax(col) <= 100 else ""
            raise DataError(f"benchmark column {b!r} has scores outside [0, 1] in rows "
                            f"{np.flatnonzero(keep)[out][:10].tolist()}{hint}")
        if np.isnan(col).all():
            raise DataError(f"benchmark column {b!r} has no observed scores")
    all_missing = np.flatnonzero(np.isnan(scores).all(axis=1))
    if len(all_missing):
        warnings.warn(f"{len(all_missing)} models have no benchmark score; their capability comes "
                      "from compute and family alone", DataWarning, stacklevel=3)

    floor_map = {**DEFAULT_FLOORS, **dict(floors or {})}
    floor = np.array([float(floor_map.get(b, 0.0)) for b in benchmarks])
    if ((floor < 0) | (floor >= 1)).any():
        raise LawError(f"chance floors must be in [0, 1): {dict(zip(benchmarks, floor, strict=True))}")

    fam = df.loc[keep, family].astype(str)
    families = sorted(fam.unique())
    log_c = np.log(comp[keep].to_numpy(dtype=float))
    sd = float(log_c.std()) or 1.0
    return ObservationalData(
        models=names[keep].tolist(),
        benchmarks=benchmarks,
        families=families,
        family_index=fam.map({f: i for i, f in enumerate(families)}).to_numpy(dtype="int64"),
        compute=np.exp(log_c),
        scores=scores,
        floors=floor,
        log_c_mean=float(log_c.mean()),
        log_c_sd=sd,
        dropped=dropped,
    )


def lower_triangular_index(n_bench: int, k: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Indices of the free strictly-lower entries and of the diagonal of a (n_bench x k) loading matrix."""
    rows, cols = np.tril_indices(n_bench, -1, k)
    return (rows, cols), np.arange(k)


def score_mean(eta: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Expected score ``floor + (1 - floor) * sigmoid(eta)`` (NumPy; broadcasts)."""
    return floor + (1.0 - floor) / (1.0 + np.exp(-eta))


NOISE = ("shared", "pooled", "anchors", "benchmark")


def create_observational_model(data: ObservationalData, k: int = 3, noise: str = "shared"):
    """Build the PyMC capability model (see the module docstring for the math).

    Coordinates: ``model``, ``benchmark``, ``capability`` (``c1..ck``), ``family``,
    ``cell`` (observed cells) and ``low`` (free entries of the lower-triangular loadings).
    ``noise``: ``"shared"`` (default) one score-noise sd for all benchmarks; ``"anchors"``
    one shared by the k anchor benchmarks and one per other benchmark; ``"benchmark"`` one
    each. The last two let a benchmark's own residual move between the capabilities and its
    noise, which leaves the model weakly identified (chains disagree).
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_model, n_bench = data.scores.shape
    (low_r, low_c), diag = lower_triangular_index(n_bench, k)
    obs_m, obs_j = data.observed_cells
    coords = {
        "model": data.models,
        "benchmark": data.benchmarks,
        "capability": [f"c{i + 1}" for i in range(k)],
        "capability_rest": [f"c{i + 1}" for i in range(1, k)],
        "family": data.families,
        "cell": [f"{data.models[m]}|{data.benchmarks[j]}" for m, j in zip(obs_m, obs_j, strict=True)],
        "low": [f"{data.benchmarks[r]}|c{c + 1}" for r, c in zip(low_r, low_c, strict=True)],
        "free_benchmark": data.benchmarks[k:],
    }
    with pm.Model(coords=coords) as model:
        u = pm.Data("u", data.u, dims="model")
        fam = pm.Data("family_index", data.family_index, dims="model")

        mu_beta = pm.Normal("beta_mu", 0.0, 2.0, dims="capability")
        tau_beta = pm.HalfNormal("beta_sigma", 0.5, dims="capability")
        z_beta = pm.Normal("beta_z", 0.0, 1.0, dims=("family", "capability"))
        beta = pm.Deterministic("beta", mu_beta + tau_beta * z_beta, dims=("family", "capability"))
        mu_alpha = pm.Normal("alpha_mu", 0.0, 3.0, dims="capability")
        tau_alpha = pm.HalfNormal("alpha_sigma", 1.0, dims="capability")
        z_alpha = pm.Normal("alpha_z", 0.0, 1.0, dims=("family", "capability"))
        alpha = pm.Deterministic("alpha", mu_alpha + tau_alpha * z_alpha, dims=("family", "capability"))
        tau_c = pm.HalfNormal("resid_sigma", 1.0, dims="capability")
        # capability 1 is measured by most benchmarks (centred parametrisation); the others are
        # often weakly measured (saturated or missing scores), so they are non-centred
        mean_c = alpha[fam] + beta[fam] * u[:, None]
        c_first = pm.Normal("capability_first", mean_c[:, 0], tau_c[0], dims="model")
        if k > 1:
            z_rest = pm.Normal("resid_z", 0.0, 1.0, dims=("model", "capability_rest"))
            cap = pt.concatenate([c_first[:, None], mean_c[:, 1:] + tau_c[1:] * z_rest], axis=1)
        else:
            cap = c_first[:, None]
        cap = pm.Deterministic("capability_score", cap, dims=("model", "capability"))

        loadings = pt.zeros((n_bench, k))
        loadings = pt.set_subtensor(loadings[diag, diag], 1.0)
        if len(low_r):
            w_low = pm.Normal("W_low", 0.0, 1.0, dims="low")
            loadings = pt.set_subtensor(loadings[low_r, low_c], w_low)
        loadings = pm.Deterministic("W", loadings, dims=("benchmark", "capability"))
        if n_bench > k:
            b_free = pm.Normal("b_free", 0.0, 2.0, dims="free_benchmark")
            b = pt.concatenate([pt.zeros(k), b_free])
        else:
            b = pt.zeros(k)
        b = pm.Deterministic("b", b, dims="benchmark")
        if noise == "benchmark":
            sigma = pm.HalfNormal("sigma", 0.05, dims="benchmark")
        elif noise == "pooled":  # per benchmark, log-normally around a common sd (fixed spread 0.5)
            shared = pm.HalfNormal("sigma_shared", 0.05)
            z_sigma = pm.Normal("sigma_z", 0.0, 1.0, dims="benchmark")
            sigma = pm.Deterministic("sigma", shared * pt.exp(0.5 * z_sigma), dims="benchmark")
        else:
            shared = pm.HalfNormal("sigma_shared", 0.05)
            if noise == "anchors" and n_bench > k:
                sigma = pt.concatenate([pt.ones(k) * shared, pm.HalfNormal("sigma_free", 0.05, dims="free_benchmark")])
            else:
                sigma = pt.ones(n_bench) * shared
            sigma = pm.Deterministic("sigma", sigma, dims="benchmark")

        eta = pt.sum(cap[obs_m] * loadings[obs_j], axis=1) + b[obs_j]
        floor = pt.as_tensor_variable(data.floors[obs_j])
        mean = floor + (1.0 - floor) * pm.math.sigmoid(eta)
        pm.Normal("score", mean, sigma[obs_j], observed=data.scores[obs_m, obs_j], dims="cell")
    return model


def initial_point(data: ObservationalData, k: int) -> dict[str, np.ndarray]:
    """A least-squares starting point in the identified parametrisation (PCA of the score logits).

    PCA of the chance-corrected score logits (missing cells mean-imputed) gives loadings
    ``A``; the LQ decomposition of their top k x k block rotates them to lower-triangular
    form and column scaling sets the unit diagonal. Per-family least squares of the
    capabilities on ``u`` give ``alpha`` and ``beta``. All chains start here, which keeps
    them in the same identified mode.
    """
    p = (data.scores - data.floors) / (1 - data.floors)
    p = np.clip(p, 0.02, 0.98)
    y = np.log(p / (1 - p))
    col_mean = np.nanmean(y, axis=0)
    y = np.where(np.isnan(y), col_mean, y)
    yc = y - y.mean(axis=0)
    u_svd, s_svd, vt = np.linalg.svd(yc, full_matrices=False)
    scores = u_svd[:, :k] * s_svd[:k]
    a = vt[:k].T  # (J, k)
    q, r = np.linalg.qr(a[:k].T)  # a_k = r.T q.T, r.T lower triangular
    d = np.diag(r).copy()
    d[np.abs(d) < 1e-6] = 1e-6
    w = (a @ q) / d  # lower triangular, unit diagonal
    cap = scores @ q * d
    u = data.u
    alpha = np.zeros((len(data.families), k))
    beta = np.zeros((len(data.families), k))
    design = np.column_stack([np.ones_like(u), u])
    pooled = np.linalg.lstsq(design, cap, rcond=None)[0]
    for g in range(len(data.families)):
        rows = data.family_index == g
        if rows.sum() >= 3 and np.ptp(u[rows]) > 0.1:
            coef = np.linalg.lstsq(design[rows], cap[rows], rcond=None)[0]
        else:
            coef = np.vstack([cap[rows].mean(axis=0) - pooled[1] * u[rows].mean(), pooled[1]])
        alpha[g], beta[g] = coef[0], coef[1]
    b = y.mean(axis=0) - w @ cap.mean(axis=0)
    shift = np.linalg.solve(w[:k], b[:k])  # move the origin so that the anchors' intercepts are 0
    cap, alpha, b = cap + shift, alpha + shift, b - w @ shift
    fitted = alpha[data.family_index] + beta[data.family_index] * u[:, None]
    resid_sd = np.maximum(np.std(cap - fitted, axis=0), 0.05)
    (low_r, low_c), _ = lower_triangular_index(len(data.benchmarks), k)
    beta_mu = beta.mean(axis=0)
    beta_sd = np.maximum(beta.std(axis=0), 0.05)
    alpha_mu = alpha.mean(axis=0)
    alpha_sd = np.maximum(alpha.std(axis=0), 0.05)
    init = {
        "beta_mu": beta_mu,
        "beta_sigma": beta_sd,
        "beta_z": (beta - beta_mu) / beta_sd,
        "alpha_sigma": alpha_sd,
        "alpha_mu": alpha_mu,
        "alpha_z": (alpha - alpha_mu) / alpha_sd,
        "resid_sigma": resid_sd,
        "capability_first": cap[:, 0],
    }
    if len(data.benchmarks) > k:
        init["b_free"] = b[k:]
    if k > 1:
        init["resid_z"] = (cap[:, 1:] - fitted[:, 1:]) / resid_sd[1:]
    if len(low_r):
        init["W_low"] = w[low_r, low_c]
    return init


def _sample(model, *, method: str, draws: int, tune: int, chains: int, seed: int, progress: bool,
            cores: int | None, advi_steps: int, initvals: Mapping[str, np.ndarray] | None = None):
    import os

    import pymc as pm

    from bayescale.sampling import quiet_pymc

    if method not in ("nuts", "advi"):
        raise LawError(f"method must be 'nuts' or 'advi', got {method!r}")
    with model, quiet_pymc():
        if method == "nuts":
            return pm.sample(draws=draws, tune=tune, chains=chains,
                             cores=cores if cores is not None else min(chains, os.cpu_count() or 1),
                             random_seed=seed, progressbar=progress, target_accept=0.9, init="adapt_diag",
                             initvals=dict(initvals or {}), compute_convergence_checks=False)
        approx = pm.fit(n=advi_steps, method="advi", random_seed=seed, progressbar=progress,
                        start=dict(initvals or {}))
        return approx.sample(draws=draws * chains, random_seed=seed)


def observational(
    df: pd.DataFrame,
    *,
    benchmarks: Sequence[str] | None = None,
    family: str = "Model Family",
    compute: str = "FLOPs (1E21)",
    model: str | None = "Model",
    k: int = 3,
    floors: Mapping[str, float] | None = None,
    method: str = "nuts",
    draws: int = 500,
    tune: int = 500,
    chains: int = 2,
    seed: int | None = None,
    progress: bool = True,
    cores: int | None = None,
    advi_steps: int = 20000,
    missing_compute: str = "drop",
    noise: str = "shared",
) -> ObservationalFit:
    """Fit the Bayesian observational-scaling capability model to a benchmark table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per model: a family column, a compute column and benchmark score
        columns (fractions in [0, 1]; NaN for scores not measured).
    benchmarks : list of str, optional
        Score columns, in the order that sets the identification (benchmark 1 loads on
        capability 1 only, ...). Default: every numeric column with values in [0, 1].
    family, compute, model : str
        Columns of the model family, the training compute (> 0, any unit) and the
        model name (``None``: use the row index).
    k : int
        Capability dimensions.
    floors : mapping, optional
        Chance floor per benchmark; defaults from :data:`DEFAULT_FLOORS`, else 0.
    method : {"nuts", "advi"}
        NUTS (default) or mean-field ADVI (``advi_steps`` iterations).
    draws, tune, chains, seed, progress, cores
        Sampler settings.
    missing_compute : {"drop", "error"}
        What to do with rows whose compute is missing.
    noise : {"shared", "pooled", "anchors", "benchmark"}
        Score-noise sd: one for all benchmarks (default); one per benchmark pooled
        log-normally; one for the anchors and one per other benchmark; one per benchmark
        (the last three mix badly on the ObsScaling table, see the module docstring).

    Returns
    -------
    ObservationalFit
    """
    data = prepare_observational(df, benchmarks=benchmarks, family=family, compute=compute, model=model,
                                 floors=floors, k=k, missing_compute=missing_compute)
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    if noise not in NOISE:
        raise LawError(f"noise must be one of {NOISE}, got {noise!r}")
    if method not in ("nuts", "advi"):
        raise LawError(f"method must be 'nuts' or 'advi', got {method!r}")
    pm_model = create_observational_model(data, k=k, noise=noise)
    idata = _sample(pm_model, method=method, draws=draws, tune=tune, chains=chains, seed=seed,
                    progress=progress, cores=cores, advi_steps=advi_steps, initvals=initial_point(data, k))
    return ObservationalFit(idata=idata, data=data, k=k, method=method, seed=seed,
                            columns={"family": family, "compute": compute, "model": model})


def _interval(draws: np.ndarray, prob: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = (1 - prob) / 2
    return (draws.mean(axis=axis), np.quantile(draws, q, axis=axis), np.quantile(draws, 1 - q, axis=axis))


def _check_prob(prob: float) -> None:
    if not 0 < prob < 1:
        raise DataError(f"prob must be in (0, 1), got {prob!r}")


class ObservationalFit:
    """Result of :func:`observational`: posterior draws plus the validated table."""

    def __init__(self, idata, data: ObservationalData, k: int, method: str, seed: int,
                 columns: Mapping[str, Any]):
        self.idata = idata
        self.data = data
        self.k = k
        self.method = method
        self.seed = seed
        self.columns = dict(columns)
        self._draw_cache: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        d = self.data
        return (f"<ObservationalFit {len(d.models)} models x {len(d.benchmarks)} benchmarks, "
                f"{len(d.families)} families, k={self.k}, {self.method}, "
                f"{int(np.isnan(d.scores).sum())} missing scores>")

    # -- draws -----------------------------------------------------------------------------
    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of ``name`` with chains merged into the first axis."""
        if name not in self._draw_cache:
            from bayescale.posterior import flat

            self._draw_cache[name] = flat(self.idata["posterior"].dataset, name)
        return self._draw_cache[name]

    @property
    def n_draws(self) -> int:
        return self.draws("b").shape[0]

    # -- tables ----------------------------------------------------------------------------
    def capabilities(self, prob: float = 0.9) -> pd.DataFrame:
        """Capability score of every model per dimension, with a central ``prob`` interval."""
        _check_prob(prob)
        cap = self.draws("capability_score")
        mean, lo, hi = _interval(cap, prob)
        d = self.data
        rows = []
        for m, name in enumerate(d.models):
            for c in range(self.k):
                rows.append({"model": name, "family": d.families[d.family_index[m]], "capability": f"c{c + 1}",
                             "mean": mean[m, c], "lower": lo[m, c], "upper": hi[m, c]})
        return pd.DataFrame(rows)

    def loadings(self, prob: float = 0.9) -> pd.DataFrame:
        """Benchmark loadings ``W`` (lower triangular, positive diagonal) and intercepts."""
        _check_prob(prob)
        w = self.draws("W")
        mean, lo, hi = _interval(w, prob)
        rows = []
        for j, b in enumerate(self.data.benchmarks):
            for c in range(self.k):
                if c > j:
                    continue
                rows.append({"benchmark": b, "capability": f"c{c + 1}", "mean": mean[j, c],
                             "lower": lo[j, c], "upper": hi[j, c]})
        return pd.DataFrame(rows)

    def _family_logit(self, u_ref: float) -> np.ndarray:
        """Mean benchmark logit per family at standardised compute ``u_ref``: (draws, families)."""
        w = self.draws("W")  # (s, J, k)
        cap = self.draws("alpha") + self.draws("beta") * u_ref  # (s, F, k)
        return np.einsum("sfk,sjk->sf", cap, w) / w.shape[1] + self.draws("b").mean(axis=1)[:, None]

    def efficiencies(self, prob: float = 0.9, at: float | None = None) -> pd.DataFrame:
        """Family compute efficiency with intervals, and the probability each family is the most efficient.

        ``efficiency``: mean benchmark logit of the family at compute ``at`` (default: the
        table's geometric mean compute). ``slope``: the same per tenfold compute.
        ``p_most_efficient``: posterior probability that the family has the highest efficiency.
        """
        _check_prob(prob)
        d = self.data
        if at is not None and not (np.isfinite(at) and at > 0):
            raise DataError(f"at (reference compute) must be > 0, got {at!r}")
        u_ref = 0.0 if at is None else float(d.standardise(at))
        eff = self._family_logit(u_ref)
        slope = (self._family_logit(u_ref + math.log(10) / d.log_c_sd) - eff)
        best = np.bincount(eff.argmax(axis=1), minlength=len(d.families)) / eff.shape[0]
        m, lo, hi = _interval(eff, prob)
        sm, slo, shi = _interval(slope, prob)
        counts = np.bincount(d.family_index, minlength=len(d.families))
        frame = pd.DataFrame({
            "family": d.families, "n_models": counts, "efficiency": m, "lower": lo, "upper": hi,
            "slope_per_decade": sm, "slope_lower": slo, "slope_upper": shi, "p_most_efficient": best,
        })
        return frame.sort_values("efficiency", ascending=False, ignore_index=True)

    def missing(self) -> pd.DataFrame:
        """The missing (model, benchmark) cells the model imputed, and rows dropped for lack of compute."""
        return self.data.missing()

    # -- prediction ------------------------------------------------------------------------
    def _score_draws(self, cap: np.ndarray, rng: np.random.Generator, kind: str) -> np.ndarray:
        """Scores (draws, n, J) from capability draws (draws, n, k)."""
        eta = np.einsum("snk,sjk->snj", cap, self.draws("W")) + self.draws("b")[:, None, :]
        mean = score_mean(eta, self.data.floors)
        if kind == "mean":
            return mean
        if kind != "predictive":
            raise DataError(f"kind must be 'predictive' or 'mean', got {kind!r}")
        # scores are fractions: the predictive is censored to [0, 1]
        return np.clip(mean + rng.standard_normal(mean.shape) * self.draws("sigma")[:, None, :], 0.0, 1.0)

    def predict_missing(self, prob: float = 0.9, kind: str = "predictive") -> pd.DataFrame:
        """Posterior predictive of every missing score (e.g. a held-out downstream metric).

        This is how a model is predicted from its observed benchmarks: put it in the table
        with the metric to predict left empty (NaN); its capability is inferred from the
        scores it has, its family and its compute, and the empty cell is predicted from it
        (:func:`holdout` does this for a whole split). For a model with no scores at all, use
        :meth:`predict` (family and compute alone).
        """
        _check_prob(prob)
        d = self.data
        rows, cols = np.nonzero(np.isnan(d.scores))
        rng = np.random.default_rng(self.seed + 1)
        sc = self._score_draws(self.draws("capability_score")[:, rows, :], rng, kind)  # (s, n, J)
        vals = sc[:, np.arange(len(rows)), cols]
        mean, lo, hi = _interval(vals, prob)
        frame = self.data.missing()
        frame["mean"], frame["lower"], frame["upper"] = mean, lo, hi
        return frame

    def capability_draws_new(self, family: Sequence[str], compute: Sequence[float],
                             rng: np.random.Generator) -> np.ndarray:
        """Capability draws (draws, n, k) of new models from their family and compute alone.

        A family not in the fit (or :data:`NEW_FAMILY`) is drawn from the population.
        """
        d = self.data
        u = d.standardise(compute)
        s = self.n_draws
        alpha, beta = self.draws("alpha"), self.draws("beta")
        out = np.empty((s, len(u), self.k))
        for i, (f, ui) in enumerate(zip(family, u, strict=True)):
            if f in d.families:
                g = d.families.index(f)
                a, bt = alpha[:, g, :], beta[:, g, :]
            else:
                a = self.draws("alpha_mu") + self.draws("alpha_sigma") * rng.standard_normal((s, self.k))
                bt = self.draws("beta_mu") + self.draws("beta_sigma") * rng.standard_normal((s, self.k))
            out[:, i, :] = a + bt * ui + self.draws("resid_sigma") * rng.standard_normal((s, self.k))
        return out

    def predict(self, new: pd.DataFrame, prob: float = 0.9, kind: str = "predictive",
                benchmarks: Sequence[str] | None = None) -> pd.DataFrame:
        """Predict benchmark scores of new models from family and compute alone.

        ``new`` needs the family and compute columns of the fit (and the model column,
        if one was used, to label rows). Returns one row per model and benchmark with
        ``mean``, ``lower``, ``upper`` (central ``prob`` interval) and ``known_family``.
        """
        _check_prob(prob)
        fam_col, comp_col, model_col = self.columns["family"], self.columns["compute"], self.columns["model"]
        if not isinstance(new, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame of new models, got {type(new).__name__}")
        for col in (fam_col, comp_col):
            if col not in new.columns:
                raise DataError(f"column {col!r} not in the new models' table")
        comp = pd.to_numeric(new[comp_col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~(comp > 0) | ~np.isfinite(comp))
        if len(bad):
            raise DataError(f"compute column {comp_col!r} must be a positive number; rows {bad[:10].tolist()}")
        benches = list(benchmarks) if benchmarks is not None else self.data.benchmarks
        unknown = [b for b in benches if b not in self.data.benchmarks]
        if unknown:
            raise DataError(f"benchmarks {unknown} were not fitted; fitted: {self.data.benchmarks}")
        rng = np.random.default_rng(self.seed + 2)
        fams = new[fam_col].astype(str).tolist()
        cap = self.capability_draws_new(fams, comp, rng)
        sc = self._score_draws(cap, rng, kind)
        mean, lo, hi = _interval(sc, prob)
        names = (new[model_col].astype(str).tolist() if model_col is not None and model_col in new.columns
                 else [str(i) for i in new.index])
        rows = []
        for i, name in enumerate(names):
            for b in benches:
                j = self.data.benchmarks.index(b)
                rows.append({"model": name, "family": fams[i], "known_family": fams[i] in self.data.families,
                             "compute": comp[i], "benchmark": b, "mean": mean[i, j], "lower": lo[i, j],
                             "upper": hi[i, j]})
        return pd.DataFrame(rows)

    # -- diagnostics -----------------------------------------------------------------------
    def diagnostics(self) -> dict[str, float]:
        """Sampler health: max r_hat and min bulk ESS over the main parameters, divergences."""
        out: dict[str, float] = {"method": self.method}
        if self.method != "nuts":
            return out
        from arviz_stats import ess, rhat

        dataset = self.idata["posterior"].dataset
        names = [n for n in ("W_low", "b_free", "sigma", "beta", "alpha", "resid_sigma") if n in dataset]
        post = dataset[names]
        out["max_rhat"] = float(max(float(v.max()) for v in rhat(post).data_vars.values()))
        out["min_ess_bulk"] = float(min(float(v.min()) for v in ess(post).data_vars.values()))
        stats = self.idata["sample_stats"].dataset
        out["divergences"] = int(stats["diverging"].sum()) if "diverging" in stats else 0
        return out

    # -- plot ------------------------------------------------------------------------------
    def plot(self, benchmark: str | None = None, *, families: Sequence[str] | None = None, prob: float = 0.9,
             ax=None, n_grid: int = 40):
        """Plot a benchmark score against compute per family: points and posterior predictive bands.

        Families default to those with at least two models (at most 8). Returns the axes.
        """
        import matplotlib.pyplot as plt

        _check_prob(prob)
        d = self.data
        benchmark = benchmark or d.benchmarks[-1]
        if benchmark not in d.benchmarks:
            raise DataError(f"benchmark {benchmark!r} was not fitted; fitted: {d.benchmarks}")
        j = d.benchmarks.index(benchmark)
        counts = np.bincount(d.family_index, minlength=len(d.families))
        if families is None:
            order = np.argsort(-counts, kind="stable")
            families = [d.families[i] for i in order if counts[i] >= 2][:8]
        unknown = [f for f in families if f not in d.families]
        if unknown:
            raise DataError(f"families {unknown} not in the fit")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        rng = np.random.default_rng(self.seed + 3)
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, f in enumerate(families):
            g = d.families.index(f)
            members = d.family_index == g
            c_lo, c_hi = d.compute[members].min(), d.compute[members].max()
            grid = np.geomspace(c_lo / 2, c_hi * 4, n_grid)
            cap = self.capability_draws_new([f] * n_grid, grid, rng)
            sc = self._score_draws(cap, rng, "predictive")[:, :, j]
            mean, lo, hi = _interval(sc, prob)
            color = colors[i % len(colors)]
            ax.fill_between(grid, lo, hi, color=color, alpha=0.15, lw=0)
            ax.plot(grid, mean, color=color, lw=1.2)
            ax.scatter(d.compute[members], d.scores[members, j], color=color, s=18, label=f, zorder=3)
        ax.set_xscale("log")
        ax.set_xlabel(self.columns["compute"])
        ax.set_ylabel(benchmark)
        ax.set_title(f"{benchmark} vs compute per family ({int(prob * 100)}% predictive bands)")
        ax.legend(fontsize=7, ncols=2)
        return ax


def pca_baseline(
    features: np.ndarray,
    target: np.ndarray,
    train: np.ndarray,
    *,
    k: int = 3,
    floor: float = 0.0,
    prob: float = 0.9,
) -> pd.DataFrame:
    """Least-squares PCA baseline after Ruan et al. (2024), re-implemented from the paper's description.

    PCA (on the standardised, mean-imputed benchmark ``features`` of all models) gives
    ``k`` capability scores per model; a sigmoid ``floor + (1 - floor) sigmoid(w . pc + b)``
    is fitted to ``target`` on the ``train`` rows by nonlinear least squares. The interval
    is the point prediction plus or minus the normal quantile times the training residual
    sd (the paper gives no intervals; this is the plain least-squares one).

    Returns a frame with ``mean``, ``lower``, ``upper`` per row of ``features``.
    """
    from scipy.optimize import least_squares
    from scipy.stats import norm

    x = np.array(features, dtype=float)
    col_mean = np.nanmean(x, axis=0)
    x = np.where(np.isnan(x), col_mean, x)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-12)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    pcs = x @ vt[:k].T
    if np.corrcoef(pcs[:, 0], x.mean(axis=1))[0, 1] < 0:
        pcs[:, 0] *= -1
    train = np.asarray(train, dtype=bool)
    y = np.asarray(target, dtype=float)
    fit_rows = train & ~np.isnan(y)
    design = np.column_stack([pcs, np.ones(len(pcs))])

    def resid(p):
        return floor + (1 - floor) / (1 + np.exp(-design[fit_rows] @ p)) - y[fit_rows]

    sol = least_squares(resid, np.zeros(k + 1), method="lm" if fit_rows.sum() > k + 1 else "trf")
    pred = floor + (1 - floor) / (1 + np.exp(-design @ sol.x))
    dof = max(int(fit_rows.sum()) - (k + 1), 1)
    sd = math.sqrt(float(np.sum(sol.fun**2)) / dof)
    z = norm.ppf(0.5 + prob / 2)
    return pd.DataFrame({"mean": pred, "lower": pred - z * sd, "upper": pred + z * sd})


def simulate_table(
    n_families: int = 5,
    models_per_family: int | Sequence[int] = 6,
    n_benchmarks: int = 5,
    k: int = 2,
    *,
    noise: float = 0.02,
    missing: float = 0.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Simulate a benchmark table from the model (for tests and examples).

    Returns the table (columns ``Model``, ``Model Family``, ``FLOPs``, ``B1..Bn``) and the
    true parameters in the model's identification (``W`` lower triangular with unit
    diagonal, ``b`` with zeros for the first ``k`` benchmarks, ``alpha``,
    ``beta`` per family, ``capability`` per model, ``u`` standardised log compute).
    Floors are 0 except ``B1`` (0.25).
    """
    rng = np.random.default_rng(seed)
    sizes = ([int(models_per_family)] * n_families if np.isscalar(models_per_family)
             else [int(s) for s in models_per_family])
    n_families = len(sizes)
    fam_index = np.repeat(np.arange(n_families), sizes)
    n = len(fam_index)
    log_c = np.concatenate([np.sort(rng.uniform(0, 6, s)) for s in sizes])
    u = (log_c - log_c.mean()) / log_c.std()
    beta = 1.0 + 0.3 * rng.standard_normal((n_families, k))
    beta[:, 1:] *= 0.4
    alpha = 0.8 * rng.standard_normal((n_families, k))
    resid_sigma = np.full(k, 0.3)
    cap = alpha[fam_index] + beta[fam_index] * u[:, None] + resid_sigma * rng.standard_normal((n, k))
    w = rng.normal(0.8, 0.3, (n_benchmarks, k))
    w[:, 1:] = rng.normal(0.0, 0.7, (n_benchmarks, k - 1))  # later capabilities: mixed signs
    w = np.tril(w)
    w[np.arange(k), np.arange(k)] = 1.0
    b = rng.normal(0, 0.5, n_benchmarks)
    b[:k] = 0.0  # the anchors' intercepts (identification)
    floors = np.zeros(n_benchmarks)
    floors[0] = 0.25
    scores = score_mean(cap @ w.T + b, floors) + noise * rng.standard_normal((n, n_benchmarks))
    scores = np.clip(scores, 0, 1)
    complete = scores.copy()
    if missing > 0:
        scores[rng.random(scores.shape) < missing] = np.nan
    df = pd.DataFrame(scores, columns=[f"B{j + 1}" for j in range(n_benchmarks)])
    df.insert(0, "FLOPs", np.exp(log_c))
    df.insert(0, "Model Family", [f"F{f}" for f in fam_index])
    df.insert(0, "Model", [f"m{i}" for i in range(n)])
    truth = {"W": w, "b": b, "alpha": alpha, "beta": beta, "capability": cap, "u": u, "floors": floors,
             "resid_sigma": resid_sigma, "scores": complete, "family_index": fam_index}
    return df, truth


def holdout(
    df: pd.DataFrame,
    *,
    target: str,
    train: np.ndarray | pd.Series,
    benchmarks: Sequence[str],
    k: int = 3,
    prob: float = 0.9,
    **fit_kwargs: Any,
) -> tuple[ObservationalFit, pd.DataFrame, pd.DataFrame]:
    """The paper's held-out protocol: hide ``target`` for the rows outside ``train``, fit, predict it.

    The Bayesian model sees every benchmark of every model except ``target`` on the
    held-out rows (it predicts those cells from each model's capability, inferred from
    its other benchmarks, its family and its compute). The baseline of :func:`pca_baseline`
    uses the same information: PCA of the other benchmarks of all models, sigmoid least
    squares on the training rows.

    Returns
    -------
    fit : ObservationalFit
    table : DataFrame
        One row per held-out model with the observed ``truth`` and both methods'
        ``mean``/``lower``/``upper``.
    scores : DataFrame
        Per method: ``n``, ``mae``, ``rmse``, ``coverage`` (fraction of truths inside the
        central ``prob`` interval), ``mean_width``.
    """
    _check_prob(prob)
    benchmarks = list(benchmarks)
    if target not in benchmarks:
        raise DataError(f"target {target!r} must be one of the benchmarks {benchmarks}")
    train = np.asarray(train, dtype=bool)
    if train.shape != (len(df),):
        raise DataError(f"train mask has shape {train.shape}, expected ({len(df)},)")
    if train.all() or not train.any():
        raise DataError("train mask must keep some rows for fitting and hold out others")
    model_col = fit_kwargs.get("model", "Model")
    masked = df.copy()
    masked.loc[~train, target] = np.nan
    fit = observational(masked, benchmarks=benchmarks, k=k, **fit_kwargs)

    names = (df[model_col].astype(str) if model_col is not None else pd.Series(df.index.astype(str), index=df.index))
    kept = names.isin(fit.data.models).to_numpy()
    sub = df.loc[kept]
    sub_train = train[kept]
    truth = sub[target].to_numpy(dtype=float)
    others = [b for b in benchmarks if b != target]
    floor = float(fit.data.floors[benchmarks.index(target)])
    base = pca_baseline(sub[others].to_numpy(dtype=float), np.where(sub_train, truth, np.nan), sub_train,
                        k=min(k, len(others)), floor=floor, prob=prob)
    pred = fit.predict_missing(prob=prob)
    pred = pred[pred["benchmark"] == target].set_index("model")
    held = ~sub_train & ~np.isnan(truth)
    held_names = names[kept][held].tolist()
    table = pd.DataFrame({
        "model": held_names,
        "family": sub.loc[held, fit.columns["family"]].astype(str).to_numpy(),
        "truth": truth[held],
        "bayes_mean": pred.loc[held_names, "mean"].to_numpy(),
        "bayes_lower": pred.loc[held_names, "lower"].to_numpy(),
        "bayes_upper": pred.loc[held_names, "upper"].to_numpy(),
        "pca_mean": base["mean"].to_numpy()[held],
        "pca_lower": base["lower"].to_numpy()[held],
        "pca_upper": base["upper"].to_numpy()[held],
    })
    rows = []
    for method in ("bayes", "pca"):
        err = table[f"{method}_mean"] - table["truth"]
        inside = (table["truth"] >= table[f"{method}_lower"]) & (table["truth"] <= table[f"{method}_upper"])
        rows.append({"method": "bayesian" if method == "bayes" else "pca_least_squares", "n": len(table),
                     "mae": float(err.abs().mean()), "rmse": float(np.sqrt((err**2).mean())),
                     "coverage": float(inside.mean()),
                     "mean_width": float((table[f"{method}_upper"] - table[f"{method}_lower"]).mean())})
    return fit, table, pd.DataFrame(rows)
