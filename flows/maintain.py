"""Flow `maintain`: table care after the nightly sync (compaction, manifest rewrite, snapshot expiry with
file deletion, orphan removal), per table, holding the table's sync limit so the two never overlap.

The job is the library's (:func:`cutover.maintenance.run_maintenance`); this flow runs each table as a
Prefect task, with a progress artifact and a table artifact of the report.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from cutover import names
from cutover.config import CatalogConfig
from cutover.maintenance import MaintenanceRequest, TableMaintenanceReport, run_maintenance
from cutover.orchestration.cluster import ClusterConfig
from flows.common import Progress, current_run_id, finish_job, job_steps, start_job
from tasks.maintain import PrefectMaintenanceExecutor

PROGRESS_KEY = "maintain-progress"
REPORT_KEY = "maintain-report"


@flow(name=names.FLOW_MAINTAIN, task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)  # type: ignore[arg-type]
def maintain(
    request: MaintenanceRequest | None = None,
    catalog: CatalogConfig | None = None,
    cluster: ClusterConfig | None = None,
) -> dict[str, object]:
    """Maintain the selected tables; fails (after its report) when a table's maintenance failed.

    With a ``cluster`` (or ``CUTOVER_DASK_ADDRESS``) the tables are maintained on the Dask cluster's workers.
    """
    logger = get_run_logger()
    request = request or MaintenanceRequest()
    catalog = start_job(catalog)
    progress = Progress(PROGRESS_KEY, "Tables maintained")

    def table_done(result: TableMaintenanceReport, done: int, total: int) -> None:
        log = logger.error if result.error else logger.info
        log("%s: %s (data files %s → %s, %s delete files applied, %s snapshots expired, %s files deleted)%s",
            result.iceberg_identifier, result.status, result.data_files_before, result.data_files_after,
            result.delete_files_applied, result.snapshots_expired, result.files_deleted,
            f" — {result.error}" if result.error else "")  # fmt: skip
        progress.update(done, total)

    with job_steps(cluster) as steps:
        executor = PrefectMaintenanceExecutor(request, catalog, steps.submit)
        report = run_maintenance(request, catalog, table_done, executor=executor, run_id=current_run_id())
    progress.done()
    create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Maintenance {report.run_id}")
    return finish_job(report, None, verb="get maintained", past="maintained")


if __name__ == "__main__":
    maintain(MaintenanceRequest(namespace="demo", dry_run=True))
