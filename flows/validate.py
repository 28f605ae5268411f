"""Flow `validate`: parity and expectations of PostgreSQL tables against their Iceberg copies.

All tables are compared on one exported source snapshot; each table's outcome becomes a Prefect event
(`cutover.validation.passed` / `cutover.validation.failed`), and the report a table and a markdown
artifact. The work itself is the `cutover.validation` library's.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from cutover.config import CatalogConfig, Settings
from cutover.errors import CutoverError
from cutover.source.snapshot import SourceSnapshot, exported_snapshot
from cutover.validation import ValidationReport, ValidationRequest, resolve_validation_tables
from tasks.common import ensure_concurrency_limits
from tasks.validate import emit_validation_event, record_outcomes, validate_table_task

REPORT_KEY = "validate-report"
SUMMARY_KEY = "validate-summary"


def validate_in_snapshot(
    request: ValidationRequest, catalog: CatalogConfig, tables: list[str], snapshot: SourceSnapshot, run_id: str
) -> ValidationReport:
    """Validate ``tables`` inside an open snapshot, then record, announce and report the verdicts.

    Shared by this flow and by `migrate` (which validates on its load's own snapshot).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    report = ValidationReport(run_id=run_id, source_lsn=snapshot.lsn)
    futures = [validate_table_task.submit(request, catalog, t, snapshot.snapshot_id) for t in tables]
    report.tables = [future.result() for future in futures]
    report.seconds = time.perf_counter() - started
    record_outcomes(report, request.source_dsn)
    for result in report.tables:
        emit_validation_event(result, report.run_id)
        log = logger.info if result.passed else logger.error
        log("%s: %s — %s", result.iceberg_identifier, result.status, result.reason)
    create_table_artifact(report.table_rows(), key=REPORT_KEY, description=f"Validation {report.run_id}")
    create_markdown_artifact(report.markdown(), key=SUMMARY_KEY, description=f"Validation {report.run_id}")
    return report


@flow(name="validate", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)  # type: ignore[arg-type]
def validate(request: ValidationRequest, catalog: CatalogConfig | None = None) -> dict[str, object]:
    """Validate the selected tables; fails (after its report and events) when any table did not pass."""
    catalog = catalog or Settings().catalog()  # CUTOVER_CATALOG_URI/WAREHOUSE, else the embedded default
    ensure_concurrency_limits()
    tables = resolve_validation_tables(request)
    with exported_snapshot(request.source_dsn) as snapshot:
        report = validate_in_snapshot(request, catalog, tables, snapshot, str(flow_run.get_id() or "local"))
    if not report.ok:
        failed = [f"{t.source_table} ({t.status})" for t in report.tables if not t.passed]
        raise CutoverError(f"{len(failed)} table(s) did not validate: {', '.join(failed)}")
    return report.to_json()


if __name__ == "__main__":
    import os

    validate(ValidationRequest(source_dsn=os.environ["CUTOVER_SOURCE_DSN"], namespace="demo"))
