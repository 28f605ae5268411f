"""What every cutover task shares: the retry policy, the future bridge and the run's slots."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TypeVar

from prefect import Task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.sync import concurrency
from prefect.futures import PrefectFuture
from prefect.states import State

from cutover import names
from cutover.errors import TransientError
from cutover.load.scheduler import Capacity

T = TypeVar("T")


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
            bridge.set_exception(exc)

    submitted.add_done_callback(settle)
    return bridge


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
