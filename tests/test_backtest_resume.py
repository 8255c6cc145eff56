"""A backtest written to a folder survives interruption: resume reuses finished fits and gives the same tables."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import bayescale
from bayescale.errors import DataWarning, OutputError

# resumed and uninterrupted tables must match bitwise, which needs no more draws than this
FAST = {"law": "power", "draws": 100, "tune": 150, "chains": 2, "workers": 1, "progress": False, "n_boot": 50,
        "seed": 4}
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_bnsl_start")]


def curves(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.logspace(3, 7, 10)
    frames = [pd.DataFrame({"curve": f"c{c}", "x": x, "y": (1.5 + 40 * x**-0.35) * np.exp(rng.normal(0, 0.02, 10))})
              for c in range(3)]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, one_bnsl_start):  # the resumed run must fit BNSL the same way
    """An uninterrupted backtest of three curves written to a folder (copied by tests that damage it)."""
    out = tmp_path_factory.mktemp("finished") / "bt"
    return out, bayescale.backtest(curves(), x="x", y="y", group="curve", out=out, **FAST)


def test_resume_after_losing_a_fit_gives_the_uninterrupted_tables(finished, tmp_path, monkeypatch):
    df = curves()
    out = tmp_path / "bt"
    shutil.copytree(finished[0], out)
    full = finished[1]
    records = sorted((out / "curves").glob("*.json"))
    assert len(records) == 3 and len(list((out / "curves").glob("*.npz"))) == 3
    assert (out / "manifest.json").is_file() and (out / "points.csv").is_file()
    assert not (out / ".lock").exists()

    # a run killed before its last fit was written: that fit's record and draws are missing;
    # and the draws of another fit and the record of a third were cut short outside bayescale
    lost, cut_draws, cut_record = records[1], records[0].with_suffix(".npz"), records[2]
    lost.unlink()
    lost.with_suffix(".npz").unlink()
    for path in (cut_draws, cut_record):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    calls = []
    from bayescale.workflows import backtest as bt

    real = bt.run.run_task
    monkeypatch.setattr(bt.run, "run_task", lambda task: calls.append(1) or real(task))
    with pytest.warns(DataWarning) as caught:
        resumed = bayescale.backtest(df, x="x", y="y", group="curve", out=out, resume=True, **FAST)
    assert len(calls) == 3  # the lost fit and the two damaged ones were fitted again, not the intact one
    pd.testing.assert_frame_equal(resumed.points, full.points)
    pd.testing.assert_frame_equal(resumed.table(), full.table())
    messages = sorted(str(w.message) for w in caught if issubclass(w.category, DataWarning))
    assert len(messages) == 2
    assert f"{cut_draws.name}' cannot be read (BadZipFile: " in messages[0]
    assert f"{cut_record.name}' cannot be read (JSONDecodeError: " in messages[1]
    assert sorted(p.name for p in (out / "quarantine").iterdir()) == sorted(
        [cut_draws.name, cut_draws.with_suffix(".json").name, cut_record.name, cut_record.with_suffix(".npz").name])
    assert [(e["curve"], e["file"]) for e in resumed.set_aside] == [
        ("c0", f"curves/{cut_draws.name}"), ("c2", f"curves/{cut_record.name}")]


def test_resume_refuses_other_data_and_a_plain_rerun(finished):
    df, out = curves(), finished[0]
    written = sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*"))
    with pytest.raises(OutputError, match="already holds a batch run; pass resume=True"):
        bayescale.backtest(df, x="x", y="y", group="curve", out=out, **FAST)
    with pytest.raises(OutputError, match="the data differ from the run that wrote it"):
        bayescale.backtest(curves(seed=1), x="x", y="y", group="curve", out=out, resume=True, **FAST)
    with pytest.raises(OutputError, match="the spec differs from the run that wrote it"):
        bayescale.backtest(df, x="x", y="y", group="curve", out=out, resume=True, **{**FAST, "draws": 300})
    assert sorted((p.name, p.stat().st_mtime_ns) for p in out.rglob("*")) == written  # refused before writing


def test_backtest_killed_with_sigkill_resumes_to_the_uninterrupted_tables(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    # 6 curves without the baselines (the resume of their columns is the test above): the kill lands
    # after 2 are written, the resume fits the rest in this process
    df = pd.concat([curves(seed=s).assign(curve=lambda f, s=s: f["curve"] + f"s{s}") for s in range(2)],
                   ignore_index=True)
    csv, out = tmp_path / "runs.csv", tmp_path / "out"
    df.to_csv(csv, index=False)
    flags = ["--x", "x", "--y", "y", "--group", "curve", "--law", "power", "--draws", "100", "--tune", "150",
             "--chains", "2", "--workers", "1", "--no-baselines", "--n-boot", "50", "--seed", "4", "--quiet", "--plain"]
    proc = subprocess.Popen([sys.executable, "-m", "bayescale.cli", "backtest", str(csv), "--out", str(out), *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "curves").glob("*.json"))) >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    kept = sorted(p.stem for p in (out / "curves").glob("*.json"))
    assert 2 <= len(kept) < 6
    assert sorted(p.stem for p in (out / "curves").glob("*.npz")) == kept  # draws written before each record

    kwargs = {**FAST, "name": "runs", "baselines": False}
    resumed = bayescale.backtest(df, x="x", y="y", group="curve", out=out, resume=True, **kwargs)
    uninterrupted = bayescale.backtest(df, x="x", y="y", group="curve", out=tmp_path / "full", **kwargs)
    pd.testing.assert_frame_equal(resumed.points, uninterrupted.points)
    assert not (out / ".lock").exists()
