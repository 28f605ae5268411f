"""How a table is laid out for reads: rows in primary-key order, in small row groups.

Every table cutover creates declares its primary key as its sort order, and every writer (full load, sync)
writes rows in that order: key ranges of the load are planned in key order and each batch is read
``ORDER BY`` the key, so files cover disjoint, ascending key ranges and the rows inside a file ascend too.
With row groups of :data:`ROW_GROUP_ROWS` rows, the statistics of one row group bound a few thousand keys:
a lookup by key reads one row group of one file (the footer says which), not a whole file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyiceberg.table import TableProperties
from pyiceberg.table.sorting import NullOrder, SortDirection, SortField, SortOrder
from pyiceberg.transforms import IdentityTransform

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

ROW_GROUP_ROWS = 4_096
"""Rows per Parquet row group: a point read decodes one such group (~1-2 ms for the orders shape); scans
read many in parallel. 8,192 doubled the point read; 16,384 quadrupled it."""


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
