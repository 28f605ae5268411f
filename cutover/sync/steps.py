"""The steps of a sync of one table: prepare → stage (read changes, find deletes, write files) → commit.

Each step is a plain function over plain values, so the CLI's runner and the Prefect flow compose the
same steps. :func:`prepare_sync` runs before the sync's snapshot is taken (it may create the table's
delete log, whose triggers must be in place before that snapshot). Staging writes files only; nothing is visible until
:func:`commit_sync` lands one Iceberg snapshot holding the schema change, the new rows, the position
deletes and the watermark.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import psycopg
import pyarrow as pa
from psycopg import sql
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from cutover import names, telemetry
from cutover.config import TableOptions
from cutover.errors import CommitConflictError, ConfigError, SourceSchemaError
from cutover.hashing import KeyIdentity, duck_connection, isin_sorted
from cutover.lake.checkpoint import read_checkpoint
from cutover.lake.convert import BatchConverter, select_columns
from cutover.lake.evolve import SchemaChange, apply_evolution, plan_evolution
from cutover.lake.row_delta import (
    LiveFile,
    commit_row_delta,
    file_key_columns,
    live_files,
    read_file_keys,
    write_position_deletes,
)
from cutover.lake.state import carried_state
from cutover.lake.types import ColumnMapping, iceberg_schema, map_table
from cutover.lake.watermark import read_watermark
from cutover.lake.writer import DataFileWriter, declared_sort_order_id, file_schema
from cutover.source.changes import ChangeWindow, change_window, changes_query, next_watermark, resolve_cursor
from cutover.source.connection import connect
from cutover.source.delete_log import (
    LOG_SCHEMA,
    DeleteLogChoice,
    LoggedDeletes,
    choose_delete_log,
    prune_delete_log,
    read_deletes,
)
from cutover.source.extract import select_list, stream_batch
from cutover.source.introspect import SourceTable, introspect_table
from cutover.source.snapshot import SourceSnapshot, imported_snapshot
from cutover.source.watermark import Watermark
from cutover.sync.deletes import find_deleted, source_summary
from cutover.sync.report import TableSyncReport

if TYPE_CHECKING:
    import duckdb


CHANGES_BATCH_BYTES = 1024 * 1024
"""Arrow bytes per batch of changed rows: small, so the first batch (which starts the read of Iceberg's
keys) arrives early in the read and conversion keeps pace with PostgreSQL."""


@dataclass
class TableSync:
    """What the sync of one table needs; built by :func:`prepare_sync`."""

    source: SourceTable
    mappings: list[ColumnMapping]
    identifier: tuple[str, str]
    change: SchemaChange
    cursor: str | None
    lag_seconds: float
    previous: Watermark
    delete_log: DeleteLogChoice

    @property
    def iceberg_name(self) -> str:
        return ".".join(self.identifier)

    @property
    def mode(self) -> str:
        return f"cursor:{self.cursor}" if self.cursor else "xmin"

    @property
    def cursor_type(self) -> str | None:
        return self.source.column(self.cursor).base_type if self.cursor else None


@dataclass
class StagedSync:
    """Files written for one table's sync, not yet committed."""

    plan: TableSync
    schema: Schema
    """The (evolved) Iceberg schema the files were written with."""
    watermark: Watermark
    data_files: list[DataFile] = field(default_factory=list)
    delete_files: list[tuple[DataFile, str]] = field(default_factory=list)
    removed_files: list[DataFile] = field(default_factory=list)
    removed_delete_files: list[DataFile] = field(default_factory=list)
    """Delete files replaced by new ones (that hold their positions too), or of removed data files."""
    rows_upserted: int = 0
    rows_deleted: int = 0
    rows_replaced: int = 0
    keys_compared: int = 0
    """Source keys brought over to find the deletes (0 when the key-set summaries agreed)."""
    deletes_found_by: str = ""
    seconds: float = 0.0

    @property
    def empty(self) -> bool:
        """Nothing to commit: no file, no schema change, and no delete log to start recording."""
        return (
            not (self.data_files or self.delete_files or self.removed_files or self.removed_delete_files)
            and self.plan.change.empty
            and self.watermark.delete_log == self.plan.previous.delete_log
        )

    def discard(self, catalog: Catalog) -> None:
        """Delete the staged files (a refused or abandoned sync); best effort, they are referenced by nothing."""
        io = catalog.load_table(self.plan.identifier).io
        for data_file in [*self.data_files, *(f for f, _ in self.delete_files)]:
            with contextlib.suppress(OSError):
                io.delete(str(data_file.file_path))


def prepare_sync(
    conn: psycopg.Connection,
    catalog: Catalog,
    *,
    schema: str,
    table: str,
    namespace: str,
    options: TableOptions,
    default_cursor: str | None,
) -> TableSync:
    """Introspect, map types, plan the schema evolution, read the watermark and choose how deletes are
    found (creating the table's delete log when the source allows it); nothing is written to Iceberg.

    Run it before the sync's snapshot is exported: a delete log created after it would miss the deletes
    committed in between.

    Raises:
        ConfigError: the Iceberg table is missing, not loaded by cutover, or its load is incomplete;
            a bad cursor column.
        UnsupportedTypeError, SchemaEvolutionError: the source changed in a way Iceberg cannot follow.
        SourceSchemaError: the table has no primary key (the sync merges by key).
    """
    source = introspect_table(conn, schema, table)
    if not source.primary_key:
        raise SourceSchemaError(
            source.qualified_name, "has no primary key; the sync merges changes by key (reload it with migrate)"
        )
    mappings = map_table(source, options)
    identifier = (namespace, table)
    try:
        iceberg = catalog.load_table(identifier)
    except NoSuchTableError:
        raise ConfigError(f"Iceberg table {'.'.join(identifier)} does not exist; run `cutover migrate` first") from None
    checkpoint = read_checkpoint(iceberg)
    if checkpoint is None:
        raise ConfigError(
            f"Iceberg table {'.'.join(identifier)} was not created by a cutover load (it has no checkpoint); "
            "load it with `cutover migrate --mode replace`"
        )
    if not (checkpoint.complete or not checkpoint.pending):
        raise ConfigError(
            f"the full load of {'.'.join(identifier)} is not complete; finish it with `cutover migrate --mode resume`"
        )
    previous = read_watermark(iceberg)
    if previous is None:
        raise ConfigError(
            f"{'.'.join(identifier)} has no sync watermark; reload it with `cutover migrate --mode replace`"
        )
    change = plan_evolution(
        source.qualified_name, iceberg_schema(source, mappings), iceberg.schema(), options.sync.dropped_columns
    )
    wanted = options.sync.cursor
    if wanted is None and not options.sync.xmin_only and default_cursor in {c.name for c in source.columns}:
        wanted = default_cursor
    cursor = resolve_cursor(source, wanted)
    if options.sync.deletes == "key-sets":
        deletes = DeleteLogChoice(None, False, "key sets (configured)")
    else:
        deletes = choose_delete_log(conn, source, namespace, previous.delete_log)
    return TableSync(source, mappings, identifier, change, cursor, options.sync.cursor_lag_seconds, previous, deletes)


def stage_sync(dsn: str, catalog: Catalog, plan: TableSync, snapshot: SourceSnapshot) -> StagedSync:
    """Read the changes inside ``snapshot``, find the deletes, write data and position-delete files.

    Idempotent: file names are unique per attempt and nothing references them before the commit.

    Raises:
        SourceConnectionError: the source connection failed (transient).
        UnsupportedValueError: a changed row holds a value Iceberg cannot store exactly.
    """
    started = time.perf_counter()
    table = catalog.load_table(plan.identifier)
    schema = _evolved_schema(table, plan.change)
    window = change_window(plan.previous, plan.cursor, plan.cursor_type, plan.lag_seconds)
    identity = KeyIdentity(plan.mappings, plan.source.primary_key)
    with imported_snapshot(dsn, snapshot.snapshot_id) as conn:
        rewrite = bool(plan.change.added) and _added_columns_hold_values(conn, plan, window, snapshot)
        watermark = next_watermark(conn, plan.source, window, plan.cursor_type, snapshot, plan.lag_seconds)
        staged = StagedSync(plan, schema, replace(watermark, delete_log=plan.delete_log.name))
        staged.deletes_found_by = plan.delete_log.reason
        sync_id = uuid.uuid4().hex[:12]
        duck = duck_connection() if identity.needs_duckdb else None
        # While the changed rows stream in, other threads read the delete log (or, without one, have
        # PostgreSQL summarize the whole key set) and read Iceberg's keys; after, one finishes the data
        # files while the position deletes are written.
        pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="cutover-sync")
        iceberg = _IcebergKeys(pool, table, plan, identity)
        from_log = not rewrite and plan.delete_log.trusted
        logged = pool.submit(_logged_deletes, dsn, plan, snapshot, identity, iceberg) if from_log else None
        summary = None
        if not from_log:  # a rewrite replaces every file; key sets compare them all
            iceberg.start()
            if not rewrite:
                summary = pool.submit(_source_summary, dsn, snapshot.snapshot_id, plan.source, identity)
        writer: DataFileWriter | None = None
        try:
            # A quiet night reads no Iceberg file: the keys are read once the log or a changed row needs them.
            changed, writer = _write_changed_rows(
                dsn, table, plan, schema, window, snapshot, identity, staged, sync_id, rewrite, duck, iceberg.start
            )
            closing = pool.submit(writer.close)
            deleted = _take_logged(logged.result(), changed, staged) if logged is not None else None
            files, file_ids = iceberg.result()
            if rewrite:  # a rewrite re-read every row: replace every file instead of deleting each row
                staged.removed_files = [f.data_file for f in files]
                staged.removed_delete_files = [d for f in files if f.replaceable_deletes for d in f.delete_files]
                staged.rows_replaced = sum(int(f.data_file.record_count) - len(f.deleted) for f in files)
            elif files:
                if deleted is None:  # key sets: no delete log yet, or the log saw a truncate
                    if summary is None:
                        summary = pool.submit(_source_summary, dsn, snapshot.snapshot_id, plan.source, identity)
                    deleted = _compare_key_sets(conn, dsn, plan, snapshot, identity, files, file_ids, changed,
                                                summary.result(), staged)  # fmt: skip
                staged.delete_files = _remove_keys(table, files, file_ids, changed, deleted, staged, sync_id)
            staged.data_files = closing.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # no file is still being written
            if writer is not None:
                writer.abort()
            staged.discard(catalog)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if duck is not None:
                duck.close()
    staged.seconds = time.perf_counter() - started
    return staged


def commit_sync(catalog: Catalog, staged: StagedSync, snapshot: SourceSnapshot) -> TableSyncReport:
    """Commit the staged files, the schema change and the watermark as one snapshot (or nothing).

    Raises:
        CommitConflictError: the table changed since staging (retry the table's sync).
    """
    plan = staged.plan
    report = _report(staged)
    if staged.empty:
        staged.discard(catalog)
        return report
    table = catalog.load_table(plan.identifier)
    transaction = table.transaction()
    if not plan.change.empty:
        with transaction.update_schema() as update:
            apply_evolution(update, plan.change)
    if transaction.table_metadata.schema() != staged.schema:
        staged.discard(catalog)
        raise CommitConflictError(f"{plan.iceberg_name}: the Iceberg schema changed while the sync was staged")
    current = transaction.table_metadata.current_snapshot()
    properties = {
        # The load's checkpoint travels with every commit, so expiring the load's snapshots loses nothing.
        **carried_state(transaction.table_metadata, current.snapshot_id if current else None),
        names.PROP_WATERMARK: staged.watermark.to_json(),
        names.PROP_SOURCE_LSN: snapshot.lsn,
        names.PROP_SOURCE_SNAPSHOT_TIME: snapshot.taken_at.isoformat(),
        names.PROP_SYNC_ROWS_UPSERTED: str(staged.rows_upserted),
        names.PROP_SYNC_ROWS_DELETED: str(staged.rows_deleted),
    }
    try:
        snapshot_id = commit_row_delta(
            transaction,
            data_files=staged.data_files,
            delete_files=staged.delete_files,
            removed_files=staged.removed_files,
            removed_delete_files=staged.removed_delete_files,
            properties=properties,
        )
    except CommitConflictError:
        staged.discard(catalog)
        raise
    report.status, report.snapshot_id = "synced", snapshot_id
    telemetry.instruments().rows_migrated.add(staged.rows_upserted, {"table": plan.iceberg_name, "mode": "sync"})
    return report


def _report(staged: StagedSync) -> TableSyncReport:
    plan = staged.plan
    return TableSyncReport(
        plan.source.schema,
        plan.source.name,
        plan.iceberg_name,
        status="unchanged",
        mode=plan.mode,
        rows_upserted=staged.rows_upserted,
        rows_deleted=staged.rows_deleted,
        rows_replaced=staged.rows_replaced,
        keys_compared=staged.keys_compared,
        deletes_found_by=staged.deletes_found_by,
        schema_changes=plan.change.describe(),
        watermark=staged.watermark.lower if plan.cursor else f"xmin {staged.watermark.xmin}",
        seconds=staged.seconds,
    )


def _evolved_schema(table: Table, change: SchemaChange) -> Schema:
    """The schema after ``change``, with the field ids the commit will assign (computed, not committed)."""
    if change.empty:
        return table.schema()
    transaction = table.transaction()
    with transaction.update_schema() as update:
        apply_evolution(update, change)
    return transaction.table_metadata.schema()


def _added_columns_hold_values(
    conn: psycopg.Connection, plan: TableSync, window: ChangeWindow, snapshot: SourceSnapshot
) -> bool:
    """Whether a new column already has values in rows the change window will not re-read.

    ``ALTER TABLE ... ADD COLUMN ... DEFAULT x`` fills every row without touching ``xmin`` or the cursor;
    those rows must be copied again, or Iceberg would hold NULL where the source holds x.
    """
    filled = sql.SQL(" or ").join(sql.SQL("{} is not null").format(sql.Identifier(f.name)) for f in plan.change.added)
    query = sql.SQL("select exists (select 1 from {t} where ({f}) and not ({w}))").format(
        t=sql.Identifier(plan.source.schema, plan.source.name), f=filled, w=window.predicate(snapshot)
    )
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def _write_changed_rows(
    dsn: str,
    table: Table,
    plan: TableSync,
    schema: Schema,
    window: ChangeWindow,
    snapshot: SourceSnapshot,
    identity: KeyIdentity,
    staged: StagedSync,
    sync_id: str,
    rewrite: bool,
    duck: duckdb.DuckDBPyConnection | None,
    on_first_rows: Callable[[], None],
) -> tuple[npt.NDArray[np.int64], DataFileWriter]:
    """Stream the changed rows into data files (calling ``on_first_rows`` when rows arrive); returns their
    sorted key ids and the writer, still to be closed (closing encodes the last row group, which can run
    alongside the position deletes)."""
    writer = DataFileWriter(
        table.io,
        f"{table.location()}/data",
        schema,
        table.properties,
        prefix=f"sync-{sync_id}",
        dictionary_columns=plan.source.low_cardinality_columns(),
        sort_order_id=declared_sort_order_id(table),
    )
    converter = _FileConverter(plan, schema, writer.target_schema)
    predicate = sql.SQL("true") if rewrite else window.predicate(snapshot)
    query = changes_query(plan.source, select_list(select_columns(plan.mappings)), predicate)
    ids: list[npt.NDArray[np.int64]] = []
    try:
        for record_batch in stream_batch(dsn, query.as_string(), snapshot.snapshot_id, CHANGES_BATCH_BYTES):
            if record_batch.num_rows:
                on_first_rows()
            converted, keys = converter.convert(record_batch)
            ids.append(identity.arrow(keys, duck))
            staged.rows_upserted += converted.num_rows
            writer.write(converted)
    except BaseException:
        writer.abort()
        raise
    return (np.unique(np.concatenate(ids)) if ids else np.empty(0, np.int64)), writer


class _FileConverter:
    """Source record batches → the table's file schema: converted columns, NULL for kept dropped ones."""

    def __init__(self, plan: TableSync, schema: Schema, target: pa.Schema) -> None:
        written = file_schema(schema)
        ids = {m.column.name: schema.find_field(m.column.name).field_id for m in plan.mappings}
        by_id = {written.find_field(i).field_id: written.find_field(i).name for i in ids.values()}
        self._target = target
        self._file_names = {name: by_id[field_id] for name, field_id in ids.items()}
        mapped = pa.schema([target.field(self._file_names[m.column.name]) for m in plan.mappings])
        self._converter = BatchConverter(plan.source.qualified_name, plan.mappings, mapped, plan.source.primary_key)
        self._key = list(plan.source.primary_key)

    def convert(self, batch: pa.RecordBatch) -> tuple[pa.Table, pa.RecordBatch]:
        converted = self._converter.convert(batch)
        arrays = [
            converted.column(f.name) if f.name in converted.column_names else pa.nulls(converted.num_rows, f.type)
            for f in self._target
        ]
        table = pa.Table.from_arrays(arrays, schema=self._target)
        keys = pa.RecordBatch.from_arrays(
            [converted.column(self._file_names[k]).combine_chunks() for k in self._key], names=self._key
        )
        return table, keys


def _source_summary(dsn: str, snapshot_id: str, source: SourceTable, identity: KeyIdentity) -> tuple[int, int]:
    with imported_snapshot(dsn, snapshot_id) as conn:
        return source_summary(conn, source, identity)


class _IcebergKeys:
    """Iceberg's live files and their key ids, read by a pool thread once :meth:`start` is called."""

    def __init__(self, pool: ThreadPoolExecutor, table: Table, plan: TableSync, identity: KeyIdentity) -> None:
        self._pool, self._args = pool, (table, plan, identity)
        self._future: Future[tuple[list[LiveFile], dict[str, npt.NDArray[np.int64]]]] | None = None
        self._lock = threading.Lock()  # started by the stream (main thread) or by the delete-log reader

    def start(self) -> None:
        with self._lock:
            if self._future is None:
                self._future = self._pool.submit(_iceberg_keys, *self._args)

    def result(self) -> tuple[list[LiveFile], dict[str, npt.NDArray[np.int64]]]:
        """The files and key ids; none when never started (nothing to merge)."""
        with self._lock:
            future = self._future
        return future.result() if future is not None else ([], {})


def _iceberg_keys(
    table: Table, plan: TableSync, identity: KeyIdentity
) -> tuple[list[LiveFile], dict[str, npt.NDArray[np.int64]]]:
    """The live data files and the key ids of every row in them (file order, deleted rows included)."""
    files = live_files(table)
    key_fields = file_key_columns(table, list(plan.source.primary_key))
    duck = duck_connection() if identity.needs_duckdb else None  # a connection of this thread's own
    try:
        return files, {f.path: identity.arrow(read_file_keys(table, f.data_file, key_fields), duck) for f in files}
    finally:
        if duck is not None:
            duck.close()


def _logged_deletes(
    dsn: str, plan: TableSync, snapshot: SourceSnapshot, identity: KeyIdentity, iceberg: _IcebergKeys
) -> LoggedDeletes:
    """Prune what the last commit applied, then read the delete log inside the sync's snapshot (and start
    reading Iceberg's keys when it holds deletes)."""
    name = plan.delete_log.name
    assert name is not None
    with connect(dsn) as conn:
        prune_delete_log(conn, name, plan.previous)
    with imported_snapshot(dsn, snapshot.snapshot_id) as conn:
        logged = read_deletes(conn, name, identity.pg("k"), plan.previous)
    if logged.key_ids or logged.truncated:
        iceberg.start()
    return logged


def _take_logged(
    logged: LoggedDeletes, changed: npt.NDArray[np.int64], staged: StagedSync
) -> npt.NDArray[np.int64] | None:
    """The deleted key ids from the log, less the ``changed`` ones (deleted, then inserted again); None
    when the log saw a truncate (compare key sets instead)."""
    if logged.truncated:
        name = f"{LOG_SCHEMA}.{staged.plan.delete_log.name}"
        staged.deletes_found_by = f"key sets (the table was truncated; the delete log {name} resumes after)"
        return None
    return np.setdiff1d(np.asarray(logged.key_ids, dtype=np.int64), changed)


def _compare_key_sets(
    conn: psycopg.Connection,
    dsn: str,
    plan: TableSync,
    snapshot: SourceSnapshot,
    identity: KeyIdentity,
    files: list[LiveFile],
    file_ids: dict[str, npt.NDArray[np.int64]],
    changed: npt.NDArray[np.int64],
    summary: tuple[int, int],
    staged: StagedSync,
) -> npt.NDArray[np.int64]:
    """The deleted key ids, by comparing the source's key set with Iceberg's plus the changed keys."""
    live_ids, found = [], []
    for live in files:
        ids = file_ids[live.path]
        alive = _alive(live, len(ids))
        live_ids.append(ids[alive])
        found.append(ids[alive & isin_sorted(ids, changed)])
    inserted = np.setdiff1d(changed, np.concatenate(found) if found else np.empty(0, np.int64))
    expected = np.concatenate([*live_ids, inserted])
    scan = find_deleted(conn, dsn, snapshot.snapshot_id, plan.source, identity, expected, summary)
    staged.keys_compared = scan.keys_fetched
    return scan.deleted


def _alive(live: LiveFile, rows: int) -> npt.NDArray[np.bool_]:
    alive = np.ones(rows, dtype=bool)
    alive[live.deleted[live.deleted < rows]] = False
    return alive


def _remove_keys(
    table: Table,
    files: list[LiveFile],
    file_ids: dict[str, npt.NDArray[np.int64]],
    changed: npt.NDArray[np.int64],
    deleted: npt.NDArray[np.int64],
    staged: StagedSync,
    sync_id: str,
) -> list[tuple[DataFile, str]]:
    """Position deletes for the ``deleted`` keys and for the old versions of the ``changed`` ones.

    A touched data file gets one new delete file that also holds the positions of the delete files it
    replaces (listed in ``staged.removed_delete_files``), so readers open one delete file per data file
    however many nights changed it. Membership tests are binary searches into the (small, sorted) changed
    and deleted key sets, so the Iceberg side never sorts its millions of keys.
    """
    properties = {**table.properties, "write.metadata.metrics.column.file_path": "full"}  # exact path bounds
    written: list[tuple[DataFile, str]] = []
    removed = np.union1d(changed, deleted)  # one binary search per Iceberg key, not two
    staged.rows_deleted = staged.rows_replaced = 0
    for live in files:
        ids = file_ids[live.path]
        hit = isin_sorted(ids, removed)
        if len(live.deleted):
            hit &= _alive(live, len(ids))
        positions = np.flatnonzero(hit)
        if not len(positions):
            continue
        gone = int(isin_sorted(ids[positions], deleted).sum()) if len(deleted) else 0
        staged.rows_deleted += gone
        staged.rows_replaced += len(positions) - gone
        if live.replaceable_deletes:
            positions = np.concatenate([positions, live.deleted[live.deleted < len(ids)]])  # disjoint: hit is alive
            staged.removed_delete_files += live.delete_files
        delete_file = write_position_deletes(
            table, live.path, positions.astype(np.int64), f"sync-{sync_id}", properties
        )
        written.append((delete_file, live.path))
    return written
