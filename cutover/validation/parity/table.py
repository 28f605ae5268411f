"""One parity run: both sides' first-level buckets at the same time, then the drill-down."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psycopg

from cutover.errors import SourceSchemaError
from cutover.hashing import PG_SESSION_SETTINGS
from cutover.lake.types import ColumnMapping
from cutover.source.introspect import SourceTable
from cutover.source.snapshot import imported_snapshot
from cutover.validation.errors import IcebergSchemaMismatchError
from cutover.validation.parity.drill import Comparison, drill_key_buckets, drill_ranges, drill_row_buckets
from cutover.validation.parity.iceberg import IcebergHashes, IcebergRows, hash_iceberg
from cutover.validation.parity.model import ParityOptions, ParityResult, ParityTable
from cutover.validation.parity.source import BucketSums, SourceQueries
from cutover.validation.parity.spread import BucketLayout, FileSpread, Spread
from cutover.validation.parity.stats import StatAcc, column_stats

if TYPE_CHECKING:
    from pyiceberg.table import Table


class TableParity:
    """One comparison of one table; build, then call :meth:`run`.

    Note:
        The source is read inside ``snapshot_id`` (an exported snapshot kept open by the caller); the
        Iceberg side is the table's current snapshot. Writers to either side during the run make the
        comparison meaningless, which is why the snapshot is shared with the load.
    """

    def __init__(
        self,
        dsn: str,
        snapshot_id: str | None,
        source: SourceTable,
        mappings: list[ColumnMapping],
        iceberg: Table | Callable[[], Table],
        options: ParityOptions | None = None,
        spread: FileSpread | None = None,
    ) -> None:
        """``iceberg``: the table, or a function loading it; then it is loaded on the Iceberg side's thread
        while the source's aggregate already runs (opening the catalog and the table costs ~0.5 s of
        imports and metadata reads in a fresh process, which the source's scan would otherwise wait for)."""
        self.dsn = dsn
        self.snapshot_id = snapshot_id
        self.source = source
        self.mappings = mappings
        self._iceberg = iceberg
        self._iceberg_lock = threading.Lock()
        self.options = options or ParityOptions()
        self.spread = spread
        """Where the Iceberg side's files are hashed when not here (a cluster's workers)."""
        self.table = ParityTable.of(source, mappings, self.options.column_stats)

    @property
    def iceberg(self) -> Table:
        """The Iceberg table (loaded on first use when given as a function).

        Raises:
            IcebergSchemaMismatchError: the Iceberg table lacks some source column.
        """
        with self._iceberg_lock:
            if not callable(self._iceberg):
                return self._iceberg
            table = self._iceberg()
            _check_iceberg_columns(table, self.mappings)
            self._iceberg = table
            return table

    def run(self) -> ParityResult:
        """Compare both sides.

        Raises:
            IcebergSchemaMismatchError: the Iceberg table lacks some source column.
            SourceSchemaError: a source query failed (the cause chained).
            SnapshotGoneError: ``snapshot_id`` is no longer exported.
        """
        if not callable(self._iceberg):
            _check_iceberg_columns(self._iceberg, self.mappings)
        if self.spread is not None:
            return self._run_spread(self.spread)
        ice_box: dict[str, IcebergHashes] = {}
        errors: list[BaseException] = []
        source_query = _Cancellable()

        def read_iceberg() -> None:
            try:
                ice_box["side"] = hash_iceberg(self.iceberg, self.table, self.options.iceberg_workers)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)
                source_query.cancel()  # the source's aggregate would run to its end for nothing

        worker = threading.Thread(target=read_iceberg, name="cutover-validate-iceberg")
        worker.start()
        try:
            with imported_snapshot(self.dsn, self.snapshot_id, PG_SESSION_SETTINGS) as conn:
                source = SourceQueries(conn, self.table)
                try:
                    source_query.attach(conn)
                    layout = self._layout(source)
                    source_buckets, source_stats = source.level0(layout.bounds, layout.buckets)
                except (psycopg.errors.QueryCanceled, _IcebergSideFailed):
                    worker.join()
                    if errors:
                        raise errors[0] from None
                    raise
                finally:
                    source_query.detach()
                worker.join()
                if errors:
                    raise errors[0]
                return self._drill(source, layout, source_buckets, source_stats, ice_box["side"])
        except psycopg.Error as exc:
            raise SourceSchemaError(self.source.qualified_name, f"validation query failed: {exc}") from exc
        finally:
            worker.join()

    def _run_spread(self, spread: FileSpread) -> ParityResult:
        """The Iceberg side as bucket sums from the spread's workers while the source aggregates; the
        rows' hashes are read here only when some bucket differs (to name the differences)."""
        try:
            with (
                imported_snapshot(self.dsn, self.snapshot_id, PG_SESSION_SETTINGS) as conn,
                ThreadPoolExecutor(1, thread_name_prefix="cutover-validate-spread") as pool,
            ):
                source = SourceQueries(conn, self.table)
                layout = self._layout(source)
                iceberg_side = pool.submit(Spread(spread, self.iceberg, self.table).bucket, layout)
                source_buckets, source_stats = source.level0(layout.bounds, layout.buckets)
                part = iceberg_side.result()
                if part.matches(source_buckets):
                    result = ParityResult(buckets=layout.buckets)
                    result.source_rows = sum(c for c, _ in source_buckets.values())
                    result.iceberg_rows = part.rows
                    result.columns = column_stats(source_stats, part.stats)
                    return result
                ice = hash_iceberg(self.iceberg, self.table, self.options.iceberg_workers)
                return self._drill(source, layout, source_buckets, source_stats, ice)
        except psycopg.Error as exc:
            raise SourceSchemaError(self.source.qualified_name, f"validation query failed: {exc}") from exc

    def _layout(self, source: SourceQueries) -> BucketLayout:
        """The first-level buckets: key ranges of an integer key, else a power of two of key-hash bits."""
        bounds = source.int_bounds() if self.table.int_key else None
        wanted = -(-max(self.source.estimated_rows, 1) // self.options.rows_per_bucket)
        buckets = max(1, min(self.options.max_buckets, wanted))
        if bounds is None:
            buckets = 1 << max(0, (buckets - 1).bit_length())
        return BucketLayout(buckets, bounds)

    def _drill(
        self,
        source: SourceQueries,
        layout: BucketLayout,
        source_buckets: BucketSums,
        source_stats: dict[str, StatAcc],
        ice: IcebergHashes,
    ) -> ParityResult:
        buckets, bounds = layout.buckets, layout.bounds
        result = ParityResult(buckets=buckets)
        result.source_rows = sum(c for c, _ in source_buckets.values())
        result.iceberg_rows = len(ice.hashes)
        result.columns = column_stats(source_stats, ice.stats)
        cmp = Comparison(self.table, self.options, source, ice, IcebergRows(self.iceberg, self.table))
        if bounds is not None:
            drill_ranges(cmp, bounds, buckets, source_buckets, result)
        elif self.table.key:
            drill_key_buckets(cmp, buckets, source_buckets, result)
        else:
            drill_row_buckets(cmp, buckets, source_buckets, result)
        return result


def _check_iceberg_columns(iceberg: Table, mappings: list[ColumnMapping]) -> None:
    present = {f.name for f in iceberg.schema().fields}
    missing = [m.column.name for m in mappings if m.column.name not in present]
    if missing:
        raise IcebergSchemaMismatchError(".".join(iceberg.name()), missing)


class _IcebergSideFailed(Exception):
    """The Iceberg side failed before the source's first query was sent."""


class _Cancellable:
    """The source connection while its first-level queries run, so a failing Iceberg side (a missing or
    mismatched table, an unreachable warehouse) can cancel them instead of waiting for a whole-table
    aggregate. Best effort: a cancel that reaches PostgreSQL between two queries cancels nothing, and
    the caller still reports the Iceberg side's error once the query ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._cancelled = False

    def attach(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if self._cancelled:
                raise _IcebergSideFailed
            self._conn = conn

    def detach(self) -> None:
        with self._lock:
            self._conn = None

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._conn is not None:
                self._conn.cancel_safe(timeout=10.0)
