"""The order a compaction writes rows in: the table's declared sort order, else its identifier fields.

Rows are sorted by Arrow (``sort_indices``, a stable sort); a few rows at a time are compared in Python
(the merge's boundaries), through :meth:`SortKeys.row_key`, which honours direction and null order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from cutover.errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.transforms import Transform
    from pyiceberg.types import IcebergType


@dataclass(frozen=True)
class SortKey:
    column: str
    """The column sorted on (its current name), or the computed ``__cutover_sort_<i>`` of a transform."""
    source: str
    """The table column it is computed from."""
    transform: Transform[Any, Any] | None
    ascending: bool
    nulls_first: bool
    source_type: IcebergType | None = None
    """The Iceberg type of ``source`` (what a transform is computed from)."""


@functools.total_ordering
class _Descending:
    """A value whose comparisons are reversed (one part of a row key sorted descending)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.value < self.value)

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True)
class SortKeys:
    """How one table's rows are ordered; empty when the table declares no order and has no key."""

    keys: tuple[SortKey, ...]
    order_id: int | None
    """The sort order id recorded in written files (None when the order is only the identifier fields)."""

    @property
    def computed(self) -> list[SortKey]:
        return [k for k in self.keys if k.transform is not None]

    def with_keys(self, data: pa.Table) -> pa.Table:
        """``data`` with the computed sort columns appended (identity keys sort on the column itself)."""
        for key in self.computed:
            assert key.transform is not None
            values = data.column(key.source).combine_chunks()
            data = data.append_column(key.column, _apply(key, values))
        return data

    def without_keys(self, data: pa.Table) -> pa.Table:
        computed = [k.column for k in self.computed]
        return data.drop_columns(computed) if computed else data

    def sort(self, data: pa.Table) -> pa.Table:
        """``data`` (holding the key columns) sorted; returned as is when it already is."""
        if not self.keys or data.num_rows < 2:
            return data
        order = [
            (k.column, "ascending" if k.ascending else "descending", "at_start" if k.nulls_first else "at_end")
            for k in self.keys
        ]
        indices = pc.sort_indices(data, sort_keys=order)
        if pc.all(pc.equal(indices, pa.array(range(len(indices)), pa.uint64()))).as_py():
            return data
        return data.take(indices)

    def row_key(self, data: pa.Table, row: int) -> tuple[Any, ...]:
        """One row's key as a tuple that compares in the table's order."""
        parts: list[Any] = []
        for key in self.keys:
            value = data.column(key.column)[row].as_py()
            if value is None:
                parts.append((0 if key.nulls_first else 2, None))
            else:
                parts.append((1, value if key.ascending else _Descending(value)))
        return tuple(parts)

    def count_at_most(self, data: pa.Table, bound: tuple[Any, ...]) -> int:
        """How many leading rows of the sorted ``data`` have a key ≤ ``bound`` (a binary search)."""
        low, high = 0, data.num_rows
        while low < high:
            middle = (low + high) // 2
            if self.row_key(data, middle) <= bound:
                low = middle + 1
            else:
                high = middle
        return low

    def first_part(self, value: Any) -> tuple[Any, ...]:
        """A key holding only its first part (for comparing a file's lower bound)."""
        first = self.keys[0]
        return ((1, value if first.ascending else _Descending(value)),)


def _apply(key: SortKey, values: pa.Array) -> pa.Array:
    assert key.transform is not None and key.source_type is not None
    try:
        return key.transform.pyarrow_transform(key.source_type)(values)
    except (ImportError, NotImplementedError, ValueError) as exc:
        raise ConfigError(f"cannot sort by {key.transform}({key.source}): {exc}") from exc


def sort_keys_of(table: Table) -> SortKeys:
    """The table's declared sort order, or its identifier fields ascending when it declares none.

    Raises:
        ConfigError: a sort field uses a transform that cannot be computed here.
    """
    schema = table.schema()
    order = table.sort_order()
    if order.fields:
        keys = []
        for index, field in enumerate(order.fields):
            source = schema.find_column_name(field.source_id)
            if source is None:
                raise ConfigError(f"{table.name()}: sort order names field {field.source_id}, not in the schema")
            identity = str(field.transform) == "identity"
            source_type = schema.find_type(field.source_id)
            if not identity:
                _check_computable(field.transform, source_type, source)
            keys.append(
                SortKey(
                    source if identity else f"__cutover_sort_{index}",
                    source,
                    None if identity else field.transform,
                    ascending=str(field.direction.value).lower().startswith("asc"),
                    nulls_first="first" in str(field.null_order.value).lower(),
                    source_type=source_type,
                )
            )
        return SortKeys(tuple(keys), order.order_id)
    keys = [
        SortKey(name, name, None, True, True, source_type=schema.find_type(field_id))
        for field_id in schema.identifier_field_ids
        if (name := schema.find_column_name(field_id)) is not None
    ]
    return SortKeys(tuple(keys), None)


def _check_computable(transform: Transform[Any, Any], source_type: IcebergType, source: str) -> None:
    """Refuse a transform pyiceberg cannot compute on Arrow here (most need the pyiceberg-core extra)."""
    try:
        transform.pyarrow_transform(source_type)
    except (ImportError, NotImplementedError, ValueError) as exc:
        raise ConfigError(f"cannot sort by {transform}({source}): {exc}") from exc
