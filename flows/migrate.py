"""Flow `migrate`: the full load of PostgreSQL tables into Iceberg, orchestrated by Prefect.

plan → extract + write (in parallel, under the `cutover-source-reads` limit) → commit with checkpoint,
per table, all tables read from one exported snapshot. The job and its scheduling loop are the library's
(:func:`cutover.load.runner.run_migration`); this flow runs its steps as Prefect tasks and adds
progress, the report artifact and the validation after.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from cutover import names
from cutover.config import CatalogConfig
from cutover.load.report import MigrationReport
from cutover.load.runner import MigrationRequest, run_migration
from cutover.load.tracker import LoadProgress
from cutover.orchestration.cluster import ClusterConfig
from cutover.source.snapshot import SourceSnapshot
from cutover.validation import ValidationReport, ValidationRequest
from flows.common import Progress, current_run_id, finish_job, job_steps, start_job, with_source
from flows.validate import validate_in_snapshot
from tasks.migrate import PrefectLoadExecutor

PROGRESS_KEY = "migrate-progress"
REPORT_KEY = "migrate-report"


@flow(name="migrate", task_runner=ThreadPoolTaskRunner(max_workers=16), log_prints=False)  # type: ignore[arg-type]
def migrate(
    request: MigrationRequest,
    catalog: CatalogConfig | None = None,
    source_block: str = names.BLOCK_SOURCE,
    cluster: ClusterConfig | None = None,
) -> dict[str, object]:
    """Full load of the selected tables; fails (after writing its report) when any table did not load.

    With a ``cluster`` (or ``CUTOVER_DASK_ADDRESS``) the batches are read and written by the Dask
    cluster's workers; this process keeps the snapshot open and commits.
    """
    catalog = start_job(catalog)
    given, request = request, with_source(request, source_block)
    progress = Progress(PROGRESS_KEY, "Batches committed, all tables")
    validations: list[ValidationReport] = []

    def validate_loaded(snapshot: SourceSnapshot, report: MigrationReport) -> None:
        # On the load's own snapshot: what was read is exactly what is compared.
        progress.done()
        create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Full load {report.run_id}")
        migrated = report.ok_tables()
        if request.validate_after and migrated:
            checked = ValidationRequest.of_selection(request, migrated)
            validations.append(validate_in_snapshot(checked, catalog, snapshot, report.run_id, steps, source))

    def on_progress(step: LoadProgress) -> None:
        progress.update(step.run_batches_done, step.run_batches_total)

    with job_steps(cluster) as steps:
        source = steps.source(given, source_block, request)
        report = run_migration(
            request,
            catalog,
            on_progress,
            executor=PrefectLoadExecutor(request, catalog, source, steps.submit),
            run_id=current_run_id(),
            in_snapshot=validate_loaded,
        )
    return finish_job(report, validations[0] if validations else None, verb="load", past="loaded")


if __name__ == "__main__":
    import os

    migrate(MigrationRequest(source_dsn=os.environ["CUTOVER_SOURCE_DSN"], namespace="demo", mode="replace"))
