"""Hard deletes found by comparing key sets: keys Iceberg still holds that the source no longer has.

The fallback of the delete log (:mod:`cutover.source.delete_log`), and how a new log starts: it costs a
scan of every key, where the log costs what the deletes cost.

Inside the sync's snapshot S the source holds ``(Iceberg keys − deleted) ∪ inserted``, and every
inserted key is among the changed rows the sync already read. So the expected key set
``Iceberg keys ∪ changed keys`` differs from the source's exactly by the deleted keys, and the difference
of the row counts is the number of deletes. In steps, each only when the one before found a difference:

1. One summary of the whole key set inside PostgreSQL (count and key sum: a parallel scan, no key
   transferred). Equal: nothing was deleted (the common night).
2. Few deletes (fewer than the buckets), integer key: the same summary per key range, one ``UNION ALL`` of
   index-only range scans that PostgreSQL runs as a parallel append (a join to a bucket list, or a
   ``GROUP BY`` on the bucket, cost 2-5x that here). Only the keys of differing ranges come over.
3. Otherwise (deletes scattered over most ranges, or a key that is not one integer): every key comes
   over, streamed by ADBC over ``readers`` ctid ranges of the heap in parallel.

Memory: 8 bytes per key of the table on the worker (the Iceberg side holds as much already).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from cutover.hashing import HASH_MODULUS, KeyIdentity, bucket_sums, isin_sorted
from cutover.source.connection import connect
from cutover.source.extract import stream_batch
from cutover.source.introspect import SourceTable

MAX_BUCKETS = 256
"""Key ranges aggregated at once: a UNION ALL of more subqueries costs more to plan than it saves."""
MIN_BUCKET_ROWS = 2_000
_WHOLE = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max], dtype=np.int64)


@dataclass(frozen=True)
class DeleteScan:
    """The deleted keys, and what finding them cost."""

    deleted: npt.NDArray[np.int64]
    """Sorted key ids."""
    buckets: int
    differing_buckets: int
    keys_fetched: int


def find_deleted(
    conn: psycopg.Connection,
    dsn: str,
    snapshot_id: str,
    table: SourceTable,
    identity: KeyIdentity,
    expected: npt.NDArray[np.int64],
    summary: tuple[int, int] | None = None,
    readers: int = 2,
) -> DeleteScan:
    """Key ids of ``expected`` (unique: Iceberg's keys plus the changed rows') missing in the source.

    ``conn`` must be inside the snapshot ``snapshot_id`` (the sync's), which the ADBC readers import;
    ``summary`` is :func:`source_summary`'s result when the caller computed it meanwhile.
    """
    if len(expected) == 0:
        return DeleteScan(np.empty(0, np.int64), 0, 0, 0)
    counts, sums = _expected_sums(expected, _WHOLE)
    source_count, source_sum = summary if summary is not None else source_summary(conn, table, identity)
    if (source_count, source_sum) == (int(counts[0]), int(sums[0])):
        return DeleteScan(np.empty(0, np.int64), 1, 0, 0)
    runs: list[tuple[int, int]] | None = None
    buckets, differing_buckets = 1, 1
    if identity.integer and 0 < int(counts[0]) - source_count < MAX_BUCKETS:
        edges = _edges(int(expected.min()), int(expected.max()) + 1, len(expected))
        counts, sums = _expected_sums(expected, edges)
        source = _source_sums(conn, table, identity, edges, ranged=True)
        differing = [i for i in range(len(edges) - 1) if source.get(i, (0, 0)) != (int(counts[i]), int(sums[i]))]
        runs, buckets, differing_buckets = _runs(edges, differing), len(edges) - 1, len(differing)
    present = _source_keys(dsn, snapshot_id, table, identity, runs, readers)
    candidates = np.sort(expected if runs is None else expected[_in_runs(expected, runs)], kind="stable")
    deleted = candidates[~isin_sorted(candidates, present)]
    return DeleteScan(deleted, buckets, differing_buckets, len(present))


def source_summary(conn: psycopg.Connection, table: SourceTable, identity: KeyIdentity) -> tuple[int, int]:
    """(rows, key sum mod 2**64) of the whole source table, in ``conn``'s snapshot: step 1."""
    return _source_sums(conn, table, identity, _WHOLE, ranged=False).get(0, (0, 0))


def _edges(low: int, high: int, rows: int) -> npt.NDArray[np.int64]:
    """Bucket boundaries over ``[low, high)``: up to MAX_BUCKETS ranges of at least MIN_BUCKET_ROWS keys."""
    count = max(1, min(MAX_BUCKETS, rows // MIN_BUCKET_ROWS))
    width = max(1, -(-(high - low) // count))
    return np.minimum(low + width * np.arange(count + 1, dtype=np.int64), high)


def _expected_sums(expected: npt.NDArray[np.int64], edges: npt.NDArray[np.int64]) -> tuple[np.ndarray, np.ndarray]:
    """Counts and key sums of the expected key set per ``[edges[i], edges[i+1])``."""
    bucket = np.clip(np.searchsorted(edges, expected, side="right") - 1, 0, len(edges) - 2)
    return bucket_sums(bucket, expected.view(np.uint64), len(edges) - 1)


def _source_sums(
    conn: psycopg.Connection, table: SourceTable, identity: KeyIdentity, edges: npt.NDArray[np.int64], ranged: bool
) -> dict[int, tuple[int, int]]:
    """{bucket: (rows, key sum mod 2**64)} of the source; one bucket unless ``ranged``."""
    relation = sql.Identifier(table.schema, table.name)
    key = identity.pg("k")
    if not ranged:
        query: sql.Composed = sql.SQL("select 0, count(*), sum({k}) from {t} as k").format(k=key, t=relation)
    else:
        query = sql.SQL(" union all ").join(
            sql.SQL("select {i}, count(*), sum({k}) from {t} as k where {k} >= {lo} and {k} < {hi}").format(
                i=sql.Literal(i), k=key, t=relation, lo=sql.Literal(int(lo)), hi=sql.Literal(int(hi))
            )
            for i, (lo, hi) in enumerate(itertools.pairwise(edges))
        )
    return {int(i): (int(c), int(s or 0) % HASH_MODULUS) for i, c, s in conn.execute(query)}


def _runs(edges: npt.NDArray[np.int64], differing: list[int]) -> list[tuple[int, int]]:
    """The differing buckets as key ranges, adjacent ones merged."""
    runs: list[tuple[int, int]] = []
    for i in differing:
        lo, hi = int(edges[i]), int(edges[i + 1])
        if runs and runs[-1][1] == lo:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    return runs


def _in_runs(ids: npt.NDArray[np.int64], runs: list[tuple[int, int]]) -> npt.NDArray[np.bool_]:
    inside = np.zeros(len(ids), dtype=bool)
    for lo, hi in runs:
        inside |= (ids >= lo) & (ids < hi)
    return inside


def _source_keys(
    dsn: str,
    snapshot_id: str,
    table: SourceTable,
    identity: KeyIdentity,
    runs: list[tuple[int, int]] | None,
    readers: int,
) -> npt.NDArray[np.int64]:
    """The source's key ids (within ``runs`` of an integer key, else all), sorted, streamed by ADBC.

    All keys are read over ``readers`` ctid ranges of the heap in parallel: a TID range scan each, where
    key ranges would be index scans fetching scattered heap pages.
    """
    relation = sql.Identifier(table.schema, table.name)
    key = identity.pg("k")
    if runs is not None:
        queries: list[sql.Composable] = [
            sql.SQL(" union all ").join(
                sql.SQL("select {k} from {t} as k where {k} >= {lo} and {k} < {hi}").format(
                    k=key, t=relation, lo=sql.Literal(lo), hi=sql.Literal(hi)
                )
                for lo, hi in runs
            )
        ]
    else:
        pages = _heap_pages(dsn, table)
        step = -(-pages // max(1, readers))
        queries = []
        for start in range(0, max(pages, 1), max(step, 1)):
            bounds = [sql.SQL("ctid >= {}::tid").format(sql.Literal(f"({start},0)"))] if start else []
            if start + step < pages:
                bounds.append(sql.SQL("ctid < {}::tid").format(sql.Literal(f"({start + step},0)")))
            where = sql.SQL(" and ").join(bounds) if bounds else sql.SQL("true")
            queries.append(sql.SQL("select {k} from {t} as k where {w}").format(k=key, t=relation, w=where))

    def read(query: sql.Composable) -> npt.NDArray[np.int64]:
        parts = [
            np.asarray(batch.column(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            for batch in stream_batch(dsn, query.as_string(), snapshot_id)
        ]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="cutover-sync-keys") as pool:
        keys = np.concatenate(list(pool.map(read, queries)))
    return np.sort(keys, kind="stable")


def _heap_pages(dsn: str, table: SourceTable) -> int:
    """Heap pages of the table (a partitioned table is read whole: ctid is per partition)."""
    if table.partitioned:
        return 0
    with connect(dsn) as conn:
        row = conn.execute(
            "select pg_relation_size(%s::oid::regclass) / current_setting('block_size')::int", (table.oid,)
        ).fetchone()
    return int(row[0]) if row else 0
