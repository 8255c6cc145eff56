"""Crash-safe batch runs: kill -9 part-way, resume to the uninterrupted tables; refusals; Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import bayescale.batch as batch_module
from bayescale import cli
from bayescale.batch import BatchInterrupted, BatchResult, fit_many
from bayescale.errors import OutputError

N_CURVES = 12
SETTINGS = {"draws": 150, "tune": 150, "chains": 2}
FLAGS = ["--draws", "150", "--tune", "150", "--chains", "2"]


def _data(n: int = N_CURVES) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    frames = []
    for i in range(n):
        x = np.logspace(6, 10, 12)
        y = 0.4 + 30.0 * x ** -rng.uniform(0.2, 0.5) * np.exp(rng.normal(0, 0.03, 12))
        frames.append(pd.DataFrame({"task": f"t{i:02d}", "params": x, "loss": y}))
    return pd.concat(frames, ignore_index=True)


def _run(df, out=None, **kwargs):
    return fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=7, workers=1, progress=False, out=out,
                    **SETTINGS, **kwargs)


def _tables(result: BatchResult) -> dict:
    return {"summary": result.summary, "predictions": result.predictions, "flags": result.flags,
            "status": result.status.drop(columns="seconds")}


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A CLI run in a subprocess, killed with SIGKILL once a few curves are written."""
    root = tmp_path_factory.mktemp("killed")
    csv, out = root / "data.csv", root / "out"
    _data().to_csv(csv, index=False)
    command = [sys.executable, "-m", "bayescale.cli", "fit-many", str(csv), "--by", "task", "--x", "params",
               "--y", "loss", "--at", "1e11", "--out", str(out), "--workers", "1", "--seed", "7", "--quiet", *FLAGS]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "curves").glob("*.json"))) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    return csv, out


def test_killed_run_keeps_exactly_the_finished_curves(killed_run):
    _, out = killed_run
    records = sorted(p.stem for p in (out / "curves").glob("*.json"))
    assert 3 <= len(records) < N_CURVES
    partial = BatchResult.load(out)
    assert len(partial) == len(records)
    assert (partial.status["status"] == "ok").all()
    assert sorted(partial.status["curve_id"]) == records
    first = partial.status["task"].iloc[0]
    assert len(partial.fit(first).predict([1e11])) == 1  # the netCDF written before the record is whole
    visible = [p.name for p in (out / "curves").iterdir() if not p.name.startswith(".")]
    assert all(name.endswith((".json", ".nc")) for name in visible)  # temp files are hidden, never read


def test_resume_completes_to_the_uninterrupted_tables(killed_run, tmp_path):
    _, out = killed_run
    df = _data()
    resumed = _run(df, out=out, resume=True)
    assert len(resumed) == N_CURVES and (resumed.status["status"] == "ok").all()
    assert not (out / ".lock").exists()
    assert not list((out / "curves").glob(".*.tmp"))
    uninterrupted = _run(df, out=tmp_path / "full")
    for name, table in _tables(resumed).items():
        pd.testing.assert_frame_equal(table, _tables(uninterrupted)[name], obj=name)
    on_disk = pd.read_csv(out / "summary.csv")
    assert len(on_disk) == 4 * N_CURVES
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["spec"]["draws"] == 150 and len(manifest["data_hash"]) == 64
    assert manifest["source"]["data_file_sha256"]

    # resume again: nothing left to fit, same tables
    again = _run(df, out=out, resume=True)
    pd.testing.assert_frame_equal(again.summary, resumed.summary)


def test_resume_refuses_changed_data_spec_or_seed(killed_run):
    _, out = killed_run
    df = _data()
    changed = df.copy()
    changed.loc[5, "loss"] *= 1.01
    with pytest.raises(OutputError, match="cannot resume .*: the data differ from the run that wrote it"):
        _run(changed, out=out, resume=True)
    with pytest.raises(OutputError, match="the spec differs from the run that wrote it \\(draws: 150 there, 100 now"):
        fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=7, workers=1, out=out, resume=True,
                 draws=100, tune=150, chains=2)
    with pytest.raises(OutputError, match="it was run with seed 7, not 8"):
        fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=8, workers=1, out=out, resume=True,
                 **SETTINGS)
    with pytest.raises(OutputError, match="already holds a batch run; pass resume=True"):
        _run(df, out=out)


def test_a_second_writer_is_refused(killed_run):
    _, out = killed_run
    lock = out / ".lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}))
    try:
        with pytest.raises(OutputError, match=f"is in use by another run \\(process {os.getpid()} on"):
            _run(_data(), out=out, resume=True)
    finally:
        lock.unlink()


def test_ctrl_c_keeps_finished_curves_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    df = _data(5)
    df.to_csv(tmp_path / "data.csv", index=False)
    real = batch_module.fit_curve
    calls = []

    def interrupted_on_third(task):
        calls.append(task["curve_id"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(batch_module, "fit_curve", interrupted_on_third)
    with pytest.raises(BatchInterrupted, match="interrupted: kept 2 of 5 curves in .*; run the same command with "
                                               "--resume \\(resume=True\\) to finish"):
        _run(df, out=tmp_path / "py")
    assert len(BatchResult.load(tmp_path / "py")) == 2
    assert len(pd.read_csv(tmp_path / "py" / "summary.csv")) == 2 * 4

    calls.clear()
    code = cli.main(["fit-many", str(tmp_path / "data.csv"), "--by", "task", "--x", "params", "--y", "loss",
                     "--out", str(tmp_path / "cli"), "--workers", "1", "--seed", "7", "--quiet", *FLAGS])
    assert code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("interrupted: kept 2 of 5 curves in ")

    monkeypatch.setattr(batch_module, "fit_curve", real)
    finished = _run(df, out=tmp_path / "py", resume=True)
    assert len(finished) == 5 and (finished.status["status"] == "ok").all()
