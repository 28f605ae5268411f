"""The one PostgreSQL → Iceberg type mapping (design §4), as a table in code.

Policy: exact where Iceberg can be exact, never silently lossy. Each :class:`TypeRule` says which
PostgreSQL types it covers, the Iceberg type it produces, how the column is selected from PostgreSQL
(some types are read through a cast to their canonical text form), and which Arrow conversion the
extractor applies. The README's type table is generated from :data:`TYPE_RULES`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pyiceberg.schema import Schema, assign_fresh_schema_ids
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

from cutover.config import ColumnOptions, TableOptions
from cutover.errors import UnsupportedTypeError
from cutover.source.introspect import SourceColumn, SourceTable

Conversion = Literal["none", "decimal", "json", "interval", "datetime", "string"]
"""What the extractor does to a column's Arrow array after reading it (see :mod:`cutover.lake.convert`)."""


def interval_type(next_id: Callable[[], int]) -> StructType:
    """The interval struct, with field ids drawn from ``next_id``."""
    return StructType(
        NestedField(next_id(), "months", IntegerType(), required=True),
        NestedField(next_id(), "days", IntegerType(), required=True),
        NestedField(next_id(), "microseconds", LongType(), required=True),
    )


MAX_DECIMAL_PRECISION = 38
TEXT_FORM_CATEGORIES = frozenset("CRGIUBSTVXZ")
"""Type categories read through their canonical text form (composite, range, geometric, network, ...)."""


@dataclass(frozen=True)
class TypeRule:
    """One row of the mapping table."""

    pg_types: tuple[str, ...]
    """``pg_type.typname`` values covered; empty for a rule matched by type category."""
    pg_label: str
    """How the README names the PostgreSQL side."""
    iceberg_label: str
    select_cast: str | None
    """SQL type the column is cast to when selected (``None``: selected as stored)."""
    conversion: Conversion
    note: str = ""


TYPE_RULES: tuple[TypeRule, ...] = (
    TypeRule(("int2", "int4"), "smallint, integer (and domains over them)", "int", None, "none"),
    TypeRule(("int8",), "bigint", "long", None, "none"),
    TypeRule(("oid",), "oid", "long", "bigint", "none", "unsigned 32-bit, widened so no value wraps"),
    TypeRule(("numeric",), "numeric(p,s), p ≤ 38", "decimal(p,s)", "text", "decimal", "NaN is refused"),
    TypeRule(
        (),
        "numeric without precision, or p > 38",
        "refused; opt-in: decimal(38,s) with overflow check, or string",
        "text",
        "decimal",
    ),
    TypeRule(("money",), "money", "decimal(19,2)", "numeric::text", "decimal"),
    TypeRule(("float4",), "real", "float", None, "none", "NaN and ±Infinity kept"),
    TypeRule(("float8",), "double precision", "double", None, "none", "NaN and ±Infinity kept"),
    TypeRule(("bool",), "boolean", "boolean", None, "none"),
    TypeRule(
        ("text", "varchar", "bpchar", "name"),
        "text, varchar(n), char(n)",
        "string",
        None,
        "none",
        "char(n) keeps its padding, as PostgreSQL stores it",
    ),
    TypeRule(("json", "jsonb"), "json, jsonb", "string", None, "json", "jsonb in its canonical text"),
    TypeRule(("uuid",), "uuid", "uuid", None, "none"),
    TypeRule(("bytea",), "bytea", "binary", None, "none"),
    TypeRule(("date",), "date", "date", None, "datetime", "±infinity refused unless mapped to sentinels"),
    TypeRule(("time",), "time", "time", None, "none"),
    TypeRule(
        ("timestamp",), "timestamp", "timestamp (µs)", None, "datetime", "±infinity refused unless mapped to sentinels"
    ),
    TypeRule(
        ("timestamptz",),
        "timestamptz",
        "timestamptz (µs, UTC)",
        None,
        "datetime",
        "±infinity refused unless mapped to sentinels",
    ),
    TypeRule(("interval",), "interval", "struct<months int, days int, microseconds long>", None, "interval"),
    TypeRule(
        (
            "citext",
            "inet",
            "cidr",
            "macaddr",
            "macaddr8",
            "tsvector",
            "tsquery",
            "xml",
            "timetz",
            "bit",
            "varbit",
            "pg_lsn",
            "char",
            "regclass",
            "regtype",
            "regproc",
            "xid",
            "xid8",
            "cid",
            "tid",
        ),
        "citext, inet, cidr, macaddr, tsvector, xml, timetz, bit, enum, composite, range, geometric, ...",
        "string (PostgreSQL's canonical text form)",
        "text",
        "string",
        "lossless: the text form parses back to the same value",
    ),
)
_RULE_BY_TYPE = {pg_type: rule for rule in TYPE_RULES for pg_type in rule.pg_types}
_TEXT_FORM_RULE = next(rule for rule in TYPE_RULES if rule.conversion == "string")
_UNBOUNDED_NUMERIC_RULE = TYPE_RULES[4]
_ICEBERG_TYPES: dict[str, IcebergType] = {
    "int2": IntegerType(),
    "int4": IntegerType(),
    "int8": LongType(),
    "oid": LongType(),
    "money": DecimalType(19, 2),
    "float4": FloatType(),
    "float8": DoubleType(),
    "bool": BooleanType(),
    "text": StringType(),
    "varchar": StringType(),
    "bpchar": StringType(),
    "name": StringType(),
    "json": StringType(),
    "jsonb": StringType(),
    "uuid": UUIDType(),
    "bytea": BinaryType(),
    "date": DateType(),
    "time": TimeType(),
    "timestamp": TimestampType(),
    "timestamptz": TimestamptzType(),
    "interval": interval_type(itertools.count(1).__next__),
}


@dataclass(frozen=True)
class ScalarMapping:
    """How one value type (a column, or an array's element) is read and converted."""

    pg_type: str
    iceberg_type: IcebergType
    select_cast: str | None
    conversion: Conversion
    rule: TypeRule
    decimal_from_text: bool = False
    """For opt-in numeric → decimal(38,s): the rescale check that makes it exact."""
    infinity_sentinels: tuple[str, str] | None = None

    def iceberg_type_with(self, next_id: Callable[[], int]) -> IcebergType:
        return interval_type(next_id) if self.conversion == "interval" else self.iceberg_type


@dataclass(frozen=True)
class ColumnMapping:
    """A source column's full mapping: scalar, or list of scalar for arrays."""

    column: SourceColumn
    scalar: ScalarMapping
    is_array: bool

    def iceberg_type(self, next_id: Callable[[], int]) -> IcebergType:
        """The Iceberg type, nested field ids drawn from ``next_id`` (reassigned by the schema)."""
        if self.is_array:
            return ListType(
                element_id=next_id(), element_type=self.scalar.iceberg_type_with(next_id), element_required=False
            )
        return self.scalar.iceberg_type_with(next_id)

    @property
    def select_cast(self) -> str | None:
        cast = self.scalar.select_cast
        if cast is None:
            return None
        return "::".join(f"{step}[]" for step in cast.split("::")) if self.is_array else cast


def _numeric_precision(typmod: int) -> tuple[int, int] | None:
    """(precision, scale) from a numeric typmod, or None when unconstrained."""
    if typmod < 4:
        return None
    packed = typmod - 4
    precision = (packed >> 16) & 0xFFFF
    scale = packed & 0x7FF
    if scale & 0x400:  # PostgreSQL 15 allows a negative scale, stored as 11-bit two's complement
        scale -= 0x800
    return precision, scale


def map_scalar(
    table: str, column: SourceColumn, pg_type: str, category: str, typmod: int, options: ColumnOptions
) -> ScalarMapping:
    """Map one PostgreSQL value type; raises UnsupportedTypeError when no faithful mapping exists."""
    if pg_type == "numeric":
        return _map_numeric(table, column, typmod, options)
    rule = _RULE_BY_TYPE.get(pg_type)
    if rule is not None and rule is not _TEXT_FORM_RULE:
        sentinels = None
        if rule.conversion == "datetime" and options.infinity == "sentinel":
            sentinels = (options.negative_infinity_sentinel, options.positive_infinity_sentinel)
        return ScalarMapping(
            pg_type,
            _ICEBERG_TYPES[pg_type],
            rule.select_cast,
            rule.conversion,
            rule,
            infinity_sentinels=sentinels,
        )
    if rule is _TEXT_FORM_RULE or category in TEXT_FORM_CATEGORIES or category == "E":
        return ScalarMapping(pg_type, StringType(), "text", "string", _TEXT_FORM_RULE)
    raise UnsupportedTypeError(
        table,
        column.name,
        column.display_type,
        f"no faithful Iceberg mapping for PostgreSQL type {pg_type!r} (category {category!r})",
    )


def _map_numeric(table: str, column: SourceColumn, typmod: int, options: ColumnOptions) -> ScalarMapping:
    rule = _RULE_BY_TYPE["numeric"]
    bounds = _numeric_precision(typmod)
    if bounds is not None and bounds[0] <= MAX_DECIMAL_PRECISION and bounds[1] >= 0:
        precision, scale = bounds
        return ScalarMapping("numeric", DecimalType(precision, scale), rule.select_cast, "decimal", rule)
    if options.numeric == "decimal38":
        return ScalarMapping(
            "numeric",
            DecimalType(MAX_DECIMAL_PRECISION, options.numeric_scale),
            None,
            "decimal",
            _UNBOUNDED_NUMERIC_RULE,
            decimal_from_text=True,
        )
    if options.numeric == "string":
        return ScalarMapping("numeric", StringType(), "text", "string", _UNBOUNDED_NUMERIC_RULE)
    what = "numeric without precision" if bounds is None else f"numeric({bounds[0]},{bounds[1]})"
    raise UnsupportedTypeError(
        table,
        column.name,
        column.display_type,
        f"{what} does not fit Iceberg's decimal (precision ≤ 38, scale ≥ 0); opt in per column with "
        '{"numeric": "decimal38", "numeric_scale": S} (values checked, never rounded) or {"numeric": "string"}',
    )


def map_column(table: SourceTable, column: SourceColumn, options: TableOptions) -> ColumnMapping:
    """Map one source column, honouring the table's per-column opt-ins."""
    col_options = options.columns.get(column.name) or ColumnOptions()
    if column.is_array:
        assert column.element_type is not None and column.element_category is not None
        scalar = map_scalar(
            table.qualified_name, column, column.element_type, column.element_category, column.typmod, col_options
        )
        return ColumnMapping(column, scalar, is_array=True)
    scalar = map_scalar(table.qualified_name, column, column.base_type, column.category, column.typmod, col_options)
    return ColumnMapping(column, scalar, is_array=False)


def map_table(table: SourceTable, options: TableOptions) -> list[ColumnMapping]:
    """Map every column; the first unsupported column refuses the whole table (nothing is written)."""
    unknown = set(options.columns) - {c.name for c in table.columns}
    if unknown:
        from cutover.errors import ConfigError

        raise ConfigError(f"table options for {table.qualified_name} name unknown columns: {sorted(unknown)}")
    return [map_column(table, column, options) for column in table.columns]


def iceberg_schema(table: SourceTable, mappings: list[ColumnMapping]) -> Schema:
    """The Iceberg schema with the ids pyiceberg will assign, identifier fields = the primary key.

    Ids are assigned by :func:`assign_fresh_schema_ids`, exactly as ``create_table`` does, so data files
    written before the table exists carry the field ids the table will have.
    """
    counter = itertools.count(len(mappings) + 1)
    fields = [
        NestedField(
            field_id=index + 1,
            name=m.column.name,
            field_type=m.iceberg_type(lambda: next(counter)),
            required=m.column.not_null or m.column.name in table.primary_key,
        )
        for index, m in enumerate(mappings)
    ]
    names = [m.column.name for m in mappings]
    identifier_ids = [names.index(key) + 1 for key in table.primary_key]
    return assign_fresh_schema_ids(Schema(*fields, identifier_field_ids=identifier_ids))


def type_table_markdown() -> str:
    """The README's type table, rendered from :data:`TYPE_RULES` (a test keeps the README in sync)."""
    lines = ["| PostgreSQL | Iceberg | Note |", "|---|---|---|"]
    lines += [f"| {rule.pg_label} | {rule.iceberg_label} | {rule.note} |" for rule in TYPE_RULES]
    lines.append("| arrays of any type above | list of that type | one dimension, starting at 1; others refused |")
    lines.append("| pseudo-types and anything unknown | refused, naming table, column and type | |")
    return "\n".join(lines)
