"""A resumable output folder for long batch runs: one small file per finished curve.

Layout of ``out/``::

    manifest.json        what produced the folder: data hash, spec, package version, seed
    .lock                held by the run writing the folder (pid, host, start time)
    curves/<id>.nc       the fit of one curve (``bayescale.load`` reads it), ok curves only
    curves/<id>.json     the record of one curve: key, status, reason, seed, tables
    summary.csv, predictions.csv, flags.csv, status.csv   tables, rewritten at the end of a run

Every file is written to a temporary name and renamed (:func:`bayescale.core.files.atomic_write`),
so a run killed at any moment (Ctrl-C, ``kill -9``, a full disk) leaves only whole files.
A file damaged outside bayescale (a copy interrupted, a disk that filled while another tool
wrote) is found when the run is resumed: every file of that curve is moved to ``quarantine/``
(never deleted), a warning names it, and the curve is fitted again (:meth:`CurveStore.read_finished`).
A curve counts as finished when its ``.json`` record exists; the record is written after
the fit file, so a record never points at a missing fit. Resuming skips finished curves;
it refuses an output written from different data or a different spec, and a second run
cannot write to a folder another live run holds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bayescale.core.files import atomic_write
from bayescale.errors import DataWarning, OutputError

FORMAT = "bayescale-batch/1"
MANIFEST = "manifest.json"
LOCK = ".lock"
CURVES = "curves"
QUARANTINE = "quarantine"
# what reading a damaged file raises: json/numpy (ValueError), h5py (OSError), np.load on a cut
# zip (BadZipFile, EOFError), a record or archive missing an entry (KeyError, TypeError)
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


class UnreadableFile(Exception):
    """One file of a finished curve cannot be read back (see :meth:`CurveStore.read_finished`)."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


def read_file(path: Path, read: Callable[[Path], Any]) -> Any:
    """``read(path)``, any failure to read it raised as :class:`UnreadableFile` naming ``path``."""
    try:
        return read(path)
    except FileNotFoundError:
        raise UnreadableFile(path, "missing") from None
    except UNREADABLE as exc:
        raise UnreadableFile(path, f"{type(exc).__name__}: {exc}") from exc


def read_record(path: Path) -> dict:
    """A curve record: a JSON object with its ``curve_id`` (raises on anything else)."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(record, dict) or record.get("curve_id") != Path(path).stem:
        raise ValueError(f"not the record of curve {Path(path).stem!r}")
    return record


def check_netcdf(path: Path) -> None:
    """Read every variable of a fit file (HDF5, as ``save_fit`` writes it): raises if any part is damaged.

    h5py directly, about 20 ms for a small fit; opening it through xarray costs 25 times more.
    """
    import h5py

    def read(_name, item):
        if isinstance(item, h5py.Dataset):
            item[()]

    with h5py.File(path, "r") as handle:
        handle.visititems(read)


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows and columns a batch uses (order of rows included)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def file_hash(path) -> str:
    """SHA-256 of a file's bytes (recorded for the data file the CLI read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_text(path: Path, text: str) -> None:
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    atomic_write(path, write)


def _json_safe(value: Any) -> Any:
    """Plain JSON values; NaN and infinities become None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CurveStore:
    """The output folder of one batch run (see the module docstring).

    Use :meth:`open` to create or resume one; it takes the lock, which :meth:`close`
    releases (also as a context manager).
    """

    def __init__(self, root: Path, manifest: dict):
        self.root = Path(root)
        self.manifest = manifest
        self._locked = False
        self.set_aside: list[dict] = []  # curves whose files could not be read on resume (see read_finished)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root, manifest: dict, *, resume: bool = False) -> CurveStore:
        """Create ``root`` for a new run, or reopen it to resume one.

        Raises
        ------
        OutputError
            The folder holds results but ``resume`` is false; it was written from
            different data, a different spec or seed; or another live run holds its lock.
        """
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise OutputError(f"output {str(root)!r} exists and is not a folder")
        if not root.parent.is_dir() if str(root.parent) else False:
            raise OutputError(f"cannot create output {str(root)!r}: folder {str(root.parent)!r} does not exist")
        root.mkdir(exist_ok=True)
        (root / CURVES).mkdir(exist_ok=True)
        store = cls(root, manifest)
        store._acquire_lock()
        for stale in (root / CURVES).glob(".*.tmp"):  # half-written files of a killed run, never read
            stale.unlink(missing_ok=True)
        try:
            old = store.read_manifest()
            if old is None:
                if any((root / CURVES).glob("*.json")):
                    raise OutputError(f"output {str(root)!r} holds curve records but no {MANIFEST}; use a new folder")
                _write_text(root / MANIFEST, json.dumps(_json_safe(manifest), indent=2, sort_keys=True))
            elif not resume:
                raise OutputError(
                    f"output {str(root)!r} already holds a batch run; pass resume=True (--resume) to finish it, "
                    "or choose a new folder"
                )
            else:
                store._check_same_run(old, manifest)
                store.manifest = old
        except BaseException:
            store.close()
            raise
        return store

    def _check_same_run(self, old: dict, new: dict) -> None:
        where = str(self.root)
        if old.get("format") != FORMAT:
            raise OutputError(f"output {where!r} is not a bayescale batch folder (format {old.get('format')!r})")
        if old.get("data_hash") != new.get("data_hash"):
            raise OutputError(
                f"cannot resume {where!r}: the data differ from the run that wrote it "
                f"(data hash {str(old.get('data_hash'))[:12]} there, {str(new.get('data_hash'))[:12]} now); "
                "use a new output folder"
            )
        old_spec, new_spec = old.get("spec", {}), _json_safe(new.get("spec", {}))
        changed = sorted(k for k in set(old_spec) | set(new_spec) if old_spec.get(k) != new_spec.get(k))
        if changed:
            details = "; ".join(f"{k}: {old_spec.get(k)!r} there, {new_spec.get(k)!r} now" for k in changed)
            raise OutputError(f"cannot resume {where!r}: the spec differs from the run that wrote it ({details})")
        if old.get("seed") != new.get("seed"):
            raise OutputError(
                f"cannot resume {where!r}: it was run with seed {old.get('seed')}, not {new.get('seed')}; "
                "pass the same seed (or a new output folder)"
            )

    def _acquire_lock(self) -> None:
        path = self.root / LOCK
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    held = json.loads(path.read_text())
                except (OSError, ValueError):
                    held = {}
                same_host = held.get("host") == socket.gethostname()
                if same_host and isinstance(held.get("pid"), int) and not _pid_alive(held["pid"]):
                    path.unlink(missing_ok=True)  # stale lock of a killed run on this machine
                    continue
                raise OutputError(
                    f"output {str(self.root)!r} is in use by another run (process {held.get('pid')} on "
                    f"{held.get('host')}, started {held.get('started')}); wait for it to finish, or delete "
                    f"{str(path)!r} if no run is active"
                ) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(info, handle)
            self._locked = True
            return
        raise OutputError(f"could not take the lock {str(path)!r}")

    def close(self) -> None:
        """Release the lock (idempotent)."""
        if self._locked:
            (self.root / LOCK).unlink(missing_ok=True)
            self._locked = False

    def __enter__(self) -> CurveStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def read_manifest(self) -> dict | None:
        return read_manifest(self.root)

    def finished(self) -> set[str]:
        """Ids of the curves with a record."""
        return {p.stem for p in (self.root / CURVES).glob("*.json")}

    def records(self) -> Iterator[dict]:
        return iter_records(self.root)

    def fit_path(self, curve_id: str) -> Path:
        return self.root / CURVES / f"{curve_id}.nc"

    def read_finished(self, ids: Iterable[str], read: Callable[[str], Any] | None = None) -> dict[str, Any]:
        """Read back the finished curves among ``ids``; set aside those that cannot be read.

        ``read(curve_id)`` returns what a finished curve holds (default: its record, plus a
        check that the fit file an ``ok`` record points at opens) and raises
        :class:`UnreadableFile` for a damaged file. Such a curve is left out, so the caller
        fits it again; its files are moved to ``quarantine/`` and listed in :attr:`set_aside`,
        with one :class:`~bayescale.errors.DataWarning` per damaged file.
        """
        read = read or self._read_curve
        finished, out = self.finished(), {}
        for curve_id in ids:
            if curve_id not in finished:
                continue
            try:
                out[curve_id] = read(curve_id)
            except UnreadableFile as exc:
                self._set_aside(curve_id, exc)
        return out

    def _read_curve(self, curve_id: str) -> dict:
        record = read_file(self.root / CURVES / f"{curve_id}.json", read_record)
        if record.get("status") == "ok" and record.get("fit_file"):
            read_file(self.root / record["fit_file"], check_netcdf)
        return record

    def _set_aside(self, curve_id: str, exc: UnreadableFile) -> None:
        folder = self.root / QUARANTINE
        folder.mkdir(exist_ok=True)
        moved, others = [], []
        for path in sorted((self.root / CURVES).glob(f"{curve_id}.*")):
            target, n = folder / path.name, 0
            while target.exists():  # the same curve damaged again in a later run: keep both
                n += 1
                target = folder / f"{path.name}.{n}"
            os.replace(path, target)
            moved.append(target)
            others += [path.name] if path.name != exc.path.name else []
        bad = exc.path.relative_to(self.root) if exc.path.is_relative_to(self.root) else exc.path
        entry = {"curve_id": curve_id, "file": str(bad), "reason": exc.reason,
                 "moved_to": [str(m.relative_to(self.root)) for m in moved]}
        self.set_aside.append(entry)
        along = f" (with {', '.join(others)})" if others else ""
        warnings.warn(f"{str(self.root / bad)!r} cannot be read ({exc.reason}); set aside in "
                      f"{str(folder)!r}{along}, curve {curve_id} is fitted again", DataWarning, stacklevel=3)

    # ------------------------------------------------------------------ writing
    def write_curve(self, record: dict, fit=None) -> None:
        """Write one finished curve: its fit (if any) first, then its record."""
        curve_id = record["curve_id"]
        if fit is not None:
            from bayescale.results.netcdf import save_fit

            save_fit(fit, self.fit_path(curve_id))
            record = {**record, "fit_file": f"{CURVES}/{curve_id}.nc"}
        _write_text(self.root / CURVES / f"{curve_id}.json", json.dumps(_json_safe(record)))

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        _write_text(self.root / name, frame.to_csv(index=False))


def read_manifest(root) -> dict | None:
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise OutputError(f"{str(path)!r} is not valid JSON: {exc}") from exc


def iter_records(root) -> Iterator[dict]:
    """Every curve record in ``root``, in file-name order."""
    for path in sorted((Path(root) / CURVES).glob("*.json")):
        try:
            yield json.loads(path.read_text())
        except ValueError as exc:
            raise OutputError(
                f"curve record {str(path)!r} is not valid JSON: {exc}; resuming the run (--resume) sets it "
                "aside and fits that curve again"
            ) from exc
