"""Partition specs from the table options, and writers that split rows by partition.

A table's spec comes from its options (``{"partition": [{"column": "created_at", "transform": "day"}]}``)
and is applied only while the ``iceberg-partitioning`` flag is on for the table: ``migrate`` creates the
table with it and ``sync`` evolves an existing table to it (pyiceberg's ``update_spec``: data written
after the change is partitioned, files written before keep their spec and stay valid). With the flag off,
nothing is evolved: a table keeps the spec it has, so switching the flag off (a rollback does) never
rewrites a layout.

Writers split each Arrow batch by the spec's transforms (pyiceberg's ``pyarrow_transform``, computed by
``pyiceberg-core``) and keep one data file open per partition, each file in key order like an
unpartitioned one.

Note:
    pyiceberg 0.12 writes partitioned tables only from a whole in-memory ``pa.Table``
    (``_dataframe_to_data_files``: one filter pass over the table per partition, no streaming); the load
    and the sync stream bounded batches into files of their own naming, so the split is done here with
    one hash group-by per batch, and the partition values go through pyiceberg's own ``PartitionKey``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionFieldValue, PartitionKey, PartitionSpec
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
    parse_transform,
)
from pyiceberg.types import PrimitiveType, TimeType

from cutover.errors import PartitionSpecError
from cutover.lake.convert import arrow_schema
from cutover.lake.writer import ROW_GROUP_BYTES, DataFileWriter, file_schema

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table.update.spec import UpdateSpec
    from pyiceberg.typedef import Properties, Record

    from cutover.config import PartitionFieldOptions

PARTITION_FIELD_ID_START = 1000
"""The spec's first partition field id (the Iceberg spec's convention, as pyiceberg assigns them)."""
MAX_OPEN_PARTITION_FILES = 32
"""Data files one writer keeps open at once; a further partition finishes the least recently written file
(a later row of that partition starts a new one). Bounds open streams and buffers on ADLS."""
PENDING_BYTES = ROW_GROUP_BYTES
"""Arrow bytes buffered across every partition before all of them are written out: the writer's memory
does not grow with the number of partitions a batch touches."""


def partition_spec(table: str, schema: Schema, fields: list[PartitionFieldOptions]) -> PartitionSpec:
    """The partition spec the options configure, checked against ``schema`` (unpartitioned when empty).

    Field names are pyiceberg's own (``created_at_day``, ``id_bucket_16``), so a spec created here and one
    evolved by ``update_spec`` name their fields alike.

    Raises:
        PartitionSpecError: no such column, a nested column, two fields on one column, or a transform the
            column's type cannot take (named with table, column, transform and type).
    """
    partition_fields = []
    seen: set[int] = set()
    for index, option in enumerate(fields):
        transform = parse_transform(option.transform)
        field = _source_field(table, schema, option.column, str(transform))
        problem = _misfit(transform, field.field_type)
        if problem is not None:
            raise PartitionSpecError(table, option.column, str(transform), str(field.field_type), problem)
        if field.field_id in seen:
            raise PartitionSpecError(
                table, option.column, str(transform), str(field.field_type), "one partition field per column"
            )
        seen.add(field.field_id)
        name = field_name(option.column, transform)
        partition_fields.append(PartitionField(field.field_id, PARTITION_FIELD_ID_START + index, transform, name))
    return PartitionSpec(*partition_fields)


def _source_field(table: str, schema: Schema, column: str, transform: str) -> Any:
    try:
        return schema.find_field(column)
    except ValueError:
        raise PartitionSpecError(table, column, transform, None, "the table has no such column") from None


def _misfit(transform: Transform[Any, Any], field_type: Any) -> str | None:
    """Why ``transform`` cannot partition a column of ``field_type`` (None: it can)."""
    if not isinstance(field_type, PrimitiveType):
        return "only a column of a primitive type can be a partition source"
    if not transform.can_transform(field_type):
        return f"{transform} cannot take {field_type} values ({_fits(transform)})"
    if isinstance(transform, BucketTransform) and isinstance(field_type, TimeType):
        # pyiceberg 0.12 turns the bucket of a time into a partition value as if it were the time itself.
        return "pyiceberg 0.12 cannot write a bucket of a time column; use identity"
    return None


def _fits(transform: Transform[Any, Any]) -> str:
    if isinstance(transform, YearTransform | MonthTransform | DayTransform):
        return "it needs a date or timestamp column"
    if isinstance(transform, HourTransform):
        return "it needs a timestamp column"
    if isinstance(transform, TruncateTransform):
        return "it needs an integer, decimal, text or binary column"
    if isinstance(transform, BucketTransform):
        return "it needs an integer, decimal, date, time, timestamp, text, uuid or binary column"
    return "the type is not supported"


def field_name(column: str, transform: Transform[Any, Any]) -> str:
    """pyiceberg's name for a partition field (its ``_PartitionNameGenerator``)."""
    if isinstance(transform, IdentityTransform):
        return column
    if isinstance(transform, BucketTransform):
        return f"{column}_bucket_{transform.num_buckets}"
    if isinstance(transform, TruncateTransform):
        return f"{column}_trunc_{transform.width}"
    return f"{column}_{transform}"


def same_fields(a: PartitionSpec, b: PartitionSpec) -> bool:
    """Whether two specs partition by the same (source column, transform) pairs, in whatever order."""
    return _pairs(a) == _pairs(b)


def _pairs(spec: PartitionSpec) -> set[tuple[int, str]]:
    return {(f.source_id, str(f.transform)) for f in spec.fields}


def evolve_spec(update: UpdateSpec, current: PartitionSpec, wanted: PartitionSpec, schema: Schema) -> None:
    """Turn ``current`` into ``wanted`` on an open ``update_spec()``: fields no longer wanted are removed,
    new ones added. Files already written keep their own spec (Iceberg reads every spec of a table)."""
    wanted_pairs = _pairs(wanted)
    for field in current.fields:
        if (field.source_id, str(field.transform)) not in wanted_pairs:
            update.remove_field(field.name)
    current_pairs = _pairs(current)
    for field in wanted.fields:
        if (field.source_id, str(field.transform)) not in current_pairs:
            update.add_field(schema.find_column_name(field.source_id) or "", field.transform, field.name)


def data_location(table_location: str, spec: PartitionSpec, partition: Record, schema: Schema) -> str:
    """Where data files of one partition go: ``<table>/data/<field>=<value>/...`` (Hive-style, as pyiceberg
    and Spark lay them out), or ``<table>/data`` when unpartitioned."""
    base = f"{table_location.rstrip('/')}/data"
    return base if spec.is_unpartitioned() else f"{base}/{spec.partition_to_path(partition, schema)}"


def split_by_partition(
    data: pa.Table, spec: PartitionSpec, schema: Schema, columns: list[str]
) -> Iterator[tuple[Record, pa.Table]]:
    """The rows of ``data`` per partition of ``spec`` (rows keep their order within each partition).

    ``columns`` names each spec field's source column as it is called in ``data``.
    """
    keys = {}
    for index, (field, column) in enumerate(zip(spec.fields, columns, strict=True)):
        source_type = schema.find_field(field.source_id).field_type
        values = field.transform.pyarrow_transform(source_type)(data.column(column))
        keys[f"p{index}"] = _storage(values)
    grouped = (
        pa.table({**keys, "row": pa.array(np.arange(data.num_rows, dtype=np.int64))})
        .group_by(list(keys), use_threads=False)
        .aggregate([("row", "list")])
    )
    rows = grouped.column("row_list").combine_chunks()
    for index, group in enumerate(grouped.drop_columns(["row_list"]).to_pylist()):
        values = [PartitionFieldValue(f, group[f"p{i}"]) for i, f in enumerate(spec.fields)]
        record = PartitionKey(values, spec, schema).partition
        yield record, data if grouped.num_rows == 1 else data.take(rows[index].values)


def _storage(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Extension arrays (``arrow.uuid``) as their storage, which Arrow's group-by takes."""
    if isinstance(values.type, pa.BaseExtensionType):
        if isinstance(values, pa.ChunkedArray):
            return pa.chunked_array([c.storage for c in values.chunks], values.type.storage_type)
        return values.storage
    return values


class PartitionedFileWriter:
    """Streams Arrow tables into data files of one partition spec: one open file per partition, under
    ``data/<partition path>/``, each recording its partition and spec id.

    Same interface as :class:`cutover.lake.writer.DataFileWriter` (``write``, ``close``, ``abort``,
    ``target_schema``).

    Note:
        Not thread-safe; one writer per batch. :meth:`abort` deletes every file it started.
    """

    def __init__(
        self,
        io: FileIO,
        table_location: str,
        schema: Schema,
        spec: PartitionSpec,
        properties: Properties,
        prefix: str,
        dictionary_columns: list[str] | None = None,
        *,
        sort_order_id: int | None = None,
    ) -> None:
        self._io = io
        self._location = table_location
        self._schema, self._spec = schema, spec
        self._properties, self._prefix = properties, prefix
        self._dictionary = dictionary_columns
        self._sort_order_id = sort_order_id
        written = file_schema(schema)
        self._columns = [written.find_field(f.source_id).name for f in spec.fields]
        self.target_schema = arrow_schema(written)
        self._open: OrderedDict[Record, DataFileWriter] = OrderedDict()
        self._started: list[DataFileWriter] = []
        self.data_files: list[DataFile] = []

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        for record, rows in split_by_partition(table, self._spec, self._schema, self._columns):
            self._writer(record).write(rows)
        if sum(w.pending_bytes for w in self._open.values()) >= PENDING_BYTES:
            for writer in self._open.values():
                writer.flush()

    def close(self) -> list[DataFile]:
        """Finish every open file; the returned data files are ready to commit."""
        while self._open:
            _, writer = self._open.popitem(last=False)
            self.data_files.extend(writer.close())
        return self.data_files

    def abort(self) -> None:
        """Delete every file this writer started (best effort: the files are referenced by nothing)."""
        for writer in self._started:
            writer.abort()
        self._open.clear()
        self.data_files.clear()

    def _writer(self, record: Record) -> DataFileWriter:
        writer = self._open.get(record)
        if writer is not None:
            self._open.move_to_end(record)
            return writer
        if len(self._open) >= MAX_OPEN_PARTITION_FILES:
            _, oldest = self._open.popitem(last=False)
            self.data_files.extend(oldest.close())
        writer = DataFileWriter(
            self._io,
            data_location(self._location, self._spec, record, self._schema),
            self._schema,
            self._properties,
            self._prefix,
            self._dictionary,
            self._spec.spec_id,
            partition=record,
            sort_order_id=self._sort_order_id,
        )
        self._open[record] = writer
        self._started.append(writer)
        return writer


FileWriter = DataFileWriter | PartitionedFileWriter
"""What :func:`data_writer` returns: ``write``, ``close`` (the data files) and ``abort``."""


def data_writer(
    io: FileIO,
    table_location: str,
    schema: Schema,
    spec: PartitionSpec,
    properties: Properties,
    prefix: str,
    dictionary_columns: list[str] | None = None,
    *,
    sort_order_id: int | None = None,
) -> FileWriter:
    """The writer for new data files of a table with ``spec``: one stream of files when it is unpartitioned
    (exactly as before partitioning existed), one per partition otherwise."""
    if spec.is_unpartitioned():
        return DataFileWriter(
            io,
            f"{table_location.rstrip('/')}/data",
            schema,
            properties,
            prefix,
            dictionary_columns,
            spec.spec_id,
            sort_order_id=sort_order_id,
        )
    return PartitionedFileWriter(
        io, table_location, schema, spec, properties, prefix, dictionary_columns, sort_order_id=sort_order_id
    )
