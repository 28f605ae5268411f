"""Row identity by primary key, the same on both sides: one int64 per row, and sorted key-set lookups.

The sync finds deleted and changed keys by comparing these ids between PostgreSQL and Iceberg. (A parity
identifies rows alike, by an integer key or a key hash, but hashes the key with its row hasher's seeds.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from psycopg import sql

from cutover.hashing.rowhash import RowHasher, _as
from cutover.lake.types import ColumnMapping

if TYPE_CHECKING:
    import duckdb

INTEGER_KEY_TYPES = frozenset({"int2", "int4", "int8"})


class KeyIdentity:
    """How a row is identified by its key on both sides, as one int64 per row.

    A single integer key column is its own identity; any other key (text, uuid, composite) is identified
    by the 64-bit hash of its columns. Both sides must use the same instance's definition.
    """

    def __init__(self, mappings: list[ColumnMapping], key: list[str] | tuple[str, ...]) -> None:
        by_name = {m.column.name: m for m in mappings}
        self.key = list(key)
        key_mappings = [by_name[k] for k in self.key]
        lead = key_mappings[0] if key_mappings else None
        self.integer = (
            len(key_mappings) == 1
            and lead is not None
            and not lead.is_array
            and lead.column.base_type in INTEGER_KEY_TYPES
        )
        self.hasher = RowHasher(key_mappings, self.key)

    @property
    def needs_duckdb(self) -> bool:
        return self.hasher.needs_duckdb

    def pg(self, qualifier: str | None = None) -> sql.Composable:
        if self.integer:
            ident = sql.Identifier(qualifier, self.key[0]) if qualifier else sql.Identifier(self.key[0])
            return sql.SQL("{}::int8").format(ident)
        return self.hasher.pg_key_hash(qualifier)

    def arrow(self, batch: pa.RecordBatch, duck: duckdb.DuckDBPyConnection | None = None) -> npt.NDArray[np.int64]:
        if self.integer:
            return np.asarray(_as(batch.column(self.key[0]), pa.int64()).to_numpy(zero_copy_only=False), np.int64)
        return self.hasher.arrow_key_hashes(batch, duck).view(np.int64)


def isin_sorted(values: npt.NDArray[np.int64], sorted_set: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """``np.isin`` against a sorted unique array by binary search: ``values`` (millions of key ids) need
    no sort, which is what makes key-set work over a whole table cheap.

    When ``values`` happen to ascend (a data file written by key range) and the set is much smaller, the
    set's keys are looked up in ``values`` instead (m log n rather than n log m)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    if len(sorted_set) * 8 < len(values) and bool(np.all(values[1:] > values[:-1])):
        at = np.searchsorted(values, sorted_set)
        found = at[(at < len(values)) & (values[np.minimum(at, len(values) - 1)] == sorted_set)]
        mask = np.zeros(len(values), dtype=bool)
        mask[found] = True
        return mask
    index = np.searchsorted(sorted_set, values)
    index[index == len(sorted_set)] = 0
    return sorted_set[index] == values
