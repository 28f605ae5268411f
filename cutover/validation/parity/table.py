"""One parity run: both sides' first-level buckets at the same time, then the drill-down."""

from __future__ import annotations

import threading
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
from cutover.validation.parity.source import SourceQueries
from cutover.validation.parity.stats import column_stats

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
        iceberg: Table,
        options: ParityOptions | None = None,
    ) -> None:
        self.dsn = dsn
        self.snapshot_id = snapshot_id
        self.source = source
        self.mappings = mappings
        self.iceberg = iceberg
        self.options = options or ParityOptions()
        self.table = ParityTable.of(source, mappings, self.options.column_stats)

    def run(self) -> ParityResult:
        """Compare both sides.

        Raises:
            IcebergSchemaMismatchError: the Iceberg table lacks some source column.
            SourceSchemaError: a source query failed (the cause chained).
        """
        self._check_iceberg_columns()
        ice_box: dict[str, IcebergHashes] = {}
        errors: list[BaseException] = []

        def read_iceberg() -> None:
            try:
                ice_box["side"] = hash_iceberg(self.iceberg, self.table, self.options.iceberg_workers)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        worker = threading.Thread(target=read_iceberg, name="cutover-validate-iceberg")
        worker.start()
        try:
            with imported_snapshot(self.dsn, self.snapshot_id, PG_SESSION_SETTINGS) as conn:
                source = SourceQueries(conn, self.table)
                bounds = source.int_bounds() if self.table.int_key else None
                wanted = -(-max(self.source.estimated_rows, 1) // self.options.rows_per_bucket)
                buckets = max(1, min(self.options.max_buckets, wanted))
                if bounds is None:
                    buckets = 1 << max(0, (buckets - 1).bit_length())
                source_buckets, source_stats = source.level0(bounds, buckets)
                worker.join()
                if errors:
                    raise errors[0]
                ice = ice_box["side"]
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
        except psycopg.Error as exc:
            raise SourceSchemaError(self.source.qualified_name, f"validation query failed: {exc}") from exc
        finally:
            worker.join()

    def _check_iceberg_columns(self) -> None:
        present = {f.name for f in self.iceberg.schema().fields}
        missing = [m.column.name for m in self.mappings if m.column.name not in present]
        if missing:
            raise IcebergSchemaMismatchError(".".join(self.iceberg.name()), missing)
