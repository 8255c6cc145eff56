"""Crash-safe output of a backtest: every finished task is written at once, and read back on resume."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np


def _task_key(m: Mapping) -> str:
    from bayescale.workflows.batch import curve_id

    return curve_id([m["dataset"], m["curve"], m["cutoff"]])


def _open_store(out, data: Mapping, spec: Mapping, seed: int, resume: bool):
    import hashlib

    from bayescale import __version__
    from bayescale.io.store import FORMAT, CurveStore, data_hash

    digest = hashlib.sha256()
    described = {}
    for name, item in data.items():
        digest.update(f"{name}:{data_hash(item['df'])};".encode())
        described[name] = {k: item.get(k) for k in ("x", "y", "group", "split", "measure")}
    manifest = {"format": FORMAT, "kind": "backtest", "data_hash": digest.hexdigest(), "seed": seed,
                "version": __version__, "spec": {**{k: v for k, v in spec.items()}, "datasets": described}}
    return CurveStore.open(out, manifest, resume=resume)


_ARRAYS = ("d", "err", "var")


def _write_task(store, key: str, result: Mapping) -> None:
    """Draws (and in-sample errors) to ``<key>.npz``, then the record; each file atomically."""
    import io as _io

    from bayescale.core.files import atomic_write

    arrays = {f"draws__{method}": np.asarray(d) for method, d in (result.get("draws") or {}).items()}
    for name in _ARRAYS if result.get("inner") else ():
        arrays[f"inner__{name}"] = np.asarray(result["inner"][name])
    buffer = _io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(store.root / "curves" / f"{key}.npz", lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
    record = {k: v for k, v in result.items() if k not in ("draws", "inner")}
    store.write_curve({**record, "curve_id": key, "has_inner": bool(result.get("inner"))})


def _read_task(store, key: str) -> dict:
    """A finished (curve, cutoff) as :func:`run_task` returned it; :class:`~bayescale.io.store.UnreadableFile`
    names the file when its record or draws cannot be read back."""
    from bayescale.io.store import read_file, read_record

    record = read_file(store.root / "curves" / f"{key}.json", read_record)

    def arrays(path):
        with np.load(path) as stored:
            draws = {name.split("__", 1)[1]: stored[name] for name in stored.files if name.startswith("draws__")}
            inner = {name: stored[f"inner__{name}"] for name in _ARRAYS} if record["has_inner"] else None
        return draws, inner

    draws, inner = read_file(store.root / "curves" / f"{key}.npz", arrays)
    record = {k: v for k, v in record.items() if k not in ("curve_id", "has_inner")}
    return {**record, "draws": draws, "inner": inner}
