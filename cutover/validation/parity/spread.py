"""The Iceberg side of a parity spread over many workers: each hashes some data files straight into the
first-level buckets and hands back only their counts and hash sums (a few kilobytes, whatever the rows).

The buckets are the source's (:meth:`BucketLayout.index` mirrors the source query's bucket expression),
so a table whose buckets all agree is proven without any row hash leaving a worker. When some bucket
differs the caller drills down as before, with every row's hash read in its own process: differences are
the exception, and naming them needs the rows anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cutover.config import CatalogConfig
from cutover.hashing import bucket_sums
from cutover.lake.catalog import open_catalog
from cutover.lake.scan import file_streams
from cutover.validation.parity.iceberg import IcebergHashes, hash_file
from cutover.validation.parity.model import ParityTable
from cutover.validation.parity.source import BucketSums
from cutover.validation.parity.stats import StatAcc, accumulators

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class BucketLayout:
    """The first-level buckets of a parity: integer-key ranges within ``bounds``, else key-hash bits."""

    buckets: int
    bounds: tuple[int, int] | None

    def index(self, part: IcebergHashes) -> tuple[np.ndarray, np.ndarray | None]:
        """Each kept row's bucket, and which rows are kept (None: all). Rows outside the source's key span
        are not kept; neither is any row of a table these buckets cannot place (then the caller drills)."""
        if self.bounds is None:
            if part.key_hashes is None:  # a single integer key too wide for ranges: no bucket to compare
                return np.empty(0, np.int64), np.zeros(len(part.hashes), dtype=bool)
            return (part.key_hashes & np.uint64(self.buckets - 1)).astype(np.int64), None
        assert part.int_key is not None
        low, high = self.bounds
        width = max(1, -(-(high - low) // self.buckets))
        inside = (part.int_key >= low) & (part.int_key < high)
        if bool(inside.all()):
            return (part.int_key - low) // width, None
        return (part.int_key[inside] - low) // width, inside


@dataclass(frozen=True)
class FileGroup:
    """Some data files of one Iceberg snapshot, and how to bucket their rows: all a worker needs."""

    catalog: CatalogConfig
    identifier: tuple[str, str]
    snapshot_id: int
    paths: tuple[str, ...]
    table: ParityTable
    layout: BucketLayout


@dataclass
class BucketPart:
    """Counts and hash sums per bucket of some rows, their column aggregates, and the rows outside the
    source's key span (extra in Iceberg by definition)."""

    counts: np.ndarray
    sums: np.ndarray
    stats: dict[str, StatAcc]
    rows: int = 0
    outside: int = 0

    def merge(self, other: BucketPart) -> None:
        self.counts += other.counts
        self.sums += other.sums  # uint64: wraps mod 2**64, as the source's sums are taken
        self.rows += other.rows
        self.outside += other.outside
        for name, acc in other.stats.items():
            self.stats[name].merge(acc)

    def matches(self, source: BucketSums) -> bool:
        """Every bucket agrees with the source's and no row lies outside its key span."""
        if self.outside:
            return False
        return all(source.get(b, (0, 0)) == (int(self.counts[b]), int(self.sums[b])) for b in range(len(self.counts)))


def empty_part(table: ParityTable, buckets: int) -> BucketPart:
    return BucketPart(np.zeros(buckets, np.int64), np.zeros(buckets, np.uint64), accumulators(table.stat_columns))


def hash_file_group(group: FileGroup) -> BucketPart:
    """Hash the group's files into buckets (runs on a worker: it opens the catalog and table itself)."""
    iceberg = open_catalog(group.catalog).load_table(group.identifier)
    columns = tuple(m.column.name for m in group.table.mappings)
    wanted = set(group.paths)
    total = empty_part(group.table, group.layout.buckets)
    for stream in file_streams(iceberg, columns, snapshot_id=group.snapshot_id):
        if stream.path not in wanted:
            continue
        part = hash_file(group.table, stream)
        index, kept = group.layout.index(part)
        hashes = part.hashes if kept is None else part.hashes[kept]
        counts, sums = bucket_sums(index, hashes, group.layout.buckets)
        outside = len(part.hashes) - len(hashes)
        total.merge(BucketPart(counts, sums, part.stats, rows=len(part.hashes), outside=outside))
    return total


class FileSpread(Protocol):
    """Runs file groups somewhere else (the workers of a cluster) and gathers their bucket sums."""

    catalog: CatalogConfig
    """The catalog the workers open (the parity's own table object does not travel)."""
    parts: int
    """How many groups to cut the files into (about twice the workers' threads)."""

    def map(self, fn: Callable[[FileGroup], BucketPart], groups: list[FileGroup]) -> list[BucketPart]: ...


@dataclass
class Spread:
    """Plans the groups of one table's current snapshot (files balanced by rows) for a :class:`FileSpread`."""

    spread: FileSpread
    iceberg: Table
    table: ParityTable
    groups: list[FileGroup] = field(default_factory=list)

    def bucket(self, layout: BucketLayout) -> BucketPart:
        """Every row of the snapshot bucketed by ``layout``, by the spread's workers."""
        total = empty_part(self.table, layout.buckets)
        snapshot = self.iceberg.current_snapshot()
        if snapshot is None:
            return total
        streams = file_streams(self.iceberg, ("*",), snapshot_id=snapshot.snapshot_id)
        bins: list[list[str]] = [[] for _ in range(max(1, min(self.spread.parts, len(streams))))]
        loads = [0] * len(bins)
        for stream in sorted(streams, key=lambda s: -s.record_count):  # largest first, onto the lightest bin
            lightest = loads.index(min(loads))
            bins[lightest].append(stream.path)
            loads[lightest] += stream.record_count
        identifier = tuple(self.iceberg.name()[-2:])
        self.groups = [
            FileGroup(self.spread.catalog, (identifier[0], identifier[1]), snapshot.snapshot_id, tuple(paths),
                      self.table, layout)
            for paths in bins if paths
        ]  # fmt: skip
        for part in self.spread.map(hash_file_group, self.groups):
            total.merge(part)
        return total
