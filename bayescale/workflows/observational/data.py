"""The benchmark table of an observational fit: models as rows, benchmarks as columns, validated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
