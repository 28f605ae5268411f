"""cutover's global concurrency limits: created when missing, tuned by operators afterwards."""

from __future__ import annotations

from cutover import names

DEFAULT_LIMITS = {names.LIMIT_SOURCE_READS: 4, names.LIMIT_ICEBERG_COMMITS: 2}
"""Created when missing; operators tune them in the UI or with `prefect gcl update`."""


def ensure_concurrency_limits(limits: dict[str, int] | None = None) -> list[str]:
    """Create the limits (``DEFAULT_LIMITS`` unless given) that are absent; returns the ones created.

    An existing limit is left as it is (an operator may have tuned it). A missing limit limits nothing.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    created = []
    with get_client(sync_client=True) as client:
        for name, limit in (limits or DEFAULT_LIMITS).items():
            try:
                client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                client.upsert_global_concurrency_limit_by_name(name, limit)
                created.append(name)
    return created
