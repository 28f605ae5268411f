"""Hard deletes: keys Iceberg still holds that the source no longer has, found by comparing key sets.

Inside the sync's snapshot S the source holds ``(Iceberg keys − deleted) ∪ inserted``, and every
inserted key is among the changed rows the sync already read. So the expected key set
``Iceberg keys ∪ changed keys`` differs from the source's exactly by the deleted keys. Both sides are
summarized per key bucket (row count and a sum of key hashes, inside PostgreSQL: no key is
transferred for a bucket that agrees); only buckets that differ have their source keys fetched. When
deletes are scattered over most buckets, fetching every key at once is cheaper than asking per bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

from cutover.source.extract import stream_batch
from cutover.source.introspect import SourceTable
from cutover.validation import lookup3
from cutover.validation.rowhash import HASH_MODULUS, KeyIdentity

BUCKET_ROWS = 2_000
"""Target keys per bucket: small buckets keep the keys fetched for a few deletes few."""
FETCH_ALL_FRACTION = 0.25
"""When differing buckets hold more than this share of the keys, every source key is fetched at once."""


@dataclass(frozen=True)
class DeleteScan:
    """What finding the deletes cost: how many buckets differed and how many source keys came over."""

    deleted: npt.NDArray[np.int64]
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
) -> DeleteScan:
    """Key ids in ``expected`` (sorted, unique: Iceberg's keys plus the changed rows') missing in the source.

    ``conn`` must be inside the snapshot ``snapshot_id`` (the sync's), which ADBC readers also import.
    """
    if len(expected) == 0:
        return DeleteScan(np.empty(0, np.int64), 0, 0, 0)
    buckets = max(1, -(-len(expected) // BUCKET_ROWS))
    if not identity.integer:
        buckets = 1 << (buckets - 1).bit_length()
    bucket_of, bucket_sql, low, width = _buckets(identity, expected, buckets)
    expected_bucket = bucket_of(expected)
    counts = np.bincount(expected_bucket, minlength=buckets)
    sums = _bucket_hash_sums(expected_bucket, lookup3.hash_int64(expected, 0), buckets)
    source = _source_buckets(conn, table, identity, bucket_sql, buckets)
    differing = [b for b in range(buckets) if source.get(b, (0, 0)) != (int(counts[b]), int(sums[b]))]
    if not differing:
        return DeleteScan(np.empty(0, np.int64), buckets, 0, 0)
    share = counts[differing].sum() / max(len(expected), 1)
    where: sql.Composable | None = None
    if share <= FETCH_ALL_FRACTION:
        where = _bucket_filter(identity, bucket_sql, differing, low, width)
    present = _source_keys(dsn, snapshot_id, table, identity, where)
    candidates = expected[np.isin(expected_bucket, np.array(differing))] if where is not None else expected
    deleted = np.setdiff1d(candidates, present, assume_unique=False)
    return DeleteScan(deleted.astype(np.int64), buckets, len(differing), len(present))


BucketOf = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.int64]]


def _buckets(
    identity: KeyIdentity, expected: npt.NDArray[np.int64], buckets: int
) -> tuple[BucketOf, sql.Composable, int, int]:
    """(numpy bucket function, PostgreSQL bucket expression, low, width) of the bucketing used."""
    key = identity.pg("k")
    if identity.integer:  # ranges of the key: a differing bucket is an index range scan
        low, high = int(expected[0]), int(expected[-1]) + 1
        width = max(1, -(-(high - low) // buckets))
        expression = sql.SQL("(({k} - {lo}) / {w})").format(k=key, lo=sql.Literal(low), w=sql.Literal(width))
        return (lambda ids: ((ids - low) // width).astype(np.int64)), expression, low, width
    mask = buckets - 1  # a power of two (see find_deleted): the low bits of the key hash
    expression = sql.SQL("(({k}) & {m})").format(k=key, m=sql.Literal(mask))
    return (lambda ids: (ids & mask).astype(np.int64)), expression, 0, 0


def _bucket_hash_sums(
    bucket: npt.NDArray[np.int64], hashes: npt.NDArray[np.uint64], count: int
) -> npt.NDArray[np.uint64]:
    sums = np.zeros(count, dtype=np.uint64)
    for shift in (0, 16, 32, 48):  # float64 sums of 16-bit slices are exact
        part = np.bincount(bucket, weights=(hashes >> np.uint64(shift)) & np.uint64(0xFFFF), minlength=count)
        sums += part.astype(np.uint64) << np.uint64(shift)
    return sums


def _source_buckets(
    conn: psycopg.Connection, table: SourceTable, identity: KeyIdentity, bucket: sql.Composable, buckets: int
) -> dict[int, tuple[int, int]]:
    # Joined to the bucket list so the planner expects a few groups and aggregates in parallel.
    query = sql.SQL(
        "select b.n, count(*), sum(hashint8extended({k}, 0)) from {t} as k "
        "join generate_series(0::bigint, {last}) as b(n) on {bucket} = b.n group by b.n"
    ).format(
        k=identity.pg("k"), t=sql.Identifier(table.schema, table.name), last=sql.Literal(buckets - 1), bucket=bucket
    )
    return {int(b): (int(c), int(s) % HASH_MODULUS) for b, c, s in conn.execute(query)}


def _bucket_filter(
    identity: KeyIdentity, bucket: sql.Composable, differing: list[int], low: int, width: int
) -> sql.Composable:
    if not identity.integer:
        return sql.SQL("{} = any({})").format(bucket, sql.Literal(differing))
    ranges: list[tuple[int, int]] = []
    for b in differing:  # adjacent buckets merge into one range
        lo, hi = low + b * width, low + (b + 1) * width
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    key = identity.pg("k")
    return sql.SQL(" or ").join(
        sql.SQL("({k} >= {lo} and {k} < {hi})").format(k=key, lo=sql.Literal(lo), hi=sql.Literal(hi))
        for lo, hi in ranges
    )


def _source_keys(
    dsn: str, snapshot_id: str, table: SourceTable, identity: KeyIdentity, where: sql.Composable | None
) -> npt.NDArray[np.int64]:
    """The source's key ids (optionally only where ``where`` holds), streamed as Arrow by ADBC."""
    query = sql.SQL("select {k} as k from {t} as k where {w}").format(
        k=identity.pg("k"),
        t=sql.Identifier(table.schema, table.name),
        w=where if where is not None else sql.SQL("true"),
    )
    parts = [
        np.asarray(batch.column(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        for batch in stream_batch(dsn, query.as_string(), snapshot_id)
    ]
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.int64)
