"""Flow `sync`: the nightly incremental sync of PostgreSQL tables into their Iceberg copies.

Per table, from one exported snapshot: the rows changed since the committed watermark (cursor column or
xmin), the hard deletes (from the table's delete log, or key sets compared), the new columns (schema evolution), merged by key in one
Iceberg commit with the new watermark. Then every synced table is validated on that same snapshot, so
the validation events (and the rollback automation behind them) judge exactly what was committed.
"""

from __future__ import annotations

from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.config import CatalogConfig, Settings
from cutover.errors import CutoverError
from cutover.source.selection import resolve_tables
from cutover.source.snapshot import exported_snapshot
from cutover.sync import SyncReport, SyncRequest, TableSync, failed_report
from cutover.telemetry import configure_from_environment
from cutover.validation import ValidationRequest
from flows.validate import validate_in_snapshot
from tasks.common import ensure_concurrency_limits
from tasks.sync import prepare_sync_task, sync_table_task

PROGRESS_KEY = "sync-progress"
REPORT_KEY = "sync-report"


@flow(name="sync", task_runner=ThreadPoolTaskRunner(max_workers=8), log_prints=False)  # type: ignore[arg-type]
def sync(request: SyncRequest, catalog: CatalogConfig | None = None) -> dict[str, object]:
    """Sync the selected tables; fails (after its report) when a table did not sync or did not validate."""
    logger = get_run_logger()
    catalog = catalog or Settings().catalog()  # CUTOVER_CATALOG_URI/WAREHOUSE, else the embedded default
    configure_from_environment()
    ensure_concurrency_limits()
    report = SyncReport(run_id=str(flow_run.get_id() or "local"))
    progress_id = create_progress_artifact(0.0, key=PROGRESS_KEY, description="Tables synced")
    assert isinstance(progress_id, UUID)  # the sync API in a sync flow
    tables = resolve_tables(request)
    plans: list[TableSync] = []
    for name in tables:  # before the snapshot: a delete log created here must predate it
        try:
            plans.append(prepare_sync_task(request, catalog, name))
        except CutoverError as exc:
            logger.error("%s: %s", name, exc)
            report.tables.append(failed_report(request, name, exc))
    with exported_snapshot(request.source_dsn) as snapshot:
        report.source_lsn = snapshot.lsn
        futures = {sync_table_task.submit(request.source_dsn, catalog, p, snapshot): p for p in plans}
        for future in as_completed(list(futures)):
            plan = futures[future]
            try:
                result = future.result()
            except CutoverError as exc:
                logger.error("%s: %s", plan.iceberg_name, exc)
                result = failed_report(request, plan.source.name, exc)
            report.tables.append(result)
            logger.info("%s: %s (%s upserted, %s deleted)", result.iceberg_identifier, result.status,
                        result.rows_upserted, result.rows_deleted)  # fmt: skip
            update_progress_artifact(progress_id, 100.0 * len(report.tables) / max(len(tables), 1))
        report.tables.sort(key=lambda t: t.source_table)
        update_progress_artifact(progress_id, 100.0)
        create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Sync {report.run_id}")
        current = [t.source_table for t in report.tables if t.status in ("synced", "unchanged")]
        validation = None
        if request.validate_after and current:
            validation = validate_in_snapshot(
                ValidationRequest.of_selection(request, current),
                catalog, current, snapshot, report.run_id,
            )  # fmt: skip
    if not report.ok:
        failed = [f"{t.source_table} ({t.status})" for t in report.tables if t.status not in ("synced", "unchanged")]
        raise CutoverError(f"{len(failed)} table(s) did not sync: {', '.join(failed)}")
    if validation is not None and not validation.ok:
        failed = [t.source_table for t in validation.tables if not t.passed]
        raise CutoverError(f"synced, but {len(failed)} table(s) did not validate: {', '.join(failed)}")
    return report.to_json() | ({"validation": validation.to_json()} if validation else {})


if __name__ == "__main__":
    import os

    sync(SyncRequest(source_dsn=os.environ["CUTOVER_SOURCE_DSN"], namespace="demo", cursor="updated_at"))
