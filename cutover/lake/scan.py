"""Reading an Iceberg table file by file, streaming, so callers can process files in parallel.

pyiceberg's ``to_arrow_batch_reader`` submits every data file to its executor at once and materializes
each file before yielding it, then casts every batch again: a whole large table can sit in memory, and the
extra cast costs ~1 s per 5 M rows. Here each file is a separate stream of record batches read through
pyiceberg's own per-file reader (so positional deletes, renamed and added columns and type promotions
are all pyiceberg's), and the caller decides how many files are open at a time.

Note:
    Uses ``ArrowScan._record_batches_from_scan_tasks_and_deletes`` and ``_read_all_delete_files``,
    pyiceberg internals pinned by the ``pyiceberg<0.13`` requirement; ``tests/lake`` exercises them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.table import FileScanTask, Table


@dataclass(frozen=True)
class FileStream:
    """One data file of a scan: its size, and a function opening its record batches."""

    path: str
    record_count: int
    open: Callable[[], Iterator[pa.RecordBatch]]
    task: FileScanTask | None = None
    """The scan task: the data file's metadata and the delete files that apply to it."""


def file_streams(
    table: Table,
    selected_fields: tuple[str, ...] = ("*",),
    row_filter: BooleanExpression | None = None,
    snapshot_id: int | None = None,
) -> list[FileStream]:
    """The files of the table's current snapshot (or of ``snapshot_id``) that may hold rows matching
    ``row_filter``.

    Each stream yields batches in the table's current schema (projected to ``selected_fields``), with
    deletes applied and the filter evaluated on rows.
    """
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan, _read_all_delete_files

    scan = table.scan(row_filter=row_filter or AlwaysTrue(), selected_fields=selected_fields, snapshot_id=snapshot_id)
    tasks = list(scan.plan_files())
    reader = ArrowScan(table.metadata, table.io, scan.projection(), scan.row_filter, scan.case_sensitive)
    deletes = _read_all_delete_files(table.io, tasks)

    def opener(task: FileScanTask) -> Callable[[], Iterator[pa.RecordBatch]]:
        return lambda: reader._record_batches_from_scan_tasks_and_deletes([task], deletes)

    return [FileStream(t.file.file_path, t.file.record_count, opener(t), t) for t in tasks]
