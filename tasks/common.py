"""What every cutover task shares: the retry policy and the concurrency limits it relies on."""

from __future__ import annotations

from prefect import Task
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import TaskRun
from prefect.exceptions import ObjectNotFound
from prefect.states import State

from cutover import names
from cutover.errors import TransientError

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
