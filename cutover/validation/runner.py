"""Validating tables: parity plus expectations, per table, all tables on one source snapshot.

:func:`validate_tables` is the job written once: ``parallel`` tables at a time through a
:class:`ValidationExecutor` (threads by default; the Prefect flow passes one that submits tasks).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import Field
from pyiceberg.exceptions import NoSuchTableError

from cutover import telemetry
from cutover.config import CatalogConfig, TableOptionsFile
from cutover.errors import CutoverError, TransientError
from cutover.execution import run_bounded
from cutover.lake.catalog import open_catalog
from cutover.lake.types import map_table
from cutover.source.connection import connect
from cutover.source.introspect import introspect_table
from cutover.source.selection import TableSelection, resolve_tables
from cutover.source.snapshot import SourceSnapshot, exported_snapshot
from cutover.validation.errors import IcebergTableMissingError
from cutover.validation.parity import ParityOptions, TableParity
from cutover.validation.parity.spread import FileSpread
from cutover.validation.report import TableValidation, ValidationReport, ValidationStatus

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table


class ValidationRequest(TableSelection):
    """What to validate: the parameters of `cutover validate` and of the `validate` flow."""

    expectations_dir: Path | None = Path("expectations")
    """Where `expectations/<namespace>.<table>.json` suites live; None skips expectations."""
    max_differences: int = Field(default=100, ge=0)
    column_stats: bool = True
    parallel: int = Field(default=2, ge=1, le=64)
    """Tables validated at once (each parity is itself a parallel scan on both sides)."""

    @classmethod
    def of_selection(cls, selection: TableSelection, tables: list[str]) -> ValidationRequest:
        """Validate ``tables`` of another command's selection (same source, schema, namespace, options)."""
        return cls(**selection.model_dump(include=set(TableSelection.model_fields) - {"tables"}), tables=tables)

    def parity_options(self) -> ParityOptions:
        return ParityOptions(max_differences=self.max_differences, column_stats=self.column_stats)


def resolve_validation_tables(request: ValidationRequest) -> list[str]:
    """The selected table names (the same rules as `migrate`)."""
    return resolve_tables(request)


def validate_table(
    request: ValidationRequest,
    catalog: Catalog,
    table: str,
    snapshot_id: str | None,
    spread: FileSpread | None = None,
) -> TableValidation:
    """Validate one table inside the caller's exported snapshot; failures land in the result, not raised.

    With a ``spread`` the Iceberg side's data files are hashed by its workers (a cluster's), which hand
    back bucket sums; the source side stays one parallel aggregate in PostgreSQL.

    Only a lost source connection is raised (:class:`~cutover.errors.TransientError`), so a task can retry it.
    """
    started = time.perf_counter()
    identifier = f"{request.target_namespace}.{table}"
    result = TableValidation(request.schema_name, table, identifier)
    try:
        with connect(request.source_dsn) as conn:
            source = introspect_table(conn, request.schema_name, table)
        options = TableOptionsFile.load(request.table_options).for_table(request.schema_name, table)
        mappings = map_table(source, options)

        def load_iceberg() -> Table:
            try:
                return catalog.load_table((request.target_namespace, table))
            except NoSuchTableError as exc:
                raise IcebergTableMissingError(identifier) from exc

        comparison = TableParity(
            request.source_dsn, snapshot_id, source, mappings, load_iceberg, request.parity_options(), spread
        )
        parity = comparison.run()
        result.has_primary_key = bool(source.primary_key)
        result.source_rows, result.iceberg_rows = parity.source_rows, parity.iceberg_rows
        result.missing_total, result.extra_total = parity.missing_total, parity.extra_total
        result.changed_total, result.matching_rows = parity.changed_total, parity.matching_rows
        result.differences, result.columns, result.buckets = parity.differences, parity.columns, parity.buckets
        if request.expectations_dir is not None:
            from cutover.validation.expectations import run_expectations, suite_path

            path = suite_path(request.expectations_dir, request.target_namespace, table)
            if path.exists():
                result.expectations = run_expectations(path, comparison.iceberg, source_rows=parity.source_rows)
    except TransientError:
        raise
    except CutoverError as exc:
        result.status, result.error, result.reason = "error", str(exc), str(exc)
        result.seconds = time.perf_counter() - started
        return result
    result.status, result.reason = _verdict(result)
    result.seconds = time.perf_counter() - started
    return result


def _verdict(result: TableValidation) -> tuple[ValidationStatus, str]:
    problems = []
    if result.source_rows != result.iceberg_rows:
        problems.append(f"row counts differ ({result.source_rows:,} source vs {result.iceberg_rows:,} Iceberg)")
    kinds = [
        (result.missing_total, "missing", "missing in Iceberg"),
        (result.extra_total, "extra", "extra in Iceberg"),
        (result.changed_total, "changed", "with different values"),
    ]
    problems += [f"{count:,} rows {what}{_first(result, kind, count)}" for count, kind, what in kinds if count]
    stats = [c.column for c in result.columns if not c.matches]
    if stats:
        problems.append(f"column aggregates differ for {', '.join(stats)}")
    failed = [f"{e.expectation}({e.column or ''})" for e in result.expectations if not e.success]
    if failed:
        problems.append(f"{len(failed)} expectation(s) failed: {', '.join(failed[:5])}")
    if not problems:
        checks = f" and {len(result.expectations)} expectations" if result.expectations else ""
        return "passed", f"all {result.source_rows:,} rows match{checks}"
    return "failed", "; ".join(problems) + f" (success {result.success_percentage}%)"


def _first(result: TableValidation, kind: str, count: int) -> str:
    """`` (id=7: amount)``: the first differing key of ``kind`` and its columns, so every place the reason
    goes (events, the rollback's audit row, artifacts) names a key to look at. Values stay out: they are
    the application's data, and the reason travels further than the report."""
    diff = next((d for d in result.differences if d.kind == kind), None)
    if diff is None:
        return ""
    key = ", ".join(f"{k}={v}" for k, v in diff.key.items())
    columns = f": {', '.join(c.column for c in diff.columns)}" if diff.columns else ""
    return f" ({'first ' if count > 1 else ''}{key}{columns})"


class ValidationExecutor(Protocol):
    """Where the validation of one table runs."""

    def validate_table(self, table: str, snapshot_id: str) -> Future[TableValidation]:
        """Parity + expectations of one table inside the run's snapshot (failures land in the result)."""
        ...


TableDone = Callable[[TableValidation], None]
"""Called once per table as its validation ends, in the calling thread."""


def validate_tables(
    request: ValidationRequest,
    catalog_config: CatalogConfig,
    snapshot: SourceSnapshot | None = None,
    *,
    executor: ValidationExecutor | None = None,
    run_id: str | None = None,
    on_table_done: TableDone | None = None,
) -> ValidationReport:
    """Validate every selected table, ``parallel`` at a time, all on one source snapshot.

    The snapshot is exported here unless the caller holds one (a load or sync validating what it just
    committed). Without an ``executor`` the tables are validated on threads. The report lists the tables
    in the order they were selected.

    Raises:
        ConfigError: bad DSN, an unknown table name, or an unreadable table-options file.
        SourceConnectionError: the source is unreachable, or a table's source connection was lost.
    """
    started = time.perf_counter()
    _warm_up_hashing()
    report = ValidationReport(run_id=run_id or uuid.uuid4().hex)
    tables = resolve_validation_tables(request)
    TableOptionsFile.load(request.table_options)  # a bad file is one error now, not the same error per table
    results: dict[str, TableValidation] = {}

    def done(table: str, future: Future[TableValidation]) -> None:
        results[table] = future.result()
        _record_ratio(results[table])
        if on_table_done is not None:
            on_table_done(results[table])

    with ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(ThreadValidationExecutor(request, catalog_config))
        if snapshot is None:
            snapshot = stack.enter_context(exported_snapshot(request.source_dsn))
        report.source_lsn = snapshot.lsn
        snapshot_id = snapshot.snapshot_id
        run_bounded(tables, lambda table: executor.validate_table(table, snapshot_id), request.parallel, done)
    report.tables = [results[t] for t in tables]
    report.seconds = time.perf_counter() - started
    return report


def _warm_up_hashing() -> None:
    """Load the compiled hash kernels on a thread of their own while this run waits for PostgreSQL.

    Only an optimization (a no-op after the first run in a process): a failure here is logged, and the
    parity meets the same error where it counts.
    """

    def warm() -> None:
        from cutover.hashing.lookup3 import warm_up

        try:
            warm_up()
        except Exception:
            logger.debug("warming up the hash kernels failed", exc_info=True)

    threading.Thread(target=warm, name="cutover-hash-warm-up", daemon=True).start()


def _record_ratio(result: TableValidation) -> None:
    """The success ratio of a table whose parity ran (the alert and dashboard query it); an error has none."""
    if result.status != "error":
        ratio = result.success_percentage / 100.0
        telemetry.instruments().validation_success_ratio.record(ratio, {"table": result.iceberg_identifier})


class ThreadValidationExecutor:
    """Tables on ``parallel`` threads. A context manager: leaving it waits for them."""

    def __init__(self, request: ValidationRequest, catalog_config: CatalogConfig) -> None:
        self.request = request
        self.catalog = open_catalog(catalog_config)
        self._pool = ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="cutover-validate")

    def __enter__(self) -> ThreadValidationExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def validate_table(self, table: str, snapshot_id: str) -> Future[TableValidation]:
        return self._pool.submit(validate_table, self.request, self.catalog, table, snapshot_id)
