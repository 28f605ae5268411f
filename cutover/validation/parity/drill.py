"""The drill-down of a parity: from differing first-level buckets to named keys and columns.

One strategy per kind of bucket (see :mod:`cutover.validation.parity`): :func:`drill_ranges` (a leading
integer key), :func:`drill_key_buckets` (any other key) and :func:`drill_row_buckets` (no key). The first
two end in :func:`name_differences`, which lists missing, extra and changed rows with their key texts
and, for changed rows, the differing columns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from cutover.hashing import bucket_sums
from cutover.validation.parity.iceberg import IcebergHashes, IcebergRows
from cutover.validation.parity.model import KeyId, ParityOptions, ParityResult, ParityTable, SourceRow
from cutover.validation.parity.source import BucketSums, SourceQueries, range_filter
from cutover.validation.report import ColumnDiff, KeyDiff


@dataclass(frozen=True)
class Comparison:
    """Both sides of one table's comparison, as the drill-down reads them."""

    table: ParityTable
    options: ParityOptions
    source: SourceQueries
    iceberg: IcebergHashes
    rows: IcebergRows


# --- integer key ranges ------------------------------------------------------------------------------
def drill_ranges(
    cmp: Comparison, bounds: tuple[int, int], buckets: int, source_buckets: BucketSums, result: ParityResult
) -> None:
    """Split differing key ranges until few rows remain, then compare those rows."""
    ice = cmp.iceberg
    ik = ice.int_key
    assert ik is not None
    low, high = bounds
    width = max(1, -(-(high - low) // buckets))
    # Iceberg rows outside the source's key span are extra by definition: give them their own ranges.
    ranges: list[tuple[int, int]] = []
    edges = [min(low + i * width, high) for i in range(buckets)] + [high]
    ice_counts, ice_sums = ice.range_sums(edges)
    for index in range(buckets):
        if source_buckets.get(index, (0, 0)) != (int(ice_counts[index]), int(ice_sums[index])):
            ranges.append((edges[index], edges[index + 1]))
    int64 = np.iinfo(np.int64)
    if len(ik) and ik[0] < low:
        ranges.insert(0, (int(int64.min), low))
    if len(ik) and ik[-1] >= high:
        ranges.append((high, int(int64.max)))
    while ranges:
        source_rows, ice_rows = cmp.source.range_rows(ranges), ice.range_rows(ranges)
        if max(source_rows, ice_rows) <= cmp.options.leaf_rows or all(hi - lo <= 1 for lo, hi in ranges):
            break
        ranges = _split_ranges(cmp, ranges)
    if not ranges:
        return
    source = cmp.source.rows(range_filter(cmp.table.key[0], ranges))
    selected = ice.in_ranges(ranges)
    name_differences(cmp, source, ice.ids(selected), ice.hashes[selected], result)


def _split_ranges(cmp: Comparison, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each range cut into ``split`` sub-ranges; those whose sums differ."""
    edges: list[int] = []
    for lo, hi in ranges:
        step = max(1, -(-(hi - lo) // cmp.options.split))
        edges += list(range(lo, hi, step))
        edges.append(hi)
    edges = sorted(set(edges))
    source = cmp.source.edge_sums(ranges, edges)
    ice_counts, ice_sums = cmp.iceberg.range_sums(edges)
    inside: set[int] = set()
    for lo, hi in ranges:
        inside.update(range(edges.index(lo), edges.index(hi)))
    split = []
    for index in sorted(inside):
        # width_bucket counts the edges <= key: the range [edges[i], edges[i+1]) is bucket i + 1.
        if source.get(index + 1, (0, 0)) != (int(ice_counts[index]), int(ice_sums[index])):
            split.append((edges[index], edges[index + 1]))
    return split


# --- hash buckets ------------------------------------------------------------------------------------
def _differing_buckets(
    cmp: Comparison, buckets: int, source_buckets: BucketSums
) -> tuple[list[int], np.ndarray | None]:
    """The hash buckets whose sums differ, and a mask of the Iceberg rows in them (None: no difference)."""
    ice = cmp.iceberg
    assert ice.key_hashes is not None  # the first column's hashes without a key
    ice_bucket = (ice.key_hashes & np.uint64(buckets - 1)).astype(np.int64)
    ice_counts, ice_sums = bucket_sums(ice_bucket, ice.hashes, buckets)
    differing = [b for b in range(buckets) if source_buckets.get(b, (0, 0)) != (int(ice_counts[b]), int(ice_sums[b]))]
    if not differing:
        return differing, None
    return differing, np.isin(ice_bucket, np.array(differing, dtype=np.int64))


def drill_key_buckets(cmp: Comparison, buckets: int, source_buckets: BucketSums, result: ParityResult) -> None:
    """Compare the rows of differing key-hash buckets by key hash."""
    differing, selected = _differing_buckets(cmp, buckets, source_buckets)
    if selected is None:
        return
    source = cmp.source.rows(cmp.source.key_buckets_filter(buckets, differing))
    assert cmp.iceberg.key_hashes is not None
    name_differences(cmp, source, cmp.iceberg.key_hashes[selected], cmp.iceberg.hashes[selected], result)


def drill_row_buckets(cmp: Comparison, buckets: int, source_buckets: BucketSums, result: ParityResult) -> None:
    """Without a key, compare the multisets of row hashes in differing buckets."""
    differing, selected = _differing_buckets(cmp, buckets, source_buckets)
    if selected is None:
        return
    source_hashes = cmp.source.bucket_row_hashes(buckets, differing)
    ice_hashes = Counter(int(h) for h in cmp.iceberg.hashes[selected].tolist())
    missing, extra = source_hashes - ice_hashes, ice_hashes - source_hashes
    result.missing_total, result.extra_total = sum(missing.values()), sum(extra.values())
    cap = cmp.options.max_differences
    for kind, counter in (("missing", missing), ("extra", extra)):
        for row_hash, count in list(counter.items())[:cap]:
            result.differences.append(
                KeyDiff(kind, {"row_hash": f"{row_hash:016x}", "rows": str(count)})  # type: ignore[arg-type]
            )


# --- naming keys and columns -------------------------------------------------------------------------
def name_differences(
    cmp: Comparison,
    source: dict[KeyId, SourceRow],
    ice_ids: np.ndarray,
    ice_hashes: np.ndarray,
    result: ParityResult,
) -> None:
    """Missing, extra (including a key held twice by Iceberg) and changed rows of the compared rows."""
    iceberg: dict[KeyId, int] = {}
    duplicates: list[KeyId] = []
    for key_id, row_hash in zip(ice_ids.tolist(), ice_hashes.tolist(), strict=True):
        if key_id in iceberg:
            duplicates.append(key_id)
        else:
            iceberg[key_id] = row_hash
    missing = sorted((k for k in source if k not in iceberg), key=lambda k: _sort_key(source[k].key))
    changed = sorted(
        (k for k, row in source.items() if k in iceberg and iceberg[k] != row.row_hash),
        key=lambda k: _sort_key(source[k].key),
    )
    extra = [k for k in iceberg if k not in source] + duplicates
    result.missing_total, result.extra_total, result.changed_total = len(missing), len(extra), len(changed)
    cap = cmp.options.max_differences
    extra_texts = _extra_key_texts(cmp, set(extra[:cap])) if extra[:cap] else {}
    listed_extra = sorted(extra[:cap], key=lambda k: _sort_key(extra_texts.get(k, (str(k),))))
    details = _column_differences(cmp, {k: source[k].key for k in changed[:cap]}) if changed else {}
    key = cmp.table.key
    for key_id in missing[:cap]:
        result.differences.append(KeyDiff("missing", _key_dict(key, source[key_id].key)))
    for key_id in listed_extra:
        result.differences.append(KeyDiff("extra", _key_dict(key, extra_texts.get(key_id, (None,) * len(key)))))
    for key_id in changed[:cap]:
        result.differences.append(KeyDiff("changed", _key_dict(key, source[key_id].key), details.get(key_id, [])))


def _extra_key_texts(cmp: Comparison, ids: set[KeyId]) -> dict[KeyId, tuple[str | None, ...]]:
    if cmp.table.int_key_only:
        return {i: (str(i),) for i in ids}
    rows = cmp.rows.read(ids, [])
    return {r[0]: tuple(r[1:]) for r in cmp.rows.texts(rows, [])}


def _column_differences(cmp: Comparison, keys: dict[KeyId, tuple[str | None, ...]]) -> dict[KeyId, list[ColumnDiff]]:
    """Both sides' canonical text of every column of the ``keys`` rows, compared column by column."""
    table = cmp.table
    ids = list(keys)
    leads = None
    if table.int_key and not table.int_key_only:  # the leading integer narrows both scans to a few rows
        leads = {int(texts[0]) for texts in keys.values() if texts[0] is not None}
    source = cmp.source.column_texts(ids, leads)
    width = len(table.key)
    rows = cmp.rows.read(set(ids), table.mappings, leads)
    iceberg = {r[0]: r[1 + width :] for r in cmp.rows.texts(rows, table.mappings)}
    out: dict[KeyId, list[ColumnDiff]] = {}
    for key_id in ids:
        left, right = source.get(key_id), iceberg.get(key_id)
        if left is None or right is None:
            continue
        out[key_id] = [
            ColumnDiff(m.column.name, a, b) for m, a, b in zip(table.mappings, left, right, strict=True) if a != b
        ]
    return out


def _key_dict(key: list[str], texts: tuple[str | None, ...]) -> dict[str, str | None]:
    return dict(zip(key, texts, strict=True))


def _sort_key(texts: tuple[str | None, ...]) -> tuple[str, ...]:
    return tuple("" if t is None else t for t in texts)
