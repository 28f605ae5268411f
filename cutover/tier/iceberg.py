"""The Iceberg backend: cached snapshot plans and footers, row-group pruning, late materialization.

A read resolves the snapshot (current, or ``as_of``), takes its cached plan (:mod:`cutover.tier.plan`),
prunes files by partition and column bounds with pyiceberg's evaluators, and reads the remaining files'
matching row groups through :class:`cutover.tier.reader.FileReader`. Table metadata is cached for
``metadata_ttl`` seconds, so a read costs no catalog round trip; a commit becomes visible within that
time. Plans (per snapshot), footers (per data file) and the decoded row groups small reads keep (within
``row_group_cache_bytes``) never go stale: all are immutable.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pyiceberg import expressions as _expressions
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.types import DateType, DecimalType, TimestampType, TimestamptzType, TimeType, UUIDType

from cutover.tier import query as q
from cutover.tier.errors import IcebergReadError, InvalidReadError, SnapshotNotFoundError
from cutover.tier.files import ROW_GROUP_CACHE_BYTES_DEFAULT, FooterCache, RowGroupCache
from cutover.tier.normalize import arrow_rows
from cutover.tier.plan import PlanCache
from cutover.tier.reader import LATE_MATERIALIZATION_ROW_GROUPS, FileReader
from cutover.tier.schema import EntityInfo

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType

METADATA_TTL_SECONDS_DEFAULT = 5.0
READ_THREADS = 2
"""Files read at once by one backend (the machine's cores; pyarrow decodes columns on its own pool too)."""

# pyiceberg 0.12 predicates take (term, literal) positionally at runtime; its pydantic typing says otherwise.
_E: Any = _expressions


class IcebergBackend:
    """Reads entities from their Iceberg tables in ``catalog``.

    ``late_row_groups``: above this many candidate row groups, filter and order columns are decoded
    first (see :mod:`cutover.tier.reader`). ``row_group_cache_bytes``: Arrow bytes of decoded row groups
    small reads keep (:class:`cutover.tier.files.RowGroupCache`; 0 keeps none).

    Every failure below the query itself (catalog unreachable, table dropped, metadata or data file
    missing, a corrupt file) becomes :class:`IcebergReadError` with the cause chained: that is the
    signal the router falls back on.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        metadata_ttl: float = METADATA_TTL_SECONDS_DEFAULT,
        late_row_groups: int = LATE_MATERIALIZATION_ROW_GROUPS,
        row_group_cache_bytes: int = ROW_GROUP_CACHE_BYTES_DEFAULT,
    ) -> None:
        self._catalog = catalog
        self._row_groups = RowGroupCache(row_group_cache_bytes) if row_group_cache_bytes > 0 else None
        self._ttl = metadata_ttl
        self._late_row_groups = late_row_groups
        self._tables: dict[str, tuple[float, Table]] = {}
        self._lock = threading.Lock()
        self._plans = PlanCache()
        self._footers: FooterCache | None = None
        self._pool = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="cutover-iceberg-read")

    def _reader(self, table: Table) -> FileReader:
        if self._footers is None:
            with self._lock:
                if self._footers is None:
                    self._footers = FooterCache(table.io, row_groups=self._row_groups)
        return FileReader(self._footers, self._pool, self._late_row_groups)

    def close(self) -> None:
        """Stop the read threads (reads after this run on the calling thread only)."""
        self._pool.shutdown(wait=True)

    def forget(self, entity: str | None = None) -> None:
        """Drop cached table metadata (one entity, or all)."""
        with self._lock:
            if entity is None:
                self._tables.clear()
                self._plans.clear()
                if self._footers is not None:
                    self._footers.clear()
            else:
                self._tables.pop(entity, None)

    def table(self, entity: str) -> Table:
        now = time.monotonic()
        cached = self._tables.get(entity)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        namespace, _, name = entity.partition(".")
        table = self._catalog.load_table((namespace, name))
        with self._lock:
            self._tables[entity] = (now, table)
        return table

    def read(self, info: EntityInfo, query: q.ReadQuery) -> list[dict[str, Any]]:
        """Run ``query`` on the entity's Iceberg table (at ``query.as_of`` when given).

        Raises:
            IcebergReadError: anything failed while reading Iceberg.
            SnapshotNotFoundError: ``as_of`` is before the first snapshot or names no snapshot.
        """
        try:
            table = self.table(info.entity)
            snapshot_id = self._snapshot_for(table, info, query.as_of)
            arrow = self._read_arrow(table, snapshot_id, info, query)
            rows = arrow_rows(arrow, info.kinds)
        except (SnapshotNotFoundError, InvalidReadError):
            raise
        except Exception as exc:  # the boundary: pyiceberg, pyarrow, fsspec and the catalog raise freely
            raise IcebergReadError(
                f"{info.entity}: Iceberg read failed: {type(exc).__name__}: {exc}", entity=info.entity
            ) from exc
        return rows

    def read_arrow(self, info: EntityInfo, query: q.ReadQuery) -> pa.Table:
        """:meth:`read` as an Arrow table in the Iceberg types (for scans and aggregates over many rows).

        Raises:
            IcebergReadError: anything failed while reading Iceberg.
        """
        try:
            table = self.table(info.entity)
            return self._read_arrow(table, self._snapshot_for(table, info, query.as_of), info, query)
        except (SnapshotNotFoundError, InvalidReadError):
            raise
        except Exception as exc:  # the boundary, as in read()
            raise IcebergReadError(f"{info.entity}: Iceberg read failed: {type(exc).__name__}: {exc}") from exc

    def _read_arrow(self, table: Table, snapshot_id: int | None, info: EntityInfo, query: q.ReadQuery) -> pa.Table:
        schema = table.schema()
        coerced = coerce_filters(query.filters, schema)
        plan = self._plans.plan(table, snapshot_id)
        tasks = plan.prune(_row_filter(coerced, schema))
        columns = query.columns if query.columns is not None else info.columns
        return self._reader(table).read(plan, tasks, schema, replace(query, filters=coerced), tuple(columns))

    @staticmethod
    def _snapshot_for(table: Table, info: EntityInfo, as_of: datetime | int | None) -> int | None:
        if as_of is None:
            return None
        retained = _retained_since(table)
        if isinstance(as_of, int):
            if table.snapshot_by_id(as_of) is None:
                raise SnapshotNotFoundError(f"{info.entity} has no snapshot {as_of}{retained}", entity=info.entity)
            return as_of
        found = table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000))
        if found is None:
            raise SnapshotNotFoundError(
                f"{info.entity} has no snapshot at or before {as_of.isoformat()}{retained}", entity=info.entity
            )
        return found.snapshot_id


def _retained_since(table: Table) -> str:
    """Where the retained history starts, for a time-travel error (older snapshots were expired, or the
    table did not exist yet)."""
    oldest = min((s.timestamp_ms for s in table.snapshots()), default=None)
    if oldest is None:
        return " (the table has no snapshot yet)"
    since = datetime.fromtimestamp(oldest / 1000, UTC).isoformat()
    return f" (its retained history starts at {since}; older snapshots expired or never existed)"


def _coerce(value: Any, field_type: IcebergType) -> Any:
    """JSON-ish filter values (strings, floats) → the literal type pyiceberg needs for the column."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(field_type, DecimalType) and isinstance(value, str | float | int | Decimal):
        exact = Decimal(str(value))
        scaled = exact.quantize(Decimal(1).scaleb(-field_type.scale))
        if scaled != exact:
            raise InvalidReadError(f"filter value {value} has more decimals than the column's {field_type}")
        return scaled
    if isinstance(value, str):
        if isinstance(field_type, TimestamptzType | TimestampType):
            return datetime.fromisoformat(value)
        if isinstance(field_type, DateType):
            return date.fromisoformat(value)
        if isinstance(field_type, TimeType):
            return dtime.fromisoformat(value)
        if isinstance(field_type, UUIDType):
            return uuid.UUID(value)
    return value


def coerce_filters(filters: tuple[q.Filter, ...], schema: Any) -> tuple[q.Filter, ...]:
    """The filters with their values as the columns' Python types (``"2024-01-01"`` → ``date``, ...).

    Raises:
        InvalidReadError: a decimal value with more digits than the column's scale.
    """
    coerced: list[q.Filter] = []
    for f in filters:
        field_type = schema.find_field(f.column).field_type
        if isinstance(f, q.Eq):
            coerced.append(q.Eq(f.column, _coerce(f.value, field_type)))
        elif isinstance(f, q.In):
            coerced.append(q.In(f.column, tuple(_coerce(v, field_type) for v in f.values)))
        else:
            low, high = _coerce(f.low, field_type), _coerce(f.high, field_type)
            coerced.append(q.Range(f.column, low, high, f.low_inclusive, f.high_inclusive))
    return tuple(coerced)


def _row_filter(filters: tuple[q.Filter, ...], schema: Any) -> BooleanExpression:
    """pyiceberg's row filter for (coerced) ``filters``: what prunes files by partition and bounds."""
    parts: list[BooleanExpression] = []
    for f in filters:
        if isinstance(f, q.Eq):
            parts.append(_E.IsNull(f.column) if f.value is None else _E.EqualTo(f.column, f.value))
        elif isinstance(f, q.In):
            values = {v for v in f.values if v is not None}
            parts.append(_E.In(f.column, values) if values else _E.AlwaysFalse())
        elif isinstance(f, q.Range):
            if f.low is not None:
                low = f.low
                parts.append(_E.GreaterThanOrEqual(f.column, low) if f.low_inclusive else _E.GreaterThan(f.column, low))
            if f.high is not None:
                high = f.high
                parts.append(_E.LessThanOrEqual(f.column, high) if f.high_inclusive else _E.LessThan(f.column, high))
    if not parts:
        return AlwaysTrue()
    result: BooleanExpression = parts[0] if len(parts) == 1 else _E.And(*parts)
    return result
