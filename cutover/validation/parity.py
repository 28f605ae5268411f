"""Parity of one table, PostgreSQL vs Iceberg, down to the differing keys.

Source side: inside PostgreSQL, one parallel hash-aggregate scan; only (bucket, count, hash sum, column
aggregates) rows come back. Iceberg side, at the same time in a thread: a pyiceberg scan whose batches are
hashed in-process (:mod:`cutover.validation.rowhash`); per row only 8 bytes of row hash plus the key (an
int64, or an 8-byte key hash) stay in memory, so drilling down never rescans the whole table.

Buckets:

* a leading integer key: equal-width ranges of it; ranges that differ are split again (index range
  scans on the source) until few enough rows remain, then the rows of just those ranges are compared;
* any other primary key: the low bits of the key hash, so a changed row lands in the same bucket on both
  sides; rows of differing buckets are then compared by key hash;
* no primary key: the low bits of the first column's hash; only the multiset of row hashes in differing
  buckets can be compared, so a changed row shows up as one missing plus one extra row.

Key texts of extra rows and both sides' values of changed rows are fetched for the listed (capped) keys
only, by a filtered rescan.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from cutover.errors import SourceSchemaError
from cutover.lake.scan import FileStream, file_streams
from cutover.lake.types import ColumnMapping
from cutover.source.introspect import SourceTable
from cutover.source.snapshot import imported_snapshot
from cutover.validation.canonical import (
    PG_SESSION_SETTINGS,
    ArrowPrep,
    duck_column_text,
    pg_column_value,
    pg_output_text,
)
from cutover.validation.errors import IcebergSchemaMismatchError
from cutover.validation.report import ColumnDiff, ColumnStats, KeyDiff
from cutover.validation.rowhash import HASH_MODULUS, INTEGER_KEY_TYPES, RowHasher, bucket_sums, duck_connection

if TYPE_CHECKING:
    from pyiceberg.table import Table

_STAT_SUM_TYPES = frozenset({"int2", "int4", "int8", "numeric", "money"})
_STAT_MINMAX_TYPES = frozenset({"int2", "int4", "int8", "numeric", "date", "timestamp", "timestamptz"})

KeyId = int
"""How a row's key is identified while comparing: the integer key itself, or the 64-bit key hash."""


@dataclass(frozen=True)
class ParityOptions:
    """Knobs of the comparison; the defaults suit tables from a few rows to hundreds of millions."""

    rows_per_bucket: int = 2_000
    """Target rows per first-level bucket: small enough that a few scattered differences leave most
    buckets equal, so the drill-down rehashes few rows..."""
    max_buckets: int = 512
    """...but at most this many: each bucket is a group of the source aggregate with every column's
    statistics, and thousands of groups made the no-difference scan 40 % slower at 5 M rows here."""
    leaf_rows: int = 50_000
    """Differing ranges holding at most this many rows are compared row by row."""
    split: int = 64
    """Sub-ranges per differing range at each drill-down level."""
    max_differences: int = 100
    """Keys listed per kind (missing, extra, changed); totals are always exact."""
    column_stats: bool = True
    iceberg_workers: int = 2
    """Iceberg data files read and hashed at a time (threads; numpy and Arrow release the GIL)."""


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
    """Per-row keys and hashes of the Iceberg table, sorted by the integer key when there is one."""

    int_key: np.ndarray | None
    """int64 leading key column (sorted)."""
    key_hashes: np.ndarray | None
    """uint64 key hashes (the first column's without a key), unless the key is one integer column."""
    hashes: np.ndarray
    """uint64 row hashes."""
    stats: dict[str, _StatAcc]


@dataclass
class _StatAcc:
    nulls: int = 0
    minimum: Any = None
    maximum: Any = None
    total: Any = None

    def merge(self, other: _StatAcc) -> None:
        self.add(other.nulls, other.minimum, other.maximum, other.total)

    def add(self, nulls: int, minimum: Any, maximum: Any, total: Any) -> None:
        self.nulls += nulls
        if minimum is not None:
            self.minimum = minimum if self.minimum is None else min(self.minimum, minimum)
        if maximum is not None:
            self.maximum = maximum if self.maximum is None else max(self.maximum, maximum)
        if total is not None:
            self.total = total if self.total is None else self.total + total


@dataclass
class _SourceRow:
    key: tuple[str | None, ...]
    row_hash: int


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):  # one spelling per number: 2001000, 1.5 (never 2.001E+6 or 1.50)
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    return str(value)


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
        # Rows are bucketed by their key; a table without one by its first column (a changed row then
        # usually stays in its bucket, which keeps the drill-down small).
        self.hasher = RowHasher(mappings, self.key or [mappings[0].column.name])
        self.key_mappings = [m for k in self.key for m in mappings if m.column.name == k]
        lead = self.key_mappings[0] if self.key_mappings else None
        self.int_key = lead is not None and not lead.is_array and lead.column.base_type in INTEGER_KEY_TYPES
        self.int_key_only = self.int_key and len(self.key) == 1
        """A single integer key: it identifies rows itself, no key hash is needed."""
        self.relation = sql.Identifier(source.schema, source.name)

    # --- entry point --------------------------------------------------------------------------------
    def run(self) -> ParityResult:
        """Compare; raises IcebergSchemaMismatchError or SourceSchemaError when a side cannot be read."""
        self._check_iceberg_columns()
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
            with imported_snapshot(self.dsn, self.snapshot_id, PG_SESSION_SETTINGS) as conn:
                bounds = self._int_bounds(conn) if self.int_key else None
                wanted = -(-max(self.source.estimated_rows, 1) // self.options.rows_per_bucket)
                buckets = max(1, min(self.options.max_buckets, wanted))
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
                elif self.key:
                    self._drill_key_buckets(conn, ice, buckets, source_buckets, result)
                else:
                    self._drill_row_buckets(conn, ice, buckets, source_buckets, result)
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
        alias = "__cutover_row"  # every column qualified: the bucket list's column must not shadow one
        hash_expr = self.hasher.pg_row_hash(alias)
        stat_exprs: list[sql.Composable] = []
        stat_layout: list[tuple[str, bool, bool]] = []
        for m in self._stat_columns():
            value: sql.Composable = sql.Identifier(alias, m.column.name)
            if not m.is_array and m.scalar.infinity_sentinels is not None:
                value = pg_column_value(m, alias)
            minmax = not m.is_array and m.column.base_type in _STAT_MINMAX_TYPES
            total = not m.is_array and m.column.base_type in _STAT_SUM_TYPES
            stat_exprs.append(sql.SQL("count({})").format(value))
            if minmax:
                stat_exprs += [sql.SQL("min({})").format(value), sql.SQL("max({})").format(value)]
            if total:  # sum(int8) accumulates in int128 and sum(int4) in int8: no per-row numeric casts
                cast = sql.SQL("::numeric" if m.column.base_type == "money" else "")
                stat_exprs.append(sql.SQL("sum({}{})").format(value, cast))
            stat_layout.append((m.column.name, minmax, total))
        extra = sql.SQL("").join(sql.SQL(", ") + e for e in stat_exprs)
        if bounds is not None:
            low, high = bounds
            width = max(1, -(-(high - low) // buckets))
            bucket = sql.SQL("(({k}::bigint - {lo}) / {w})").format(
                k=sql.Identifier(alias, self.key[0]), lo=sql.Literal(low), w=sql.Literal(width)
            )
        else:
            bucket = sql.SQL("({} & {})").format(self.hasher.pg_key_hash(alias), sql.Literal(buckets - 1))
        # Joined to the list of bucket numbers rather than grouped by the expression: the planner then knows
        # there are a few hundred groups (not one per row) and runs a parallel partial hash aggregate.
        query = sql.SQL(
            "select b.n, count(*), sum({h}){extra} from {t} as {a} "
            "join generate_series(0::bigint, {last}) as b(n) on {bucket} = b.n group by b.n"
        ).format(
            h=hash_expr,
            extra=extra,
            t=self.relation,
            a=sql.Identifier(alias),
            last=sql.Literal(buckets - 1),
            bucket=bucket,
        )
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
        return sql.SQL(", ").join(pg_output_text(pg_column_value(m)) for m in self.key_mappings)

    def _source_rows(self, conn: psycopg.Connection, where: sql.Composable) -> dict[KeyId, _SourceRow]:
        """Key texts and row hashes of the source rows matching ``where``, by key id."""
        ident = sql.Identifier(self.key[0]) if self.int_key_only else self.hasher.pg_key_hash()
        query = sql.SQL("select {id}, {h}, {keys} from {t} where {w}").format(
            id=ident, h=self.hasher.pg_row_hash(), keys=self._key_texts(), t=self.relation, w=where
        )
        wrap = 0 if self.int_key_only else HASH_MODULUS
        return {
            (int(r[0]) % wrap if wrap else int(r[0])): _SourceRow(tuple(r[2:]), int(r[1]) % HASH_MODULUS)
            for r in conn.execute(query)
        }

    # --- Iceberg side -------------------------------------------------------------------------------
    def _iceberg_side(self) -> _IcebergSide:
        """Hash every row of the Iceberg table, ``iceberg_workers`` data files at a time."""
        from concurrent.futures import ThreadPoolExecutor

        streams = file_streams(self.iceberg, tuple(m.column.name for m in self.mappings))  # not kept extras
        with ThreadPoolExecutor(self.options.iceberg_workers, thread_name_prefix="cutover-validate-file") as pool:
            parts = list(pool.map(self._hash_file, streams))
        stats = {m.column.name: _StatAcc() for m in self._stat_columns()}
        for part in parts:
            for name, acc in part.stats.items():
                stats[name].merge(acc)
        hashes = _concat([p.hashes for p in parts], np.uint64)
        key_hashes = _concat([p.key_hashes for p in parts if p.key_hashes is not None], np.uint64)
        int_key = _concat([p.int_key for p in parts if p.int_key is not None], np.int64)
        if len(int_key) > 1 and not bool(np.all(int_key[1:] >= int_key[:-1])):
            order = np.argsort(int_key, kind="stable")
            int_key, hashes = int_key[order], hashes[order]
            if not self.int_key_only:
                key_hashes = key_hashes[order]
        return _IcebergSide(
            int_key=int_key if self.int_key else None,
            key_hashes=None if self.int_key_only else key_hashes,
            hashes=hashes,
            stats=stats,
        )

    def _hash_file(self, stream: FileStream) -> _IcebergSide:
        """Row hashes, keys and column aggregates of one data file (runs in a worker thread)."""
        stats = {m.column.name: _StatAcc() for m in self._stat_columns()}
        stat_types = {m.column.name: m.column.base_type for m in self._stat_columns() if not m.is_array}
        duck = duck_connection() if self.hasher.needs_duckdb else None
        int_keys: list[np.ndarray] = []
        key_hashes: list[np.ndarray] = []
        row_hashes: list[np.ndarray] = []
        try:
            for batch in stream.open():
                for name, acc in stats.items():
                    _arrow_stats(batch.column(name), stat_types.get(name), acc)
                rows, keys = self.hasher.arrow_hashes(batch, duck, with_key=not self.int_key_only)
                row_hashes.append(rows)
                if keys is not None:
                    key_hashes.append(keys)
                if self.int_key:
                    int_keys.append(_int64(batch.column(self.key[0])))
        finally:
            if duck is not None:
                duck.close()
        return _IcebergSide(
            int_key=_concat(int_keys, np.int64) if self.int_key else None,
            key_hashes=None if self.int_key_only else _concat(key_hashes, np.uint64),
            hashes=_concat(row_hashes, np.uint64),
            stats=stats,
        )

    def _ice_ids(self, ice: _IcebergSide, selected: np.ndarray | slice) -> np.ndarray:
        if self.int_key_only:
            assert ice.int_key is not None
            return ice.int_key[selected]
        assert ice.key_hashes is not None
        return ice.key_hashes[selected]

    def _iceberg_rows(self, ids: set[KeyId], columns: list[ColumnMapping], leads: set[int] | None = None) -> pa.Table:
        """The Iceberg rows whose key id is in ``ids``; ``leads`` (values of a leading integer key column)
        are pushed down to the scan, so only files whose statistics admit them are read."""
        from pyiceberg.expressions import In

        row_filter: Any = None
        selected: tuple[str, ...] = tuple(dict.fromkeys([*self.key, *(m.column.name for m in columns)]))
        if self.int_key_only:
            leads = {int(i) for i in ids}
        if leads:
            row_filter = In(self.key[0], leads)  # type: ignore[call-arg, arg-type]
        duck = duck_connection() if self.hasher.key_needs_duckdb else None
        wanted = np.array(sorted(ids), dtype=np.int64 if self.int_key_only else np.uint64)
        parts: list[pa.Table] = []
        try:
            for stream in file_streams(self.iceberg, selected, row_filter):
                for batch in stream.open():
                    if self.int_key_only:
                        found = _int64(batch.column(self.key[0]))
                    else:
                        found = self.hasher.arrow_key_hashes(batch, duck)
                    keep = np.isin(found, wanted)
                    if keep.any():
                        parts.append(pa.Table.from_batches([batch.filter(pa.array(keep))]))
        finally:
            if duck is not None:
                duck.close()
        if not parts:
            return self.iceberg.scan(selected_fields=selected).projection().as_arrow().empty_table()
        return pa.concat_tables(parts, promote_options="permissive")

    def _iceberg_texts(self, rows: pa.Table, columns: list[ColumnMapping]) -> list[tuple[Any, ...]]:
        """(key ids, key texts..., column texts...) of Iceberg rows, canonical as on the source side."""
        prep = ArrowPrep.for_mappings(self.mappings)
        table = pa.Table.from_batches([prep.batch(b) for b in rows.to_batches()], schema=prep.schema(rows.schema))
        key_exprs = [duck_column_text(m, table.schema.field(m.column.name).type) for m in self.key_mappings]
        col_exprs = [duck_column_text(m, table.schema.field(m.column.name).type) for m in columns]
        ids = [int(i) for i in self._row_ids(rows)]
        if not ids:
            return []
        con = duck_connection()
        try:
            con.register("iceberg_rows", table)
            query = f"SELECT {', '.join(key_exprs + col_exprs)} FROM iceberg_rows"  # noqa: S608 - quoted
            texts = con.execute(query).fetchall()
        finally:
            con.close()
        return [(i, *t) for i, t in zip(ids, texts, strict=True)]

    def _row_ids(self, rows: pa.Table) -> np.ndarray:
        if self.int_key_only:
            return _int64(rows.column(self.key[0]))
        duck = duck_connection() if self.hasher.key_needs_duckdb else None
        try:
            return _concat([self.hasher.arrow_key_hashes(b, duck) for b in rows.to_batches()], np.uint64)
        finally:
            if duck is not None:
                duck.close()

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
            if source_buckets.get(index, (0, 0)) != (int(ice_counts[index]), int(ice_sums[index])):
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
        if not ranges:
            return
        source = self._source_rows(conn, self._range_filter(ranges))
        selected = np.zeros(len(ik), dtype=bool)
        for lo, hi in ranges:
            selected[int(np.searchsorted(ik, lo)) : int(np.searchsorted(ik, hi))] = True
        self._name_differences(conn, source, self._ice_ids(ice, selected), ice.hashes[selected], result)

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
            h=self.hasher.pg_row_hash(),
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

    # --- drill-down with hash buckets ---------------------------------------------------------------
    def _differing_buckets(
        self, hashes: np.ndarray, ice_bucket: np.ndarray, buckets: int, source_buckets: dict[int, tuple[int, int]]
    ) -> list[int]:
        ice_counts, ice_sums = bucket_sums(ice_bucket, hashes, buckets)
        return [b for b in range(buckets) if source_buckets.get(b, (0, 0)) != (int(ice_counts[b]), int(ice_sums[b]))]

    def _drill_key_buckets(
        self,
        conn: psycopg.Connection,
        ice: _IcebergSide,
        buckets: int,
        source_buckets: dict[int, tuple[int, int]],
        result: ParityResult,
    ) -> None:
        assert ice.key_hashes is not None
        ice_bucket = (ice.key_hashes & np.uint64(buckets - 1)).astype(np.int64)
        differing = self._differing_buckets(ice.hashes, ice_bucket, buckets, source_buckets)
        if not differing:
            return
        where = sql.SQL("{kh} & {mask} = any({b})").format(
            kh=self.hasher.pg_key_hash(), mask=sql.Literal(buckets - 1), b=sql.Literal(differing)
        )
        source = self._source_rows(conn, where)
        selected = np.isin(ice_bucket, np.array(differing, dtype=np.int64))
        self._name_differences(conn, source, ice.key_hashes[selected], ice.hashes[selected], result)

    def _drill_row_buckets(
        self,
        conn: psycopg.Connection,
        ice: _IcebergSide,
        buckets: int,
        source_buckets: dict[int, tuple[int, int]],
        result: ParityResult,
    ) -> None:
        assert ice.key_hashes is not None  # the first column's hashes
        ice_bucket = (ice.key_hashes & np.uint64(buckets - 1)).astype(np.int64)
        differing = self._differing_buckets(ice.hashes, ice_bucket, buckets, source_buckets)
        if not differing:
            return
        query = sql.SQL("select {h} from {t} where {kh} & {mask} = any({b})").format(
            h=self.hasher.pg_row_hash(),
            t=self.relation,
            kh=self.hasher.pg_key_hash(),
            mask=sql.Literal(buckets - 1),
            b=sql.Literal(differing),
        )
        selected = np.isin(ice_bucket, np.array(differing, dtype=np.int64))
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
        source: dict[KeyId, _SourceRow],
        ice_ids: np.ndarray,
        ice_hashes: np.ndarray,
        result: ParityResult,
    ) -> None:
        """Missing, extra (including a key held twice by Iceberg) and changed rows of the compared rows."""
        iceberg: dict[KeyId, int] = {}
        duplicates: list[KeyId] = []
        for key_id, row_hash in zip(ice_ids.tolist(), ice_hashes.tolist(), strict=True):
            if key_id in iceberg:
                duplicates.append(key_id)
            else:
                iceberg[key_id] = row_hash
        missing = sorted((k for k in source if k not in iceberg), key=lambda k: _sort_key(source[k].key))
        changed = sorted(
            (k for k, row in source.items() if k in iceberg and iceberg[k] != row.row_hash),
            key=lambda k: _sort_key(source[k].key),
        )
        extra = [k for k in iceberg if k not in source] + duplicates
        result.missing_total, result.extra_total, result.changed_total = len(missing), len(extra), len(changed)
        cap = self.options.max_differences
        extra_texts = self._extra_key_texts(set(extra[:cap])) if extra[:cap] else {}
        listed_extra = sorted(extra[:cap], key=lambda k: _sort_key(extra_texts.get(k, (str(k),))))
        details = self._column_differences(conn, {k: source[k].key for k in changed[:cap]}) if changed else {}
        for key_id in missing[:cap]:
            result.differences.append(KeyDiff("missing", self._key_dict(source[key_id].key)))
        for key_id in listed_extra:
            result.differences.append(
                KeyDiff("extra", self._key_dict(extra_texts.get(key_id, (None,) * len(self.key))))
            )
        for key_id in changed[:cap]:
            result.differences.append(KeyDiff("changed", self._key_dict(source[key_id].key), details.get(key_id, [])))

    def _key_dict(self, texts: tuple[str | None, ...]) -> dict[str, str | None]:
        return dict(zip(self.key, texts, strict=True))

    def _extra_key_texts(self, ids: set[KeyId]) -> dict[KeyId, tuple[str | None, ...]]:
        if self.int_key_only:
            return {i: (str(i),) for i in ids}
        rows = self._iceberg_rows(ids, [])
        return {r[0]: tuple(r[1:]) for r in self._iceberg_texts(rows, [])}

    def _column_differences(
        self, conn: psycopg.Connection, keys: dict[KeyId, tuple[str | None, ...]]
    ) -> dict[KeyId, list[ColumnDiff]]:
        """Both sides' canonical text of every column of the ``keys`` rows, compared column by column."""
        ident = sql.Identifier(self.key[0]) if self.int_key_only else self.hasher.pg_key_hash()
        ids = list(keys)
        signed = [i if self.int_key_only else (i - HASH_MODULUS if i >= 1 << 63 else i) for i in ids]
        where = sql.SQL("{id} = any({v})").format(id=ident, v=sql.Literal(signed))
        leads = None
        if self.int_key and not self.int_key_only:  # the leading integer narrows both scans to a few rows
            leads = {int(texts[0]) for texts in keys.values() if texts[0] is not None}
            where = sql.SQL("{lead} = any({l}) and {w}").format(
                lead=sql.Identifier(self.key[0]), l=sql.Literal(sorted(leads)), w=where
            )
        query = sql.SQL("select {id}, {cols} from {t} where {w}").format(
            id=ident,
            cols=sql.SQL(", ").join(pg_output_text(pg_column_value(m)) for m in self.mappings),
            t=self.relation,
            w=where,
        )
        wrap = HASH_MODULUS if not self.int_key_only else 0
        source = {(int(r[0]) % wrap if wrap else int(r[0])): r[1:] for r in conn.execute(query)}
        width = len(self.key)
        rows = self._iceberg_rows(set(ids), self.mappings, leads)
        iceberg = {r[0]: r[1 + width :] for r in self._iceberg_texts(rows, self.mappings)}
        out: dict[KeyId, list[ColumnDiff]] = {}
        for key_id in ids:
            left, right = source.get(key_id), iceberg.get(key_id)
            if left is None or right is None:
                continue
            out[key_id] = [
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


def _sort_key(texts: tuple[str | None, ...]) -> tuple[str, ...]:
    return tuple("" if t is None else t for t in texts)


def _int64(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _concat(parts: list[np.ndarray], dtype: type[np.generic]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _wrapping_sum(hashes: np.ndarray) -> int:
    return int(hashes.sum(dtype=np.uint64))


def _range_sums(keys: np.ndarray, hashes: np.ndarray, edges: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Row counts and wrapping (mod 2**64) uint64 hash sums of sorted ``keys`` per [edges[i], edges[i+1])."""
    positions = np.searchsorted(keys, np.array(edges, dtype=np.int64))
    counts = np.diff(positions)
    sums = np.zeros(len(edges) - 1, dtype=np.uint64)
    for i in np.flatnonzero(counts).tolist():
        sums[i] = _wrapping_sum(hashes[positions[i] : positions[i + 1]])
    return counts, sums


def _arrow_stats(column: pa.Array | pa.ChunkedArray, base_type: str | None, acc: _StatAcc) -> None:
    minimum = maximum = total = None
    if base_type in _STAT_MINMAX_TYPES and len(column) > column.null_count and not pa.types.is_string(column.type):
        bounds = pc.min_max(column)
        minimum, maximum = bounds["min"].as_py(), bounds["max"].as_py()
    if base_type in _STAT_SUM_TYPES and len(column) > column.null_count and not pa.types.is_string(column.type):
        values = column if pa.types.is_decimal(column.type) else column.cast(pa.decimal128(38, 0))
        total = pc.sum(values).as_py()
    acc.add(column.null_count, minimum, maximum, total)
