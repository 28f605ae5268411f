"""The canonical text of a value, computed identically inside PostgreSQL and by DuckDB over Iceberg's Arrow.

Used where a value must be shown or compared as text: the columns of a changed row in the report, key
texts, and the row hash of columns without a typed hash (arrays, interval, bytea, wide numerics; see
:mod:`cutover.hashing.rowhash`). Per column, the canonical text is:

* integers, numeric(p,s) (always printed with its scale s: 1.5 and 1.50 are one value), boolean
  (``t``/``f``), text and every string-form type, json/jsonb (jsonb's canonical text), uuid, date, time:
  PostgreSQL's text output (session ``DateStyle=ISO``);
* timestamp / timestamptz: ISO text, timestamptz as the UTC instant (session ``TimeZone=UTC``), so the
  same instant written in two zones is one value;
* real / double: the IEEE bits in hex, NaN as ``NaN`` (text forms of floats differ between engines);
* bytea: lower-case hex; interval: ``months:days:microseconds`` (what Iceberg's struct holds);
* arrays: PostgreSQL's array output over the canonical element values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from cutover.lake.types import ColumnMapping

if TYPE_CHECKING:
    import duckdb

NAN_BITS = {8: 0x7FF8000000000000, 4: 0x7FC00000}
"""The NaN both sides are normalized to (PostgreSQL's own NaN)."""

PG_SESSION_SETTINGS = (("TimeZone", "UTC"), ("DateStyle", "ISO, YMD"), ("IntervalStyle", "postgres"), ("jit", "off"))
"""Session settings the PostgreSQL expressions rely on (JIT off: compiling the wide hash expression
cost more than it saved, ~0.5 s per query on 1 M rows here)."""

_FLOAT_BYTES = {"float4": 4, "float8": 8}
_TRANSFORMED_ELEMENTS = frozenset({"float4", "float8", "bytea", "interval"})
_ARRAY_SPECIAL = r'[",\\{} \t\n\r\x0b\x0c]'


def duck_connection() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for the text-form columns (UTC, like the PostgreSQL session)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _duck_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck_array_element(expr: str) -> str:
    """PostgreSQL array_out quoting of one element (NULL prints as NULL, a 'null' string is quoted)."""
    return (
        f"(CASE WHEN ({expr}) IS NULL THEN 'NULL' WHEN ({expr}) = '' OR upper({expr}) = 'NULL' "
        f"OR regexp_matches(({expr}), '{_ARRAY_SPECIAL}') "
        f"THEN '\"' || replace(replace(({expr}), '\\', '\\\\'), '\"', '\\\"') || '\"' ELSE ({expr}) END)"
    )


def _duck_scalar(pg_type: str, conversion: str, expr: str, arrow_type: pa.DataType) -> str:
    """DuckDB VARCHAR canonical text of one scalar value (NULL stays NULL)."""
    if pg_type in _FLOAT_BYTES:
        width = _FLOAT_BYTES[pg_type]
        return f"(CASE WHEN {expr} = {NAN_BITS[width]} THEN 'NaN' ELSE lpad(lower(hex({expr})), {width * 2}, '0') END)"
    if pg_type == "bool":
        return f"(CASE WHEN {expr} THEN 't' WHEN NOT {expr} THEN 'f' END)"
    if pg_type == "bytea":
        return f"lower(hex({expr}))"
    if conversion == "interval":
        return f"({expr}.months::VARCHAR || ':' || {expr}.days::VARCHAR || ':' || {expr}.microseconds::VARCHAR)"
    if pg_type == "uuid" and pa.types.is_fixed_size_binary(arrow_type):
        h = f"lower(hex({expr}))"
        return f"concat_ws('-', {h}[1:8], {h}[9:12], {h}[13:16], {h}[17:20], {h}[21:32])"
    return f"{expr}::VARCHAR"


def _pg_scalar(mapping: ColumnMapping, expr: sql.Composable, pg_type: str) -> sql.Composable:
    """PostgreSQL canonical value of one scalar (its output function gives the canonical text)."""
    scalar = mapping.scalar
    if pg_type in _FLOAT_BYTES:
        send = sql.SQL("float8send" if pg_type == "float8" else "float4send")
        return sql.SQL("case when {e} = 'NaN' then 'NaN' else encode({send}({e}), 'hex') end").format(e=expr, send=send)
    if pg_type == "bytea":
        return sql.SQL("encode({}, 'hex')").format(expr)
    if scalar.conversion == "interval":
        return sql.SQL(
            "(extract(year from {e}) * 12 + extract(month from {e}))::bigint || ':' || extract(day from {e})::bigint"
            " || ':' || (extract(hour from {e}) * 3600000000 + extract(minute from {e}) * 60000000"
            " + extract(microseconds from {e}))::bigint"
        ).format(e=expr)
    if scalar.decimal_from_text:
        decimal_type = scalar.iceberg_type
        scale = getattr(decimal_type, "scale", 0)
        return sql.SQL("{}::numeric(38, {})").format(expr, sql.Literal(scale))
    if scalar.select_cast is not None:
        return sql.SQL("{}::{}").format(expr, sql.SQL(scalar.select_cast))
    return expr


def _pg_infinity(mapping: ColumnMapping, ident: sql.Composable) -> sql.Composable:
    sentinels = mapping.scalar.infinity_sentinels
    if sentinels is None or mapping.is_array:
        return ident
    pg_type = sql.SQL(mapping.scalar.pg_type)  # a fixed built-in name from the mapping table
    return sql.SQL(
        "case when {c} = 'infinity' then {pos}::{t} when {c} = '-infinity' then {neg}::{t} else {c} end"
    ).format(c=ident, pos=sql.Literal(sentinels[1]), neg=sql.Literal(sentinels[0]), t=pg_type)


def pg_output_text(expr: sql.Composable) -> sql.Composable:
    """The output-function text of ``expr`` (``::text`` would strip char(n) padding and spell booleans out)."""
    return sql.SQL("case when ({e}) is null then null else concat({e}) end").format(e=expr)


def pg_column_value(mapping: ColumnMapping, qualifier: str | None = None) -> sql.Composable:
    """The canonical value of one column in PostgreSQL (text output of this expression is canonical)."""
    ident = sql.Identifier(qualifier, mapping.column.name) if qualifier else sql.Identifier(mapping.column.name)
    pg_type = mapping.scalar.pg_type
    if not mapping.is_array:
        return _pg_scalar(mapping, _pg_infinity(mapping, ident), pg_type)
    if pg_type in _TRANSFORMED_ELEMENTS or mapping.scalar.decimal_from_text:
        element = _pg_scalar(mapping, sql.Identifier("e"), pg_type)
        return sql.SQL(
            "case when {c} is null then null else coalesce("
            "(select array_agg({el} order by o) from unnest({c}) with ordinality as u(e, o))::text, '{{}}') end"
        ).format(c=ident, el=element)
    cast = mapping.select_cast
    return sql.SQL("{}::{}").format(ident, sql.SQL(cast)) if cast else ident


def duck_column_text(mapping: ColumnMapping, arrow_type: pa.DataType) -> str:
    """DuckDB VARCHAR canonical text of one column as PostgreSQL would print it (NULL stays NULL)."""
    expr = _duck_ident(mapping.column.name)
    scalar = mapping.scalar
    if not mapping.is_array:
        return _duck_scalar(scalar.pg_type, scalar.conversion, expr, arrow_type)
    element_type = arrow_type.value_type if pa.types.is_list(arrow_type) else arrow_type
    element = _duck_array_element(_duck_scalar(scalar.pg_type, scalar.conversion, "x", element_type))
    return f"(CASE WHEN {expr} IS NULL THEN NULL ELSE '{{' || array_to_string(list_transform({expr}, lambda x: {element}), ',') || '}}' END)"


@dataclass(frozen=True)
class ArrowPrep:
    """Arrow-side preparation DuckDB cannot do itself: floats reinterpreted as their bits, NaN normalized."""

    float_columns: dict[str, int]

    @classmethod
    def for_mappings(cls, mappings: list[ColumnMapping]) -> ArrowPrep:
        return cls(
            {m.column.name: _FLOAT_BYTES[m.scalar.pg_type] for m in mappings if m.scalar.pg_type in _FLOAT_BYTES}
        )

    def schema(self, schema: pa.Schema) -> pa.Schema:
        for name, width in self.float_columns.items():
            index = schema.get_field_index(name)
            field = schema.field(index)
            bits = pa.uint64() if width == 8 else pa.uint32()
            new_type = pa.list_(bits) if pa.types.is_list(field.type) else bits
            schema = schema.set(index, pa.field(name, new_type, nullable=field.nullable))
        return schema

    def batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if not self.float_columns:
            return batch
        columns = list(batch.columns)
        for name, width in self.float_columns.items():
            index = batch.schema.get_field_index(name)
            columns[index] = _float_bits(columns[index], width)
        return pa.RecordBatch.from_arrays(columns, schema=self.schema(batch.schema))


def _float_bits(array: pa.Array, width: int) -> pa.Array:
    if isinstance(array, pa.ListArray):
        return pa.ListArray.from_arrays(array.offsets, _float_bits(array.values, width), mask=array.is_null())
    float_type = pa.float64() if width == 8 else pa.float32()
    bits_type = pa.uint64() if width == 8 else pa.uint32()
    array = array.cast(float_type)
    normalized = pc.if_else(pc.is_nan(array), pa.scalar(float("nan"), float_type), array)
    bits = pc.fill_null(normalized, 0.0).view(bits_type)
    return pc.if_else(pc.is_null(array), pa.scalar(None, bits_type), bits) if array.null_count else bits
