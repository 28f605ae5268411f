"""Thin Prefect tasks over :mod:`cutover.validation`, and the executor that submits them."""

from __future__ import annotations

from concurrent.futures import Future

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event

from cutover import names
from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.validation import TableValidation, ValidationReport, ValidationRequest, validate_table
from tasks.common import as_future, retry_transient_only


@task(
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="validate-{table}",
)
def validate_table_task(
    request: ValidationRequest, catalog: CatalogConfig, table: str, snapshot_id: str
) -> TableValidation:
    """Parity + expectations of one table inside the run's snapshot; holds a source-read slot."""
    with concurrency(names.LIMIT_SOURCE_READS, occupy=1, strict=True):
        return validate_table(request, open_catalog(catalog), table, snapshot_id)


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
    """Each table's validation as a task run of the flow's task runner."""

    def __init__(self, request: ValidationRequest, catalog: CatalogConfig) -> None:
        self.request, self.catalog = request, catalog

    def validate_table(self, table: str, snapshot_id: str) -> Future[TableValidation]:
        return as_future(validate_table_task.submit(self.request, self.catalog, table, snapshot_id))
