"""Thin Prefect tasks over :mod:`cutover.validation`, and the executor that submits them.

On a Dask cluster a table's validation runs on a worker, which spreads the hashing of the Iceberg side's
data files over the cluster (:class:`DaskFileSpread`: bucket sums come back, not rows); the source side
stays one parallel aggregate in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event

from cutover import names
from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.validation import TableValidation, ValidationReport, ValidationRequest, validate_table
from cutover.validation.parity.spread import BucketPart, FileGroup
from tasks.common import SourceRef, Submit, retry_transient_only, submitter

GROUPS_PER_THREAD = 2
"""File groups per worker thread: enough to even out files of different sizes, few enough that each
group's catalog and manifest reads stay small beside its hashing."""


class DaskFileSpread:
    """The Iceberg side's files hashed by the Dask cluster this task runs on (tasks launching tasks).

    Built in the task's thread on a worker; :meth:`map` may be called from any thread (the parity asks
    while its source aggregate runs), through the worker's own client.
    """

    def __init__(self, catalog: CatalogConfig, client: Any) -> None:
        self.catalog, self._client = catalog, client
        self.parts = max(1, GROUPS_PER_THREAD * sum(client.nthreads().values()))

    def map(self, fn: Callable[[FileGroup], BucketPart], groups: list[FileGroup]) -> list[BucketPart]:
        return list(self._client.gather(self._client.map(fn, groups, pure=False)))


def cluster_spread(catalog: CatalogConfig) -> DaskFileSpread | None:
    """A spread over the cluster when this task runs on a Dask worker, else None (hash in-process)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return DaskFileSpread(catalog, worker.client)


def _validate(request: ValidationRequest, catalog: CatalogConfig, table: str, snapshot_id: str) -> TableValidation:
    spread = cluster_spread(catalog)
    if spread is None:
        return validate_table(request, open_catalog(catalog), table, snapshot_id)
    from distributed import rejoin, secede

    secede()  # give the worker's thread to the file groups while this task waits on them (no deadlock)
    try:
        return validate_table(request, open_catalog(catalog), table, snapshot_id, spread=spread)
    finally:
        rejoin()


@task(
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="validate-{table}",
)
def validate_table_task(
    request: ValidationRequest, source: SourceRef, catalog: CatalogConfig, table: str, snapshot_id: str
) -> TableValidation:
    """Parity + expectations of one table inside the run's snapshot; holds a source-read slot."""
    with concurrency(names.LIMIT_SOURCE_READS, occupy=1, strict=True):
        return _validate(source.bind(request), catalog, table, snapshot_id)


@task(cache_policy=NO_CACHE)
def emit_validation_event(result: TableValidation, run_id: str) -> None:
    """`cutover.validation.passed` / `.failed` for one table; the rollback automation keys on the latter."""
    emit_event(
        event=names.EVENT_VALIDATION_PASSED if result.passed else names.EVENT_VALIDATION_FAILED,
        resource={"prefect.resource.id": f"{names.TABLE_RESOURCE_PREFIX}{result.iceberg_identifier}"},
        payload={
            "run_id": run_id,
            "success_percentage": result.success_percentage,
            "reason": result.reason.splitlines()[0] if result.reason else result.status,
        },
    )


@task(retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=retry_transient_only, cache_policy=NO_CACHE)
def record_outcomes(report: ValidationReport, source_dsn: str) -> None:
    """Append each table's verdict to the control store (``CUTOVER_CONTROL_DSN``, else the source)."""
    from cutover.config import Settings
    from cutover.rollout.store import ControlStore, record_validation_report

    record_validation_report(ControlStore(Settings().control_dsn or source_dsn), report)


class PrefectValidationExecutor:
    """Each table's validation as a task run of the flow's task runner (or of a Dask cluster's)."""

    def __init__(
        self,
        request: ValidationRequest,
        catalog: CatalogConfig,
        source: SourceRef | None = None,
        submit: Submit | None = None,
    ) -> None:
        self.source = source or SourceRef(dsn=request.source_dsn)
        self.request, self.catalog = self.source.strip(request), catalog
        self._submit = submit or submitter()

    def validate_table(self, table: str, snapshot_id: str) -> Future[TableValidation]:
        parameters: dict[str, Any] = {"request": self.request, "source": self.source, "catalog": self.catalog}
        return self._submit(validate_table_task, parameters | {"table": table, "snapshot_id": snapshot_id})
