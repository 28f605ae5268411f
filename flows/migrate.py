"""Flow `migrate`: the full load of PostgreSQL tables into Iceberg, orchestrated by Prefect.

plan → extract + write (in parallel, under the `cutover-source-reads` limit) → commit with checkpoint,
per table, all tables read from one exported snapshot. Retries, concurrency limits, progress and the
final report are Prefect's; the work itself is the `cutover` library's.
"""

from __future__ import annotations

from collections import deque
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.config import CatalogConfig, Settings
from cutover.errors import CutoverError
from cutover.load.report import MigrationReport, TableReport
from cutover.load.runner import MigrationRequest, resolve_tables
from cutover.load.steps import BatchOutput, TableLoad
from cutover.load.tracker import LoadTracker, error_status
from cutover.source.snapshot import exported_snapshot
from cutover.telemetry import configure_from_environment
from cutover.validation import ValidationRequest
from flows.validate import validate_in_snapshot
from tasks.common import ensure_concurrency_limits
from tasks.migrate import abort_table_task, commit_task, load_batch_task, prepare_table_task

PROGRESS_KEY = "migrate-progress"
REPORT_KEY = "migrate-report"


@flow(name="migrate", task_runner=ThreadPoolTaskRunner(max_workers=16), log_prints=False)  # type: ignore[arg-type]
def migrate(request: MigrationRequest, catalog: CatalogConfig | None = None) -> dict[str, object]:
    """Full load of the selected tables; fails (after writing its report) when any table did not load."""
    logger = get_run_logger()
    catalog = catalog or Settings().catalog()  # CUTOVER_CATALOG_URI/WAREHOUSE, else the embedded default
    configure_from_environment()
    ensure_concurrency_limits()
    report = MigrationReport(run_id=str(flow_run.get_id() or "local"))
    progress_id = create_progress_artifact(0.0, key=PROGRESS_KEY, description="Batches committed, all tables")
    assert isinstance(progress_id, UUID)  # the sync API in a sync flow

    with exported_snapshot(request.source_dsn) as snapshot:
        report.source_lsn = snapshot.lsn
        loads: list[tuple[TableReport, TableLoad]] = []
        for name in resolve_tables(request):
            entry = TableReport(request.schema_name, name, f"{request.target_namespace}.{name}")
            report.tables.append(entry)
            try:
                loads.append((entry, prepare_table_task(request, catalog, name)))
            except CutoverError as exc:
                entry.status, entry.error = error_status(exc), str(exc)
                logger.error("%s: %s", name, exc)

        tracker = LoadTracker(loads)
        for load in tracker.idle_tables():
            tracker.committed(load)
        work = deque(tracker.work())
        in_flight: dict[PrefectFuture[BatchOutput], TableLoad] = {}
        while work or in_flight:
            while work and len(in_flight) < request.parallel:
                load, batch = work.popleft()
                if not tracker.is_failed(load):
                    future = load_batch_task.submit(request.source_dsn, catalog, load, batch, snapshot.snapshot_id)
                    in_flight[future] = load
            if not in_flight:
                continue
            for future in [next(as_completed(list(in_flight)))]:
                load = in_flight.pop(future)
                if tracker.is_failed(load):
                    continue
                try:
                    ready = tracker.batch_done(load, future.result())
                    if ready:
                        tracker.committed(load, commit_task(catalog, load, ready, snapshot))
                except CutoverError as exc:
                    logger.error("%s: %s", load.iceberg_name, exc)
                    if tracker.failed(load, exc) == "refused":
                        abort_table_task(catalog, load)
                batches_done, batches_total = tracker.progress()
                update_progress_artifact(progress_id, 100.0 * batches_done / max(batches_total, 1))

        update_progress_artifact(progress_id, 100.0)
        create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Full load {report.run_id}")
        migrated = [t.source_table for t in report.tables if t.status == "migrated"]
        validation = None
        if request.validate_after and migrated:
            # On the load's own snapshot: what was read is exactly what is compared.
            validation = validate_in_snapshot(
                ValidationRequest.of_selection(request, migrated),
                catalog, migrated, snapshot, report.run_id,
            )  # fmt: skip
    if not report.ok:
        failed = [f"{t.source_table} ({t.status})" for t in report.tables if t.status != "migrated"]
        raise CutoverError(f"{len(failed)} table(s) did not load: {', '.join(failed)}")
    if validation is not None and not validation.ok:
        failed = [t.source_table for t in validation.tables if not t.passed]
        raise CutoverError(f"loaded, but {len(failed)} table(s) did not validate: {', '.join(failed)}")
    return report.to_json() | ({"validation": validation.to_json()} if validation else {})


if __name__ == "__main__":
    import os

    migrate(MigrationRequest(source_dsn=os.environ["CUTOVER_SOURCE_DSN"], namespace="demo", mode="replace"))
