"""Reading one data file's live rows with bounded memory, for a rewrite.

pyiceberg's per-file reader scans through a pyarrow dataset scanner with pre-buffering and its default
read-ahead (16 batches of 128 Ki rows): up to a few hundred MB per open file of a wide table, more than
a compaction can afford with several files open. Here a file is read row group by
row group (``ParquetFile.iter_batches`` without pre-buffering), its deleted positions dropped, and its
columns matched to the table's current schema by field id: renamed columns by id, columns added since
as NULL, promoted types cast. A file whose columns carry no field ids (imported files read through a
name mapping) is read through pyiceberg instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pyiceberg.table import Table

BATCH_ROWS = 65_536


def live_rows(
    table: Table, path: str, deleted: npt.NDArray[np.int64], target: pa.Schema
) -> Callable[[], Iterator[pa.Table]] | None:
    """A function streaming the file's live rows as tables with the current column names and ``target``'s
    types (``target`` is the writer's file schema, in the table's column order); None when the file's
    columns carry no field ids (read it through pyiceberg then)."""
    schema = table.schema()
    with table.io.new_input(path).open() as stream:
        file_schema = pq.ParquetFile(stream).schema_arrow
    by_id: dict[int, str] = {}
    for field in file_schema:
        field_id = (field.metadata or {}).get(b"PARQUET:field_id")
        if field_id is None:
            return None
        by_id[int(field_id)] = field.name
    names = [f.name for f in schema.fields]
    sources = [by_id.get(f.field_id) for f in schema.fields]

    def rows() -> Iterator[pa.Table]:
        with table.io.new_input(path).open() as stream:
            parquet = pq.ParquetFile(stream, pre_buffer=False)
            offset = 0
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=[s for s in sources if s is not None]):
                keep = _alive(deleted, offset, batch.num_rows)
                offset += batch.num_rows
                if keep is not None:
                    batch = batch.filter(keep)
                if batch.num_rows:
                    yield _conform(batch, sources, names, target)

    return rows


def _alive(deleted: npt.NDArray[np.int64], offset: int, rows: int) -> pa.Array | None:
    """The mask of live rows among positions ``offset .. offset + rows``; None when all are live."""
    start, stop = np.searchsorted(deleted, [offset, offset + rows])
    if start == stop:
        return None
    mask = np.ones(rows, dtype=bool)
    mask[deleted[start:stop] - offset] = False
    return pa.array(mask)


def _conform(batch: pa.RecordBatch, sources: list[str | None], names: list[str], target: pa.Schema) -> pa.Table:
    columns = []
    for source, field in zip(sources, target, strict=True):
        if source is None:
            columns.append(pa.nulls(batch.num_rows, field.type))
            continue
        column = batch.column(source)
        if column.type != field.type:
            storage = getattr(field.type, "storage_type", None)
            column = (
                pa.ExtensionArray.from_storage(field.type, column)
                if storage is not None and column.type == storage
                else column.cast(field.type)
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, names=names)
