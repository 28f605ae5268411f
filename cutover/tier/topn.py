"""Top-N by row-group statistics: read the row groups that can hold the first N rows, best first, and stop.

A read like "the 100 newest paid orders" wants the largest ``created_at`` values. Each row group's footer
statistics bound its values, so groups are read in the order of their bound (largest maximum first, for a
descending key), a few at a time; once N matching rows are in hand, the N-th best value is a threshold,
and every group whose bound is worse cannot contribute. Where the ordering column follows the write order
(a creation time in a key-ordered table) a handful of groups answer the read; where it does not, the
groups are all read, as without this.

Only the first sort key is used: the others (the primary key appended as a tie-breaker) decide among
equal first-key values, which is why a group whose bound *equals* the threshold is still read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.types import DoubleType, FloatType

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask

    from cutover.tier import query as q
    from cutover.tier.files import FileFooter

FIRST_ROW_GROUPS = 8
"""Row groups read in the first round (then twice as many each round)."""


@dataclass(frozen=True)
class Candidate:
    """One row group that may hold rows of the read, with the bound of its first sort key."""

    task: FileScanTask
    footer: FileFooter
    group: int
    bound: Any


def best_first(
    chosen: list[tuple[FileScanTask, FileFooter, list[int]]], schema: Schema, key: q.SortKey
) -> list[Candidate] | None:
    """The candidate row groups, best bound first; None when the statistics cannot order them: a group
    without statistics or with NULLs in the key (NULLs sort last, outside every bound), or a float key
    (statistics leave NaN out, which sorts above every number)."""
    field = schema.find_field(key.column)
    if isinstance(field.field_type, FloatType | DoubleType):
        return None
    found: list[Candidate] = []
    for task, footer, groups in chosen:
        name = footer.column_name(field.field_id)
        bounds = footer.column_bounds(name) if name is not None else None
        if bounds is None:
            return None
        mins, maxs, nulls, _ = bounds
        for group in groups:
            if nulls[group]:
                return None
            found.append(Candidate(task, footer, group, maxs[group] if key.descending else mins[group]))
    try:
        return sorted(found, key=lambda c: c.bound, reverse=key.descending)
    except TypeError:
        return None


def threshold(tables: list[pa.Table], key: q.SortKey, limit: int) -> Any | None:
    """The ``limit``-th best value of the first sort key among the rows read so far (None: fewer rows)."""
    rows = sum(t.num_rows for t in tables)
    if limit <= 0 or rows < limit:
        return None
    column = pa.chunked_array([c for t in tables for c in _storage(t.column(key.column)).chunks])
    order = "descending" if key.descending else "ascending"
    best = pc.select_k_unstable(pa.table({"k": column}), k=limit, sort_keys=[("k", order)])
    return column[best[limit - 1].as_py()].as_py()


def cannot_contribute(candidate: Candidate, bound: Any, descending: bool) -> bool:
    """Whether every row of ``candidate`` sorts after the threshold ``bound`` (ties still count)."""
    try:
        return bool(candidate.bound < bound if descending else candidate.bound > bound)
    except TypeError:
        return False


def _storage(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if isinstance(column.type, pa.BaseExtensionType):
        return pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
    return column
