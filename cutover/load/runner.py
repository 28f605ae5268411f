"""Running a whole full load: the job written once, its steps on threads (the CLI) or elsewhere (flows).

:func:`run_migration` prepares every table, exports one snapshot and drives
:func:`cutover.load.scheduler.run_batches`; the executor decides where the steps run.
:class:`ThreadLoadExecutor` is the dependency-free default that also works with no Prefect server around.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, nullcontext
from types import TracebackType

import psycopg
from pydantic import Field
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from cutover.config import CatalogConfig, LoadMode, TableOptionsFile
from cutover.errors import CutoverError, TransientError
from cutover.flags.service import FeatureFlagService, partitions
from cutover.lake.catalog import open_catalog
from cutover.lake.commit import CommitResult
from cutover.load.report import MigrationReport, TableReport
from cutover.load.scheduler import Capacity, LoadExecutor, NotPrepared, ProgressCallback, run_batches
from cutover.load.steps import BatchOutput, TableLoad, abort_table, commit_outputs, load_batch, prepare_table
from cutover.load.tracker import LoadTracker, error_status
from cutover.source.connection import connect
from cutover.source.planning import Batch
from cutover.source.selection import TableSelection, resolve_tables
from cutover.source.snapshot import SourceSnapshot, exported_snapshot

COMMIT_THREADS = 2
"""Commits of different tables at once (a table never has two in flight)."""

SnapshotHook = Callable[[SourceSnapshot, MigrationReport], None]
"""Runs inside the load's snapshot after the last commit (a validation of exactly what was read)."""


class MigrationRequest(TableSelection):
    """What to load and how: the parameters of `cutover migrate` and of the `migrate` flow."""

    batch_rows: int | None = Field(default=None, gt=0)
    parallel: int = Field(default=2, ge=1, le=64)
    """Batches read at once, whatever the executor."""
    mode: LoadMode = "create"
    validate_after: bool = Field(default=False, alias="validate")
    """Validate every migrated table on the load's own snapshot (the flow honours it)."""


def prepare_requested_table(
    conn: psycopg.Connection,
    catalog: Catalog,
    request: MigrationRequest,
    table: str,
    options: TableOptionsFile,
    flags: FeatureFlagService | None,
) -> TableLoad:
    """:func:`prepare_table` with the request's settings for one of its tables (``flags``: whether
    ``iceberg-partitioning`` is on for it; None reads every flag at its default, off)."""
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
        partitioning=partitions(flags, f"{request.target_namespace}.{table}"),
    )


def prepare_requested_tables(
    conn: psycopg.Connection,
    catalog: Catalog,
    request: MigrationRequest,
    tables: list[str],
    options: TableOptionsFile,
    flags: FeatureFlagService | None,
) -> list[TableLoad | NotPrepared]:
    """:func:`prepare_requested_table` for each table in turn, a refusal or failure as a value.

    Raises:
        TransientError: a lost connection (the whole step is retried; preparing is idempotent).
    """
    prepared: list[TableLoad | NotPrepared] = []
    for table in tables:
        try:
            prepared.append(prepare_requested_table(conn, catalog, request, table, options, flags))
        except TransientError:
            raise
        except CutoverError as exc:
            prepared.append(NotPrepared(table, error_status(exc), str(exc)))
    return prepared


def run_migration(
    request: MigrationRequest,
    catalog_config: CatalogConfig,
    on_progress: ProgressCallback | None = None,
    *,
    executor: LoadExecutor | None = None,
    run_id: str | None = None,
    in_snapshot: SnapshotHook | None = None,
    flags: FeatureFlagService | None = None,
) -> MigrationReport:
    """Load every selected table under one exported snapshot, ``parallel`` batches at a time.

    Without an ``executor`` the steps run on a :class:`ThreadLoadExecutor` reading ``flags`` (for
    ``iceberg-partitioning``; None: every flag at its default). A table that fails or is refused does not
    stop the others; its report says why.

    Raises:
        ConfigError: bad DSN or an unknown table name.
        SourceConnectionError: the source is unreachable.
    """
    started = time.perf_counter()
    report = MigrationReport(run_id=run_id or uuid.uuid4().hex)
    tables = resolve_tables(request)
    with ExitStack() as stack:
        if executor is None:
            executor = stack.enter_context(ThreadLoadExecutor(request, catalog_config, flags))
        snapshot = stack.enter_context(exported_snapshot(request.source_dsn))
        report.source_lsn = snapshot.lsn
        loads: list[tuple[TableReport, TableLoad]] = []
        try:
            outcomes = executor.prepare(tables)
        except CutoverError as exc:  # no table could be prepared (e.g. the connection was lost for good)
            outcomes = [NotPrepared(name, "failed", str(exc)) for name in tables]
        for name, prepared in zip(tables, outcomes, strict=True):
            entry = TableReport(request.schema_name, name, f"{request.target_namespace}.{name}")
            report.tables.append(entry)
            if isinstance(prepared, NotPrepared):
                entry.status, entry.error = prepared.status, prepared.error
            else:
                loads.append((entry, prepared))
        with executor.capacity(request.parallel) as capacity:
            run_batches(LoadTracker(loads), executor, snapshot, capacity, on_progress)
        if in_snapshot is not None:
            in_snapshot(snapshot, report)
    report.seconds = time.perf_counter() - started
    return report


class ThreadLoadExecutor:
    """Batches on ``parallel`` threads, commits on threads of their own (so reading never waits on one).

    Prepares tables over one shared control connection and loads each Iceberg table once. Use it as a
    context manager: leaving it waits for its threads and closes the connection.
    """

    def __init__(
        self, request: MigrationRequest, catalog_config: CatalogConfig, flags: FeatureFlagService | None = None
    ) -> None:
        self.request = request
        self.flags = flags
        self.catalog = open_catalog(catalog_config)
        self.options = TableOptionsFile.load(request.table_options)
        self._reads = ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="cutover-batch")
        self._commits = ThreadPoolExecutor(max_workers=COMMIT_THREADS, thread_name_prefix="cutover-commit")
        self._tables: dict[str, Table] = {}
        self._stack = ExitStack()

    def __enter__(self) -> ThreadLoadExecutor:
        self._conn = self._stack.enter_context(connect(self.request.source_dsn))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self._reads.shutdown(wait=True, cancel_futures=True)
        self._commits.shutdown(wait=True)
        return self._stack.__exit__(kind, exc, tb)  # a lost control connection becomes SourceConnectionError

    def prepare(self, tables: list[str]) -> list[TableLoad | NotPrepared]:
        loads = prepare_requested_tables(self._conn, self.catalog, self.request, tables, self.options, self.flags)
        for load in loads:
            if isinstance(load, TableLoad):
                self._tables[load.iceberg_name] = self.catalog.load_table(load.identifier)
        return loads

    def capacity(self, parallel: int) -> AbstractContextManager[Capacity]:
        return nullcontext(Capacity(reads=parallel, commits=COMMIT_THREADS))

    def read_batch(self, load: TableLoad, batch: Batch, snapshot: SourceSnapshot) -> Future[BatchOutput]:
        table = self._tables[load.iceberg_name]
        return self._reads.submit(load_batch, self.request.source_dsn, load, table, batch, snapshot.snapshot_id)

    def commit(self, load: TableLoad, outputs: list[BatchOutput], snapshot: SourceSnapshot) -> Future[CommitResult]:
        return self._commits.submit(commit_outputs, load, self._tables[load.iceberg_name], outputs, snapshot)

    def abort(self, load: TableLoad) -> None:
        abort_table(self.catalog, load)
