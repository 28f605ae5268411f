"""How a table is laid out for reads: rows in primary-key order, small row groups, an optional partition spec.

Every table cutover creates declares its primary key as its sort order, and every writer (full load, sync)
writes rows in that order: key ranges of the load are planned in key order and each batch is read
``ORDER BY`` the key, so files cover disjoint, ascending key ranges and the rows inside a file ascend too.
With row groups of :data:`ROW_GROUP_ROWS` rows, the statistics of one row group bound a few thousand keys:
a lookup by key reads one row group of one file (the footer says which), not a whole file.

A partition spec is applied only when the ``iceberg-partitioning`` flag is on for the entity and the
table options name one (``{"partition": [{"column": "created_at", "transform": "day"}]}``); a transform
that does not fit its column's type is refused before anything is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
from pyiceberg.table import TableProperties
from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
from pyiceberg.transforms import IdentityTransform, Transform, parse_transform

from cutover.errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

    from cutover.config import PartitionOption

ROW_GROUP_ROWS = 4_096
"""Rows per Parquet row group: a point read decodes one such group (~1-2 ms for the orders shape); scans
read many in parallel. 8,192 doubled the point read; 16,384 quadrupled it."""
PARTITION_FIELD_ID_START = 1000
"""Iceberg's first partition field id."""


def layout_properties(row_group_rows: int | None = None) -> dict[str, str]:
    """Table properties every cutover table is created with (read by every pyiceberg-based writer)."""
    return {TableProperties.PARQUET_ROW_GROUP_LIMIT: str(row_group_rows or ROW_GROUP_ROWS)}


def key_sort_order(schema: Schema) -> SortOrder:
    """The identifier fields (the primary key), ascending: the order every writer keeps rows in."""
    fields = [
        SortField(
            source_id=field_id,
            transform=IdentityTransform(),
            direction=SortDirection.ASC,
            null_order=NullOrder.NULLS_FIRST,
        )
        for field_id in schema.identifier_field_ids
    ]
    return SortOrder(*fields) if fields else SortOrder()


def parse_partition_transform(entity: str, option: PartitionOption, schema: Schema) -> Transform[object, object]:
    """The transform of one partition option, checked against its column's type.

    Raises:
        ConfigError: an unknown column or transform, or a transform the column's type cannot take
            (``day`` on a text column, ``bucket[0]``, ...).
    """
    field = schema.find_field(option.column, case_sensitive=True) if option.column in _names(schema) else None
    if field is None:
        raise ConfigError(f"{entity}: partition column {option.column!r} is not a column of the table")
    try:
        transform = parse_transform(option.transform)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{entity}: unknown partition transform {option.transform!r} on {option.column!r}") from exc
    if not transform.can_transform(field.field_type):
        raise ConfigError(
            f"{entity}: partition transform {option.transform} does not fit column {option.column!r} "
            f"of type {field.field_type}"
        )
    return transform


def partition_spec(entity: str, options: list[PartitionOption], schema: Schema) -> PartitionSpec:
    """The spec the table options ask for (unpartitioned when they name none).

    Raises:
        ConfigError: see :func:`parse_partition_transform`; or one column twice with one transform.
    """
    if not options:
        return UNPARTITIONED_PARTITION_SPEC
    fields = []
    seen: set[str] = set()
    for index, option in enumerate(options):
        transform = parse_partition_transform(entity, option, schema)
        name = partition_field_name(option.column, transform)
        if name in seen:
            raise ConfigError(f"{entity}: partition field {name!r} is given twice")
        seen.add(name)
        source_id = schema.find_field(option.column).field_id
        fields.append(PartitionField(source_id, PARTITION_FIELD_ID_START + index, transform, name))
    return PartitionSpec(*fields)


def partition_field_name(column: str, transform: Transform[object, object]) -> str:
    """Iceberg's conventional partition field name: ``created_at_day``, ``id_bucket_16``, ``kind``."""
    if isinstance(transform, IdentityTransform):
        return column
    text = str(transform).replace("[", "_").replace("]", "")
    return f"{column}_{text}"


def _names(schema: Schema) -> set[str]:
    return {field.name for field in schema.fields}
