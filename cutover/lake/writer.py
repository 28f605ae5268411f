"""Writing converted Arrow into Parquet data files of a healthy size, with Iceberg statistics.

Writers only produce files; one committer per table turns them into snapshots. Files carry the table's
field ids, so they are valid data files the moment a commit references them.
"""

from __future__ import annotations

import contextlib
import uuid

import pyarrow as pa
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ParquetFormatWriter
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.schema import Schema, sanitize_column_names
from pyiceberg.table import Table
from pyiceberg.typedef import Properties, Record

from cutover.lake.convert import arrow_schema

ROW_GROUP_BYTES = 64 * 1024 * 1024
"""Arrow bytes buffered before a row group is written: bounds memory per writer."""
TARGET_FILE_BYTES = 512 * 1024 * 1024
"""Arrow bytes after which a new file is started (Parquet shrinks this 3-10×: 50-170 MB files)."""


def file_schema(schema: Schema) -> Schema:
    """The schema as written into Parquet: names made safe for every reader, as pyiceberg does."""
    return sanitize_column_names(schema)


def _file_names(schema: Schema, written: Schema, columns: list[str] | None) -> list[str] | None:
    """Top-level column names as written in the file (sanitized), for the given table column names."""
    if columns is None:
        return None
    return [written.find_field(schema.find_field(name).field_id).name for name in columns]


class DataFileWriter:
    """Streams Arrow tables of one batch into one or more Parquet files under ``data_location``.

    Note:
        Not thread-safe; use one writer per batch. Files of a failed attempt are deleted by
        :meth:`abort`; after a crash they are orphans no snapshot references (remove them with a
        table maintenance job).
    """

    def __init__(
        self,
        io: FileIO,
        data_location: str,
        schema: Schema,
        properties: Properties,
        prefix: str,
        dictionary_columns: list[str] | None = None,
        spec_id: int = 0,
        *,
        partition: Record | None = None,
        sort_order_id: int | None = None,
        target_file_bytes: int | None = None,
    ) -> None:
        """``target_file_bytes``, when given, is the size on disk after which a file is finished (row
        groups then hold at most that many Arrow bytes); without it files end after
        :data:`TARGET_FILE_BYTES` of Arrow. ``partition`` and ``sort_order_id`` are recorded in every
        data file (a compaction writes one partition, sorted)."""
        self._io = io
        self._location = data_location.rstrip("/")
        self._file_schema = file_schema(schema)
        self.target_schema = arrow_schema(self._file_schema)
        self._properties = properties
        self._prefix = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self._spec_id = spec_id
        self._partition = partition if partition is not None else Record()
        self._sort_order_id = sort_order_id
        self._target_disk = target_file_bytes
        self._row_group_bytes = min(ROW_GROUP_BYTES, target_file_bytes or ROW_GROUP_BYTES)
        self._dictionary = _file_names(schema, self._file_schema, dictionary_columns)
        self._pending: list[pa.Table] = []
        self._pending_bytes = 0
        self._writer: ParquetFormatWriter | None = None
        self._path: str | None = None
        self._file_bytes = 0
        self._paths: list[str] = []
        self.data_files: list[DataFile] = []

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._pending_bytes += table.nbytes
        if self._pending_bytes >= self._row_group_bytes:
            self._flush()

    @property
    def pending_bytes(self) -> int:
        """Arrow bytes buffered and not yet written."""
        return self._pending_bytes

    def flush(self) -> None:
        """Write what is buffered into the open file (as row groups of the table's row-group size)."""
        self._flush()

    def close(self) -> list[DataFile]:
        """Flush and finish the open file; the returned data files are ready to commit."""
        self._flush()
        self._finish_file()
        return self.data_files

    def abort(self) -> None:
        """Delete every file this writer started (best effort: the files are referenced by nothing)."""
        for path in self._paths:
            with contextlib.suppress(OSError):
                self._io.delete(path)
        self._paths.clear()
        self.data_files.clear()

    def _flush(self) -> None:
        if not self._pending:
            return
        combined = pa.concat_tables(self._pending)
        self._pending, self._pending_bytes = [], 0
        if self._writer is None:
            self._path = f"{self._location}/{self._prefix}-{len(self._paths):03d}.parquet"
            self._paths.append(self._path)
            self._writer = ParquetFormatWriter(self._io.new_output(self._path), self._file_schema, self._properties)
            if self._dictionary is not None:
                # pyiceberg offers no per-column switch; dictionary-encoding unique columns only burns CPU.
                self._writer._parquet_writer_kwargs["use_dictionary"] = self._dictionary
        self._writer.write(combined)
        self._file_bytes += combined.nbytes
        if self._target_disk is not None:
            if _written_bytes(self._writer) >= self._target_disk:
                self._finish_file()
        elif self._file_bytes >= TARGET_FILE_BYTES:
            self._finish_file()

    def _finish_file(self) -> None:
        if self._writer is None or self._path is None:
            return
        statistics = self._writer.close()
        size = len(self._io.new_input(self._path))
        data_file = DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=self._path,
            file_format=FileFormat.PARQUET,
            partition=self._partition,
            file_size_in_bytes=size,
            sort_order_id=self._sort_order_id,
            spec_id=self._spec_id,
            equality_ids=None,
            key_metadata=None,
            **statistics.to_serialized_dict(),
        )
        data_file.spec_id = self._spec_id  # from_args drops it (pyiceberg 0.12 keeps it out of the struct)
        self.data_files.append(data_file)
        self._writer, self._path, self._file_bytes = None, None, 0


def declared_sort_order_id(table: Table) -> int | None:
    """The table's sort order id when it declares one (files written in key order record it), else None."""
    order = table.sort_order()
    return order.order_id if order.fields else None


def _written_bytes(writer: ParquetFormatWriter) -> int:
    """Bytes of the open file written so far (its row groups; the footer is still to come)."""
    stream = writer._fos  # pyiceberg keeps the output stream private; its position is the file's size
    return int(stream.tell()) if stream is not None else 0
