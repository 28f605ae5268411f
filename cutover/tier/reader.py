"""Answering one read from data files: pruned files, pruned row groups, late materialization, top-N.

The path every Iceberg read of the tier takes (:class:`cutover.tier.iceberg.IcebergBackend`):

1. **Files**: the snapshot's cached plan, pruned by partition and column bounds (:mod:`cutover.tier.plan`).
2. **Row groups**: each file's cached footer picks the groups whose statistics may match
   (:mod:`cutover.tier.files`); in a key-ordered file a key lookup keeps one group.
3. **Filter columns first**: when more than :data:`LATE_MATERIALIZATION_ROW_GROUPS` groups remain, only the
   filter and ordering columns are decoded, deletes and filters applied, the top-N chosen; the other
   columns are then decoded only for the row groups that still hold a wanted row.
4. **Top-N by statistics**: a read with an order and a limit takes the row groups best first by their
   statistics of the first ordering column and stops once no other group can hold a wanted row
   (:mod:`cutover.tier.topn`).
5. **Order and limit**: Arrow's ``select_k`` (no full sort) for a top-N without NULLs in its keys, a
   stable sort otherwise; NULLs last in both directions, as PostgreSQL's ``NULLS LAST``.

Small reads (key lookups, key ranges) keep the row groups they decode in the backend's bounded
:class:`cutover.tier.files.RowGroupCache`.

Every value comes out of pyarrow in the table's Iceberg types (no DuckDB detour that would turn a uuid
into text), so both backends hand back the same Python values.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cutover.tier import query as q
from cutover.tier import topn
from cutover.tier.files import FileFooter, FooterCache

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.table import FileScanTask

    from cutover.tier.plan import SnapshotPlan

LATE_MATERIALIZATION_ROW_GROUPS = 16
"""Above this many candidate row groups, decode filter/order columns first and the rest only where needed
(below it, a key lookup or a key range decodes its few row groups once, whole)."""
THREADED_ROW_GROUPS = 4
"""From this many row groups in one file, pyarrow decodes its columns on its thread pool."""
POSITION = "__cutover_pos"
FILE_INDEX = "__cutover_file"


@dataclass
class _Part:
    """The rows one file contributes after deletes and filters (positions in the file)."""

    task: FileScanTask
    footer: FileFooter
    data: pa.Table
    positions: npt.NDArray[np.int64]


class FileReader:
    """Reads the rows of a query from a snapshot plan's files (see the module docstring).

    Args:
        footers: the footer cache (shared by every read of the backend).
        pool: threads that read files at once (None: one file after another).
    """

    def __init__(
        self,
        footers: FooterCache,
        pool: ThreadPoolExecutor | None = None,
        late_row_groups: int = LATE_MATERIALIZATION_ROW_GROUPS,
    ) -> None:
        self._footers = footers
        self._pool = pool
        self._late_row_groups = late_row_groups

    def read(
        self,
        plan: SnapshotPlan,
        tasks: list[FileScanTask],
        schema: Schema,
        query: q.ReadQuery,
        columns: tuple[str, ...],
    ) -> pa.Table:
        """The rows of ``query`` (filters already coerced to the columns' types), columns ``columns``, ordered
        and limited as the query asks."""
        field_ids = {f.name: f.field_id for f in schema.fields}
        first = list(dict.fromkeys([*(f.column for f in query.filters), *(k.column for k in query.order_by)]))
        chosen: list[tuple[FileScanTask, FileFooter, list[int]]] = []
        for task in tasks:
            footer = self._footers.footer(task.file.file_path)
            groups = footer.select(query.filters, field_ids)
            if groups:
                chosen.append((task, footer, groups))
        row_groups = sum(len(groups) for _, _, groups in chosen)
        late = row_groups > self._late_row_groups and bool(set(columns) - set(first)) and bool(first)
        wanted = first if late else list(dict.fromkeys([*first, *columns]))
        threads = row_groups >= THREADED_ROW_GROUPS

        parts = None
        if late and query.order_by and query.limit is not None:
            parts = self._top_n_parts(plan, chosen, schema, query, wanted, threads=threads)
        if parts is None:
            parts = self._parts(plan, chosen, schema, wanted, query.filters, threads=threads)
        if not parts:
            return schema.select(*columns).as_arrow().empty_table()
        if not late:
            result = pa.concat_tables([p.data for p in parts], promote_options="permissive")
            return order_and_limit(result, query).select(list(columns))
        return self._materialize(parts, schema, query, columns)

    def _parts(
        self,
        plan: SnapshotPlan,
        chosen: list[tuple[FileScanTask, FileFooter, list[int]]],
        schema: Schema,
        columns: list[str],
        filters: tuple[q.Filter, ...],
        *,
        threads: bool,
    ) -> list[_Part]:
        """The rows of ``chosen`` row groups that survive deletes and filters (files on the pool)."""

        def one(item: tuple[FileScanTask, FileFooter, list[int]]) -> _Part:
            task, footer, groups = item
            return self._part(plan, task, footer, groups, schema, columns, filters, threads=threads)

        parts = (
            list(self._pool.map(one, chosen)) if self._pool is not None and len(chosen) > 1 else list(map(one, chosen))
        )
        return [p for p in parts if p.data.num_rows]

    def _top_n_parts(
        self,
        plan: SnapshotPlan,
        chosen: list[tuple[FileScanTask, FileFooter, list[int]]],
        schema: Schema,
        query: q.ReadQuery,
        columns: list[str],
        *,
        threads: bool,
    ) -> list[_Part] | None:
        """Like :meth:`_parts`, but only the row groups that can hold the first ``limit`` rows, read best
        first by their statistics (:mod:`cutover.tier.topn`); None when statistics cannot order them."""
        key, limit = query.order_by[0], query.limit
        candidates = topn.best_first(chosen, schema, key)
        if candidates is None or limit is None:
            return None
        parts: list[_Part] = []
        start, size, bound = 0, topn.FIRST_ROW_GROUPS, None
        while start < len(candidates):
            if bound is not None and topn.cannot_contribute(candidates[start], bound, key.descending):
                break  # candidates are best first: none after this one can contribute either
            batch = candidates[start : start + size]
            start, size = start + size, size * 2
            by_file: dict[str, tuple[FileScanTask, FileFooter, list[int]]] = {}
            for c in batch:
                by_file.setdefault(c.footer.path, (c.task, c.footer, []))[2].append(c.group)
            items = [(task, footer, sorted(groups)) for task, footer, groups in by_file.values()]
            parts += self._parts(plan, items, schema, columns, query.filters, threads=threads)
            bound = topn.threshold([p.data for p in parts], key, limit)
        return parts

    def _part(
        self,
        plan: SnapshotPlan,
        task: FileScanTask,
        footer: FileFooter,
        groups: list[int],
        schema: Schema,
        columns: list[str],
        filters: tuple[q.Filter, ...],
        *,
        threads: bool,
    ) -> _Part:
        data, positions = self._read_columns(footer, groups, schema, columns, threads=threads)
        keep: npt.NDArray[np.bool_] | None = None
        deleted = plan.deleted_positions(task)
        if deleted is not None and len(deleted):
            keep = ~_sorted_contains(deleted, positions)
        mask = filter_mask(data, filters)
        if mask is not None:
            keep = mask if keep is None else keep & mask
        if keep is not None:
            data, positions = data.filter(pa.array(keep)), positions[keep]
        return _Part(task, footer, data, positions)

    def _read_columns(
        self, footer: FileFooter, groups: list[int], schema: Schema, columns: list[str], *, threads: bool
    ) -> tuple[pa.Table, npt.NDArray[np.int64]]:
        projection = footer.projection(schema, tuple(columns))
        data, positions = self._footers.read(footer, groups, projection.file_columns, threads=threads)
        return projection.convert(data), positions

    def _materialize(
        self, parts: list[_Part], schema: Schema, query: q.ReadQuery, columns: tuple[str, ...]
    ) -> pa.Table:
        """Order/limit on the first columns, then decode the rest only in row groups holding a wanted row."""
        tagged = pa.concat_tables(
            promote_options="permissive",
            tables=[
                p.data.append_column(FILE_INDEX, pa.array(np.full(p.data.num_rows, i, np.int32))).append_column(
                    POSITION, pa.array(p.positions)
                )
                for i, p in enumerate(parts)
            ],
        )
        chosen = order_and_limit(tagged, query)
        rest = [c for c in columns if c not in chosen.column_names]
        files = chosen.column(FILE_INDEX).to_numpy()
        positions = chosen.column(POSITION).to_numpy()
        result = chosen.drop_columns([FILE_INDEX, POSITION])
        if rest and chosen.num_rows:

            def gather(index: int) -> tuple[pa.Table, npt.NDArray[np.intp]]:
                part = parts[index]
                rows = np.flatnonzero(files == index)
                wanted = positions[rows]
                groups = sorted({int(g) for g in np.searchsorted(part.footer.offsets, wanted, side="right") - 1})
                data, read_positions = self._read_columns(
                    part.footer, groups, schema, rest, threads=len(groups) >= THREADED_ROW_GROUPS
                )
                return data.take(pa.array(np.searchsorted(read_positions, wanted))), rows

            indexes = [int(i) for i in np.unique(files)]
            gathered = (
                list(self._pool.map(gather, indexes)) if self._pool and len(indexes) > 1 else list(map(gather, indexes))
            )
            order = np.argsort(np.concatenate([rows for _, rows in gathered]), kind="stable")
            restored = pa.concat_tables([data for data, _ in gathered], promote_options="permissive").take(
                pa.array(order)
            )
            for column in rest:
                result = result.append_column(column, restored.column(column))
        elif rest:
            for column in rest:
                target = schema.select(column).as_arrow().field(column)
                result = result.append_column(target, pa.nulls(0, target.type))
        return result.select(list(columns))


def _sorted_contains(sorted_values: npt.NDArray[np.int64], probe: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    index = np.searchsorted(sorted_values, probe)
    index[index == len(sorted_values)] = 0
    return np.asarray(sorted_values[index] == probe)


def _comparable(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Extension columns (``arrow.uuid``) compare on their storage."""
    if isinstance(column.type, pa.BaseExtensionType):
        return pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
    return column


def _literal(value: Any, column_type: pa.DataType) -> Any:
    if isinstance(value, uuid.UUID):
        return pa.scalar(value.bytes, pa.binary(16))
    storage = column_type.storage_type if isinstance(column_type, pa.BaseExtensionType) else column_type
    return pa.scalar(value, storage)


def filter_mask(data: pa.Table, filters: tuple[q.Filter, ...]) -> npt.NDArray[np.bool_] | None:
    """Rows of ``data`` matching every filter (None: no filter); NULL never matches a comparison."""
    mask: Any = None
    for f in filters:
        column = data.column(f.column)
        values = _comparable(column)
        if isinstance(f, q.Eq):
            part = pc.is_null(values) if f.value is None else pc.equal(values, _literal(f.value, column.type))
        elif isinstance(f, q.In):
            present = [v for v in f.values if v is not None]
            if not present:
                part = pa.chunked_array([pa.array(np.zeros(len(values), bool))])
            else:
                storage = values.type
                items = [v.bytes if isinstance(v, uuid.UUID) else v for v in present]
                part = pc.is_in(values, value_set=pa.array(items, storage))
        else:
            part = None
            if f.low is not None:
                low = _literal(f.low, column.type)
                part = pc.greater_equal(values, low) if f.low_inclusive else pc.greater(values, low)
            if f.high is not None:
                high = _literal(f.high, column.type)
                upper = pc.less_equal(values, high) if f.high_inclusive else pc.less(values, high)
                part = upper if part is None else pc.and_kleene(part, upper)
        mask = part if mask is None else pc.and_kleene(mask, part)
    if mask is None:
        return None
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def order_and_limit(data: pa.Table, query: q.ReadQuery) -> pa.Table:
    """Sort by ``query.order_by`` (NULLs last) and cut to ``query.limit``."""
    if query.order_by:
        keys = [(k.column, "descending" if k.descending else "ascending") for k in query.order_by]
        has_nulls = any(data.column(k.column).null_count for k in query.order_by)
        if query.limit is not None and not has_nulls and query.limit < data.num_rows:
            indices = pc.select_k_unstable(_sortable(data, query), k=query.limit, sort_keys=keys)
        else:
            options = pc.SortOptions([(column, order, "at_end") for column, order in keys])
            indices = pc.sort_indices(_sortable(data, query), options=options)
        if query.limit is not None:
            indices = indices[: query.limit]
        return data.take(indices)
    if query.limit is not None and data.num_rows > query.limit:
        return data.slice(0, query.limit)
    return data


def _sortable(data: pa.Table, query: q.ReadQuery) -> pa.Table:
    """The ordering columns, extension types (uuid) as their storage (ordered as PostgreSQL orders uuids)."""
    return pa.table({k.column: _comparable(data.column(k.column)) for k in query.order_by})
