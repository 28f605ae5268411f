"""Per-column aggregates of a parity (null counts, min, max, sums), the same on both sides.

The source computes them inside its level-0 bucket scan (:class:`SourceStatQuery` adds them to the
select list and reads them back); the Iceberg side over each batch it hashes (:class:`ArrowStats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from cutover.hashing import pg_column_value
from cutover.lake.types import ColumnMapping
from cutover.validation.report import ColumnStats

_STAT_SUM_TYPES = frozenset({"int2", "int4", "int8", "numeric", "money"})
_STAT_MINMAX_TYPES = frozenset({"int2", "int4", "int8", "numeric", "date", "timestamp", "timestamptz"})


@dataclass
class StatAcc:
    """The aggregates of one column, accumulated over buckets (source) or batches (Iceberg)."""

    nulls: int = 0
    minimum: Any = None
    maximum: Any = None
    total: Any = None

    def merge(self, other: StatAcc) -> None:
        self.add(other.nulls, other.minimum, other.maximum, other.total)

    def add(self, nulls: int, minimum: Any, maximum: Any, total: Any) -> None:
        self.nulls += nulls
        if minimum is not None:
            self.minimum = minimum if self.minimum is None else min(self.minimum, minimum)
        if maximum is not None:
            self.maximum = maximum if self.maximum is None else max(self.maximum, maximum)
        if total is not None:
            self.total = total if self.total is None else self.total + total


def accumulators(columns: list[ColumnMapping]) -> dict[str, StatAcc]:
    return {m.column.name: StatAcc() for m in columns}


class SourceStatQuery:
    """The aggregates of ``columns`` as select-list items over the rows aliased ``alias``."""

    def __init__(self, columns: list[ColumnMapping], alias: str) -> None:
        self.columns = columns
        self.exprs: list[sql.Composable] = []
        self._layout: list[tuple[str, bool, bool, bool]] = []
        for m in columns:
            value: sql.Composable = sql.Identifier(alias, m.column.name)
            if not m.is_array and m.scalar.infinity_sentinels is not None:
                value = pg_column_value(m, alias)
            minmax = not m.is_array and m.column.base_type in _STAT_MINMAX_TYPES
            total = not m.is_array and m.column.base_type in _STAT_SUM_TYPES
            # A NOT NULL column has no nulls to count: its count is the group's; one aggregate less per row
            # (nine of eleven on `orders`: ~10 % of the source scan).
            counted = not m.column.not_null
            if counted:
                self.exprs.append(sql.SQL("count({})").format(value))
            if minmax:
                self.exprs += [sql.SQL("min({})").format(value), sql.SQL("max({})").format(value)]
            if total:  # sum(int8) accumulates in int128 and sum(int4) in int8: no per-row numeric casts
                cast = sql.SQL("::numeric" if m.column.base_type == "money" else "")
                self.exprs.append(sql.SQL("sum({}{})").format(value, cast))
            self._layout.append((m.column.name, counted, minmax, total))

    def select_items(self) -> sql.Composable:
        """``, agg1, agg2, ...`` (empty without columns), to follow the select list's other items."""
        return sql.SQL("").join(sql.SQL(", ") + e for e in self.exprs)

    def add(self, stats: dict[str, StatAcc], rows: int, values: Sequence[Any]) -> None:
        """Accumulate one group's aggregates (``values``: the row's items from :meth:`select_items` on)."""
        position = 0
        for name, counted, minmax, total in self._layout:
            acc, count = stats[name], rows
            if counted:
                count = int(values[position])
                position += 1
            minimum = maximum = summed = None
            if minmax:
                minimum, maximum = values[position], values[position + 1]
                position += 2
            if total:
                summed = values[position]
                position += 1
            acc.add(rows - count, minimum, maximum, summed)


class ArrowStats:
    """The aggregates of ``columns`` over the Arrow batches of one data file."""

    def __init__(self, columns: list[ColumnMapping]) -> None:
        self.stats = accumulators(columns)
        self._types = {m.column.name: m.column.base_type for m in columns if not m.is_array}

    def add(self, batch: pa.RecordBatch) -> None:
        for name, acc in self.stats.items():
            _arrow_stats(batch.column(name), self._types.get(name), acc)


def _arrow_stats(column: pa.Array | pa.ChunkedArray, base_type: str | None, acc: StatAcc) -> None:
    minimum = maximum = total = None
    if base_type in _STAT_MINMAX_TYPES and len(column) > column.null_count and not pa.types.is_string(column.type):
        bounds = pc.min_max(column)
        minimum, maximum = bounds["min"].as_py(), bounds["max"].as_py()
    if base_type in _STAT_SUM_TYPES and len(column) > column.null_count and not pa.types.is_string(column.type):
        if pa.types.is_signed_integer(column.type):
            total = _exact_int_sum(column)
        else:
            values = column if pa.types.is_decimal(column.type) else column.cast(pa.decimal128(38, 0))
            total = pc.sum(values).as_py()
    acc.add(column.null_count, minimum, maximum, total)


def _exact_int_sum(column: pa.Array | pa.ChunkedArray) -> int:
    """The exact sum of an integer column (nulls skipped) without widening every value to a decimal: the
    high and low 32 bits are summed apart in int64, which cannot overflow below 2**31 values."""
    values = pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    high = int(np.right_shift(values, 32).sum(dtype=np.int64))
    low = int(np.bitwise_and(values, 0xFFFFFFFF).sum(dtype=np.int64))
    return (high << 32) + low


def column_stats(source: dict[str, StatAcc], iceberg: dict[str, StatAcc]) -> list[ColumnStats]:
    """Both sides' aggregates per column, as the report shows them."""
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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):  # one spelling per number: 2001000, 1.5 (never 2.001E+6 or 1.50)
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    return str(value)
