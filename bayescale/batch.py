r"""Fit one model per group of rows (hundreds to thousands of curves) and collect tidy tables.

``fit_many(df, by=["task"], x=..., y=...)`` splits ``df`` into curves by the ``by``
columns, fits each curve exactly as :func:`bayescale.fit` would (same defaults, same
priors, same validation), and returns a :class:`BatchResult`: a summary frame (one row
per curve and parameter), predictions at the targets ``at``, flags and a status per curve
(``ok``, or ``failed`` with the reason). A failed curve never stops the batch.

Seeds. The seed of a curve is derived from the run seed and the curve's key only,

.. math:: s_k = \mathrm{SeedSequence}([s, \mathrm{crc32}(\mathrm{json}(k))]) \bmod 2^{31},

never from the order of execution, so results do not depend on the executor, the number
of workers or the order in which curves finish.

Compiled models are reused. Each curve is sampled exactly as :func:`bayescale.fit` would
sample it; with ``sampler="nutpie"`` (the default) each worker process compiles the law's
model once per structure and every later curve of that structure only swaps its data and
prior parameters in (:mod:`bayescale.compiled`), so a curve's draws are bitwise the same
whichever worker fits it, and the same as ``bayescale.fit`` with its seed.
``sampler="pymc"`` rebuilds and compiles the model for every curve; it is several times
slower (``benchmarks/bench_batch.py``).

Runs with ``out=`` write each finished curve at once and can be resumed; see
:mod:`bayescale.store`.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.config import FitConfig
from bayescale.errors import BayescaleError, DataError, OutputError, PriorError
from bayescale.store import FORMAT, CurveStore, _json_safe, data_hash, iter_records, read_manifest

STATUS_COLUMNS = ["curve_id", "status", "reason", "seed", "n_points", "seconds", "divergences", "max_r_hat",
                  "min_ess_bulk"]
SAMPLERS = ("nutpie", "pymc")


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit_many`; the message says how many curves were kept."""


# ---------------------------------------------------------------------- seeds and ids
def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (keys must survive JSON)."""
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def curve_seed(run_seed: int, key: Sequence[Any]) -> int:
    """Seed of the curve ``key`` in a run seeded ``run_seed`` (independent of execution order)."""
    crc = zlib.crc32(json.dumps([_plain(v) for v in key], default=str).encode())
    return int(np.random.SeedSequence([int(run_seed), crc]).generate_state(1)[0] % (2**31))


def curve_id(key: Sequence[Any]) -> str:
    """File-safe, unique id of a curve: a readable slug of its key plus a hash."""
    text = json.dumps([_plain(v) for v in key], default=str)
    slug = "-".join(str(v) for v in key)
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in slug).strip("._")[:60] or "curve"
    return f"{slug}-{zlib.crc32(text.encode()):08x}"


# ---------------------------------------------------------------------- one curve (runs in a worker)
def _records(frame: pd.DataFrame) -> list[dict]:
    return _json_safe(frame.to_dict(orient="records"))


def fit_curve(task: Mapping[str, Any]) -> dict:
    """Fit one curve; return its record (status, reason, tables) and, if asked, the fit.

    Runs in a worker. Bad data (a :class:`~bayescale.errors.BayescaleError`) and sampler
    errors end as ``status="failed"`` with the reason; they are not raised.
    """
    from bayescale.data import prepare
    from bayescale.fitting import run_fit
    from bayescale.priors import merge_priors, priors_to_dict
    from bayescale.registry import law_spec

    start = time.perf_counter()
    spec = task["spec"]
    record: dict[str, Any] = {
        "curve_id": task["curve_id"], "key": task["key"], "index": task["index"], "seed": task["seed"],
        "n_points": len(task["frame"]), "status": "failed", "reason": None,
        "summary": [], "predictions": [], "flags": [], "diagnostics": {},
    }
    fit = None
    try:
        config = FitConfig(
            law=spec["law"], x=spec["x"], y=spec["y"], group=spec["group"], noise=spec["noise"],
            slopes=spec["slopes"], floor=spec["floor"], draws=spec["draws"], tune=spec["tune"],
            chains=spec["chains"], seed=task["seed"], sampler=spec["sampler"], target_accept=spec["target_accept"],
        ).validate()
        data = prepare(task["frame"], x=config.x, y=config.y, group=config.group, law=config.law, noise=config.noise)
        config.x_ref, config.y_scale = data.x_ref, data.y_scale
        law = law_spec(config.law)
        config.priors = priors_to_dict(merge_priors(law.function("default_priors")(data, config), spec["priors"]))
        fit = run_fit(data, config, progress=False, cores=1)  # nutpie: compiled once per structure
        summary = fit.summary(prob=spec["prob"])
        stats = fit.idata["sample_stats"]
        diagnostics = {
            "max_r_hat": float(summary["r_hat"].max()),
            "min_ess_bulk": float(summary["ess_bulk"].min()),
            "min_ess_tail": float(summary["ess_tail"].min()),
            "divergences": int(stats["diverging"].values.sum()) if "diverging" in stats else 0,
            "draws": int(config.chains * config.draws),
        }
        fit.diagnostics = lambda: diagnostics  # flags reuse the summary computed above
        at = spec["at"]
        predictions = fit.predict(at, prob=spec["prob"]) if at else pd.DataFrame()
        flags = fit.flags(at=at)
        del fit.diagnostics
        record.update(
            status="ok",
            summary=_records(summary.rename_axis("parameter").reset_index()),
            predictions=_records(predictions),
            flags=_records(flags),
            diagnostics=diagnostics,
        )
    except BayescaleError as exc:
        record["reason"] = str(exc)
        fit = None
    except Exception as exc:  # noqa: BLE001 - one curve's sampler failure must not stop the batch
        record["reason"] = f"{type(exc).__name__}: {exc}"
        fit = None
    record["seconds"] = round(time.perf_counter() - start, 4)
    return {"record": record, "fit": fit if task.get("return_fit") else None}


# ---------------------------------------------------------------------- the batch result
def _normalise(record: Mapping) -> dict:
    """The record as it reads back from disk, so in-memory and resumed tables are identical."""
    return json.loads(json.dumps(_json_safe(dict(record))))


class BatchResult:
    """Results of :func:`fit_many`: tidy tables over all curves, and each curve's fit.

    Attributes
    ----------
    by : list of str
        The columns that define a curve.
    summary : pandas.DataFrame
        One row per curve and parameter: the ``by`` columns, ``parameter``, ``mean``,
        ``sd``, ``hdi_lower``, ``hdi_upper``, ``r_hat``, ``ess_bulk``, ``ess_tail``.
    predictions : pandas.DataFrame
        One row per curve, group and target scale (see :meth:`ScalingFit.predict`).
    flags : pandas.DataFrame
        Reliability flags of every curve (see :mod:`bayescale.flags`).
    status : pandas.DataFrame
        One row per curve: ``status`` (``ok`` / ``failed``), ``reason``, ``seed``,
        ``n_points``, ``seconds`` and sampler diagnostics.
    set_aside : list of dict
        Curves a resumed run fitted again because a file of theirs could not be read:
        ``curve_id``, ``key``, ``file``, ``reason`` and ``moved_to`` (under ``quarantine/``).
    """

    def __init__(self, records, by: Sequence[str], *, fits: Mapping[str, Any] | None = None,
                 root=None, manifest: Mapping | None = None):
        self.by = list(by)
        self.records = sorted((_normalise(r) for r in records), key=lambda r: r["index"])
        self._fits = dict(fits or {})
        self.root = Path(root) if root is not None else None
        self.manifest = dict(manifest or {})
        self.set_aside: list[dict] = []
        self.summary = self._table("summary")
        self.predictions = self._table("predictions")
        self.flags = self._table("flags")
        self.status = self._status()

    def _keys(self, record) -> dict:
        return dict(zip(self.by, record["key"], strict=True))

    def _table(self, name: str) -> pd.DataFrame:
        frames = [pd.DataFrame(r[name]).assign(**self._keys(r)) for r in self.records if r[name]]
        if not frames:
            return pd.DataFrame(columns=self.by)
        table = pd.concat(frames, ignore_index=True)
        return table[self.by + [c for c in table.columns if c not in self.by]]

    def _status(self) -> pd.DataFrame:
        rows = [{**self._keys(r), "curve_id": r["curve_id"], "status": r["status"], "reason": r["reason"],
                 "seed": r["seed"], "n_points": r["n_points"], "seconds": r["seconds"],
                 "divergences": r["diagnostics"].get("divergences"), "max_r_hat": r["diagnostics"].get("max_r_hat"),
                 "min_ess_bulk": r["diagnostics"].get("min_ess_bulk")} for r in self.records]
        return pd.DataFrame(rows, columns=self.by + STATUS_COLUMNS)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        n_ok = int((self.status["status"] == "ok").sum())
        where = f", saved in {str(self.root)!r}" if self.root else ""
        return f"<BatchResult {len(self)} curves by {self.by}: {n_ok} ok, {len(self) - n_ok} failed{where}>"

    @property
    def failed(self) -> pd.DataFrame:
        """Status rows of the curves that failed, with their reasons."""
        return self.status[self.status["status"] != "ok"].reset_index(drop=True)

    def _record(self, key) -> dict:
        key = list(key) if isinstance(key, tuple | list) else [key]
        for r in self.records:
            if r["key"] == [_plain(k) for k in key] or [str(k) for k in r["key"]] == [str(k) for k in key]:
                return r
        raise DataError(f"no curve {key!r} in this batch (by {self.by})")

    def fit(self, key):
        """The :class:`~bayescale.result.ScalingFit` of one curve (``key``: value or tuple of ``by`` values)."""
        record = self._record(key)
        if record["status"] != "ok":
            raise DataError(f"curve {record['key']!r} failed: {record['reason']}")
        if record["curve_id"] in self._fits:
            return self._fits[record["curve_id"]]
        if self.root is not None and (self.root / "curves" / f"{record['curve_id']}.nc").is_file():
            from bayescale.io import load_fit

            return load_fit(self.root / "curves" / f"{record['curve_id']}.nc")
        raise DataError(
            f"the fit of curve {record['key']!r} was not kept; run fit_many with out= (or keep_fits=True)"
        )

    # ------------------------------------------------------------------ saving
    def save(self, path) -> None:
        """Save as a folder: per-curve records and netCDF fits, tables as CSV, a manifest (no pickle).

        Reload with :meth:`BatchResult.load` (or :func:`bayescale.load_batch`).
        """
        path = Path(path)
        if self.root is not None and path.resolve() == self.root.resolve():
            return
        manifest = {**self.manifest, "format": FORMAT, "by": self.by}
        store = CurveStore.open(path, manifest)
        try:
            for r in self.records:
                fit = None
                if r["status"] == "ok":
                    try:
                        fit = self.fit(r["key"])
                    except DataError:
                        fit = None
                store.write_curve({k: v for k, v in r.items() if k != "fit_file"}, fit)
            _write_tables(store, self)
        finally:
            store.close()

    @classmethod
    def load(cls, path) -> BatchResult:
        """Read a batch folder written by :func:`fit_many` (``out=``) or :meth:`save`.

        Works on the folder of a run that was killed: it holds exactly the finished curves.
        """
        path = Path(path)
        manifest = read_manifest(path)
        if manifest is None or manifest.get("format") != FORMAT:
            raise DataError(f"{str(path)!r} is not a bayescale batch folder (no valid manifest.json)")
        return cls(iter_records(path), manifest["by"], root=path, manifest=manifest)


def load_batch(path) -> BatchResult:
    """Load a saved batch folder (see :meth:`BatchResult.load`)."""
    return BatchResult.load(path)


def _write_tables(store: CurveStore, result: BatchResult) -> None:
    store.write_table("summary.csv", result.summary)
    store.write_table("predictions.csv", result.predictions)
    store.write_table("flags.csv", result.flags)
    store.write_table("status.csv", result.status)


# ---------------------------------------------------------------------- progress
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


# ---------------------------------------------------------------------- fit_many
def _default_sampler() -> str:
    import importlib.util

    return "nutpie" if importlib.util.find_spec("nutpie") is not None else "pymc"


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
        ``nutpie`` (default when installed) compiles once per worker and reuses it.
    out : path, optional
        Output folder: each finished curve is written at once (see :mod:`bayescale.store`).
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
    from bayescale.data import check_noise
    from bayescale.executors import make_executor
    from bayescale.priors import as_prior
    from bayescale.registry import law_spec

    if not isinstance(df, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(df).__name__}")
    by = _check_by(df, by)
    law_spec(law)
    check_noise(noise)
    for column in [x, y] + ([group] if group else []):
        if column not in df.columns:
            names = ", ".join(map(str, df.columns))
            raise DataError(f"column {column!r} is not in the data; available columns: {names}")
    sampler = sampler or _default_sampler()
    if sampler not in SAMPLERS:
        raise BayescaleError(f"sampler must be one of {', '.join(SAMPLERS)} for fit_many, got {sampler!r}")
    FitConfig(law=law, x=x, y=y, group=group, noise=noise, slopes=slopes, floor=floor, draws=draws, tune=tune,
              chains=chains, sampler=sampler, target_accept=target_accept).validate()
    if not isinstance(prob, int | float) or not 0 < prob < 1:
        raise DataError(f"prob must be a number in (0, 1), got {prob!r}")
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
    from bayescale.data import prepare
    from bayescale.priors import merge_priors
    from bayescale.registry import law_spec

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
