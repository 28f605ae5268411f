"""Compaction: small data files and data files carrying position deletes, rewritten into files near a
target size, deletes applied and rows in the table's order, committed as one REPLACE snapshot.

Per partition (per ``(spec id, partition)`` of the files: files of an older partition spec are compacted
among themselves, in their spec). A file is rewritten when it is smaller than the target or has deletes;
a partition is touched when that makes at least two files, or one with deletes. The commit removes the
rewritten files and every delete file that applied only to them (and delete files that apply to no live
file), so readers open neither again.

Concurrency: the commit is validated against every commit since the compaction read the table
(:class:`~cutover.maintenance.producers.ReplaceFiles`): a concurrent append stays (the commit lands on
top of it); a concurrent commit that removed a rewritten file or added deletes for one fails the
attempt, whose files are deleted, and the compaction starts again from the new state (at most
``max_attempts`` times, then it is abandoned, leaving the table as the sync left it).

Memory: rows stream from the files (row group by row group, deletes applied) through a merge of sorted
runs (:mod:`cutover.maintenance.merge`) into the writer: at most ``sort_budget_bytes`` of unsorted rows,
one row group being written and one chunk per open run are held at a time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException, ValidationException

from cutover import names
from cutover.lake.partitioning import data_location
from cutover.lake.row_delta import LiveFile, live_files
from cutover.lake.scan import file_streams
from cutover.lake.writer import DataFileWriter, file_schema
from cutover.maintenance.inventory import FileCounts, count_files, live_entries
from cutover.maintenance.merge import Run, SpillingSorter, UnsortedRunError, file_run, merge_runs
from cutover.maintenance.ordering import SortKeys, sort_keys_of
from cutover.maintenance.producers import ReplaceFiles
from cutover.maintenance.reader import live_rows

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table
    from pyiceberg.typedef import Record

DEFAULT_TARGET_FILE_BYTES = 512 * 1024 * 1024
"""Parquet bytes a compacted file aims at (pg_lake's and Iceberg's usual target)."""
DEFAULT_SORT_BUDGET_BYTES = 64 * 1024 * 1024
"""Arrow bytes of unsorted rows sorted in memory at a time; more spill to local sorted runs."""


@dataclass(frozen=True)
class CompactionOptions:
    target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES
    sort_budget_bytes: int = DEFAULT_SORT_BUDGET_BYTES
    max_attempts: int = 3
    """Attempts when a concurrent commit conflicts; then the compaction is abandoned for this run."""
    spill_directory: str | None = None
    """Where sorted runs spill (default: the system's temporary directory)."""


@dataclass
class CompactionResult:
    before: FileCounts
    after: FileCounts
    files_rewritten: int = 0
    files_written: int = 0
    delete_files_applied: int = 0
    rows_written: int = 0
    snapshot_id: int | None = None
    attempts: int = 0
    abandoned: str | None = None
    """Why no compaction landed although one was planned (conflicts every attempt)."""


@dataclass
class _Group:
    spec_id: int
    partition: Record
    files: list[LiveFile] = field(default_factory=list)

    @property
    def worth_rewriting(self) -> bool:
        return len(self.files) > 1 or any(f.delete_files for f in self.files)


BeforeCommit = Callable[[], None]
"""Called after the files are written and before the commit (tests use it to commit a sync meanwhile)."""


def compact_table(
    table: Table, options: CompactionOptions | None = None, *, before_commit: BeforeCommit | None = None
) -> CompactionResult:
    """Compact ``table`` (see the module docstring); returns what was rewritten.

    Idempotent: a table with nothing to compact commits nothing; a killed compaction leaves the table
    unchanged (its files are orphans, removed by :func:`cutover.maintenance.orphans.remove_orphans`).

    Raises:
        ConfigError: the table's sort order uses a transform that cannot be computed here.
    """
    options = options or CompactionOptions()
    table.refresh()
    result = CompactionResult(before=count_files(table), after=count_files(table))
    keys = sort_keys_of(table)
    unsorted: set[str] = set()
    for attempt in range(1, options.max_attempts + 1):
        result.attempts = attempt
        if attempt > 1:
            table.refresh()
        try:
            landed = _attempt(table, keys, options, unsorted, result, before_commit)
        except (CommitFailedException, ValidationException) as exc:
            result.abandoned = f"a concurrent commit touched the rewritten files: {exc}"
            continue
        result.abandoned = None
        if not landed:
            result.attempts = 0
        break
    table.refresh()
    result.after = count_files(table)
    return result


def plan_compaction(table: Table, target_file_bytes: int = DEFAULT_TARGET_FILE_BYTES) -> tuple[int, int]:
    """What a compaction would do now: ``(data files rewritten, delete files applied)``; writes nothing."""
    table.refresh()
    files = live_files(table)
    rewritten = {f.path for g in _groups(files, target_file_bytes) for f in g.files}
    return len(rewritten), len(_applied_deletes(table, files, rewritten))


def _attempt(
    table: Table,
    keys: SortKeys,
    options: CompactionOptions,
    unsorted: set[str],
    result: CompactionResult,
    before_commit: BeforeCommit | None,
) -> bool:
    """One read-rewrite-commit pass; False when there was nothing to do. Written files are deleted on failure."""
    files = live_files(table)
    groups = _groups(files, options.target_file_bytes)
    rewritten = {f.path for g in groups for f in g.files}
    dropped = _applied_deletes(table, files, rewritten)
    if not groups and not dropped:
        return False
    prefix = f"compact-{uuid.uuid4().hex[:12]}"
    written: list[DataFile] = []
    try:
        for index, group in enumerate(groups):
            new_files, rows = _rewrite_group(table, group, keys, options, unsorted, f"{prefix}-p{index:04d}")
            written += new_files
            result.rows_written += rows
        if before_commit is not None:
            before_commit()
        started = time.time()
        transaction = table.transaction()
        producer = ReplaceFiles(transaction, {names.PROP_MAINTENANCE: f"compaction (started {started:.0f})"})
        for data_file in written:
            producer.append_data_file(data_file)
        for live in (f for g in groups for f in g.files):
            producer.delete_data_file(live.data_file)
        for delete_file in dropped:
            producer.remove_delete_file(delete_file)
        producer.commit()
        committed = transaction.commit_transaction()
    except BaseException:
        _delete(table, written)
        raise
    current = committed.current_snapshot()
    result.snapshot_id = current.snapshot_id if current else None
    result.files_rewritten, result.files_written, result.delete_files_applied = (
        len(rewritten),
        len(written),
        len(dropped),
    )
    return True


def _groups(files: list[LiveFile], target_bytes: int) -> list[_Group]:
    by_partition: dict[tuple[int, Record], _Group] = {}
    for live in files:
        data_file = live.data_file
        if data_file.file_size_in_bytes < target_bytes or live.delete_files:
            key = (data_file.spec_id, data_file.partition)
            by_partition.setdefault(key, _Group(data_file.spec_id, data_file.partition)).files.append(live)
    return [g for g in by_partition.values() if g.worth_rewriting]


def _applied_deletes(table: Table, files: list[LiveFile], rewritten: set[str]) -> list[DataFile]:
    """Delete files every reader of which is rewritten (or that apply to no live file at all)."""
    readers: dict[str, set[str]] = {}
    for live in files:
        for delete_file in live.delete_files:
            readers.setdefault(str(delete_file.file_path), set()).add(live.path)
    _, deletes, _ = live_entries(table)
    return [d for d in deletes if readers.get(str(d.file_path), set()) <= rewritten]


def _rewrite_group(
    table: Table, group: _Group, keys: SortKeys, options: CompactionOptions, unsorted: set[str], prefix: str
) -> tuple[list[DataFile], int]:
    """Write one partition's rows, merged in order, into new files; a file found unsorted is sorted instead."""
    while True:
        writer = DataFileWriter(
            table.io,
            data_location(table.location(), table.specs()[group.spec_id], group.partition, table.schema()),
            table.schema(),
            table.properties,
            prefix=prefix,
            dictionary_columns=_dictionary_columns(table, group.files[0].data_file),
            spec_id=group.spec_id,
            partition=group.partition,
            sort_order_id=keys.order_id,
            target_file_bytes=options.target_file_bytes,
        )
        rows = 0
        try:
            with SpillingSorter(keys, options.sort_budget_bytes, options.spill_directory) as sorter:
                runs = _runs(table, group, keys, options, unsorted, sorter, writer.target_schema)
                for chunk in merge_runs(runs, keys):
                    writer.write(_to_file(keys.without_keys(chunk), writer.target_schema))
                    rows += chunk.num_rows
            return writer.close(), rows
        except UnsortedRunError as exc:
            writer.abort()
            unsorted.add(exc.path)
        except BaseException:
            writer.abort()
            raise


def _runs(
    table: Table,
    group: _Group,
    keys: SortKeys,
    options: CompactionOptions,
    unsorted: set[str],
    sorter: SpillingSorter,
    target: pa.Schema,
) -> list[Run]:
    """Large files as runs of their own (taken for sorted until they prove otherwise); the rest sorted."""
    runs: list[Run] = []
    presorted_bytes = options.sort_budget_bytes // 16
    for live in group.files:
        data_file = live.data_file
        chunks = _chunks(table, live, keys, target)
        if (
            keys.keys
            and live.path not in unsorted
            and (data_file.file_size_in_bytes >= presorted_bytes or _declared_sorted(data_file, keys))
        ):
            runs.append(file_run(live.path, chunks, keys, _lower_bound(table, keys, data_file)))
        elif keys.keys:
            for chunk in chunks():
                sorter.add(chunk)
        else:
            runs.append(Run(chunks))
    return runs + sorter.runs()


def _declared_sorted(data_file: DataFile, keys: SortKeys) -> bool:
    """Whether the file says it is written in the table's declared sort order."""
    return keys.order_id is not None and data_file.sort_order_id == keys.order_id


def _chunks(table: Table, live: LiveFile, keys: SortKeys, target: pa.Schema) -> Callable[[], Iterator[pa.Table]]:
    """The file's live rows with their sort keys, read row group by row group (pyiceberg's reader for a
    file without field ids)."""
    rows = live_rows(table, live.path, live.deleted, target)

    def chunks() -> Iterator[pa.Table]:
        if rows is not None:
            for data in rows():
                yield keys.with_keys(data)
            return
        (stream,) = [s for s in file_streams(table) if s.path == live.path]
        for batch in stream.open():
            if batch.num_rows:
                yield keys.with_keys(pa.Table.from_batches([batch]))

    return chunks


_BOUNDED_TYPES = ("int", "long", "date", "timestamp", "timestamptz", "string")


def _lower_bound(table: Table, keys: SortKeys, data_file: DataFile) -> tuple[Any, ...] | None:
    """The first key part a file's rows start at, from its statistics; None when unknown (open at once).

    A truncated string bound is below the true first value, so the file is opened early, never late.
    """
    from pyiceberg.conversions import from_bytes
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.types import PrimitiveType

    first = keys.keys[0]
    if first.transform is not None or not isinstance(first.source_type, PrimitiveType):
        return None
    field_id = table.schema().find_field(first.source).field_id
    kind = str(first.source_type)
    if kind not in _BOUNDED_TYPES and not kind.startswith("decimal"):
        return None
    if first.nulls_first and (data_file.null_value_counts or {}).get(field_id, 0):
        return None
    raw = ((data_file.lower_bounds if first.ascending else data_file.upper_bounds) or {}).get(field_id)
    if raw is None:
        return None
    try:
        value = pa.scalar(from_bytes(first.source_type, raw), schema_to_pyarrow(first.source_type)).as_py()
    except (ValueError, TypeError, pa.ArrowException):
        return None
    return keys.first_part(value)


def _dictionary_columns(table: Table, data_file: DataFile) -> list[str] | None:
    """The columns the first input file dictionary-encodes (the load chose them by cardinality)."""
    try:
        with table.io.new_input(str(data_file.file_path)).open() as stream:
            metadata = pq.ParquetFile(stream).metadata
    except OSError:
        return None
    if metadata.num_row_groups == 0:
        return None
    group = metadata.row_group(0)
    encoded = {
        group.column(i).path_in_schema.split(".")[0]
        for i in range(group.num_columns)
        if group.column(i).has_dictionary_page
    }
    schema = table.schema()
    written = file_schema(schema)
    return [f.name for f, w in zip(schema.fields, written.fields, strict=True) if w.name in encoded]


def _to_file(data: pa.Table, target: pa.Schema) -> pa.Table:
    """Rows in the table's current schema → the file schema (sanitized names, the writer's Arrow types)."""
    columns = [c if c.type == f.type else c.cast(f.type) for c, f in zip(data.columns, target, strict=True)]
    return pa.Table.from_arrays(columns, schema=target)


def _delete(table: Table, files: list[DataFile]) -> None:
    import contextlib

    for data_file in files:
        with contextlib.suppress(OSError):
            table.io.delete(str(data_file.file_path))
