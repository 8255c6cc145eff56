"""Run many independent tasks on local processes or on a Dask cluster, behind one interface.

An executor maps a picklable function over ``(task_id, payload)`` pairs and yields
``(task_id, result)`` as tasks finish, in completion order. The function is expected to
catch its own errors (a failed curve is a result, not an exception); an exception that
escapes anyway is turned into ``{"status": "failed", "reason": ...}`` so one task never
stops the others.

* :class:`InlineExecutor` runs in the calling process (``workers=1``): no start-up cost,
  easiest to debug.
* :class:`LocalExecutor` runs on a pool of fresh (``spawn``) worker processes that ignore
  Ctrl-C, so the caller alone decides how to stop; compiled models live as long as a worker.
* :class:`DaskExecutor` submits to a ``dask.distributed`` cluster: an existing scheduler
  (``tcp://host:8786``, e.g. started by dask-jobqueue on SLURM or by dask-kubernetes) or a
  ``LocalCluster`` of single-threaded processes on loopback started for the call. Dask
  reschedules the tasks of a lost worker on the others.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
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


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    """A pool of ``workers`` spawned processes on this machine."""

    def __init__(self, workers: int | None = None):
        self.workers = int(workers or os.cpu_count() or 1)
        self._pool = None

    def map_unordered(self, fn: Callable, tasks: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint
        )
        pending = {self._pool.submit(_guarded, fn, payload): task_id for task_id, payload in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task_id = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    raise BayescaleError(
                        f"a worker process died while fitting {task_id!r} (out of memory?); finished curves are "
                        "kept in the output folder, rerun with resume to go on"
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
