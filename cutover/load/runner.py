"""Running a whole full load on one machine with a thread pool: what `cutover migrate` uses.

The Prefect flow `migrate` composes the same steps as tasks (adding retries, concurrency limits and
artifacts); this runner is the dependency-free path that also works when no Prefect server is around.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import psycopg
from pydantic import Field
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from cutover.config import CatalogConfig, LoadMode, TableOptionsFile
from cutover.errors import CutoverError
from cutover.lake.catalog import open_catalog
from cutover.load.report import MigrationReport, TableReport
from cutover.load.steps import BatchOutput, TableLoad, abort_table, commit_outputs, load_batch, prepare_table
from cutover.load.tracker import LoadTracker, error_status
from cutover.source.connection import connect
from cutover.source.selection import TableSelection, resolve_tables
from cutover.source.snapshot import SourceSnapshot, exported_snapshot

ProgressCallback = Callable[[str, int, int, int], None]
"""(table, batches done, batches total, rows so far) after every committed or skipped batch."""


class MigrationRequest(TableSelection):
    """What to load and how: the parameters of `cutover migrate` and of the `migrate` flow."""

    batch_rows: int | None = Field(default=None, gt=0)
    parallel: int = Field(default=2, ge=1, le=64)
    mode: LoadMode = "create"
    validate_after: bool = Field(default=False, alias="validate")
    """Validate every migrated table on the load's own snapshot (the flow honours it)."""


def prepare_requested_table(
    conn: psycopg.Connection, catalog: Catalog, request: MigrationRequest, table: str, options: TableOptionsFile
) -> TableLoad:
    """:func:`prepare_table` with the request's settings for one of its tables."""
    return prepare_table(
        conn,
        catalog,
        schema=request.schema_name,
        table=table,
        namespace=request.target_namespace,
        mode=request.mode,
        batch_rows=request.batch_rows,
        parallel=request.parallel,
        options=options.for_table(request.schema_name, table),
    )


def run_migration(
    request: MigrationRequest, catalog_config: CatalogConfig, on_progress: ProgressCallback | None = None
) -> MigrationReport:
    """Load every selected table under one exported snapshot, ``parallel`` batches at a time.

    A table that fails or is refused does not stop the others; its report says why.
    """
    started = time.perf_counter()
    report = MigrationReport(run_id=uuid.uuid4().hex)
    catalog = open_catalog(catalog_config)
    options = TableOptionsFile.load(request.table_options)
    tables = resolve_tables(request)
    with exported_snapshot(request.source_dsn) as snapshot, connect(request.source_dsn) as conn:
        report.source_lsn = snapshot.lsn
        loads: list[tuple[TableReport, TableLoad]] = []
        for name in tables:
            entry = TableReport(request.schema_name, name, f"{request.target_namespace}.{name}")
            report.tables.append(entry)
            try:
                load = prepare_requested_table(conn, catalog, request, name, options)
            except CutoverError as exc:
                entry.status, entry.error = error_status(exc), str(exc)
                continue
            loads.append((entry, load))
        _run_batches(request, catalog, snapshot, loads, on_progress)
    report.seconds = time.perf_counter() - started
    return report


def _run_batches(
    request: MigrationRequest,
    catalog: Catalog,
    snapshot: SourceSnapshot,
    loads: list[tuple[TableReport, TableLoad]],
    on_progress: ProgressCallback | None,
) -> None:
    tracker = LoadTracker(loads)
    tables: dict[str, Table] = {load.iceberg_name: catalog.load_table(load.identifier) for _, load in loads}

    def notify(load: TableLoad) -> None:
        if on_progress is not None:
            on_progress(*tracker.table_progress(load))

    for load in tracker.idle_tables():
        tracker.committed(load)
        notify(load)
    with ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="cutover-batch") as pool:
        futures: dict[Future[BatchOutput], TableLoad] = {
            pool.submit(
                load_batch, request.source_dsn, load, tables[load.iceberg_name], batch, snapshot.snapshot_id
            ): load
            for load, batch in tracker.work()
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                load = futures[future]
                if tracker.is_failed(load):
                    continue
                try:
                    ready = tracker.batch_done(load, future.result())
                    if ready:
                        tracker.committed(load, commit_outputs(load, tables[load.iceberg_name], ready, snapshot))
                except CutoverError as exc:
                    for other, other_load in futures.items():
                        if other_load is load:
                            other.cancel()
                    if tracker.failed(load, exc) == "refused":
                        abort_table(catalog, load)
                    continue
                notify(load)
