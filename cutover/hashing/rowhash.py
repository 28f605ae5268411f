"""One 64-bit hash per row, computed identically by PostgreSQL and over Iceberg's Arrow batches.

Why not a hash of the row's text: ``md5(row(...)::text)`` spends most of its time printing timestamps,
numerics and uuids, and costs more than PostgreSQL's own ``sum(hashtextextended(t::text, 0))`` scan.
Instead every column is hashed with the PostgreSQL extended hash function of its canonical value, each
column with a seed of its own, and the row hash is the XOR of the column hashes. PostgreSQL evaluates
its built-in functions; :mod:`cutover.hashing.lookup3` recomputes the same functions over Arrow.

The canonical value per column (what both sides hash):

* integers, boolean (as 0/1): ``hashint4extended`` / ``hashint8extended`` of the value;
* date: days since 2000-01-01; timestamp / timestamptz: microseconds since 2000-01-01 (UTC), so the same
  instant written in two zones is one value; time: microseconds since midnight;
* real / double: ``hashfloat8extended`` (±0 equal, every NaN equal: PostgreSQL's equality);
* uuid: its 16 bytes; numeric(p ≤ 18, s): ``hash_numeric_extended`` (1.5 and 1.50 are one value), with the
  sign in the seed because PostgreSQL's numeric hash ignores it;
* text, varchar, char(n) (padding kept), json, jsonb (its canonical text, so key order does not matter),
  enums and every type Iceberg holds as PostgreSQL's text form: ``hashtextextended`` of the text;
* wider numerics, bytea (hex), interval (``months:days:microseconds``) and arrays: the canonical text of
  :mod:`cutover.hashing.canonical`, hashed as text.

NULL hashes to a constant of the column's own, never to the hash of any value (so NULL and '' differ).
Sums of row hashes per key bucket are compared modulo 2**64.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from cutover.hashing import lookup3
from cutover.hashing.canonical import ArrowPrep, duck_column_text, pg_column_value, pg_output_text
from cutover.lake.types import ColumnMapping

if TYPE_CHECKING:
    import duckdb

HASH_MODULUS = 1 << 64
HashKind = Literal["int4", "int8", "bool", "date", "timestamp", "timestamptz", "time", "float", "uuid", "numeric"]
TextKind = Literal["string", "decimal_text", "canonical_text"]

_DAYS_1970_TO_2000 = 10_957
_MICROS_1970_TO_2000 = _DAYS_1970_TO_2000 * 86_400 * 1_000_000
_FIXED_KINDS: dict[str, HashKind] = {
    "int2": "int4",
    "int4": "int4",
    "int8": "int8",
    "oid": "int8",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "time": "time",
    "float4": "float",
    "float8": "float",
    "uuid": "uuid",
}
_CANONICAL_TEXT_TYPES = frozenset({"bytea", "interval"})
_CANONICAL_VALUE_KINDS = frozenset({"date", "timestamp", "timestamptz", "string", "decimal_text", "canonical_text"})
MAX_NUMERIC_HASH_PRECISION = 18
"""numeric(p, s) up to this precision is hashed from its unscaled int64; wider ones as text."""


def _splitmix64(value: int) -> int:
    """A well-mixed 64-bit constant from a small integer (seeds and NULL markers)."""
    z = (value * 0x9E3779B97F4A7C15 + 0x6A09E667F3BCC909) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _signed(value: int) -> int:
    """The bigint PostgreSQL uses for an unsigned 64-bit value."""
    return value - HASH_MODULUS if value >= 1 << 63 else value


@dataclass(frozen=True)
class ColumnHash:
    """How one column is hashed on both sides."""

    mapping: ColumnMapping
    position: int
    kind: HashKind | TextKind

    @classmethod
    def for_mapping(cls, mapping: ColumnMapping, position: int) -> ColumnHash:
        scalar = mapping.scalar
        if mapping.is_array or scalar.pg_type in _CANONICAL_TEXT_TYPES or scalar.conversion == "interval":
            return cls(mapping, position, "canonical_text")
        if scalar.conversion == "decimal":
            precision = getattr(scalar.iceberg_type, "precision", 38)
            exact = scalar.pg_type == "numeric" and not scalar.decimal_from_text
            kind: HashKind | TextKind = (
                "numeric" if exact and precision <= MAX_NUMERIC_HASH_PRECISION else "decimal_text"
            )
            return cls(mapping, position, kind)
        if scalar.conversion == "string" or scalar.conversion == "json" or scalar.pg_type not in _FIXED_KINDS:
            return cls(mapping, position, "string")
        return cls(mapping, position, _FIXED_KINDS[scalar.pg_type])

    @property
    def seed(self) -> int:
        return _splitmix64(2 * self.position + 1)

    @property
    def negative_seed(self) -> int:
        """The seed of negative numerics (PostgreSQL's numeric hash ignores the sign)."""
        return _splitmix64(2 * self.position + 2)

    @property
    def null_hash(self) -> int:
        return _splitmix64(self.position + 1_000_003)

    @property
    def name(self) -> str:
        return self.mapping.column.name

    # --- PostgreSQL -------------------------------------------------------------------------------
    def pg(self, qualifier: str | None = None) -> sql.Composable:
        """The column hash as a PostgreSQL bigint expression (NULL mapped to the column's marker)."""
        expression = self._pg_value_hash(qualifier)
        if self.mapping.column.not_null:
            return expression
        return sql.SQL("coalesce({}, {})").format(expression, sql.Literal(_signed(self.null_hash)))

    def _pg_value_hash(self, qualifier: str | None) -> sql.Composable:
        seed = sql.Literal(_signed(self.seed))
        ident = sql.Identifier(qualifier, self.name) if qualifier else sql.Identifier(self.name)
        # Typed hashes take the stored value; dates and timestamps after their ±infinity sentinels, and
        # the text kinds their canonical text.
        value = pg_column_value(self.mapping, qualifier) if self.kind in _CANONICAL_VALUE_KINDS else ident
        text_of = sql.SQL('hashtextextended(({}) collate "C", {})')
        match self.kind:
            case "int4":
                return sql.SQL("hashint4extended({}, {})").format(value, seed)
            case "int8":
                return sql.SQL("hashint8extended(({})::int8, {})").format(value, seed)
            case "bool":
                return sql.SQL("hashint4extended(({})::int4, {})").format(value, seed)
            case "date":
                return sql.SQL(
                    "case when isfinite({v}) then hashint4extended({v} - date '2000-01-01', {s}) "
                    "else hashtextextended({v}::text, {s}) end"
                ).format(v=value, s=seed)
            case "timestamp":
                return sql.SQL("timestamp_hash_extended({}, {})").format(value, seed)
            case "timestamptz":
                # timestamptz minus the epoch is an interval whose hash is hashint8extended(microseconds):
                # the cheapest way PostgreSQL offers to reach the instant's integer (no zone conversion).
                return sql.SQL(
                    "case when isfinite({v}) then "
                    "interval_hash_extended({v} - timestamptz '2000-01-01 00:00:00+00', {s}) "
                    "else hashtextextended({v}::text, {s}) end"
                ).format(v=value, s=seed)
            case "time":
                return sql.SQL("time_hash_extended({}, {})").format(value, seed)
            case "float":
                return sql.SQL("hashfloat8extended(({})::float8, {})").format(value, seed)
            case "uuid":
                return sql.SQL("uuid_hash_extended({}, {})").format(value, seed)
            case "numeric":
                return sql.SQL("hash_numeric_extended({v}, case when {v} < 0 then {n} else {s} end)").format(
                    v=ident, n=sql.Literal(_signed(self.negative_seed)), s=seed
                )
            case "string" if self.mapping.scalar.pg_type == "bpchar":
                # char(n)::text strips the padding Iceberg keeps; the output function does not.
                return text_of.format(sql.SQL("textin(bpcharout({}))").format(ident), seed)
            case "string" | "decimal_text":
                return text_of.format(sql.SQL("({})::text").format(value), seed)
            case "canonical_text":
                return text_of.format(pg_output_text(value), seed)
        raise AssertionError(self.kind)  # pragma: no cover

    # --- Arrow ------------------------------------------------------------------------------------
    def arrow(self, column: pa.Array, canonical_text: pa.Array | None = None) -> npt.NDArray[np.uint64]:
        """The column hashes of one Arrow array (``canonical_text``: DuckDB's text, for text kinds)."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if isinstance(column, pa.ExtensionArray):
            column = column.storage
        hashes = self._arrow_value_hash(column, canonical_text)
        values = canonical_text if self.kind == "canonical_text" and canonical_text is not None else column
        if values.null_count:
            hashes[values.is_null().to_numpy(zero_copy_only=False)] = np.uint64(self.null_hash)
        return hashes

    def _arrow_value_hash(self, column: pa.Array, canonical_text: pa.Array | None) -> npt.NDArray[np.uint64]:
        seed = self.seed
        match self.kind:
            case "int4":
                return lookup3.hash_uint32(_values(_as(column, pa.int32()), np.int32).view(np.uint32), seed)
            case "int8":  # files written before an int -> long widening still hold int32
                return lookup3.hash_int64(_values(_as(column, pa.int64()), np.int64), seed)
            case "bool":
                bits = pc.cast(pc.fill_null(column, False), pa.uint32())
                return lookup3.hash_uint32(bits.to_numpy(zero_copy_only=False), seed)
            case "date":
                days = _values(column, np.int32) - np.int32(_DAYS_1970_TO_2000)
                return lookup3.hash_uint32(days.view(np.uint32), seed)
            case "timestamp" | "timestamptz":
                return lookup3.hash_int64(_values(column, np.int64) - np.int64(_MICROS_1970_TO_2000), seed)
            case "time":
                return lookup3.hash_int64(_values(column, np.int64), seed)
            case "float":
                values = pc.fill_null(column, 0.0).to_numpy(zero_copy_only=False).astype(np.float64)
                return lookup3.hash_float64(values, seed)
            case "uuid":
                raw = np.frombuffer(column.buffers()[1], dtype=np.uint8).reshape(-1, 16)
                return lookup3.hash_fixed(raw[column.offset : column.offset + len(column)], seed)
            case "numeric":
                return self._arrow_numeric(column)
            case "string":
                return _hash_strings(column, seed)
            case "decimal_text":
                return _hash_strings(pc.cast(column, pa.large_string()), seed)
            case "canonical_text":
                assert canonical_text is not None
                return _hash_strings(canonical_text, seed)
        raise AssertionError(self.kind)  # pragma: no cover

    def _arrow_numeric(self, column: pa.Array) -> npt.NDArray[np.uint64]:
        decimal_type = column.type
        words = np.frombuffer(column.buffers()[1], dtype="<i8")
        unscaled = words[2 * column.offset : 2 * (column.offset + len(column)) : 2]  # the low 64 bits
        precision, scale = decimal_type.precision, decimal_type.scale
        out = lookup3.hash_numeric(unscaled, precision, scale, self.seed)
        negative = unscaled < 0
        if negative.any():
            out[negative] = lookup3.hash_numeric(unscaled[negative], precision, scale, self.negative_seed)
        return out


def _as(column: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    return column if column.type == arrow_type else pc.cast(column, arrow_type)


def _values(column: pa.Array, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """The physical values of a fixed-width array (nulls hold arbitrary values; callers mask them)."""
    raw = np.frombuffer(column.buffers()[1], dtype=dtype)
    return raw[column.offset : column.offset + len(column)]


def _hash_strings(column: pa.Array, seed: int) -> npt.NDArray[np.uint64]:
    if pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type):
        offset_type: type[np.generic] = np.int64
    elif pa.types.is_string(column.type) or pa.types.is_binary(column.type):
        offset_type = np.int32
    else:
        column, offset_type = pc.cast(column, pa.large_string()), np.int64
    offsets = np.frombuffer(column.buffers()[1], dtype=offset_type)[column.offset : column.offset + len(column) + 1]
    offsets = offsets.astype(np.int64, copy=False)
    data_buffer = column.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    return lookup3.hash_bytes(data, offsets[:-1], np.diff(offsets), seed)


class RowHasher:
    """The row hash (and key hash) of one table on both sides.

    Note:
        Column seeds derive from the column's position, so both sides must list the columns in the same
        order: the mapping order, which is also the Iceberg schema order.
    """

    def __init__(self, mappings: list[ColumnMapping], key: list[str] | tuple[str, ...] = ()) -> None:
        self.columns = [ColumnHash.for_mapping(m, i) for i, m in enumerate(mappings)]
        by_name = {c.name: c for c in self.columns}
        self.key_columns = [by_name[k] for k in key]
        self._text_columns = [c for c in self.columns if c.kind == "canonical_text"]
        self._prep = ArrowPrep.for_mappings([c.mapping for c in self._text_columns])

    @property
    def needs_duckdb(self) -> bool:
        """Whether some column hashes its DuckDB-built canonical text (arrays, interval, bytea)."""
        return bool(self._text_columns)

    @property
    def key_needs_duckdb(self) -> bool:
        return any(c.kind == "canonical_text" for c in self.key_columns)

    # --- PostgreSQL -------------------------------------------------------------------------------
    def pg_row_hash(self, qualifier: str | None = None) -> sql.Composable:
        return _xor(c.pg(qualifier) for c in self.columns)

    def pg_key_hash(self, qualifier: str | None = None) -> sql.Composable:
        return _xor(c.pg(qualifier) for c in self.key_columns)

    # --- Arrow ------------------------------------------------------------------------------------
    def arrow_column_hashes(
        self,
        batch: pa.RecordBatch,
        duck: duckdb.DuckDBPyConnection | None = None,
        columns: list[ColumnHash] | None = None,
    ) -> dict[str, npt.NDArray[np.uint64]]:
        """Each column's hashes over one batch; ``duck`` is needed when a column hashes as text."""
        chosen = self.columns if columns is None else columns
        texts = self._canonical_texts(batch, duck, only=chosen)
        return {c.name: c.arrow(batch.column(c.name), texts.get(c.name)) for c in chosen}

    def arrow_hashes(
        self, batch: pa.RecordBatch, duck: duckdb.DuckDBPyConnection | None = None, with_key: bool = False
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64] | None]:
        """(row hashes, key hashes or None) of one batch."""
        row = np.zeros(batch.num_rows, dtype=np.uint64)
        key = np.zeros(batch.num_rows, dtype=np.uint64) if with_key else None
        key_names = {c.name for c in self.key_columns}
        for name, hashes in self.arrow_column_hashes(batch, duck).items():
            np.bitwise_xor(row, hashes, out=row)
            if key is not None and name in key_names:
                np.bitwise_xor(key, hashes, out=key)
        return row, key

    def arrow_key_hashes(
        self, batch: pa.RecordBatch, duck: duckdb.DuckDBPyConnection | None = None
    ) -> npt.NDArray[np.uint64]:
        """Key hashes only (a rescan that looks for particular keys)."""
        key = np.zeros(batch.num_rows, dtype=np.uint64)
        for hashes in self.arrow_column_hashes(batch, duck, self.key_columns).values():
            np.bitwise_xor(key, hashes, out=key)
        return key

    def _canonical_texts(
        self,
        batch: pa.RecordBatch,
        duck: duckdb.DuckDBPyConnection | None,
        only: list[ColumnHash],
    ) -> dict[str, pa.Array]:
        columns = [c for c in self._text_columns if c in only]
        if not columns:
            return {}
        if duck is None:
            raise ValueError("hashing text-form columns needs a DuckDB connection")
        names = [c.name for c in columns]
        prepared = self._prep.batch(pa.RecordBatch.from_arrays([batch.column(n) for n in names], names=names))
        exprs = [
            f"{duck_column_text(c.mapping, prepared.schema.field(c.name).type)} AS t{i}" for i, c in enumerate(columns)
        ]
        duck.register("cutover_batch", prepared)
        try:
            result = duck.sql(f"SELECT {', '.join(exprs)} FROM cutover_batch").to_arrow_table()  # noqa: S608 - quoted
        finally:
            duck.unregister("cutover_batch")
        return {c.name: result.column(f"t{i}").combine_chunks() for i, c in enumerate(columns)}


def _xor(parts: Iterable[sql.Composable]) -> sql.Composable:
    items = list(parts)
    if not items:
        return sql.SQL("0::bigint")
    return sql.SQL("({})").format(sql.SQL(" # ").join(items))


def bucket_sums(
    buckets: npt.NDArray[np.int64], values: npt.NDArray[np.uint64], count: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """Row counts and sums modulo 2**64 of ``values`` per bucket number, exactly.

    np.bincount sums in float64; summing the four 16-bit slices of each value separately keeps every
    partial sum below 2**53 (for fewer than 2**37 rows per bucket), so nothing is rounded.
    """
    counts = np.bincount(buckets, minlength=count)
    sums = np.zeros(count, dtype=np.uint64)
    for shift in (0, 16, 32, 48):
        part = np.bincount(buckets, weights=(values >> np.uint64(shift)) & np.uint64(0xFFFF), minlength=count)
        sums += part.astype(np.uint64) << np.uint64(shift)
    return counts, sums
