"""The Iceberg backend: a pyiceberg scan with a row filter and a projection, DuckDB for large top-N.

The row filter prunes data files by their column statistics before anything is read; ordering and
limit run on the Arrow result (pyarrow's sort for small results, DuckDB's top-N heap above
:data:`DUCKDB_THRESHOLD_ROWS`, where a full sort would dominate). Table metadata is cached for
``metadata_ttl`` seconds, so a read costs no catalog round trip; a commit becomes visible within that time.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg import expressions as _expressions
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.types import DateType, DecimalType, TimestampType, TimestamptzType, TimeType, UUIDType

from cutover.tier import query as q
from cutover.tier.errors import IcebergReadError, InvalidReadError, SnapshotNotFoundError
from cutover.tier.normalize import normalize_iceberg_rows
from cutover.tier.schema import EntityInfo

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType

METADATA_TTL_SECONDS_DEFAULT = 5.0
DUCKDB_THRESHOLD_ROWS = 50_000

# pyiceberg 0.12 predicates take (term, literal) positionally at runtime; its pydantic typing says otherwise.
_E: Any = _expressions


class IcebergBackend:
    """Reads entities from their Iceberg tables in ``catalog``.

    Every failure below the query itself (catalog unreachable, table dropped, metadata or data file
    missing, a corrupt file) becomes :class:`IcebergReadError` with the cause chained: that is the
    signal the router falls back on.
    """

    def __init__(self, catalog: Catalog, *, metadata_ttl: float = METADATA_TTL_SECONDS_DEFAULT) -> None:
        self._catalog = catalog
        self._ttl = metadata_ttl
        self._tables: dict[str, tuple[float, Table]] = {}
        self._lock = threading.Lock()

    def forget(self, entity: str | None = None) -> None:
        """Drop cached table metadata (one entity, or all)."""
        with self._lock:
            if entity is None:
                self._tables.clear()
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
            schema = table.schema()
            row_filter = _row_filter(query.filters, schema)
            columns = query.columns if query.columns is not None else info.columns
            needed = list(dict.fromkeys([*columns, *(k.column for k in query.order_by)]))
            scan_limit = query.limit if not query.order_by else None
            arrow = table.scan(
                row_filter=row_filter, selected_fields=tuple(needed), snapshot_id=snapshot_id, limit=scan_limit
            ).to_arrow()
            arrow = _order_and_limit(arrow, query)
            rows = arrow.select(list(columns)).to_pylist()
        except (SnapshotNotFoundError, InvalidReadError):
            raise
        except Exception as exc:  # the boundary: pyiceberg, pyarrow, fsspec and the catalog raise freely
            raise IcebergReadError(
                f"{info.entity}: Iceberg read failed: {type(exc).__name__}: {exc}", entity=info.entity
            ) from exc
        return normalize_iceberg_rows(rows, info.kinds)

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


def _row_filter(filters: tuple[q.Filter, ...], schema: Any) -> BooleanExpression:
    parts: list[BooleanExpression] = []
    for f in filters:
        field_type = schema.find_field(f.column).field_type
        if isinstance(f, q.Eq):
            parts.append(_E.IsNull(f.column) if f.value is None else _E.EqualTo(f.column, _coerce(f.value, field_type)))
        elif isinstance(f, q.In):
            values = {_coerce(v, field_type) for v in f.values if v is not None}
            parts.append(_E.In(f.column, values) if values else _E.AlwaysFalse())
        elif isinstance(f, q.Range):
            if f.low is not None:
                low = _coerce(f.low, field_type)
                parts.append(_E.GreaterThanOrEqual(f.column, low) if f.low_inclusive else _E.GreaterThan(f.column, low))
            if f.high is not None:
                high = _coerce(f.high, field_type)
                parts.append(_E.LessThanOrEqual(f.column, high) if f.high_inclusive else _E.LessThan(f.column, high))
    if not parts:
        return AlwaysTrue()
    result: BooleanExpression = parts[0] if len(parts) == 1 else _E.And(*parts)
    return result


def _order_and_limit(arrow: pa.Table, query: q.ReadQuery) -> pa.Table:
    if query.order_by:
        if arrow.num_rows > DUCKDB_THRESHOLD_ROWS and query.limit is not None:
            return _duckdb_top_n(arrow, query)
        keys = [(k.column, "descending" if k.descending else "ascending", "at_end") for k in query.order_by]
        arrow = arrow.sort_by(keys)
    if query.limit is not None and arrow.num_rows > query.limit:
        arrow = arrow.slice(0, query.limit)
    return arrow


def _duckdb_top_n(arrow: pa.Table, query: q.ReadQuery) -> pa.Table:
    import duckdb

    order = ", ".join(
        f'"{k.column.replace(chr(34), chr(34) * 2)}" {"desc" if k.descending else "asc"} nulls last'
        for k in query.order_by
    )
    with duckdb.connect() as con:
        con.register("scan_result", arrow)
        return con.execute(f"select * from scan_result order by {order} limit ?", [query.limit]).to_arrow_table()  # noqa: S608
