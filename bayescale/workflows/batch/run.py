"""``fit_many``: split a frame into curves, fit them inline or in workers, resume from a store, gather tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.config import FitConfig
from bayescale.errors import BayescaleError, DataError, OutputError, PriorError
from bayescale.io.store import FORMAT, CurveStore, data_hash, read_manifest
from bayescale.results.intervals import check_prob
from bayescale.workflows.batch.curves import SAMPLERS, _plain, curve_id, curve_seed, fit_curve
from bayescale.workflows.batch.result import BatchResult, _write_tables


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit_many`; the message says how many curves were kept."""


class _Progress:
    def __init__(self, total: int, skipped: int, where: str, enabled: bool, set_aside: int = 0):
        self.total, self.skipped, self.enabled = total, skipped, enabled
        self.done = self.failed = 0
        self.start = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()
        if enabled:
            resumed = f", {skipped} already finished" if skipped else ""
            if set_aside:
                resumed += f", {set_aside} fitted again (their files could not be read)"
            print(f"fit-many: {total} curves to fit on {where}{resumed}", file=sys.stderr, flush=True)

    def update(self, record: Mapping) -> None:
        self.done += 1
        self.failed += record["status"] != "ok"
        if not self.enabled:
            return
        now = time.monotonic()
        if not (self.tty or self.done == self.total or now - self.last > 10 or self.total <= 20):
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        line = f"[{self.done}/{self.total}] {self.failed} failed, {rate:.2f} curves/s"
        if self.tty:
            print(f"\r{line}", end="\n" if self.done == self.total else "", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _check_by(df: pd.DataFrame, by: Sequence[str]) -> list[str]:
    if isinstance(by, str):
        by = [by]
    by = list(by)
    if not by:
        raise DataError("by must name at least one column")
    for column in by:
        if column not in df.columns:
            raise DataError(
                f"by column {column!r} is not in the data; available columns: {', '.join(map(str, df.columns))}"
            )
        missing = df[column].isna()
        if missing.any():
            rows = ", ".join(str(i) for i in df.index[missing][:8])
            raise DataError(f"by column {column!r} is missing in rows {rows}; every row must belong to a curve")
    return by


def _check_at(at) -> list[float] | None:
    if at is None:
        return None
    values = np.atleast_1d(np.asarray(at, dtype=float))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise DataError(f"at must be a non-empty list of finite scales > 0, got {at!r}")
    return [float(v) for v in values]


def fit_many(
    df: pd.DataFrame,
    by: str | Sequence[str],
    *,
    law: str = "power",
    x: str,
    y: str,
    group: str | None = None,
    at: Sequence[float] | None = None,
    noise: str = "lognormal",
    slopes: str = "shared",
    floor: str = "shared",
    priors: Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    target_accept: float = 0.95,
    prob: float = 0.9,
    sampler: str | None = None,
    out=None,
    resume: bool = False,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    keep_fits: bool | None = None,
    progress: bool = True,
    source: Mapping[str, Any] | None = None,
) -> BatchResult:
    """Fit one scaling law per curve (group of rows sharing the ``by`` values).

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy data, one row per observation, all curves together.
    by : str or list of str
        Columns whose values identify a curve (e.g. ``["task"]``, ``["family", "metric"]``).
    law, x, y, group, noise, slopes, floor, priors, draws, tune, chains, target_accept
        As in :func:`bayescale.fit`; the same for every curve (``group`` is a grouping
        *within* each curve).
    at : sequence of float, optional
        Target scales: predictions and extrapolation flags there.
    seed : int, optional
        Run seed; each curve's seed is derived from it and the curve's key. Chosen at
        random (and recorded) when omitted; a resumed run reuses the recorded one.
    prob : float
        Mass of the intervals in the summary and predictions.
    sampler : {"nutpie", "pymc"}, optional
        ``nutpie`` (the default) compiles once per worker and reuses it.
    out : path, optional
        Output folder: each finished curve is written at once (see :mod:`bayescale.io.store`).
    resume : bool
        Finish the run recorded in ``out``, skipping finished curves. Refused if the data,
        spec or seed differ. A curve whose record or fit file cannot be read back is moved to
        ``out/quarantine/``, named in a :class:`~bayescale.errors.DataWarning` and fitted again.
    executor : {"local", "dask"}
        Local processes (``workers``, default all cores; ``workers=1`` runs in this
        process) or a Dask ``distributed`` cluster (``scheduler`` address, or a
        ``LocalCluster`` with ``workers`` processes started for the call).
    keep_fits : bool, optional
        Keep every curve's posterior in memory (default: only when ``out`` is not given;
        with ``out`` fits are read from disk on demand by :meth:`BatchResult.fit`).
    progress : bool
        Report per-curve completion on stderr.
    source : mapping, optional
        Extra provenance stored in the manifest (the CLI records the data file and its hash).

    Returns
    -------
    BatchResult

    Raises
    ------
    bayescale.errors.BayescaleError
        On bad arguments or columns, before any fitting; a curve whose own data are bad
        is reported as failed instead. ``OutputError`` when ``out`` cannot be used.
    BatchInterrupted
        On Ctrl-C, after keeping every finished curve (the message says how to resume).
    """
    from bayescale import __version__
    from bayescale.core.registry import law_spec
    from bayescale.data.curves import check_noise
    from bayescale.laws.priors import as_prior
    from bayescale.workflows.executors import make_executor

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(df).__name__}")
    by = _check_by(df, by)
    law_spec(law)
    check_noise(noise)
    for column in [x, y] + ([group] if group else []):
        if column not in df.columns:
            names = ", ".join(map(str, df.columns))
            raise DataError(f"column {column!r} is not in the data; available columns: {names}")
    sampler = sampler or "nutpie"
    if sampler not in SAMPLERS:
        raise BayescaleError(f"sampler must be one of {', '.join(SAMPLERS)} for fit_many, got {sampler!r}")
    FitConfig(law=law, x=x, y=y, group=group, noise=noise, slopes=slopes, floor=floor, draws=draws, tune=tune,
              chains=chains, sampler=sampler, target_accept=target_accept).validate()
    check_prob(prob)
    at = _check_at(at)
    user_priors = {name: as_prior(name, value).to_dict() for name, value in (priors or {}).items()}
    if resume and out is None:
        raise OutputError("resume needs out= (the folder of the run to finish)")
    if seed is None and resume and read_manifest(out) is not None:
        seed = read_manifest(out).get("seed")
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
    keep_fits = out is None if keep_fits is None else keep_fits

    spec = {"law": law, "x": x, "y": y, "group": group, "by": by, "noise": noise, "slopes": slopes, "floor": floor,
            "priors": user_priors, "draws": draws, "tune": tune, "chains": chains, "target_accept": target_accept,
            "sampler": sampler, "at": at, "prob": float(prob)}
    used = df[by + [c for c in dict.fromkeys([x, y, group]) if c]]
    manifest = {"format": FORMAT, "bayescale_version": __version__, "seed": seed, "by": by, "spec": spec,
                "data_hash": data_hash(used), "n_rows": len(df), **({"source": dict(source)} if source else {})}

    curves = []
    for index, (key, frame) in enumerate(df.groupby(by, sort=True, dropna=False)):
        key = [_plain(k) for k in (key if isinstance(key, tuple) else (key,))]
        curves.append({"curve_id": curve_id(key), "key": key, "index": index, "frame": frame,
                       "seed": curve_seed(seed, key), "spec": spec, "return_fit": keep_fits or out is not None})
    by_key = {c["curve_id"]: c["key"] for c in curves}
    if len(by_key) != len(curves):
        raise DataError(f"two curves of {by} map to the same file name; rename the key values")
    _check_priors(curves, spec)

    store = CurveStore.open(out, manifest, resume=resume) if out is not None else None
    try:
        fits = {}
        # a curve whose files cannot be read back is set aside (quarantine/) and fitted again
        finished = store.read_finished([c["curve_id"] for c in curves]) if store else {}
        records = list(finished.values())
        todo = [c for c in curves if c["curve_id"] not in finished]
        runner = make_executor(executor, workers=workers, scheduler=scheduler) if todo else None
        reporter = _Progress(len(todo), len(finished), runner.describe() if runner else "-", progress and bool(todo),
                             set_aside=len(store.set_aside) if store else 0)
        try:
            if runner is not None:
                tasks = ((c["curve_id"], c) for c in todo)
                by_id = {c["curve_id"]: c for c in todo}
                for task_id, result in runner.map_unordered(fit_curve, tasks):
                    record, fit = _unpack(result, by_id[task_id])
                    if store:
                        try:
                            store.write_curve(record, fit if record["status"] == "ok" else None)
                        except OSError as exc:  # e.g. a full disk: what was written stays whole
                            raise OutputError(
                                f"cannot write curve {record['key']!r} to {str(store.root)!r}: {exc}; the "
                                f"{len(records)} curves written before are kept, rerun with resume=True (--resume)"
                            ) from exc
                    if keep_fits and fit is not None:
                        fits[record["curve_id"]] = fit
                    records.append(record)
                    reporter.update(record)
        except KeyboardInterrupt:
            if runner is not None:
                runner.close()
            kept = len(records)
            if store:
                _write_tables(store, BatchResult(records, by, root=store.root, manifest=store.manifest))
                message = (f"interrupted: kept {kept} of {len(curves)} curves in {str(store.root)!r}; "
                           "run the same command with --resume (resume=True) to finish")
            else:
                message = (f"interrupted: {kept} of {len(curves)} curves were finished and are lost; "
                           "pass out= (--out) to keep finished curves across interruptions")
            raise BatchInterrupted(message) from None
        finally:
            if runner is not None:
                runner.close()
        result = BatchResult(records, by, fits=fits, root=store.root if store else None,
                             manifest=store.manifest if store else manifest)
        if store:
            result.set_aside = [{**entry, "key": by_key[entry["curve_id"]]} for entry in store.set_aside]
            _write_tables(store, result)
        return result
    finally:
        if store:
            store.close()


def _unpack(result: Mapping, task: Mapping) -> tuple[dict, Any]:
    """The record and fit of a finished task; a task lost by its executor becomes a failed record."""
    if "record" in result:
        return result["record"], result.get("fit")
    record = {"curve_id": task["curve_id"], "key": task["key"], "index": task["index"], "seed": task["seed"],
              "n_points": len(task["frame"]), "status": "failed", "reason": result.get("reason", "unknown error"),
              "summary": [], "predictions": [], "flags": [], "diagnostics": {}, "seconds": None}
    return record, None


def _check_priors(curves: list[dict], spec: Mapping) -> None:
    """Refuse unknown prior names once, up front, instead of failing every curve."""
    if not spec["priors"]:
        return
    from bayescale.core.registry import law_spec
    from bayescale.data.curves import prepare
    from bayescale.laws.priors import merge_priors

    config = FitConfig(law=spec["law"], x=spec["x"], y=spec["y"], group=spec["group"], noise=spec["noise"],
                       slopes=spec["slopes"], floor=spec["floor"])
    for c in curves:
        try:
            data = prepare(c["frame"], x=spec["x"], y=spec["y"], group=spec["group"], law=spec["law"],
                           noise=spec["noise"])
        except BayescaleError:
            continue
        try:
            merge_priors(law_spec(spec["law"]).function("default_priors")(data, config), spec["priors"])
        except PriorError:
            raise
        return
