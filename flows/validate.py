"""Flow `validate`: parity and expectations of PostgreSQL tables against their Iceberg copies.

All tables are compared on one exported source snapshot, ``parallel`` at a time (the library's
:func:`cutover.validation.validate_tables`, its steps as Prefect tasks); each table's outcome becomes a
Prefect event (`cutover.validation.passed` / `cutover.validation.failed`), and the report a table and a
markdown artifact.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from cutover import names
from cutover.config import CatalogConfig
from cutover.orchestration.cluster import ClusterConfig
from cutover.source.snapshot import SourceSnapshot
from cutover.validation import TableValidation, ValidationReport, ValidationRequest, validate_tables
from flows.common import Steps, current_run_id, finish_job, job_steps, start_job, with_source
from tasks.common import SourceRef
from tasks.validate import PrefectValidationExecutor, emit_validation_event, record_outcomes

REPORT_KEY = "validate-report"
SUMMARY_KEY = "validate-summary"


def validate_in_snapshot(
    request: ValidationRequest,
    catalog: CatalogConfig,
    snapshot: SourceSnapshot | None,
    run_id: str,
    steps: Steps,
    source: SourceRef,
) -> ValidationReport:
    """Validate the request's tables (inside ``snapshot`` when given) on ``steps``, reading the source as
    ``source`` says, then record, announce and report the verdicts. Shared by this flow and by `migrate`
    and `sync` (which validate on their own snapshot).
    """
    logger = get_run_logger()

    def log(result: TableValidation) -> None:
        (logger.info if result.passed else logger.error)(
            "%s: %s — %s", result.iceberg_identifier, result.status, result.reason
        )

    report = validate_tables(
        request,
        catalog,
        snapshot,
        executor=PrefectValidationExecutor(request, catalog, source, steps.submit),
        run_id=run_id,
        on_table_done=log,
    )
    record_outcomes(report, request.source_dsn)  # before the events: the gates see what the automation acts on
    for result in report.tables:
        emit_validation_event(result, run_id)
    create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Validation {report.run_id}")
    create_markdown_artifact(report.markdown(), key=SUMMARY_KEY, description=f"Validation {report.run_id}")
    return report


@flow(name="validate", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)  # type: ignore[arg-type]
def validate(
    request: ValidationRequest,
    catalog: CatalogConfig | None = None,
    source_block: str = names.BLOCK_SOURCE,
    cluster: ClusterConfig | None = None,
) -> dict[str, object]:
    """Validate the selected tables; fails (after its report and events) when any table did not pass.

    With a ``cluster`` (or ``CUTOVER_DASK_ADDRESS``) tables are validated on the Dask cluster's workers,
    each spreading the hashing of its Iceberg files over the cluster.
    """
    catalog = start_job(catalog)
    given, request = request, with_source(request, source_block)
    with job_steps(cluster) as steps:
        source = steps.source(given, source_block, request)
        report = validate_in_snapshot(request, catalog, None, current_run_id(), steps, source)
    return finish_job(report, None, verb="validate", past="validated")


if __name__ == "__main__":
    import os

    validate(ValidationRequest(source_dsn=os.environ["CUTOVER_SOURCE_DSN"], namespace="demo"))
