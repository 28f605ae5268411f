"""Turning what ADBC reads into exactly the Arrow the Iceberg schema asks for, checking every value.

ADBC hands some types over in forms Iceberg cannot store (numeric as strings, interval as
month-day-nano, jsonb as an extension type) and silently wraps ±infinity dates and timestamps into
garbage. This module converts each column to the file schema's Arrow type and refuses any value that
would not survive exactly, naming the table, column, type and key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from pyiceberg.io.pyarrow import PYARROW_PARQUET_FIELD_ID_KEY
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from cutover.errors import UnsupportedValueError
from cutover.lake.types import ColumnMapping, ScalarMapping
from cutover.source.extract import CHECK_COLUMN_PREFIX, SelectColumn

# The earliest instant PostgreSQL can store (4714-11-24 BC); anything lower is ADBC's overflow of
# ±infinity or of a date beyond Iceberg's 64-bit range.
PG_MIN_DATE_DAYS = -2_440_588
PG_MIN_TIMESTAMP_US = PG_MIN_DATE_DAYS * 86_400 * 1_000_000


def _primitive_arrow(field_type: IcebergType) -> pa.DataType:
    match field_type:
        case BooleanType():
            return pa.bool_()
        case IntegerType():
            return pa.int32()
        case LongType():
            return pa.int64()
        case FloatType():
            return pa.float32()
        case DoubleType():
            return pa.float64()
        case DecimalType():
            return pa.decimal128(field_type.precision, field_type.scale)
        case StringType():
            return pa.string()
        case UUIDType():
            return pa.uuid()
        case BinaryType():
            return pa.binary()
        case DateType():
            return pa.date32()
        case TimeType():
            return pa.time64("us")
        case TimestampType():
            return pa.timestamp("us")
        case TimestamptzType():
            return pa.timestamp("us", tz="UTC")
    raise TypeError(f"no Arrow type for Iceberg type {field_type}")


def _arrow_field(field: NestedField) -> pa.Field:
    field_type = field.field_type
    arrow_type: pa.DataType
    if isinstance(field_type, ListType):
        arrow_type = pa.list_(_arrow_field(field_type.element_field))
    elif isinstance(field_type, StructType):
        arrow_type = pa.struct([_arrow_field(f) for f in field_type.fields])
    else:
        arrow_type = _primitive_arrow(field_type)
    return pa.field(
        field.name,
        arrow_type,
        nullable=field.optional,
        metadata={PYARROW_PARQUET_FIELD_ID_KEY: str(field.field_id)},
    )


def arrow_schema(schema: Schema) -> pa.Schema:
    """The Arrow schema of a data file: Iceberg's types, field ids in metadata, regular (not large) offsets."""
    return pa.schema([_arrow_field(f) for f in schema.fields])


def select_columns(mappings: list[ColumnMapping]) -> list[SelectColumn]:
    """The extraction query's SELECT list: casts, infinity sentinels, and hidden array-shape checks."""
    columns = []
    for index, mapping in enumerate(mappings):
        ident = sql.Identifier(mapping.column.name)
        expression: sql.Composable = ident
        sentinels = mapping.scalar.infinity_sentinels
        if sentinels is not None and not mapping.is_array:
            pg_type = sql.SQL(mapping.scalar.pg_type)  # a fixed built-in name from the mapping table
            expression = sql.SQL(
                "case when {c} = 'infinity' then {pos}::{t} when {c} = '-infinity' then {neg}::{t} else {c} end"
            ).format(c=ident, pos=sql.Literal(sentinels[1]), neg=sql.Literal(sentinels[0]), t=pg_type)
        cast = mapping.select_cast
        if cast is not None:
            expression = sql.SQL("{}::{}").format(expression, sql.SQL(cast))
        columns.append(SelectColumn(mapping.column.name, expression))
        if mapping.is_array:
            # Arrow lists are one-dimensional and start at 1; PostgreSQL arrays need not be.
            check = sql.SQL("(array_ndims({c}) > 1 or array_lower({c}, 1) <> 1)").format(c=ident)
            columns.append(SelectColumn(f"{CHECK_COLUMN_PREFIX}{index}", check))
    return columns


@dataclass(frozen=True)
class BatchConverter:
    """Converts the record batches of one table to its data-file schema."""

    table: str
    mappings: list[ColumnMapping]
    target: pa.Schema
    key_columns: tuple[str, ...]

    def convert(self, batch: pa.RecordBatch) -> pa.Table:
        """One ADBC record batch → a table in the file schema. Raises UnsupportedValueError."""
        arrays = []
        for index, (mapping, field) in enumerate(zip(self.mappings, self.target, strict=True)):
            column = batch.column(mapping.column.name)
            if mapping.is_array:
                self._check_array_shape(batch, index, mapping)
                arrays.append(self._convert_list(batch, column, mapping, field.type))
            else:
                arrays.append(self._convert_scalar(batch, column, mapping, mapping.scalar, field.type))
        return pa.Table.from_arrays(arrays, schema=self.target)

    def _convert_list(
        self, batch: pa.RecordBatch, column: pa.Array, mapping: ColumnMapping, target: pa.DataType
    ) -> pa.Array:
        values = self._convert_scalar(batch, column.values, mapping, mapping.scalar, target.value_type, list_of=column)
        return pa.ListArray.from_arrays(column.offsets, values, type=target, mask=column.is_null())

    def _convert_scalar(
        self,
        batch: pa.RecordBatch,
        column: pa.Array,
        mapping: ColumnMapping,
        scalar: ScalarMapping,
        target: pa.DataType,
        list_of: pa.Array | None = None,
    ) -> pa.Array:
        if isinstance(column, pa.ExtensionArray) and scalar.conversion == "json":
            column = column.storage
        match scalar.conversion:
            case "decimal":
                return self._to_decimal(batch, column, mapping, target, list_of)
            case "datetime":
                self._check_datetime(batch, column, mapping, list_of)
            case "interval":
                return _interval_struct(column, target)
        if column.type != target:
            column = column.cast(target)
        return column

    def _to_decimal(
        self,
        batch: pa.RecordBatch,
        column: pa.Array,
        mapping: ColumnMapping,
        target: pa.DataType,
        list_of: pa.Array | None,
    ) -> pa.Array:
        try:
            return pc.cast(column, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        for position, value in enumerate(column.to_pylist()):
            if value is None:
                continue
            try:
                pc.cast(pa.array([value]), target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                problem = "NaN" if value.lower() == "nan" else f"value {value} does not fit {target}"
                self._refuse(batch, mapping, _row_of(position, list_of), f"{problem} cannot be stored exactly")
        raise AssertionError("decimal cast failed but no single value fails")  # pragma: no cover

    def _check_datetime(
        self, batch: pa.RecordBatch, column: pa.Array, mapping: ColumnMapping, list_of: pa.Array | None
    ) -> None:
        raw = column.view(pa.int32() if pa.types.is_date32(column.type) else pa.int64())
        floor = PG_MIN_DATE_DAYS if pa.types.is_date32(column.type) else PG_MIN_TIMESTAMP_US
        low = pc.min(raw).as_py()
        if low is None or low >= floor:
            return
        position = pc.index(pc.less(raw, floor), True).as_py()
        self._refuse(
            batch,
            mapping,
            _row_of(position, list_of),
            "±infinity (or a date beyond Iceberg's range) has no Iceberg value; map it to sentinels with "
            '{"infinity": "sentinel"} in the table options',
        )

    def _check_array_shape(self, batch: pa.RecordBatch, index: int, mapping: ColumnMapping) -> None:
        flags = batch.column(f"{CHECK_COLUMN_PREFIX}{index}")
        if pc.any(flags).as_py():
            position = pc.index(flags, True).as_py()
            self._refuse(
                batch,
                mapping,
                position,
                "a multi-dimensional array or one not starting at index 1 would lose its shape",
            )

    def _refuse(self, batch: pa.RecordBatch, mapping: ColumnMapping, row: int, problem: str) -> None:
        raise UnsupportedValueError(
            self.table, mapping.column.name, mapping.column.display_type, self._key_at(batch, row), problem
        )

    def _key_at(self, batch: pa.RecordBatch, row: int) -> str:
        if not self.key_columns:
            return f"(no primary key; row {row} of the batch)"
        values = [batch.column(k)[row].as_py() for k in self.key_columns]
        pairs = ", ".join(f"{k}={v!r}" for k, v in zip(self.key_columns, values, strict=True))
        return f"({pairs})"


def _row_of(position: int, list_of: pa.Array | None) -> int:
    """The row holding flattened list value ``position`` (or ``position`` itself for a scalar column)."""
    if list_of is None:
        return position
    offsets = list_of.offsets.to_numpy()
    return int(np.searchsorted(offsets, position, side="right") - 1)


def _interval_struct(column: pa.Array, target: pa.DataType) -> pa.Array:
    """month_day_nano → struct<months, days, microseconds>, zero-copy reading of the 16-byte values."""
    layout = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
    buffer = column.buffers()[1]
    values = (
        np.frombuffer(buffer, dtype=layout, count=column.offset + len(column))[column.offset :]
        if buffer is not None
        else np.zeros(0, dtype=layout)
    )
    children = [
        pa.array(values["months"], pa.int32()),
        pa.array(values["days"], pa.int32()),
        pa.array(values["nanos"] // 1000, pa.int64()),
    ]
    return pa.StructArray.from_arrays(children, fields=list(target), mask=column.is_null())
