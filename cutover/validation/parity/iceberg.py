"""The Iceberg side of a parity: every row hashed in-process, and the few rows the drill-down names.

:func:`hash_iceberg` reads the table's data files ``iceberg_workers`` at a time and keeps, per row, only
its row hash and key id (:class:`IcebergHashes`), so the drill-down never rescans the whole table.
:class:`IcebergRows` reads back just the rows of listed keys, for their texts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cutover.hashing import ArrowPrep, duck_column_text, duck_connection
from cutover.lake.scan import FileStream, file_streams
from cutover.lake.types import ColumnMapping
from cutover.validation.parity.model import KeyId, ParityTable
from cutover.validation.parity.stats import ArrowStats, StatAcc, accumulators

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass
class IcebergHashes:
    """Per-row keys and hashes of the Iceberg table, sorted by the integer key when there is one."""

    int_key: np.ndarray | None
    """int64 leading key column (sorted)."""
    key_hashes: np.ndarray | None
    """uint64 key hashes (the first column's without a key), unless the key is one integer column."""
    hashes: np.ndarray
    """uint64 row hashes."""
    stats: dict[str, StatAcc]

    def ids(self, selected: np.ndarray | slice) -> np.ndarray:
        """The key ids of the ``selected`` rows: the integer key itself, or the key hashes."""
        if self.key_hashes is None:
            assert self.int_key is not None
            return self.int_key[selected]
        return self.key_hashes[selected]

    def range_sums(self, edges: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Row counts and wrapping (mod 2**64) hash sums per integer-key range [edges[i], edges[i+1])."""
        assert self.int_key is not None
        positions = np.searchsorted(self.int_key, np.array(edges, dtype=np.int64))
        counts = np.diff(positions)
        sums = np.zeros(len(edges) - 1, dtype=np.uint64)
        for i in np.flatnonzero(counts).tolist():
            sums[i] = int(self.hashes[positions[i] : positions[i + 1]].sum(dtype=np.uint64))
        return counts, sums

    def range_rows(self, ranges: list[tuple[int, int]]) -> int:
        """Rows in the integer-key ``ranges``."""
        ik = self.int_key
        assert ik is not None
        return sum(int(np.searchsorted(ik, hi) - np.searchsorted(ik, lo)) for lo, hi in ranges)

    def in_ranges(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        """A mask of the rows in the integer-key ``ranges``."""
        ik = self.int_key
        assert ik is not None
        selected = np.zeros(len(ik), dtype=bool)
        for lo, hi in ranges:
            selected[int(np.searchsorted(ik, lo)) : int(np.searchsorted(ik, hi))] = True
        return selected


HASH_BATCH_ROWS = 65_536
"""Rows hashed at a time. Tables are written in row groups of a few thousand rows (point reads decode one);
hashing and aggregating a batch costs a dozen Arrow and numpy calls per column whatever its length, so
at one batch per row group Python's per-call overhead was half the Iceberg side's CPU."""


def hash_iceberg(iceberg: Table, table: ParityTable, workers: int) -> IcebergHashes:
    """Hash every row of the Iceberg table, ``workers`` data files at a time (threads)."""
    streams = file_streams(iceberg, tuple(m.column.name for m in table.mappings))  # not kept extras
    with ThreadPoolExecutor(workers, thread_name_prefix="cutover-validate-file") as pool:
        parts = list(pool.map(lambda stream: hash_file(table, stream), streams))
    stats = accumulators(table.stat_columns)
    for part in parts:
        for name, acc in part.stats.items():
            stats[name].merge(acc)
    if table.int_key:
        parts = _in_key_order(parts)
    hashes = _concat([p.hashes for p in parts], np.uint64)
    key_hashes = _concat([p.key_hashes for p in parts if p.key_hashes is not None], np.uint64)
    int_key = _concat([p.int_key for p in parts if p.int_key is not None], np.int64)
    if len(int_key) > 1 and not bool(np.all(int_key[1:] >= int_key[:-1])):
        order = np.argsort(int_key, kind="stable")
        int_key, hashes = int_key[order], hashes[order]
        if not table.int_key_only:
            key_hashes = key_hashes[order]
    return IcebergHashes(
        int_key=int_key if table.int_key else None,
        key_hashes=None if table.int_key_only else key_hashes,
        hashes=hashes,
        stats=stats,
    )


def _in_key_order(parts: list[IcebergHashes]) -> list[IcebergHashes]:
    """The files' parts ordered by their first key. Writers keep a file's rows in key order and give files
    disjoint key ranges, so the concatenation is then sorted already and needs no argsort of every row
    (the caller checks, and sorts when a sync's files overlap older ones)."""
    return sorted(parts, key=lambda p: int(p.int_key[0]) if p.int_key is not None and len(p.int_key) else 0)


def hash_file(table: ParityTable, stream: FileStream) -> IcebergHashes:
    """Row hashes, keys and column aggregates of one data file (runs in a worker thread or process)."""
    stats = ArrowStats(table.stat_columns)
    hasher = table.hasher
    duck = duck_connection() if hasher.needs_duckdb else None
    out = _FileArrays(stream.record_count, with_key=not table.int_key_only, with_int_key=table.int_key)
    try:
        for batch in stream.batches(HASH_BATCH_ROWS):
            stats.add(batch)
            rows, keys = hasher.arrow_hashes(batch, duck, with_key=not table.int_key_only)
            out.append(rows, keys, _int64(batch.column(table.key[0])) if table.int_key else None)
    finally:
        if duck is not None:
            duck.close()
    return out.result(stats.stats)


class _FileArrays:
    """One file's per-row outputs, written into arrays sized by the file's record count (deletes only
    remove rows), so no per-batch pieces are kept and concatenated."""

    def __init__(self, capacity: int, with_key: bool, with_int_key: bool) -> None:
        self.filled = 0
        self.hashes = np.empty(capacity, np.uint64)
        self.key_hashes = np.empty(capacity, np.uint64) if with_key else None
        self.int_key = np.empty(capacity, np.int64) if with_int_key else None

    def append(self, hashes: np.ndarray, key_hashes: np.ndarray | None, int_key: np.ndarray | None) -> None:
        start, end = self.filled, self.filled + len(hashes)
        if end > len(self.hashes):  # more rows than the manifest said: never expected, but never lost
            self._grow(max(end, 2 * len(self.hashes)))
        self.hashes[start:end] = hashes
        if self.key_hashes is not None and key_hashes is not None:
            self.key_hashes[start:end] = key_hashes
        if self.int_key is not None and int_key is not None:
            self.int_key[start:end] = int_key
        self.filled = end

    def _grow(self, capacity: int) -> None:
        self.hashes = np.resize(self.hashes, capacity)
        if self.key_hashes is not None:
            self.key_hashes = np.resize(self.key_hashes, capacity)
        if self.int_key is not None:
            self.int_key = np.resize(self.int_key, capacity)

    def result(self, stats: dict[str, StatAcc]) -> IcebergHashes:
        n = self.filled
        return IcebergHashes(
            int_key=None if self.int_key is None else self.int_key[:n],
            key_hashes=None if self.key_hashes is None else self.key_hashes[:n],
            hashes=self.hashes[:n],
            stats=stats,
        )


class IcebergRows:
    """Reads the Iceberg rows of particular keys and their canonical texts."""

    def __init__(self, iceberg: Table, table: ParityTable) -> None:
        self.iceberg = iceberg
        self.table = table

    def read(self, ids: set[KeyId], columns: list[ColumnMapping], leads: set[int] | None = None) -> pa.Table:
        """The Iceberg rows whose key id is in ``ids``; ``leads`` (values of a leading integer key column)
        are pushed down to the scan, so only files whose statistics admit them are read."""
        from pyiceberg.expressions import In

        table = self.table
        row_filter: Any = None
        selected: tuple[str, ...] = tuple(dict.fromkeys([*table.key, *(m.column.name for m in columns)]))
        if table.int_key_only:
            leads = {int(i) for i in ids}
        if leads:
            row_filter = In(table.key[0], leads)  # type: ignore[call-arg, arg-type]
        duck = duck_connection() if table.hasher.key_needs_duckdb else None
        wanted = np.array(sorted(ids), dtype=np.int64 if table.int_key_only else np.uint64)
        parts: list[pa.Table] = []
        try:
            for stream in file_streams(self.iceberg, selected, row_filter):
                for batch in stream.open():
                    if table.int_key_only:
                        found = _int64(batch.column(table.key[0]))
                    else:
                        found = table.hasher.arrow_key_hashes(batch, duck)
                    keep = np.isin(found, wanted)
                    if keep.any():
                        parts.append(pa.Table.from_batches([batch.filter(pa.array(keep))]))
        finally:
            if duck is not None:
                duck.close()
        if not parts:
            return self.iceberg.scan(selected_fields=selected).projection().as_arrow().empty_table()
        return pa.concat_tables(parts, promote_options="permissive")

    def texts(self, rows: pa.Table, columns: list[ColumnMapping]) -> list[tuple[Any, ...]]:
        """(key id, key texts..., column texts...) of ``rows``, canonical as on the source side."""
        prep = ArrowPrep.for_mappings([*self.table.key_mappings, *columns])  # only the columns read
        table = pa.Table.from_batches([prep.batch(b) for b in rows.to_batches()], schema=prep.schema(rows.schema))
        key_exprs = [duck_column_text(m, table.schema.field(m.column.name).type) for m in self.table.key_mappings]
        col_exprs = [duck_column_text(m, table.schema.field(m.column.name).type) for m in columns]
        ids = [int(i) for i in self._row_ids(rows)]
        if not ids:
            return []
        con = duck_connection()
        try:
            con.register("iceberg_rows", table)
            query = f"SELECT {', '.join(key_exprs + col_exprs)} FROM iceberg_rows"  # noqa: S608 - quoted
            texts = con.execute(query).fetchall()
        finally:
            con.close()
        return [(i, *t) for i, t in zip(ids, texts, strict=True)]

    def _row_ids(self, rows: pa.Table) -> np.ndarray:
        table = self.table
        if table.int_key_only:
            return _int64(rows.column(table.key[0]))
        duck = duck_connection() if table.hasher.key_needs_duckdb else None
        try:
            return _concat([table.hasher.arrow_key_hashes(b, duck) for b in rows.to_batches()], np.uint64)
        finally:
            if duck is not None:
                duck.close()


def _int64(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _concat(parts: list[np.ndarray], dtype: type[np.generic]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
