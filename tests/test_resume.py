"""Crash-safe batch runs: kill -9 part-way (no process left), damage files, resume to the uninterrupted
tables; refusals; Ctrl-C."""

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
import psutil
import pytest

import bayescale.workflows.batch.run as batch_module
from bayescale import cli
from bayescale.errors import DataWarning, OutputError
from bayescale.workflows.batch import BatchInterrupted, BatchResult, fit_many

# the killed, resumed and uninterrupted runs must agree bitwise, which needs no more curves or draws
N_CURVES = 8
SETTINGS = {"draws": 100, "tune": 100, "chains": 2}
FLAGS = ["--draws", "100", "--tune", "100", "--chains", "2"]


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
    """A CLI run on 2 worker processes, killed with SIGKILL once a few curves are written; with the
    processes it had started that were still running 10 s later."""
    root = tmp_path_factory.mktemp("killed")
    csv, out = root / "data.csv", root / "out"
    _data().to_csv(csv, index=False)
    command = [sys.executable, "-m", "bayescale.cli", "fit-many", str(csv), "--by", "task", "--x", "params",
               "--y", "loss", "--at", "1e11", "--out", str(out), "--workers", "2", "--seed", "7", "--quiet", *FLAGS]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    driver = psutil.Process(proc.pid)
    deadline = time.monotonic() + 300
    started = []
    while time.monotonic() < deadline and proc.poll() is None:
        started = driver.children(recursive=True)
        if len(list((out / "curves").glob("*.json"))) >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    _, alive = psutil.wait_procs(started, timeout=10)
    left = [" ".join(p.cmdline())[:100] for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    return csv, out, {"started": len(started), "left": left}


@pytest.mark.slow  # the killed 2-worker run (module fixture) takes minutes on a busy 2-core machine
def test_a_killed_run_leaves_no_process_behind(killed_run):
    _, _, processes = killed_run
    assert processes["started"] >= 3  # 2 workers (forked by a forkserver on Linux) and the resource tracker
    assert processes["left"] == []


@pytest.mark.slow
def test_killed_run_keeps_exactly_the_finished_curves(killed_run):
    _, out, _ = killed_run
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


def _truncate(path, keep: float = 0.5) -> None:
    """A file cut short, as a copy interrupted outside bayescale leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.slow
def test_resume_sets_aside_damaged_files_and_completes_to_the_uninterrupted_tables(killed_run, tmp_path):
    _, out, _ = killed_run
    df = _data()
    finished = sorted(p.stem for p in (out / "curves").glob("*.json"))
    bad_record, bad_fit = finished[0], finished[1]
    _truncate(out / "curves" / f"{bad_record}.json")
    _truncate(out / "curves" / f"{bad_fit}.nc")
    with pytest.warns(DataWarning) as caught:
        resumed = _run(df, out=out, resume=True)
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, DataWarning))
    assert len(messages) == 2
    assert f"{bad_record}.json' cannot be read (JSONDecodeError: " in messages[0]
    assert f"set aside in {str(out / 'quarantine')!r} (with {bad_record}.nc), curve {bad_record} is fitted again" \
        in messages[0]
    assert f"{bad_fit}.nc' cannot be read (OSError: " in messages[1] and "truncated file" in messages[1]
    assert f"(with {bad_fit}.json), curve {bad_fit} is fitted again" in messages[1]
    quarantined = sorted(p.name for p in (out / "quarantine").iterdir())
    assert quarantined == sorted([f"{bad_record}.json", f"{bad_record}.nc", f"{bad_fit}.json", f"{bad_fit}.nc"])
    assert [(e["curve_id"], e["file"]) for e in resumed.set_aside] == [
        (bad_record, f"curves/{bad_record}.json"), (bad_fit, f"curves/{bad_fit}.nc")]
    assert len(resumed) == N_CURVES and (resumed.status["status"] == "ok").all()
    assert len(resumed.fit(resumed.set_aside[1]["key"]).predict([1e11])) == 1  # the refitted netCDF reads
    assert not (out / ".lock").exists()
    assert not list((out / "curves").glob(".*.tmp"))
    uninterrupted = _run(df, out=tmp_path / "full")
    for name, table in _tables(resumed).items():
        pd.testing.assert_frame_equal(table, _tables(uninterrupted)[name], obj=name)
    on_disk = pd.read_csv(out / "summary.csv")
    assert len(on_disk) == 4 * N_CURVES
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["spec"]["draws"] == 100 and len(manifest["data_hash"]) == 64
    assert manifest["source"]["data_file_sha256"]

    # resume again: nothing left to fit, nothing set aside, same tables
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        again = _run(df, out=out, resume=True)
    assert again.set_aside == []
    pd.testing.assert_frame_equal(again.summary, resumed.summary)


@pytest.mark.slow
def test_cli_resume_says_which_curves_it_fitted_again(killed_run, capsys):
    csv, out, _ = killed_run
    records = sorted((out / "curves").glob("*.json"))
    _truncate(records[-1], keep=0.0)  # an empty file
    code = cli.main(["fit-many", str(csv), "--by", "task", "--x", "params", "--y", "loss", "--at", "1e11",
                     "--out", str(out), "--resume", "--workers", "1", "--seed", "7", "--quiet", *FLAGS])
    assert code == 0
    captured = capsys.readouterr()
    task = records[-1].stem.split("-")[0]
    assert (f"fitted 1 curves again because a file of theirs could not be read: {task} (the damaged files are "
            f"kept in {out}/quarantine/)") in captured.out
    assert f"{records[-1].name}' cannot be read (JSONDecodeError: " in captured.err
    assert len(BatchResult.load(out)) == N_CURVES


@pytest.mark.slow
def test_resume_refuses_changed_data_spec_or_seed(killed_run):
    _, out, _ = killed_run
    df = _data()
    changed = df.copy()
    changed.loc[5, "loss"] *= 1.01
    with pytest.raises(OutputError, match="cannot resume .*: the data differ from the run that wrote it"):
        _run(changed, out=out, resume=True)
    with pytest.raises(OutputError, match="the spec differs from the run that wrote it \\(draws: 100 there, 80 now"):
        fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=7, workers=1, out=out, resume=True,
                 draws=80, tune=100, chains=2)
    with pytest.raises(OutputError, match="it was run with seed 7, not 8"):
        fit_many(df, by="task", x="params", y="loss", at=[1e11], seed=8, workers=1, out=out, resume=True,
                 **SETTINGS)
    with pytest.raises(OutputError, match="already holds a batch run; pass resume=True"):
        _run(df, out=out)


@pytest.mark.slow
def test_a_second_writer_is_refused(killed_run):
    _, out, _ = killed_run
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


def test_the_store_sets_aside_each_damaged_curve_and_keeps_every_copy(tmp_path):
    """No sampling: records written by hand, damaged twice, and an ok record whose fit file is gone."""
    from bayescale.io.store import FORMAT, CurveStore

    out = tmp_path / "out"
    manifest = {"format": FORMAT, "data_hash": "h", "spec": {}, "seed": 1}
    with CurveStore.open(out, manifest) as store:
        store.write_curve({"curve_id": "a-1", "status": "failed"})
        store.write_curve({"curve_id": "b-2", "status": "failed"})
        store.write_curve({"curve_id": "c-3", "status": "ok", "fit_file": "curves/c-3.nc"})  # no .nc written
    for round_ in (1, 2):
        (out / "curves" / "a-1.json").write_text('{"curve_id": "a-')
        with CurveStore.open(out, manifest, resume=True) as store, pytest.warns(DataWarning) as caught:
            done = store.read_finished(["a-1", "b-2", "c-3", "d-4"])
            assert sorted(done) == ["b-2"] + (["c-3"] if round_ == 2 else [])
            assert [e["curve_id"] for e in store.set_aside] == ["a-1"] + (["c-3"] if round_ == 1 else [])
            store.write_curve({"curve_id": "a-1", "status": "failed"})  # fitted again
            if round_ == 1:
                store.write_curve({"curve_id": "c-3", "status": "failed"})
        messages = [str(w.message) for w in caught]
        assert messages[0].startswith(f"{str(out / 'curves' / 'a-1.json')!r} cannot be read (JSONDecodeError: ")
        assert messages[0].endswith(f"set aside in {str(out / 'quarantine')!r}, curve a-1 is fitted again")
        if round_ == 1:
            assert messages[1].startswith(f"{str(out / 'curves' / 'c-3.nc')!r} cannot be read (missing); set aside")
            assert messages[1].endswith("(with c-3.json), curve c-3 is fitted again")
    assert sorted(p.name for p in (out / "quarantine").iterdir()) == ["a-1.json", "a-1.json.1", "c-3.json"]
    assert (out / "quarantine" / "a-1.json").read_text() == '{"curve_id": "a-'  # kept as found, never deleted
    assert sorted(p.name for p in (out / "curves").iterdir()) == ["a-1.json", "b-2.json", "c-3.json"]
