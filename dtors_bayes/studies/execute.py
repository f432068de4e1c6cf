"""Running a study's tasks on Dask, each cached as a Parquet file (a killed study resumes).

Tasks run on ``dask.distributed``: a ``LocalCluster`` of single-threaded worker processes
sized to the machine (BLAS/OpenMP pinned to one thread per worker, :data:`THREAD_ENV`), or an
existing cluster given by its scheduler address (:func:`dask_client`). Chains run sequentially
inside a task (``cores=1``), so the cluster's workers are the only parallelism.
:func:`execute` reads the cached tasks, submits the rest and writes each result as it arrives.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["CACHE_VERSION", "THREAD_ENV", "Execution", "Task", "dask_client",
           "default_n_workers", "execute"]

#: Environment of every worker process: one BLAS/OpenMP thread (workers are the parallelism).
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}
#: Bump when the cached rows change meaning; invalidates every cache entry.
CACHE_VERSION = 1


# ---------------------------------------------------------------------------- execution (Dask)
def default_n_workers() -> int:
    """Worker processes for a local cluster: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_client(scheduler: Any = None, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for a study.

    Parameters
    ----------
    scheduler : None, str or Client
        ``None``: start a ``LocalCluster`` of ``n_workers`` single-threaded worker
        processes (closed on exit). A string: the address of an existing scheduler
        (``"tcp://host:8786"``); its workers should export ``OMP_NUM_THREADS=1`` etc. A
        ``Client``: used as is (not closed).
    n_workers : int, optional
        Local workers; defaults to :func:`default_n_workers`.
    """
    import dask
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if isinstance(scheduler, str):
        with Client(scheduler) as client:
            yield client
        return
    if scheduler is not None:
        raise TypeError(f"scheduler must be None, an address or a Client; got {scheduler!r}")
    env = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **THREAD_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}), \
            LocalCluster(n_workers=n_workers or default_n_workers(), threads_per_worker=1,
                         processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


@dataclass
class Task:
    """One unit of work: ``fn(*args)`` returning a DataFrame, cached at ``path``."""

    key: str
    fn: Callable[..., pd.DataFrame]
    args: tuple
    path: Path | None = None


@dataclass
class Execution:
    """What :func:`execute` did."""

    frames: list[pd.DataFrame]
    n_computed: int
    n_cached: int
    failures: list[tuple[str, str]]


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def execute(tasks: Sequence[Task], *, scheduler: Any = None, n_workers: int | None = None,
            progress: bool = True, desc: str = "tasks", only_cached: bool = False
            ) -> Execution:
    """Run tasks on Dask, skipping those with a cache file; cache each result on arrival.

    Cached files are read in this process; the rest are submitted with ``client.submit``
    and collected with ``as_completed`` (a tqdm bar when ``progress``). Results are written
    by the client as they arrive, so a killed run keeps every finished task. A failing task
    is reported in ``failures`` (key, error) and not cached, so a rerun retries it.
    ``scheduler="sync"`` runs in this process without Dask (debugging). Tasks are
    prioritised in the order given, so a run stopped early has cached a prefix.
    ``only_cached=True`` computes nothing: it returns what the cache holds.
    """
    frames: list[pd.DataFrame] = []
    todo: list[Task] = []
    for t in tasks:
        if t.path is not None and t.path.exists():
            try:
                frames.append(pd.read_parquet(t.path))
                continue
            except Exception:  # a torn file: recompute it
                t.path.unlink(missing_ok=True)
        todo.append(t)
    n_cached = len(frames)
    failures: list[tuple[str, str]] = []
    if only_cached:
        todo = []

    def arrive(task: Task, result: pd.DataFrame) -> None:
        if task.path is not None:
            _write_atomic(result, task.path)
        frames.append(result)

    if not todo:
        return Execution(frames, 0, n_cached, failures)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), desc=desc, disable=not progress)
    if scheduler == "sync":
        for t in todo:
            try:
                arrive(t, t.fn(*t.args))
            except Exception as err:
                failures.append((t.key, f"{type(err).__name__}: {err}"))
            bar.update()
        bar.close()
        return Execution(frames, len(todo) - len(failures), n_cached, failures)

    from distributed import as_completed

    with dask_client(scheduler, n_workers) as client:
        # Dask runs the most recently submitted first among equal priorities: rank them.
        futures = {client.submit(t.fn, *t.args, key=t.key, pure=False,
                                 priority=len(todo) - i): t for i, t in enumerate(todo)}
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                arrive(task, fut.result())
            except Exception as err:
                failures.append((task.key, f"{type(err).__name__}: {err}"))
            fut.release()
            bar.update()
    bar.close()
    return Execution(frames, len(todo) - len(failures), n_cached, failures)
