"""One data file as the tier reads it: its footer cached, row groups chosen by their statistics.

Data files are immutable, so a file's Parquet footer (row-group offsets and per-column min/max/null
counts) is parsed once and kept (LRU, :data:`FOOTERS_CACHED_DEFAULT` files). A read then picks the row
groups whose statistics may match its filters — by binary search where a column's row groups ascend, as
the key does in a key-ordered file — and pyarrow decodes only those row groups and only the needed
columns. Positions are file-global, so position deletes apply to any subset of row groups.

Columns are found by Iceberg field id (pyiceberg's ``pyarrow_to_schema`` of the file's schema) and
converted to the table's current schema by pyiceberg's ``_to_requested_schema``: renamed, added and
promoted columns read as pyiceberg reads them.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from cutover.tier import query as q

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.schema import Schema

FOOTERS_CACHED_DEFAULT = 512
"""Data-file footers kept (LRU). A footer of a 1.3 M-row file with 8 k-row groups is ~0.4 MB parsed."""
ROW_GROUP_CACHE_BYTES_DEFAULT = 64 * 1024 * 1024
"""Arrow bytes of decoded row groups kept (LRU): ~160 row groups of the orders shape (~400 kB each)."""
CACHED_READ_ROW_GROUPS = 8
"""Reads of at most this many row groups (key lookups, key ranges) keep what they decode; larger reads
(scans) go around the cache, so one scan never evicts the hot key ranges."""


@dataclass
class FileFooter:
    """The parsed footer of one data file."""

    path: str
    metadata: pq.FileMetaData
    file_schema: Schema
    """The file's own schema with its field ids (what pyiceberg's projection maps from)."""
    offsets: npt.NDArray[np.int64]
    """First position of each row group, plus the row count at the end."""
    _bounds: dict[str, tuple[list[Any], list[Any], list[int], bool] | None] = field(default_factory=dict)
    _projections: dict[tuple[int, tuple[str, ...]], Projection] = field(default_factory=dict)

    def projection(self, schema: Schema, columns: tuple[str, ...]) -> Projection:
        """How to read table columns ``columns`` (of table schema ``schema``) from this file (cached)."""
        key = (schema.schema_id, columns)
        found = self._projections.get(key)
        if found is None:
            found = self._projections[key] = Projection.of(self.file_schema, schema, columns)
        return found

    @property
    def row_groups(self) -> int:
        return self.metadata.num_row_groups

    def column_name(self, field_id: int) -> str | None:
        """The file's top-level column name of table field ``field_id`` (None: not in this file)."""
        try:
            return self.file_schema.find_field(field_id).name
        except ValueError:
            return None

    def select(self, filters: tuple[q.Filter, ...], columns: dict[str, int]) -> list[int]:
        """Row groups whose statistics may hold rows matching every filter (``columns``: name → field id)."""
        chosen = set(range(self.row_groups))
        for f in filters:
            if not chosen:
                break
            name = self.column_name(columns[f.column])
            bounds = self.column_bounds(name) if name is not None else None
            if bounds is not None:
                chosen &= _matching(f, bounds)
        return sorted(chosen)

    def column_bounds(self, name: str) -> tuple[list[Any], list[Any], list[int], bool] | None:
        """(mins, maxs, null counts, ascending) per row group of file column ``name`` (cached); None when
        a row group has no statistics for it."""
        if name not in self._bounds:
            self._bounds[name] = _read_bounds(self.metadata, name)
        return self._bounds[name]


def _read_bounds(metadata: pq.FileMetaData, name: str) -> tuple[list[Any], list[Any], list[int], bool] | None:
    """(mins, maxs, null counts, ascending) of a top-level primitive column; None when any group lacks them.

    Statistics are per leaf column: the column's leaf is the one whose path is just its name (a list or
    struct column has leaves of longer paths, and shifts the leaf indexes of the columns after it).
    """
    schema = metadata.schema
    top = schema.to_arrow_schema()
    if top.get_field_index(name) < 0 or pa.types.is_nested(top.field(name).type):
        return None
    index = next((i for i in range(len(schema)) if schema.column(i).path == name), -1)
    if index < 0:
        return None
    mins, maxs, nulls = [], [], []
    for rg in range(metadata.num_row_groups):
        stats = metadata.row_group(rg).column(index).statistics
        if stats is None or not stats.has_min_max or stats.null_count is None:
            return None
        mins.append(stats.min)
        maxs.append(stats.max)
        nulls.append(int(stats.null_count))
    try:
        ascending = all(a <= b for a, b in itertools.pairwise(mins)) and all(
            a <= b for a, b in itertools.pairwise(maxs)
        )
    except TypeError:
        return None
    return mins, maxs, nulls, ascending


def _matching(f: q.Filter, bounds: tuple[list[Any], list[Any], list[int], bool]) -> set[int]:
    """Row groups that may match ``f`` (every group when a value cannot be compared with the statistics)."""
    mins, maxs, nulls, ascending = bounds
    everything = set(range(len(mins)))
    try:
        if isinstance(f, q.Eq):
            if f.value is None:
                return {i for i, n in enumerate(nulls) if n > 0}
            return _in_range(mins, maxs, ascending, f.value, True, f.value, True)
        if isinstance(f, q.In):
            found: set[int] = set()
            for value in f.values:
                if value is not None:
                    found |= _in_range(mins, maxs, ascending, value, True, value, True)
            return found
        return _in_range(mins, maxs, ascending, f.low, f.low_inclusive, f.high, f.high_inclusive)
    except TypeError:
        return everything


def _in_range(
    mins: list[Any], maxs: list[Any], ascending: bool, low: Any, low_inc: bool, high: Any, high_inc: bool
) -> set[int]:
    """Row groups whose [min, max] overlaps the interval (None: open)."""
    if ascending:
        start = 0 if low is None else (bisect.bisect_left(maxs, low) if low_inc else bisect.bisect_right(maxs, low))
        stop = (
            len(mins)
            if high is None
            else (bisect.bisect_right(mins, high) if high_inc else bisect.bisect_left(mins, high))
        )
        return set(range(start, stop))
    result = set()
    for i, (lo, hi) in enumerate(zip(mins, maxs, strict=True)):
        if low is not None and (hi < low or (hi == low and not low_inc)):
            continue
        if high is not None and (lo > high or (lo == high and not high_inc)):
            continue
        result.add(i)
    return result


@dataclass(frozen=True)
class Projection:
    """Table columns read from one file: the file's column names, and the conversion to the table's types."""

    requested: Schema
    in_file: Schema
    file_columns: list[str]
    target: pa.Schema
    """The Arrow schema the table's columns have (field metadata dropped)."""

    @classmethod
    def of(cls, file_schema: Schema, schema: Schema, columns: tuple[str, ...]) -> Projection:
        from pyiceberg.schema import prune_columns
        from pyiceberg.types import ListType, MapType

        requested = schema.select(*columns)
        # As pyiceberg's scan: every leaf id (a list or map is selected through its elements).
        ids = {i for i in requested.field_ids if not isinstance(requested.find_type(i), ListType | MapType)}
        in_file = prune_columns(file_schema, ids, select_full_types=False)
        return cls(requested, in_file, [c.name for c in in_file.columns], _small(requested.as_arrow()))

    def convert(self, data: pa.Table) -> pa.Table:
        """``data`` (file columns) in the table's current schema: pyiceberg's projection unless it already is
        (same names and types; ``string`` where pyiceberg says ``large_string`` holds the same values)."""
        if data.schema.remove_metadata().equals(self.target):
            return data.replace_schema_metadata(None)
        from pyiceberg.io.pyarrow import _to_requested_schema

        batches = data.combine_chunks().to_batches()
        record = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=data.schema)
        converted = _to_requested_schema(
            self.requested, self.in_file, record, downcast_ns_timestamp_to_us=True, allow_timestamp_tz_mismatch=True
        )
        return pa.Table.from_batches([converted])


def _small(schema: pa.Schema) -> pa.Schema:
    """``schema`` with 32-bit offsets (what Parquet reads as) instead of pyiceberg's large types."""
    small = {pa.large_string(): pa.string(), pa.large_binary(): pa.binary()}
    fields = [pa.field(f.name, small.get(f.type, f.type), f.nullable) for f in schema]
    return pa.schema(fields)


class RowGroupCache:
    """Decoded row groups by (file, row group, columns), LRU within a budget of Arrow bytes.

    Files are immutable, so an entry never goes stale. A key lookup decodes a whole row group (~1 ms
    for 11 columns of 4,096 rows, the largest share of a point read); a hot key range is decoded once.

    Note:
        Thread-safe. An entry larger than the whole budget is not kept.
    """

    def __init__(self, budget_bytes: int = ROW_GROUP_CACHE_BYTES_DEFAULT) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple[str, int, tuple[str, ...]], pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: tuple[str, int, tuple[str, ...]]) -> pa.Table | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, int, tuple[str, ...]], data: pa.Table) -> None:
        size = data.nbytes
        if size > self.budget_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.nbytes
            self._entries[key] = data
            self._bytes += size
            while self._bytes > self.budget_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class FooterCache:
    """Footers of data files by path (LRU); files are immutable, so an entry never goes stale.

    ``row_groups``: where small reads keep what they decode (None: nothing is kept).
    """

    def __init__(self, io: FileIO, size: int = FOOTERS_CACHED_DEFAULT, row_groups: RowGroupCache | None = None) -> None:
        self._io = io
        self._size = size
        self._footers: OrderedDict[str, FileFooter] = OrderedDict()
        self._lock = threading.Lock()
        self.row_groups = row_groups

    def footer(self, path: str) -> FileFooter:
        with self._lock:
            found = self._footers.get(path)
            if found is not None:
                self._footers.move_to_end(path)
                return found
        footer = self._load(path)
        with self._lock:
            self._footers[path] = footer
            while len(self._footers) > self._size:
                self._footers.popitem(last=False)
        return footer

    def _load(self, path: str) -> FileFooter:
        from pyiceberg.io.pyarrow import pyarrow_to_schema

        with self._io.new_input(path).open() as stream:
            metadata = pq.read_metadata(stream)
        file_schema = pyarrow_to_schema(metadata.schema.to_arrow_schema(), downcast_ns_timestamp_to_us=True)
        sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        return FileFooter(path, metadata, file_schema, offsets)

    def read(
        self, footer: FileFooter, row_groups: list[int], columns: list[str], *, threads: bool
    ) -> tuple[pa.Table, npt.NDArray[np.int64]]:
        """The file columns ``columns`` of ``row_groups`` and the file position of every row read."""
        cache = self.row_groups
        if cache is not None and len(row_groups) <= CACHED_READ_ROW_GROUPS:
            data = self._read_cached(cache, footer, row_groups, columns, threads=threads)
        else:
            data = self._decode(footer, row_groups, columns, threads=threads)
        positions = np.concatenate(
            [np.arange(footer.offsets[rg], footer.offsets[rg + 1], dtype=np.int64) for rg in row_groups]
        ) if row_groups else np.empty(0, np.int64)  # fmt: skip
        return data, positions

    def _decode(self, footer: FileFooter, row_groups: list[int], columns: list[str], *, threads: bool) -> pa.Table:
        with self._io.new_input(footer.path).open() as stream:
            reader = pq.ParquetFile(stream, metadata=footer.metadata)
            return reader.read_row_groups(row_groups, columns=columns, use_threads=threads)

    def _read_cached(
        self, cache: RowGroupCache, footer: FileFooter, row_groups: list[int], columns: list[str], *, threads: bool
    ) -> pa.Table:
        found = [cache.get((footer.path, group, tuple(columns))) for group in row_groups]
        missing = [group for group, data in zip(row_groups, found, strict=True) if data is None]
        if missing:
            decoded = {}
            for group in missing:  # one at a time: each entry owns its buffers, so its size is what it holds
                decoded[group] = self._decode(footer, [group], columns, threads=threads)
                cache.put((footer.path, group, tuple(columns)), decoded[group])
            found = [
                data if data is not None else decoded[group] for group, data in zip(row_groups, found, strict=True)
            ]
        tables = [data for data in found if data is not None]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def clear(self) -> None:
        with self._lock:
            self._footers.clear()
        if self.row_groups is not None:
            self.row_groups.clear()
