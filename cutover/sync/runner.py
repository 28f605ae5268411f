"""Running a sync of many tables on one machine: what `cutover sync` uses.

The Prefect flow `sync` composes the same steps as tasks (adding retries, concurrency limits, artifacts
and the validation after); this runner is the dependency-free path that works without a Prefect server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
from pydantic import Field
from pyiceberg.catalog import Catalog

from cutover.config import CatalogConfig, TableOptionsFile
from cutover.errors import CutoverError
from cutover.lake.catalog import open_catalog
from cutover.load.tracker import error_status
from cutover.source.connection import connect
from cutover.source.delete_log import drop_delete_logs
from cutover.source.introspect import introspect_table
from cutover.source.selection import TableSelection, resolve_tables
from cutover.source.snapshot import SourceSnapshot, exported_snapshot
from cutover.sync.report import SyncReport, TableSyncReport
from cutover.sync.steps import TableSync, commit_sync, prepare_sync, stage_sync

ProgressCallback = Callable[[TableSyncReport], None]
"""Called once per table when its sync ends (synced, unchanged, refused or failed)."""


class SyncRequest(TableSelection):
    """What to sync: the parameters of `cutover sync` and of the `sync` flow."""

    cursor: str | None = None
    """Cursor column followed in every table that has it (e.g. ``updated_at``); others are followed by
    xmin. Per-table ``sync.cursor`` in the table options wins."""
    parallel: int = Field(default=2, ge=1, le=64)
    """Tables synced at a time."""
    validate_after: bool = Field(default=False, alias="validate")
    """Validate every synced table on the sync's own snapshot (the flow honours it)."""


def prepare_requested_sync(
    conn: psycopg.Connection, catalog: Catalog, request: SyncRequest, table: str, options: TableOptionsFile
) -> TableSync:
    """:func:`prepare_sync` with the request's settings for one of its tables."""
    return prepare_sync(
        conn,
        catalog,
        schema=request.schema_name,
        table=table,
        namespace=request.target_namespace,
        options=options.for_table(request.schema_name, table),
        default_cursor=request.cursor,
    )


def sync_one(dsn: str, catalog: Catalog, plan: TableSync, snapshot: SourceSnapshot) -> TableSyncReport:
    """Stage and commit one table (the failure lands in the report, only transient errors are raised)."""
    staged = stage_sync(dsn, catalog, plan, snapshot)
    return commit_sync(catalog, staged, snapshot)


def failed_report(request: TableSelection, table: str, exc: CutoverError, seconds: float = 0.0) -> TableSyncReport:
    return TableSyncReport(
        request.schema_name,
        table,
        f"{request.target_namespace}.{table}",
        status=error_status(exc),
        error=str(exc),
        seconds=seconds,
    )


def release_delete_logs(request: TableSelection) -> dict[str, list[str]]:
    """Drop the delete logs (triggers, functions, log tables) of the selected tables: the migration is
    over. Returns the logs dropped per ``schema.table``. A later sync would install a new one (and
    compare key sets once)."""
    dropped: dict[str, list[str]] = {}
    with connect(request.source_dsn) as conn:
        for name in resolve_tables(request):
            source = introspect_table(conn, request.schema_name, name)
            dropped[source.qualified_name] = drop_delete_logs(conn, source, request.target_namespace)
    return dropped


def run_sync(
    request: SyncRequest,
    catalog_config: CatalogConfig,
    on_table_done: ProgressCallback | None = None,
    snapshot_hook: Callable[[SourceSnapshot, SyncReport], None] | None = None,
) -> SyncReport:
    """Sync every selected table from one exported snapshot, ``parallel`` tables at a time.

    Every table is prepared before the snapshot is exported (a delete log must predate it).

    ``snapshot_hook(snapshot, report)`` runs inside the snapshot after the commits (the CLI validates there).
    A table that fails or is refused does not stop the others; its report says why.
    """
    started = time.perf_counter()
    report = SyncReport(run_id=uuid.uuid4().hex)
    catalog = open_catalog(catalog_config)
    options = TableOptionsFile.load(request.table_options)
    tables = resolve_tables(request)
    plans: list[TableSync] = []
    with connect(request.source_dsn) as conn:
        for name in tables:
            try:
                plans.append(prepare_requested_sync(conn, catalog, request, name, options))
            except CutoverError as exc:
                report.tables.append(failed_report(request, name, exc))
    with exported_snapshot(request.source_dsn) as snapshot:
        report.source_lsn = snapshot.lsn

        def one(plan: TableSync) -> TableSyncReport:
            began = time.perf_counter()
            try:
                result = sync_one(request.source_dsn, catalog, plan, snapshot)
            except CutoverError as exc:
                result = failed_report(request, plan.source.name, exc)
            result.seconds = time.perf_counter() - began
            if on_table_done is not None:
                on_table_done(result)
            return result

        with ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="cutover-sync") as pool:
            report.tables += list(pool.map(one, plans))
        report.tables.sort(key=lambda t: t.source_table)
        if snapshot_hook is not None:
            snapshot_hook(snapshot, report)
    report.seconds = time.perf_counter() - started
    return report
