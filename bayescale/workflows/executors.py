"""Run many independent tasks on local processes or on a Dask cluster, behind one interface.

An executor maps a picklable function over ``(task_id, payload)`` pairs and yields
``(task_id, result)`` as tasks finish, in completion order. The function is expected to
catch its own errors (a failed curve is a result, not an exception); an exception that
escapes anyway is turned into ``{"status": "failed", "reason": ...}`` so one task never
stops the others.

* :class:`InlineExecutor` runs in the calling process (``workers=1``): no start-up cost,
  easiest to debug.
* :class:`LocalExecutor` runs on a pool of worker processes (forked from a forkserver on
  Linux, spawned elsewhere; see :func:`worker_context`) that ignore Ctrl-C, so the caller alone
  decides how to stop, and end when the caller ends, even on ``kill -9``; they never re-run
  the caller's main script, so scripts fed on stdin or without an ``if __name__ ==
  "__main__":`` guard work. A worker that dies is reported with its cause (the signal that
  killed it, or its exit code). Compiled models live as long as a worker.
* :class:`DaskExecutor` submits to a ``dask.distributed`` cluster: an existing scheduler
  (``tcp://host:8786``, e.g. started by dask-jobqueue on SLURM or by dask-kubernetes) or a
  ``LocalCluster`` of single-threaded processes on loopback started for the call. Dask
  reschedules the tasks of a lost worker on the others.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import context as mp_context
from typing import Any

from bayescale.errors import BayescaleError

EXECUTORS = ("local", "dask")


def _failure(exc: BaseException) -> dict:
    return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def _guarded(fn: Callable, payload: Any) -> Any:
    try:
        return fn(payload)
    except Exception as exc:  # noqa: BLE001 - a failed task is a result
        return _failure(exc)


class WorkerDied(BayescaleError):
    """A local worker process ended without returning its task (killed, crashed or failed to start)."""


# ---------------------------------------------------------------------- local worker processes
# Why forkserver (Linux): plain ``fork`` is unsafe, the caller runs native threads by then (OpenBLAS's
# pool and jemalloc's background thread at import, nutpie's runtime once it has sampled in this
# session, a notebook's own threads) and a fork copies any lock one of them holds, which can hang the
# worker. ``spawn`` is safe but every worker imports numpy, pandas and PyMC again. A forkserver is a
# fresh interpreter that imports them once and forks every worker from itself. It preloads only
# modules whose threads are fork-safe (OpenBLAS and jemalloc register fork handlers); nutpie starts a
# thread of its own at import and is left out. Measured with benchmarks/bench_workers.py (2 workers,
# 3 rounds, 2 cores at load 11): start-up 15.7 s against 18.5 s for spawn (medians), 141 MB unique
# memory per worker against 181.
_FORKSERVER_PRELOAD = ["bayescale.workflows._forkserver", "bayescale.workflows.batch", "bayescale.workflows.backtest",
                       "bayescale.laws.power", "pymc"]


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``sig`` to this process when the thread that started it exits.

    Returns False where ``prctl(PR_SET_PDEATHSIG)`` is not available (not Linux); callers
    then rely on :func:`_watch_driver`.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(sig), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


def _watch_driver() -> None:
    """End this worker when the process that submitted its tasks is gone.

    PR_SET_PDEATHSIG follows the OS parent, which for a forkserver worker is the forkserver, not
    the driver; the driver's sentinel (a pipe that closes when it dies) covers every start method.
    """
    import multiprocessing
    import threading
    from multiprocessing.connection import wait

    driver = multiprocessing.parent_process()
    if driver is None:
        return

    def watch():
        wait([driver.sentinel])
        os.kill(os.getpid(), signal.SIGKILL)  # nothing to save: the driver writes every result itself

    threading.Thread(target=watch, name="bayescale-watch-driver", daemon=True).start()


def _init_worker() -> None:
    from bayescale.core import deferred

    deferred.defer_heavy_packages()  # a worker is bayescale's own process: skip what the fits never use
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    die_with_parent()
    _watch_driver()


@contextlib.contextmanager
def _caller_main_hidden():
    """Start workers without the caller's ``__main__``.

    multiprocessing re-runs the main script in every spawned (or forkserver) worker so that
    functions defined there can be unpickled. Ours run only bayescale's own functions on plain
    data, so re-running it brings nothing and breaks two common cases: a script fed on stdin
    (``python - < run.py``: ``__file__`` is ``'<stdin>'``, nothing to import) and a script that
    calls ``fit_many`` without an ``if __name__ == "__main__":`` guard (each worker would start
    the batch again). Both work when the main module carries no file and no spec at launch.
    """
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _without_main(context: type) -> tuple[type, type]:
    """Subclasses of a multiprocessing context class and of its process class, whose processes start
    without the caller's ``__main__``; bind the process class to the module attribute ``_<its name>``
    (a process object is pickled by reference to it)."""
    base = context.Process

    def launch(process_obj):
        with _caller_main_hidden():
            return base._Popen(process_obj)

    name = f"_{base.__name__}"
    process = type(name, (base,), {"_Popen": staticmethod(launch), "__module__": __name__, "__qualname__": name})
    return process, type(f"_{context.__name__}", (context,), {"Process": process})


_SpawnProcess, _SpawnContext = _without_main(mp_context.SpawnContext)
if sys.platform != "win32":
    _ForkServerProcess, _ForkServerContext = _without_main(mp_context.ForkServerContext)


def worker_context(method: str | None = None):
    """The multiprocessing context of :class:`LocalExecutor`: ``method`` ``"forkserver"`` (the
    default on Linux) or ``"spawn"`` (elsewhere), launching each worker without the caller's main
    module (see :func:`_caller_main_hidden`)."""
    import threading
    from multiprocessing import forkserver

    method = method or ("forkserver" if sys.platform.startswith("linux") else "spawn")
    if method not in ("forkserver", "spawn"):
        raise BayescaleError(f"start method must be forkserver or spawn, got {method!r}")
    if method == "spawn":
        return _SpawnContext()
    if getattr(forkserver._forkserver, "_forkserver_pid", 1) is None:
        # bayescale.workflows._forkserver makes the server die with the thread that starts it: only the main thread,
        # whose end is the driver's end (a thread that exits must not take a shared server with it)
        main_thread = threading.current_thread() is threading.main_thread()
        forkserver.set_forkserver_preload(_FORKSERVER_PRELOAD[0 if main_thread else 1:])
    return _ForkServerContext()


def worker_death(processes: dict) -> str:
    """Why a pool broke, from its processes' exit codes: the signal that killed one, or its exit code."""
    codes = [p.exitcode for p in processes.values() if p.exitcode is not None]
    # when one worker dies the pool ends the others with SIGTERM: look past those first
    culprits = [c for c in codes if c != -signal.SIGTERM] or codes
    if not culprits:
        return "a worker process died"
    code = culprits[0]
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        if -code == signal.SIGKILL:
            return (f"a worker process was killed by {name}: on Linux usually the out-of-memory killer "
                    "(`dmesg` says); use fewer workers or fewer draws per curve")
        return f"a worker process was killed by {name}"
    return (f"a worker process exited with code {code} before returning its task (its error is printed above "
            "on stderr)")


class InlineExecutor:
    """Run tasks one after another in this process."""

    workers = 1

    def map_unordered(self, fn: Callable, tasks: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        for task_id, payload in tasks:
            yield task_id, _guarded(fn, payload)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "1 process (inline)"


class LocalExecutor:
    """A pool of ``workers`` processes on this machine (see :func:`worker_context`)."""

    def __init__(self, workers: int | None = None, start_method: str | None = None):
        self.workers = int(workers or os.cpu_count() or 1)
        self.start_method = start_method
        self._pool = None
        self._processes: dict = {}

    def map_unordered(self, fn: Callable, tasks: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=worker_context(self.start_method),
                                         initializer=_init_worker)
        pending = {self._pool.submit(_guarded, fn, payload): task_id for task_id, payload in tasks}
        self._processes = dict(getattr(self._pool, "_processes", None) or {})
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task_id = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    # the pool's own thread is ending the other workers and joining them; reading their
                    # exit codes while it does races its reads of the same pipes (the loser reads EOF and
                    # multiprocessing records exit code 255), so wait for it before naming the cause
                    pool, self._pool = self._pool, None
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise WorkerDied(
                        f"{worker_death(self._processes)}; tasks not finished: {len(pending) + 1}; "
                        "finished results are kept in the output folder (if one was given): rerun with resume "
                        "(--resume) to go on"
                    ) from exc
                yield task_id, result
        self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # stop at once on Ctrl-C: drop queued tasks and end the running ones
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def describe(self) -> str:
        return f"{self.workers} local processes"


class DaskExecutor:
    """Submit tasks to a Dask ``distributed`` cluster (``pip install 'bayescale[dask]'``)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise BayescaleError(
                "executor='dask' needs dask.distributed; install it with pip install 'bayescale[dask]'"
            ) from exc
        self._cluster = None
        if scheduler is None:
            # its nannies spawn the workers while this call runs; like ours, they need nothing from __main__
            # (a worker Dask restarts later does re-run it)
            with _caller_main_hidden():
                self._cluster = LocalCluster(
                    n_workers=int(workers or os.cpu_count() or 1), threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(scheduler, timeout="20s")
            except OSError as exc:
                raise BayescaleError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc
        self.scheduler = scheduler
        self.workers = len(self._client.scheduler_info().get("workers", {}))

    @property
    def client(self):
        return self._client

    @property
    def cluster(self):
        return self._cluster

    def map_unordered(self, fn: Callable, tasks: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        from distributed import as_completed

        futures = {}
        for task_id, payload in tasks:
            future = self._client.submit(_guarded, fn, payload, key=f"bayescale-{task_id}", pure=False)
            futures[future] = task_id
        for future in as_completed(list(futures)):
            task_id = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after repeated worker loss
                result = _failure(exc)
            future.release()
            yield task_id, result

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()

    def describe(self) -> str:
        where = self.scheduler or "a LocalCluster on 127.0.0.1"
        return f"Dask ({self.workers} workers at {where})"


def make_executor(executor: str = "local", *, workers: int | None = None, scheduler: str | None = None):
    """Build the executor named ``executor`` (``local`` or ``dask``).

    ``workers=1`` with ``local`` runs in this process. ``scheduler`` (Dask only) is the
    address of a running scheduler; without it a ``LocalCluster`` is started.
    """
    if executor not in EXECUTORS:
        raise BayescaleError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise BayescaleError(f"workers must be a positive integer, got {workers!r}")
    if scheduler is not None and executor != "dask":
        raise BayescaleError("scheduler is only used with executor='dask'")
    if executor == "dask":
        return DaskExecutor(scheduler=scheduler, workers=workers)
    if workers == 1:
        return InlineExecutor()
    return LocalExecutor(workers)
