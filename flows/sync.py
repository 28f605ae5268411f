"""Flow `sync`: the nightly incremental sync of PostgreSQL tables into their Iceberg copies.

Per table, from one exported snapshot: the rows changed since the committed watermark (cursor column or
xmin), the hard deletes (from the table's delete log, or key sets compared), the new columns (schema
evolution), merged by key in one Iceberg commit with the new watermark. Then every synced table is
validated on that same snapshot, so the validation events (and the rollback automation behind them)
judge exactly what was committed. The job is the library's (:func:`cutover.sync.run_sync`); this flow
runs its steps as Prefect tasks, ``parallel`` tables at a time.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from cutover import names
from cutover.config import CatalogConfig
from cutover.orchestration.cluster import ClusterConfig
from cutover.source.snapshot import SourceSnapshot
from cutover.sync import SyncReport, SyncRequest, TableSyncReport, run_sync
from cutover.validation import ValidationReport, ValidationRequest
from flows.common import Progress, current_run_id, finish_job, job_steps, start_job, with_source
from flows.validate import validate_in_snapshot
from tasks.sync import PrefectSyncExecutor

PROGRESS_KEY = "sync-progress"
REPORT_KEY = "sync-report"


@flow(name="sync", task_runner=ThreadPoolTaskRunner(max_workers=8), log_prints=False)  # type: ignore[arg-type]
def sync(
    request: SyncRequest,
    catalog: CatalogConfig | None = None,
    source_block: str = names.BLOCK_SOURCE,
    cluster: ClusterConfig | None = None,
) -> dict[str, object]:
    """Sync the selected tables; fails (after its report) when a table did not sync or did not validate.

    With a ``cluster`` (or ``CUTOVER_DASK_ADDRESS``) the tables are synced on the Dask cluster's workers.
    """
    logger = get_run_logger()
    catalog = start_job(catalog)
    given, request = request, with_source(request, source_block)
    progress = Progress(PROGRESS_KEY, "Tables synced")
    validations: list[ValidationReport] = []

    def table_done(result: TableSyncReport, done: int, total: int) -> None:
        log = logger.error if result.error else logger.info
        log("%s: %s (%s upserted, %s deleted)%s", result.iceberg_identifier, result.status, result.rows_upserted,
            result.rows_deleted, f" — {result.error}" if result.error else "")  # fmt: skip
        progress.update(done, total)

    def validate_synced(snapshot: SourceSnapshot, report: SyncReport) -> None:
        progress.done()
        create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Sync {report.run_id}")
        current = report.ok_tables()
        if request.validate_after and current:
            checked = ValidationRequest.of_selection(request, current)
            validations.append(validate_in_snapshot(checked, catalog, snapshot, report.run_id, steps, source))

    with job_steps(cluster) as steps:
        source = steps.source(given, source_block, request)
        report = run_sync(
            request,
            catalog,
            table_done,
            validate_synced,
            executor=PrefectSyncExecutor(request, catalog, source, steps.submit),
            run_id=current_run_id(),
        )
    return finish_job(report, validations[0] if validations else None, verb="sync", past="synced")


if __name__ == "__main__":
    import os

    sync(SyncRequest(source_dsn=os.environ["CUTOVER_SOURCE_DSN"], namespace="demo", cursor="updated_at"))
