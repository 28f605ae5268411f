"""What a parity is given and gives back, and the view of the table both of its sides share."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from cutover.hashing import INTEGER_KEY_TYPES, RowHasher
from cutover.lake.types import ColumnMapping
from cutover.source.introspect import SourceTable
from cutover.validation.report import ColumnStats, KeyDiff

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
class SourceRow:
    """One source row of a drilled-into bucket: its key texts and row hash."""

    key: tuple[str | None, ...]
    row_hash: int


@dataclass(frozen=True)
class ParityTable:
    """One table as both sides compare it: its columns, key, hasher and how a row is identified."""

    relation: sql.Identifier
    mappings: list[ColumnMapping]
    key: list[str]
    key_mappings: list[ColumnMapping]
    hasher: RowHasher
    int_key: bool
    """The leading key column is an integer: buckets are ranges of it."""
    int_key_only: bool
    """A single integer key: it identifies rows itself, no key hash is needed."""
    stat_columns: list[ColumnMapping]
    """The columns whose aggregates are compared (none when column stats are off)."""

    @classmethod
    def of(cls, source: SourceTable, mappings: list[ColumnMapping], column_stats: bool) -> ParityTable:
        key = list(source.primary_key)
        key_mappings = [m for k in key for m in mappings if m.column.name == k]
        lead = key_mappings[0] if key_mappings else None
        int_key = lead is not None and not lead.is_array and lead.column.base_type in INTEGER_KEY_TYPES
        return cls(
            relation=sql.Identifier(source.schema, source.name),
            mappings=mappings,
            key=key,
            key_mappings=key_mappings,
            # Rows are bucketed by their key; a table without one by its first column (a changed row then
            # usually stays in its bucket, which keeps the drill-down small).
            hasher=RowHasher(mappings, key or [mappings[0].column.name]),
            int_key=int_key,
            int_key_only=int_key and len(key) == 1,
            stat_columns=mappings if column_stats else [],
        )
