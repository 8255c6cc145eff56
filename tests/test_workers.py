"""Local worker processes: scripts on stdin or without a main guard work, a dead worker is named
with its cause, and no worker outlives a driver killed with ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import psutil
import pytest

from bayescale.workflows.executors import LocalExecutor, WorkerDied, worker_context

# two curves of two points each: every worker starts, imports bayescale and fails the curve at once
# (too few points), so these tests exercise real worker processes without sampling
SCRIPT = textwrap.dedent("""
    import pandas as pd
    from bayescale import fit_many

    print("script body ran")
    df = pd.DataFrame({"task": ["a", "a", "b", "b"], "params": [1e6, 1e7, 1e6, 1e7], "loss": [3.0, 2.0, 3.1, 2.1]})
    result = fit_many(df, by="task", x="params", y="loss", workers=2, seed=1, progress=False)
    print(result)
    print(result.status["reason"].str.contains("points").all())
""")


def _python(args, **kwargs):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.parametrize("how", ["forkserver", "spawn", "dask"])
def test_a_script_fed_on_stdin_runs_on_several_workers(how, tmp_path):
    script = SCRIPT.replace("workers=2,", f"workers=2, executor={'dask' if how == 'dask' else 'local'!r},")
    if how == "spawn":  # the path of other systems, where this failed the same way
        spawn = "ex.LocalExecutor.__init__.__defaults__ = (None, 'spawn')"
        script = f"import bayescale.workflows.executors as ex; {spawn}\n" + script
    run = _python(["-"], input=script, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "<BatchResult 2 curves by ['task']: 0 ok, 2 failed>" in run.stdout
    assert run.stdout.splitlines()[-1] == "True"  # each curve reached fit_curve in a worker and failed there
    assert "Traceback" not in run.stderr and "<stdin>" not in run.stderr


def test_a_script_without_main_guard_runs_once(tmp_path):
    path = tmp_path / "unguarded.py"
    path.write_text(SCRIPT)
    run = _python([str(path)], cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("script body ran") == 1  # workers never re-run the main script
    assert "0 ok, 2 failed" in run.stdout


def test_the_main_module_is_restored_after_starting_workers():
    main = sys.modules["__main__"]
    before = (getattr(main, "__file__", None), main.__spec__)
    list(LocalExecutor(2).map_unordered(abs, [("a", -1), ("b", -2)]))
    assert (getattr(main, "__file__", None), main.__spec__) == before


def test_a_worker_killed_by_a_signal_is_named():
    executor = LocalExecutor(2)
    tasks = [("fine", 0.0), ("killed", signal.SIGKILL)]
    with pytest.raises(WorkerDied, match=r"^a worker process was killed by SIGKILL: on Linux usually the "
                                         r"out-of-memory killer \(`dmesg` says\); use fewer workers"):
        list(executor.map_unordered(_raise_signal_unless_zero, tasks))


def test_a_worker_that_exits_is_named_with_its_code():
    with pytest.raises(WorkerDied, match=r"^a worker process exited with code 3 before returning its task"):
        list(LocalExecutor(2).map_unordered(os._exit, [("a", 3)]))


def test_the_exit_code_is_read_once_the_pool_has_joined_its_workers():
    # reading it while the pool's own thread joins the workers raced that thread: 5 runs in 300 recorded
    # code 255 (the loser's EOF on the forkserver's pipe); 250 runs catch that about 98% of the time
    messages = set()
    for _ in range(250):
        with pytest.raises(WorkerDied) as caught:
            list(LocalExecutor(2).map_unordered(os._exit, [("a", 3)]))
        messages.add(str(caught.value).split(" before")[0])
    assert messages == {"a worker process exited with code 3"}


def test_a_worker_killed_by_another_signal_is_named():
    with pytest.raises(WorkerDied, match=r"^a worker process was killed by SIGSEGV; tasks not finished: 1; "
                                         r"finished results are kept"):
        list(LocalExecutor(1).map_unordered(signal.raise_signal, [("a", signal.SIGSEGV)]))


def _raise_signal_unless_zero(value):
    if value:
        signal.raise_signal(value)
    return value


def test_forkserver_is_the_linux_default_and_unknown_methods_are_refused():
    from bayescale.errors import BayescaleError

    if sys.platform.startswith("linux"):
        assert worker_context().get_start_method() == "forkserver"
    assert worker_context("spawn").get_start_method() == "spawn"
    with pytest.raises(BayescaleError, match="start method must be forkserver or spawn, got 'fork'"):
        worker_context("fork")


def _curves_csv(path) -> None:
    rng = np.random.default_rng(3)
    x = np.logspace(6, 9, 8)
    frames = [pd.DataFrame({"task": f"t{i}", "params": x, "loss": 0.5 + 20 * x**-0.3 * np.exp(rng.normal(0, .02, 8))})
              for i in range(6)]
    pd.concat(frames).to_csv(path, index=False)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 and /proc semantics of Linux")
@pytest.mark.parametrize("command", ["fit-many", "backtest"])
def test_no_worker_outlives_a_driver_killed_with_sigkill(command, tmp_path):
    csv = tmp_path / "curves.csv"
    _curves_csv(csv)
    columns = ["--by", "task", "--x", "params", "--y", "loss"] if command == "fit-many" else [
        "--group", "task", "--x", "params", "--y", "loss", "--law", "power", "--n-boot", "20"]
    driver = subprocess.Popen([sys.executable, "-m", "bayescale.cli", command, str(csv), *columns, "--workers", "2",
                               "--draws", "100", "--tune", "100", "--chains", "1", "--quiet",
                               "--out", str(tmp_path / "out")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    process = psutil.Process(driver.pid)
    deadline = time.monotonic() + 240
    descendants: list[psutil.Process] = []
    while time.monotonic() < deadline and driver.poll() is None:
        descendants = process.children(recursive=True)
        lines = [" ".join(p.cmdline()) for p in descendants if p.is_running()]
        others = [line for line in lines if "resource_tracker" not in line]
        server = any("forkserver" in line for line in others)
        if len(others) >= 2 + server and len(lines) > len(others):  # 2 workers (and their server), the tracker
            break
        time.sleep(0.1)
    assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
    time.sleep(1.0)  # let the workers get to work
    descendants = process.children(recursive=True)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    gone, alive = psutil.wait_procs(descendants, timeout=5)
    left = [(p.pid, " ".join(p.cmdline())[:80]) for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"processes left after the driver was killed: {left}"
    assert len(gone) >= 3  # 2 workers and the resource tracker (and the forkserver)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forkserver workers of Linux")
def test_a_worker_killed_during_a_cli_run_is_reported_as_killed_by_sigkill(tmp_path):
    """What an out-of-memory kill looks like: one line naming SIGKILL and the fix, exit code 2."""
    csv = tmp_path / "curves.csv"
    _curves_csv(csv)
    driver = subprocess.Popen([sys.executable, "-m", "bayescale.cli", "fit-many", str(csv), "--by", "task", "--x",
                               "params", "--y", "loss", "--workers", "2", "--draws", "100", "--tune", "100",
                               "--chains", "1", "--quiet", "--out", str(tmp_path / "out")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and driver.poll() is None and len(workers) < 2:
        # forked by the forkserver, itself a child of the driver
        workers = [p for p in psutil.Process(driver.pid).children(recursive=True) if p.ppid() != driver.pid]
        time.sleep(0.1)
    assert len(workers) == 2, driver.communicate()[1][-2000:]
    workers[0].send_signal(signal.SIGKILL)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: a worker process was killed by SIGKILL: on Linux usually the out-of-memory "
                                "killer (`dmesg` says); use fewer workers or fewer draws per curve; ")
    assert lines[-1].endswith("rerun with resume (--resume) to go on")
    assert "Traceback" not in err
