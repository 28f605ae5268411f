"""Parity of one table, PostgreSQL vs Iceberg, down to the differing keys.

Source side: inside PostgreSQL, one scan per level, only (bucket, count, hash sum) rows come back.
Iceberg side: a pyiceberg scan streamed into DuckDB, which computes the same row hash; the per-row
(key, hash) pairs stay in memory (8 bytes per row plus the key's text) so drilling down never rescans
Iceberg.

Buckets: with an integer leading primary-key column, equal-width ranges of it; ranges that differ are
split again until a few thousand rows remain, then (key, hash) rows of just those ranges are compared.
Otherwise (no primary key, or another key type) buckets are the low bits of the row hash and one more
filtered scan lists the rows of the differing buckets; without a primary key only the multiset of row
hashes can be compared, so changed rows show up as one missing plus one extra row.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from cutover.errors import SourceSchemaError
from cutover.lake.types import ColumnMapping
from cutover.source.connection import connect
from cutover.source.introspect import SourceTable
from cutover.validation.hashing import (
    HASH_MODULUS,
    PG_SESSION_SETTINGS,
    ArrowPrep,
    duck_column_text,
    duck_row_hash,
    pg_column_value,
    pg_row_hash,
)
from cutover.validation.report import ColumnDiff, ColumnStats, KeyDiff

if TYPE_CHECKING:
    from pyiceberg.table import Table

INTEGER_KEY_TYPES = frozenset({"int2", "int4", "int8"})
_STAT_SUM_TYPES = frozenset({"int2", "int4", "int8", "numeric", "money"})
_STAT_MINMAX_TYPES = frozenset({"int2", "int4", "int8", "numeric", "date", "timestamp", "timestamptz"})


@dataclass(frozen=True)
class ParityOptions:
    """Knobs of the comparison; the defaults suit tables from a few rows to hundreds of millions."""

    rows_per_bucket: int = 20_000
    """Target rows per first-level bucket (the number of buckets is rows / this, at least 1)."""
    leaf_rows: int = 50_000
    """Differing ranges holding at most this many rows are compared row by row."""
    split: int = 64
    """Sub-ranges per differing range at each drill-down level."""
    max_differences: int = 100
    """Keys listed per kind (missing, extra, changed); totals are always exact."""
    column_stats: bool = True


@dataclass
class ParityResult:
    source_rows: int = 0
    iceberg_rows: int = 0
    missing_total: int = 0
    extra_total: int = 0
    changed_total: int = 0
    differences: list[KeyDiff] = field(default_factory=list)
    columns: list[ColumnStats] = field(default_factory=list)
    buckets: int = 0

    @property
    def matching_rows(self) -> int:
        return max(self.source_rows - self.missing_total - self.changed_total, 0)


@dataclass
class _IcebergSide:
    """Per-row key texts and hashes of the Iceberg table, sorted by the integer key when there is one."""

    keys: list[np.ndarray]
    """One array of canonical key texts per key column (object arrays)."""
    int_key: np.ndarray | None
    hashes: np.ndarray
    """uint64 row hashes."""
    stats: dict[str, _StatAcc]


@dataclass
class _StatAcc:
    nulls: int = 0
    minimum: Any = None
    maximum: Any = None
    total: Any = None

    def add(self, nulls: int, minimum: Any, maximum: Any, total: Any) -> None:
        self.nulls += nulls
        if minimum is not None:
            self.minimum = minimum if self.minimum is None else min(self.minimum, minimum)
        if maximum is not None:
            self.maximum = maximum if self.maximum is None else max(self.maximum, maximum)
        if total is not None:
            self.total = total if self.total is None else self.total + total


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral_value() else format(value.normalize(), "f")
    return str(value)


@contextmanager
def _open_source(dsn: str, snapshot_id: str | None) -> Iterator[psycopg.Connection]:
    with connect(dsn, autocommit=True) as conn:
        for name, value in PG_SESSION_SETTINGS:
            conn.execute(sql.SQL("set {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("begin isolation level repeatable read read only")
        if snapshot_id is not None:
            conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot_id)))
        try:
            yield conn
        finally:
            conn.execute("rollback")


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
        self.key = list(source.primary_key)
        self.key_mappings = [m for k in self.key for m in mappings if m.column.name == k]
        lead = self.key_mappings[0] if self.key_mappings else None
        self.int_key = lead is not None and not lead.is_array and lead.column.base_type in INTEGER_KEY_TYPES
        self.int_key_only = self.int_key and len(self.key) == 1
        """A single integer key: its text is str(value), so the Iceberg side keeps only the integers."""
        self.relation = sql.Identifier(source.schema, source.name)

    # --- entry point --------------------------------------------------------------------------------
    def run(self) -> ParityResult:
        """Compare; raises ValidationError when either side cannot be read."""
        ice_box: dict[str, _IcebergSide] = {}
        errors: list[BaseException] = []

        def read_iceberg() -> None:
            try:
                ice_box["side"] = self._iceberg_side()
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        worker = threading.Thread(target=read_iceberg, name="cutover-validate-iceberg")
        worker.start()
        try:
            with _open_source(self.dsn, self.snapshot_id) as conn:
                bounds = self._int_bounds(conn) if self.int_key else None
                buckets = max(1, -(-max(self.source.estimated_rows, 1) // self.options.rows_per_bucket))
                if bounds is None:
                    buckets = 1 << max(0, (buckets - 1).bit_length())
                source_buckets, source_stats = self._source_level0(conn, bounds, buckets)
                worker.join()
                if errors:
                    raise errors[0]
                ice = ice_box["side"]
                result = ParityResult(buckets=buckets)
                result.source_rows = sum(c for c, _ in source_buckets.values())
                result.iceberg_rows = len(ice.hashes)
                result.columns = self._column_stats(source_stats, ice.stats)
                if bounds is not None:
                    self._drill_ranges(conn, ice, bounds, buckets, source_buckets, result)
                else:
                    self._drill_hash_buckets(conn, ice, buckets, source_buckets, result)
                return result
        except psycopg.Error as exc:
            raise SourceSchemaError(self.source.qualified_name, f"validation query failed: {exc}") from exc
        finally:
            worker.join()

    # --- source side --------------------------------------------------------------------------------
    def _int_bounds(self, conn: psycopg.Connection) -> tuple[int, int] | None:
        lead = sql.Identifier(self.key[0])
        row = conn.execute(sql.SQL("select min({k}), max({k}) from {t}").format(k=lead, t=self.relation)).fetchone()
        if row is None or row[0] is None:
            return None
        low, high = int(row[0]), int(row[1])
        if high - low >= 1 << 62:  # differences would overflow bigint arithmetic; hash buckets instead
            return None
        return low, high + 1

    def _stat_columns(self) -> list[ColumnMapping]:
        return self.mappings if self.options.column_stats else []

    def _source_level0(
        self, conn: psycopg.Connection, bounds: tuple[int, int] | None, buckets: int
    ) -> tuple[dict[int, tuple[int, int]], dict[str, _StatAcc]]:
        hash_expr = pg_row_hash(self.mappings)
        stat_exprs: list[sql.Composable] = []
        stat_layout: list[tuple[str, bool, bool]] = []
        for m in self._stat_columns():
            value: sql.Composable = sql.Identifier(m.column.name)
            if not m.is_array and m.scalar.infinity_sentinels is not None:
                value = pg_column_value(m)
            minmax = not m.is_array and m.column.base_type in _STAT_MINMAX_TYPES
            total = not m.is_array and m.column.base_type in _STAT_SUM_TYPES
            stat_exprs.append(sql.SQL("count({})").format(value))
            if minmax:
                stat_exprs += [sql.SQL("min({})").format(value), sql.SQL("max({})").format(value)]
            if total:
                stat_exprs.append(sql.SQL("sum({}::numeric)").format(value))
            stat_layout.append((m.column.name, minmax, total))
        extra = sql.SQL("").join(sql.SQL(", ") + e for e in stat_exprs)
        if bounds is not None:
            low, high = bounds
            width = max(1, -(-(high - low) // buckets))
            bucket = sql.SQL("(({k}::bigint - {lo}) / {w})").format(
                k=sql.Identifier(self.key[0]), lo=sql.Literal(low), w=sql.Literal(width)
            )
            query = sql.SQL("select {b}, count(*), sum({h}){extra} from {t} group by 1").format(
                b=bucket, h=hash_expr, extra=extra, t=self.relation
            )
        else:
            query = sql.SQL(
                "select __cutover_h & {mask}, count(*), sum(__cutover_h){extra} from (select {h} as __cutover_h, * from {t} offset 0) as s group by 1"
            ).format(mask=sql.Literal(buckets - 1), h=hash_expr, extra=extra, t=self.relation)
        sums: dict[int, tuple[int, int]] = {}
        stats = {name: _StatAcc() for name, _, _ in stat_layout}
        for row in conn.execute(query):
            sums[int(row[0])] = (int(row[1]), int(row[2]) % HASH_MODULUS)
            position = 3
            for name, minmax, total in stat_layout:
                acc, count = stats[name], int(row[position])
                position += 1
                minimum = maximum = summed = None
                if minmax:
                    minimum, maximum = row[position], row[position + 1]
                    position += 2
                if total:
                    summed = row[position]
                    position += 1
                acc.add(int(row[1]) - count, minimum, maximum, summed)
        return sums, stats

    def _key_texts(self) -> sql.Composable:
        return sql.SQL(", ").join(_pg_text(pg_column_value(m)) for m in self.key_mappings)

    def _ice_key(self, ice: _IcebergSide, i: int) -> tuple[Any, ...]:
        if self.int_key_only:
            assert ice.int_key is not None
            return (str(int(ice.int_key[i])),)
        return tuple(k[i] for k in ice.keys)

    # --- Iceberg side -------------------------------------------------------------------------------
    def _iceberg_side(self) -> _IcebergSide:
        import duckdb

        scan = self.iceberg.scan()
        reader = scan.to_arrow_batch_reader()
        prep = ArrowPrep.for_mappings(self.mappings)
        stats = {m.column.name: _StatAcc() for m in self._stat_columns()}
        stat_types = {m.column.name: m.column.base_type for m in self._stat_columns() if not m.is_array}

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                for name, acc in stats.items():
                    _arrow_stats(batch.column(name), stat_types.get(name), acc)
                yield prep.batch(batch)

        schema = prep.schema(reader.schema)
        stream = pa.RecordBatchReader.from_batches(schema, batches())
        key_exprs = [duck_column_text(m, schema.field(m.column.name).type) for m in self.key_mappings]
        if self.int_key_only:
            key_exprs = []
        select = [f"{e} AS k{i}" for i, e in enumerate(key_exprs)]
        if self.int_key:
            select.append(f"{_quote(self.key[0])}::BIGINT AS ik")
        select.append(f"{duck_row_hash(self.mappings, schema)} AS h")
        order = " ORDER BY ik" if self.int_key else ""
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register("iceberg_rows", stream)
            query = f"SELECT {', '.join(select)} FROM iceberg_rows{order}"  # noqa: S608 - identifiers quoted by _quote
            table = con.sql(query).to_arrow_table()
        finally:
            con.close()
        keys = [table.column(f"k{i}").to_numpy(zero_copy_only=False) for i in range(len(key_exprs))]
        int_key = table.column("ik").to_numpy() if self.int_key else None
        hashes = table.column("h").to_numpy().astype(np.uint64, copy=False)
        return _IcebergSide(keys=keys, int_key=int_key, hashes=hashes, stats=stats)

    # --- drill-down with integer key ranges -----------------------------------------------------------
    def _drill_ranges(
        self,
        conn: psycopg.Connection,
        ice: _IcebergSide,
        bounds: tuple[int, int],
        buckets: int,
        source_buckets: dict[int, tuple[int, int]],
        result: ParityResult,
    ) -> None:
        assert ice.int_key is not None
        low, high = bounds
        width = max(1, -(-(high - low) // buckets))
        ik = ice.int_key
        # Iceberg rows outside the source's key span are extra by definition: give them their own ranges.
        ranges: list[tuple[int, int]] = []
        edges = [min(low + i * width, high) for i in range(buckets)] + [high]
        ice_counts, ice_sums = _range_sums(ik, ice.hashes, edges)
        for index in range(buckets):
            source = source_buckets.get(index, (0, 0))
            if source != (int(ice_counts[index]), int(ice_sums[index])):
                ranges.append((edges[index], edges[index + 1]))
        int64 = np.iinfo(np.int64)
        if len(ik) and ik[0] < low:
            ranges.insert(0, (int(int64.min), low))
        if len(ik) and ik[-1] >= high:
            ranges.append((high, int(int64.max)))
        while ranges:
            source_rows = self._source_range_rows(conn, ranges)
            ice_rows = sum(int(np.searchsorted(ik, hi) - np.searchsorted(ik, lo)) for lo, hi in ranges)
            if max(source_rows, ice_rows) <= self.options.leaf_rows or all(hi - lo <= 1 for lo, hi in ranges):
                break
            ranges = self._split_ranges(conn, ice, ranges)
        if ranges:
            self._compare_rows(conn, ice, ranges, result)

    def _range_filter(self, ranges: list[tuple[int, int]]) -> sql.Composable:
        k = sql.Identifier(self.key[0])
        return sql.SQL(" or ").join(
            sql.SQL("({k} >= {lo} and {k} < {hi})").format(k=k, lo=sql.Literal(lo), hi=sql.Literal(hi))
            for lo, hi in ranges
        )

    def _source_range_rows(self, conn: psycopg.Connection, ranges: list[tuple[int, int]]) -> int:
        query = sql.SQL("select count(*) from {t} where {f}").format(t=self.relation, f=self._range_filter(ranges))
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def _split_ranges(
        self, conn: psycopg.Connection, ice: _IcebergSide, ranges: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        assert ice.int_key is not None
        edges: list[int] = []
        for lo, hi in ranges:
            step = max(1, -(-(hi - lo) // self.options.split))
            edges += list(range(lo, hi, step))
            edges.append(hi)
        edges = sorted(set(edges))
        query = sql.SQL(
            "select width_bucket({k}::bigint, {e}::bigint[]), count(*), sum({h}) from {t} where {f} group by 1"
        ).format(
            k=sql.Identifier(self.key[0]),
            e=sql.Literal(edges),
            h=pg_row_hash(self.mappings),
            t=self.relation,
            f=self._range_filter(ranges),
        )
        source = {int(b): (int(c), int(s) % HASH_MODULUS) for b, c, s in conn.execute(query)}
        ice_counts, ice_sums = _range_sums(ice.int_key, ice.hashes, edges)
        inside: set[int] = set()
        for lo, hi in ranges:
            inside.update(range(edges.index(lo), edges.index(hi)))
        split = []
        for index in sorted(inside):
            # width_bucket counts the edges <= key: the range [edges[i], edges[i+1]) is bucket i + 1.
            if source.get(index + 1, (0, 0)) != (int(ice_counts[index]), int(ice_sums[index])):
                split.append((edges[index], edges[index + 1]))
        return split

    def _compare_rows(
        self, conn: psycopg.Connection, ice: _IcebergSide, ranges: list[tuple[int, int]], result: ParityResult
    ) -> None:
        assert ice.int_key is not None
        query = sql.SQL("select {keys}, {h} from {t} where {f}").format(
            keys=self._key_texts(), h=pg_row_hash(self.mappings), t=self.relation, f=self._range_filter(ranges)
        )
        source = {tuple(row[:-1]): int(row[-1]) % HASH_MODULUS for row in conn.execute(query)}
        iceberg: dict[tuple[Any, ...], int] = {}
        for lo, hi in ranges:
            start, stop = int(np.searchsorted(ice.int_key, lo)), int(np.searchsorted(ice.int_key, hi))
            for i in range(start, stop):
                iceberg[self._ice_key(ice, i)] = int(ice.hashes[i])
        self._name_differences(conn, source, iceberg, result)

    # --- drill-down with hash buckets ---------------------------------------------------------------
    def _drill_hash_buckets(
        self,
        conn: psycopg.Connection,
        ice: _IcebergSide,
        buckets: int,
        source_buckets: dict[int, tuple[int, int]],
        result: ParityResult,
    ) -> None:
        mask = np.uint64(buckets - 1)
        ice_bucket = (ice.hashes & mask).astype(np.int64)
        ice_counts = np.bincount(ice_bucket, minlength=buckets)
        ice_sums = np.zeros(buckets, dtype=np.uint64)
        np.add.at(ice_sums, ice_bucket, ice.hashes)
        differing = [
            b for b in range(buckets) if source_buckets.get(b, (0, 0)) != (int(ice_counts[b]), int(ice_sums[b]))
        ]
        if not differing:
            return
        keys = self._key_texts() if self.key else sql.SQL("")
        query = sql.SQL(
            "select {keys}{sep}__cutover_h from (select {h} as __cutover_h, * from {t} offset 0) as s "
            "where __cutover_h & {mask} = any({b})"
        ).format(
            keys=keys,
            sep=sql.SQL(", ") if self.key else sql.SQL(""),
            h=pg_row_hash(self.mappings),
            t=self.relation,
            mask=sql.Literal(buckets - 1),
            b=sql.Literal(differing),
        )
        selected = np.isin(ice_bucket, np.array(differing, dtype=np.int64))
        if self.key:
            source = {tuple(row[:-1]): int(row[-1]) % HASH_MODULUS for row in conn.execute(query)}
            iceberg = {self._ice_key(ice, i): int(ice.hashes[i]) for i in np.flatnonzero(selected).tolist()}
            self._name_differences(conn, source, iceberg, result)
            return
        source_hashes = Counter(int(row[0]) % HASH_MODULUS for row in conn.execute(query))
        ice_hashes = Counter(int(h) for h in ice.hashes[selected].tolist())
        missing, extra = source_hashes - ice_hashes, ice_hashes - source_hashes
        result.missing_total, result.extra_total = sum(missing.values()), sum(extra.values())
        cap = self.options.max_differences
        for kind, counter in (("missing", missing), ("extra", extra)):
            for row_hash, count in list(counter.items())[:cap]:
                result.differences.append(
                    KeyDiff(kind, {"row_hash": f"{row_hash:016x}", "rows": str(count)})  # type: ignore[arg-type]
                )

    # --- naming keys and columns --------------------------------------------------------------------
    def _name_differences(
        self,
        conn: psycopg.Connection,
        source: dict[tuple[Any, ...], int],
        iceberg: dict[tuple[Any, ...], int],
        result: ParityResult,
    ) -> None:
        missing = sorted(k for k in source if k not in iceberg)
        extra = sorted(k for k in iceberg if k not in source)
        changed = sorted(k for k in source if k in iceberg and source[k] != iceberg[k])
        result.missing_total, result.extra_total, result.changed_total = len(missing), len(extra), len(changed)
        cap = self.options.max_differences
        details = self._column_differences(conn, changed[:cap]) if changed else {}
        for kind, keys in (("missing", missing), ("extra", extra), ("changed", changed)):
            for key in keys[:cap]:
                result.differences.append(
                    KeyDiff(kind, dict(zip(self.key, key, strict=True)), details.get(key, []))  # type: ignore[arg-type]
                )

    def _column_differences(
        self, conn: psycopg.Connection, keys: list[tuple[Any, ...]]
    ) -> dict[tuple[Any, ...], list[ColumnDiff]]:
        """Both sides' canonical text of every column of ``keys``, compared column by column."""
        import duckdb
        from pyiceberg.expressions import In

        columns = sql.SQL(", ").join(_pg_text(pg_column_value(m)) for m in self.mappings)
        lead_texts = sorted({k[0] for k in keys})
        query = sql.SQL("select {keys}, {cols} from {t} where {lead} = any({v})").format(
            keys=self._key_texts(),
            cols=columns,
            t=self.relation,
            lead=_pg_text(pg_column_value(self.key_mappings[0])),
            v=sql.Literal(lead_texts),
        )
        width = len(self.key)
        wanted = set(keys)
        source = {tuple(r[:width]): r[width:] for r in conn.execute(query) if tuple(r[:width]) in wanted}
        row_filter: Any = None
        if self.int_key:
            row_filter = In(self.key[0], {int(v) for v in lead_texts})  # type: ignore[call-arg, arg-type]
        scan = self.iceberg.scan(row_filter=row_filter) if row_filter is not None else self.iceberg.scan()
        prep = ArrowPrep.for_mappings(self.mappings)
        data = scan.to_arrow()
        batch_table = pa.Table.from_batches([prep.batch(b) for b in data.to_batches()], schema=prep.schema(data.schema))
        key_exprs = [duck_column_text(m, batch_table.schema.field(m.column.name).type) for m in self.key_mappings]
        col_exprs = [duck_column_text(m, batch_table.schema.field(m.column.name).type) for m in self.mappings]
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.register("changed_rows", batch_table)
            duck_query = f"SELECT {', '.join(key_exprs + col_exprs)} FROM changed_rows"  # noqa: S608 - identifiers quoted
            rows = con.execute(duck_query).fetchall()
        finally:
            con.close()
        iceberg = {tuple(r[:width]): r[width:] for r in rows if tuple(r[:width]) in wanted}
        out: dict[tuple[Any, ...], list[ColumnDiff]] = {}
        for key in keys:
            left, right = source.get(key), iceberg.get(key)
            if left is None or right is None:
                continue
            out[key] = [
                ColumnDiff(m.column.name, a, b) for m, a, b in zip(self.mappings, left, right, strict=True) if a != b
            ]
        return out

    def _column_stats(self, source: dict[str, _StatAcc], iceberg: dict[str, _StatAcc]) -> list[ColumnStats]:
        return [
            ColumnStats(
                column=name,
                source_nulls=acc.nulls,
                iceberg_nulls=iceberg[name].nulls,
                source_min=_text(acc.minimum),
                iceberg_min=_text(iceberg[name].minimum),
                source_max=_text(acc.maximum),
                iceberg_max=_text(iceberg[name].maximum),
                source_sum=_text(acc.total),
                iceberg_sum=_text(iceberg[name].total),
            )
            for name, acc in source.items()
        ]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _range_sums(keys: np.ndarray, hashes: np.ndarray, edges: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Row counts and wrapping (mod 2**64) uint64 hash sums of sorted ``keys`` per [edges[i], edges[i+1])."""
    positions = np.searchsorted(keys, np.array(edges, dtype=np.int64))
    counts = np.diff(positions)
    sums = np.zeros(len(edges) - 1, dtype=np.uint64)
    for i in np.flatnonzero(counts).tolist():
        sums[i] = hashes[positions[i] : positions[i + 1]].sum(dtype=np.uint64)
    return counts, sums


def _pg_text(expr: sql.Composable) -> sql.Composable:
    """The output-function text of ``expr`` (``::text`` would strip char(n) padding and spell booleans out)."""
    return sql.SQL("case when ({e}) is null then null else concat({e}) end").format(e=expr)


def _arrow_stats(column: pa.Array | pa.ChunkedArray, base_type: str | None, acc: _StatAcc) -> None:
    minimum = maximum = total = None
    if base_type in _STAT_MINMAX_TYPES and len(column) > column.null_count and not pa.types.is_string(column.type):
        bounds = pc.min_max(column)
        minimum, maximum = bounds["min"].as_py(), bounds["max"].as_py()
    if base_type in _STAT_SUM_TYPES and len(column) > column.null_count and not pa.types.is_string(column.type):
        values = column if pa.types.is_decimal(column.type) else column.cast(pa.decimal128(38, 0))
        total = pc.sum(values).as_py()
    acc.add(column.null_count, minimum, maximum, total)
