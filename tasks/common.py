"""What every cutover task shares: the retry policy and the future bridge."""

from __future__ import annotations

from concurrent.futures import Future
from typing import TypeVar

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.futures import PrefectFuture
from prefect.states import State

from cutover.errors import TransientError

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
