"""What every cutover task shares: the retry policy, where task runs go, the future bridge, the run's
slots, and the source as it travels to a worker."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from prefect import Task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.futures import PrefectFuture
from prefect.states import State

from cutover import names
from cutover.errors import TransientError
from cutover.load.scheduler import Capacity
from cutover.orchestration.cluster import WorkerLostError
from cutover.source.selection import TableSelection

T = TypeVar("T")
S = TypeVar("S", bound=TableSelection)


def retry_transient_only(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Retry lost connections and commit conflicts; an unsupported type fails the same way every time."""
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


def as_future(submitted: PrefectFuture[T]) -> Future[T]:
    """The task run's outcome as a :class:`concurrent.futures.Future`, which the library's loops wait on.

    It settles when the task run ends (after its retries), with the task's result or its exception, so
    the library handles a failed task exactly as it handles a failed thread.
    """
    bridge: Future[T] = Future()

    def settle(done: PrefectFuture[T]) -> None:
        try:
            bridge.set_result(done.result())
        except BaseException as exc:  # handed on to whoever waits on the bridge
            bridge.set_exception(_lost_worker(exc) or exc)

    submitted.add_done_callback(settle)
    return bridge


def _lost_worker(exc: BaseException) -> WorkerLostError | None:
    """A task run that Dask gave up on (its workers died, or the cluster went away) as a transient
    cutover error: the library's loops then fail that table and go on, like any lost connection."""
    if not (type(exc).__module__ or "").startswith("distributed"):
        return None
    try:
        detail = str(exc).splitlines()[0] if str(exc) else ""
    except Exception:  # a Dask exception whose str() needs scheduler objects that did not travel
        detail = ""
    return WorkerLostError(f"the Dask cluster lost this step ({type(exc).__name__} {detail}); resume the run")


class Submit(Protocol):
    """Starts one task run with its parameters; the library's loops wait on the returned future."""

    def __call__(self, task: Task[..., T], parameters: dict[str, Any]) -> Future[T]: ...


def submitter(runner: Any = None) -> Submit:
    """Task runs of ``runner`` (a started ``DaskTaskRunner``), else of the flow's own task runner."""

    def submit(task: Task[..., T], parameters: dict[str, Any]) -> Future[T]:
        if runner is None:
            return as_future(task.submit(**parameters))
        return as_future(runner.submit(task, parameters))

    return submit


@dataclass(frozen=True)
class SourceRef:
    """How a task reaches the source: the DSN itself (in-process runs), or the name of the block that
    holds it, read by whichever worker runs the task (so no password travels to a cluster)."""

    dsn: str = field(default="", repr=False)  # never in a log line or a task run's repr
    block: str = ""

    def resolve(self) -> str:
        from prefect.runtime import flow_run

        return self.dsn or _block_dsn(self.block, str(flow_run.get_id()))

    def bind(self, request: S) -> S:
        """``request`` reading from this source (a request travels without its DSN)."""
        return request if request.source_dsn else request.with_source(self.resolve())

    def strip(self, request: S) -> S:
        """``request`` without its DSN when this source is a block: what is sent to a worker."""
        return request.model_copy(update={"source_dsn": ""}) if self.block and not self.dsn else request


@functools.lru_cache(maxsize=8)
def _block_dsn(block: str, flow_run_id: str) -> str:
    """The block's DSN, read once per flow run and worker process (not once per batch; a new run sees
    a rotated password)."""
    from cutover.orchestration.source_block import load_source_dsn

    return load_source_dsn(block)


RUN_COMMITTERS = 1
"""Commit slots a load run holds: its tables commit one at a time (a commit takes milliseconds to a
second, batches take seconds), so sync and maintenance runs keep the limit's other slots."""


@contextmanager
def run_capacity(parallel: int) -> Iterator[Capacity]:
    """The run's share of the global limits, held while it reads and commits: up to ``parallel`` slots of
    ``cutover-source-reads`` (never more than the limit, so the run reads no more than it holds) and
    one of ``cutover-iceberg-commits``.

    One lease per run instead of one per batch and per commit. Each acquisition is an increment, a
    renewal and a release on the server; tasks that each acquire queue up behind Retry-After sleeps
    (measured 1.5-3 s per small table's commit), and on a SQLite-backed server concurrent increments
    meet "database is locked", answered by a 2 s client back-off. Other runs still find the slots taken
    and wait, which is what the limits are for; the lease is renewed while held and lapses if the run dies.
    """
    with get_client(sync_client=True) as client:
        size = client.read_global_concurrency_limit_by_name(names.LIMIT_SOURCE_READS).limit
    reads = max(1, min(parallel, size))
    with (
        concurrency(names.LIMIT_SOURCE_READS, occupy=reads, strict=True),
        concurrency(names.LIMIT_ICEBERG_COMMITS, occupy=RUN_COMMITTERS, strict=True),
    ):
        yield Capacity(reads=reads, commits=RUN_COMMITTERS)
