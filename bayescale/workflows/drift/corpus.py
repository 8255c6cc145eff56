"""A corpus of real curves whose continuation is known: one tidy table for learning how laws drift.

Every row is one observation of one curve::

    dataset  curve  axis  metric  x  y

``dataset`` is a *source* (one paper or release, never a file: all datablations files are one,
Gadre et al.'s loss and downstream files are one, Porian et al.'s isoFLOP curves and frontiers
are one), since leave-one-data-set-out scoring must hold out everything a source shares.
``axis`` is the kind of scale (:data:`AXES`) and ``metric`` what ``y`` measures (:data:`METRICS`).

:func:`load_corpus` reads the public corpus files of ``shared/data/corpus`` (see their
``SOURCES.md``) and the data sets shipped with bayescale; :func:`check_corpus` validates a
user's own corpus (``bayescale learn-priors corpus.csv``). The package ships only what is
learned from the corpus (:mod:`bayescale.laws.drift_prior`), never the corpus itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.errors import DataError
from bayescale.laws.drift_prior import AXES, METRICS

COLUMNS = ("dataset", "curve", "axis", "metric", "x", "y")

# source -> (citation, licence, where the curves come from)
PROVENANCE = {
    "olmo": ("Groeneveld et al. (2024) OLMo; via Choshen et al. (2024) ColPret, arXiv:2410.11840", "MIT",
             "bayescale.datasets olmo_domains: validation loss per domain against training step"),
    "opt": ("Zhang et al. (2022) OPT; via Choshen et al. (2024) ColPret", "MIT",
            "bayescale.datasets opt_bigbench: BIG-bench error (1 - accuracy) against tokens"),
    "datablations": ("Muennighoff et al. (2023) arXiv:2305.16264", "MIT",
                     "bayescale.datasets datablations and datablations_code: loss against tokens seen"),
    "obsscaling": ("Ruan, Maddison, Hashimoto (2024) arXiv:2405.10938", "Apache-2.0",
                   "bayescale.datasets obsscaling_base: benchmark error against training FLOPs per family"),
    "chinchilla": ("Hoffmann et al. (2022); Besiroglu et al. (2024) arXiv:2404.10102", "none stated",
                   "bayescale.datasets chinchilla: loss against tokens at a fixed model size"),
    "olmo_ladder": ("Bhagia et al. (2024) arXiv:2412.04403", "Apache-2.0",
                    "corpus/olmo_ladder.csv.gz: validation losses against tokens of 25 ladder runs"),
    "gadre": ("Gadre et al. (2024) arXiv:2403.08540", "MIT",
              "corpus/gadre_loss.csv.gz and gadre_downstream.csv.gz: loss and task error against tokens at "
              "each model size (over-training multipliers 0.25x to 640x)"),
    "porian": ("Porian et al. (2024) arXiv:2406.19146", "MIT",
               "corpus/porian_isoflop.csv.gz (loss against parameters at fixed compute) and "
               "porian_frontier.csv.gz (loss against compute)"),
    "gemstones": ("McLeish et al. (2025) arXiv:2502.06857", "MIT",
                  "corpus/gemstones.csv.gz: training loss against tokens"),
    "lcdb": ("Mohr et al. (2023) arXiv:2306.00164; LCDB 1.1 (2025)", "CC BY 4.0",
             "corpus/lcdb11_val_even.csv.gz: validation error against training-set size"),
}


def _tidy(df: pd.DataFrame, dataset: str, curve, axis: str, metric: str, x: str, y) -> pd.DataFrame:
    keys = [curve] if isinstance(curve, str) else list(curve)
    name = df[keys].astype(str).agg("/".join, axis=1) if len(keys) > 1 else df[keys[0]].astype(str)
    values = y(df) if callable(y) else df[y]
    return pd.DataFrame({"dataset": dataset, "curve": f"{dataset}:" + name, "axis": axis, "metric": metric,
                         "x": pd.to_numeric(df[x], errors="coerce").to_numpy(float),
                         "y": pd.to_numeric(values, errors="coerce").to_numpy(float)})


def _shipped() -> dict[str, Callable[[], pd.DataFrame]]:
    from bayescale import datasets

    def opt():
        return _tidy(datasets.load("opt_bigbench"), "opt", ["subtask", "model"], "tokens", "error", "tokens",
                     lambda d: 1 - d["accuracy"] / 100)

    def datablations():
        long = _tidy(datasets.load("datablations"), "datablations", ["data", "num_params", "epochs",
                                                                     "tokens_per_epoch"], "tokens", "loss",
                     "token_num", "loss")
        code = _tidy(datasets.load("datablations_code"), "datablations", ["epochs", "seed"], "tokens", "loss",
                     "token_num", "loss")
        code["curve"] = code["curve"].str.replace("datablations:", "datablations:code/", regex=False)
        return pd.concat([long, code], ignore_index=True)

    def obsscaling():
        base = datasets.load("obsscaling_base").dropna(subset=["FLOPs (1E21)"])
        names = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"]
        long = base.melt(id_vars=["Model Family", "FLOPs (1E21)"], value_vars=names, var_name="benchmark",
                         value_name="score").dropna(subset=["score"])
        return _tidy(long, "obsscaling", ["Model Family", "benchmark"], "compute", "error", "FLOPs (1E21)",
                     lambda d: 1 - d["score"])

    def chinchilla():
        df = datasets.load("chinchilla")
        df["size"] = df["params"].map(lambda v: f"{v:.3g}")
        return _tidy(df, "chinchilla", "size", "tokens", "loss", "tokens", "loss")

    return {"olmo": lambda: _tidy(datasets.load("olmo_domains"), "olmo", ["model", "domain"], "steps", "loss",
                                  "step", "loss"),
            "opt": opt, "datablations": datablations, "obsscaling": obsscaling, "chinchilla": chinchilla}


def _public(folder: Path) -> dict[str, Callable[[], pd.DataFrame]]:
    def read(name):
        path = folder / name
        if not path.is_file():
            raise DataError(f"corpus file {str(path)!r} is missing; the public corpus is shared/data/corpus "
                            "(see its SOURCES.md)")
        return pd.read_csv(path)

    def gadre():
        # over-training curves: loss (or task error) against tokens at one model size, 8 multipliers each
        loss = _tidy(read("gadre_loss.csv.gz"), "gadre", ["train_data", "params", "val_set"], "tokens", "loss",
                     "tokens", "loss")
        down = _tidy(read("gadre_downstream.csv.gz"), "gadre", ["train_data", "params", "task"], "tokens", "error",
                     "tokens", "y")
        return pd.concat([loss, down], ignore_index=True)

    def porian():
        iso = _tidy(read("porian_isoflop.csv.gz"), "porian", "curve_id", "params", "loss", "x", "y")
        front = _tidy(read("porian_frontier.csv.gz"), "porian", "curve_id", "compute", "loss", "x", "y")
        return pd.concat([iso, front], ignore_index=True)

    return {"olmo_ladder": lambda: _tidy(read("olmo_ladder.csv.gz"), "olmo_ladder", "curve_id", "tokens", "loss",
                                         "tokens", "y"),
            "gadre": gadre, "porian": porian,
            "gemstones": lambda: _tidy(read("gemstones.csv.gz"), "gemstones", "curve_id", "tokens", "loss", "tokens",
                                       "final_loss"),
            "lcdb": lambda: _tidy(read("lcdb11_val_even.csv.gz"), "lcdb", "curve_id", "examples", "error", "x", "y")}


def default_folder() -> Path:
    """``shared/data/corpus`` beside the project (``../shared`` of a checkout), where benchmarks find it."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "corpus"


def subsample_curves(corpus: pd.DataFrame, max_curves: int | None, seed: int) -> tuple[pd.DataFrame, dict]:
    """At most ``max_curves`` curves of each data set, drawn with ``seed`` (the same draw for the same
    data set name and seed); also, per data set subsampled, what was kept of how many."""
    if max_curves is None:
        return corpus, {}
    frames, stated = [], {}
    for name, frame in corpus.groupby("dataset", sort=False):
        curves = frame["curve"].unique()
        if len(curves) > max_curves:
            rng = np.random.default_rng([seed, sum(map(ord, str(name)))])
            keep = rng.choice(curves, size=max_curves, replace=False)
            stated[name] = f"{max_curves} of {len(curves)} curves (seed {seed})"
            frame = frame[frame["curve"].isin(set(keep))]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), stated


def load_corpus(folder: str | Path | None = None, *, sources: Sequence[str] | None = None,
                max_curves: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The corpus as one tidy table (:data:`COLUMNS`), one row per observation.

    Parameters
    ----------
    folder : path, optional
        Folder of the public corpus files (default :func:`default_folder`).
    sources : sequence of str, optional
        Data sets to include (default: all of :data:`PROVENANCE`).
    max_curves : int, optional
        Keep at most this many curves of each data set, drawn at random with ``seed`` (large
        sources such as LCDB are subsampled this way); the draw is stated by the table's
        ``attrs["subsample"]``. Rows that cannot be scored (``x`` or ``y`` not a number > 0, an
        error or accuracy of 1 or more) are left out and counted in ``attrs["dropped"]``.
    seed : int
        Seed of the subsample.
    """
    folder = default_folder() if folder is None else Path(folder)
    readers = {**_shipped(), **_public(folder)}
    names = list(readers) if sources is None else list(sources)
    unknown = [n for n in names if n not in readers]
    if unknown:
        raise DataError(f"unknown corpus data set(s) {unknown}; known: {', '.join(readers)}")
    frames, dropped = [], {}
    for name in names:
        frame = readers[name]()
        bounded = frame["metric"].isin(["error", "accuracy"])
        usable = (np.isfinite(frame["x"]) & np.isfinite(frame["y"]) & (frame["x"] > 0) & (frame["y"] > 0)
                  & ~(bounded & (frame["y"] >= 1)))
        if not usable.all():
            dropped[name] = int((~usable).sum())
        frames.append(frame[usable])
    out, subsample = subsample_curves(pd.concat(frames, ignore_index=True), max_curves, seed)
    out.attrs["subsample"] = subsample
    out.attrs["dropped"] = dropped
    return out


def check_corpus(df: pd.DataFrame) -> pd.DataFrame:
    """Validate a user's corpus: the columns of :data:`COLUMNS`, known axes and metrics, ``x, y > 0``.

    Raises :class:`bayescale.errors.DataError` naming the column and the first bad rows.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"a corpus is a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"corpus is missing column(s) {missing}; a corpus has columns {', '.join(COLUMNS)} "
                        f"(it has {', '.join(map(str, df.columns))})")
    for column, allowed in (("axis", AXES), ("metric", METRICS)):
        bad = ~df[column].isin(allowed)
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
            raise DataError(f"corpus column {column!r} must be one of {', '.join(allowed)}; rows {rows} hold "
                            f"{df[column].to_numpy()[rows].tolist()}")
    for column in ("x", "y"):
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            raise DataError(f"corpus column {column!r} must be a finite number > 0; rows {rows} hold "
                            f"{df[column].to_numpy()[rows].tolist()}")
    bounded = df["metric"].isin(["error", "accuracy"]).to_numpy() & (pd.to_numeric(df["y"]).to_numpy(float) >= 1)
    if bounded.any():
        rows = np.flatnonzero(bounded)[:5].tolist()
        raise DataError(f"corpus rows {rows} are errors or accuracies (column 'metric') with y >= 1; give them "
                        "as fractions in (0, 1)")
    return df.assign(x=pd.to_numeric(df["x"]).astype(float), y=pd.to_numeric(df["y"]).astype(float))
