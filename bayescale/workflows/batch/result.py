"""The tables of a batch: one row per curve and parameter, predictions, flags and a status per curve."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bayescale.errors import DataError
from bayescale.io.store import FORMAT, CurveStore, _json_safe, iter_records, read_manifest
from bayescale.workflows.batch.curves import _plain

STATUS_COLUMNS = ["curve_id", "status", "reason", "seed", "n_points", "seconds", "divergences", "max_r_hat",
                  "min_ess_bulk"]


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
        Reliability flags of every curve (see :mod:`bayescale.results.flags`).
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
        """The :class:`~bayescale.results.scaling.ScalingFit` of one curve (``key``: value or tuple of
        ``by`` values)."""
        record = self._record(key)
        if record["status"] != "ok":
            raise DataError(f"curve {record['key']!r} failed: {record['reason']}")
        if record["curve_id"] in self._fits:
            return self._fits[record["curve_id"]]
        if self.root is not None and (self.root / "curves" / f"{record['curve_id']}.nc").is_file():
            from bayescale.results.load import load_fit

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
