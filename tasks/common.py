"""What every cutover task shares: the retry policy, the concurrency limits, and the future bridge."""

from __future__ import annotations

from concurrent.futures import Future
from typing import TypeVar

from prefect import Task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRun
from prefect.exceptions import ObjectNotFound
from prefect.futures import PrefectFuture
from prefect.states import State

from cutover import names
from cutover.errors import TransientError

T = TypeVar("T")

DEFAULT_LIMITS = {names.LIMIT_SOURCE_READS: 4, names.LIMIT_ICEBERG_COMMITS: 2}
"""Created when missing; operators tune them in the UI or with `prefect gcl update`."""


def retry_transient_only(task: Task[..., object], task_run: TaskRun, state: State[object]) -> bool:
    """Retry lost connections and commit conflicts; an unsupported type fails the same way every time."""
    try:
        state.result()
    except TransientError:
        return True
    except Exception:
        return False
    return False


def ensure_concurrency_limits(limits: dict[str, int] | None = None) -> None:
    """Create cutover's global concurrency limits (or ``limits``) if absent: a missing limit limits nothing."""
    with get_client(sync_client=True) as client:
        for name, limit in (limits or DEFAULT_LIMITS).items():
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                client.upsert_global_concurrency_limit_by_name(name, limit)


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
