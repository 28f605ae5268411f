"""Running a sync of many tables: the job written once, its steps on threads (the CLI) or elsewhere.

:func:`run_sync` prepares every table, exports one snapshot and syncs ``parallel`` tables at a time
through a :class:`SyncExecutor`; :class:`ThreadSyncExecutor` is the dependency-free default, and the
Prefect flow passes one that submits tasks (adding retries and the per-table concurrency limit).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from types import TracebackType
from typing import Protocol

import psycopg
from pydantic import Field
from pyiceberg.catalog import Catalog

from cutover.config import CatalogConfig, TableOptionsFile
from cutover.errors import CutoverError, TransientError
from cutover.execution import run_bounded
from cutover.flags.service import FeatureFlagService, partitions
from cutover.lake.catalog import open_catalog
from cutover.load.tracker import error_status
from cutover.source.connection import connect
from cutover.source.delete_log import drop_delete_logs
from cutover.source.introspect import introspect_table
from cutover.source.selection import TableSelection, resolve_tables
from cutover.source.snapshot import SourceSnapshot, exported_snapshot
from cutover.sync.report import SyncReport, TableSyncReport
from cutover.sync.steps import TableSync, commit_sync, prepare_sync, stage_sync

ProgressCallback = Callable[[TableSyncReport, int, int], None]
"""``(result, tables finished, tables selected)`` once per synced table as it ends (synced, unchanged,
refused or failed), in the calling thread."""

SnapshotHook = Callable[[SourceSnapshot, SyncReport], None]
"""Runs inside the sync's snapshot after the last commit (a validation of exactly what was committed)."""


class SyncExecutor(Protocol):
    """Where the steps of a sync run."""

    def prepare(self, table: str) -> TableSync:
        """Plan one table's sync (before the snapshot: a delete log installed here must predate it)."""
        ...

    def sync_table(self, plan: TableSync, snapshot: SourceSnapshot) -> Future[TableSyncReport]:
        """Stage and commit one table inside the run's snapshot."""
        ...


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
    conn: psycopg.Connection,
    catalog: Catalog,
    request: SyncRequest,
    table: str,
    options: TableOptionsFile,
    flags: FeatureFlagService | None,
) -> TableSync:
    """:func:`prepare_sync` with the request's settings for one of its tables (``flags``: whether
    ``iceberg-partitioning`` is on for it; None reads every flag at its default, off)."""
    return prepare_sync(
        conn,
        catalog,
        schema=request.schema_name,
        table=table,
        namespace=request.target_namespace,
        options=options.for_table(request.schema_name, table),
        default_cursor=request.cursor,
        partitioning=partitions(flags, f"{request.target_namespace}.{table}"),
    )


def sync_one(
    dsn: str,
    catalog: Catalog,
    plan: TableSync,
    snapshot: SourceSnapshot,
    *,
    reading: AbstractContextManager[object] | None = None,
    committing: AbstractContextManager[object] | None = None,
) -> TableSyncReport:
    """Stage and commit one table, timed; failures land in the report, only transient errors are raised.

    ``reading`` and ``committing`` are held around the two phases (a flow passes its concurrency slots).
    """
    began = time.perf_counter()
    try:
        with reading or nullcontext():
            staged = stage_sync(dsn, catalog, plan, snapshot)
        with committing or nullcontext():
            result = commit_sync(catalog, staged, snapshot)
    except TransientError:
        raise
    except CutoverError as exc:
        result = failed_report_of(plan, exc)
    result.seconds = time.perf_counter() - began
    return result


def failed_report(request: TableSelection, table: str, exc: CutoverError, seconds: float = 0.0) -> TableSyncReport:
    """The report of a table whose sync failed or was refused before it had a plan."""
    return TableSyncReport(
        request.schema_name,
        table,
        f"{request.target_namespace}.{table}",
        status=error_status(exc),
        error=str(exc),
        seconds=seconds,
    )


def failed_report_of(plan: TableSync, exc: CutoverError) -> TableSyncReport:
    """The report of a planned table whose sync failed or was refused."""
    return TableSyncReport(
        plan.source.schema, plan.source.name, plan.iceberg_name, status=error_status(exc), error=str(exc)
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
    snapshot_hook: SnapshotHook | None = None,
    *,
    executor: SyncExecutor | None = None,
    run_id: str | None = None,
    flags: FeatureFlagService | None = None,
) -> SyncReport:
    """Sync every selected table from one exported snapshot, ``parallel`` tables at a time.

    Every table is prepared before the snapshot is exported (a delete log must predate it). Without an
    ``executor`` the steps run on a :class:`ThreadSyncExecutor` reading ``flags`` (for
    ``iceberg-partitioning``; None: every flag at its default). ``snapshot_hook(snapshot, report)``
    runs inside the snapshot after the commits. A table that fails or is refused does not stop the
    others; its report says why.
    """
    started = time.perf_counter()
    report = SyncReport(run_id=run_id or uuid.uuid4().hex)
    tables = resolve_tables(request)
    with ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(ThreadSyncExecutor(request, catalog_config, flags))
        plans: list[TableSync] = []
        for name in tables:
            try:
                plans.append(executor.prepare(name))
            except CutoverError as exc:
                report.tables.append(failed_report(request, name, exc))
        snapshot = stack.enter_context(exported_snapshot(request.source_dsn))
        report.source_lsn = snapshot.lsn

        def done(plan: TableSync, future: Future[TableSyncReport]) -> None:
            try:
                result = future.result()
            except CutoverError as exc:  # transient, and its retries (if any) exhausted
                result = failed_report_of(plan, exc)
            report.tables.append(result)
            if on_table_done is not None:
                on_table_done(result, len(report.tables), len(tables))

        run_bounded(plans, lambda plan: executor.sync_table(plan, snapshot), request.parallel, done)
        report.tables.sort(key=lambda t: t.source_table)
        if snapshot_hook is not None:
            snapshot_hook(snapshot, report)
    report.seconds = time.perf_counter() - started
    return report


class ThreadSyncExecutor:
    """Tables on ``parallel`` threads; plans over one shared control connection. A context manager."""

    def __init__(
        self, request: SyncRequest, catalog_config: CatalogConfig, flags: FeatureFlagService | None = None
    ) -> None:
        self.request = request
        self.flags = flags
        self.catalog = open_catalog(catalog_config)
        self.options = TableOptionsFile.load(request.table_options)
        self._pool = ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="cutover-sync")
        self._stack = ExitStack()

    def __enter__(self) -> ThreadSyncExecutor:
        self._conn = self._stack.enter_context(connect(self.request.source_dsn))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        return self._stack.__exit__(kind, exc, tb)  # a lost control connection becomes SourceConnectionError

    def prepare(self, table: str) -> TableSync:
        return prepare_requested_sync(self._conn, self.catalog, self.request, table, self.options, self.flags)

    def sync_table(self, plan: TableSync, snapshot: SourceSnapshot) -> Future[TableSyncReport]:
        return self._pool.submit(sync_one, self.request.source_dsn, self.catalog, plan, snapshot)
