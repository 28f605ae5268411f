"""Merge-on-read changes: position-delete files plus new data files, committed as one Iceberg snapshot.

Why: pyiceberg 0.12 can only delete by rewriting every data file that holds a deleted row (copy-on-
write), and nightly changes are scattered, so a 1 % sync would rewrite the whole table. Iceberg v2 has the
answer in the spec: a *position-delete file* names ``(data file, row position)`` pairs that readers skip.
pyiceberg reads them (and so do Spark, Trino, DuckDB), but does not write them; this module does: it
finds the positions of the keys to remove, writes one position-delete file per touched data file, and
commits them with the new row versions through a snapshot producer that adds a *delete manifest*.

Note:
    Built on pyiceberg internals (``_OverwriteFiles``, ``ManifestWriterV2``), pinned by ``pyiceberg<0.13``
    and exercised end to end by the sync tests (``tests/sync``: pyiceberg reads the result back).
    One writer per table is assumed (the sync's concurrency limit); a concurrent commit that removed a
    data file our deletes point at makes the commit fail with a retryable conflict instead of landing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.io.pyarrow import ParquetFormatWriter, schema_to_pyarrow
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriterV2,
)
from pyiceberg.schema import Schema
from pyiceberg.table import TableProperties
from pyiceberg.table.snapshots import Operation, SnapshotSummaryCollector, Summary, update_snapshot_summaries
from pyiceberg.table.update.snapshot import _OverwriteFiles
from pyiceberg.types import LongType, NestedField, StringType

from cutover.errors import CommitConflictError

if TYPE_CHECKING:
    from pyiceberg.table import Table, Transaction
    from pyiceberg.typedef import Properties

POSITION_DELETE_SCHEMA = Schema(
    NestedField(2147483546, "file_path", StringType(), required=True),
    NestedField(2147483545, "pos", LongType(), required=True),
)
"""The spec's position-delete schema (reserved field ids)."""


@dataclass(frozen=True)
class LiveFile:
    """A data file of the current snapshot, with the positions earlier deletes already removed."""

    data_file: DataFile
    deleted: npt.NDArray[np.int64]
    delete_files: tuple[DataFile, ...] = ()
    """The delete files that apply to it (their positions are ``deleted``)."""

    @property
    def path(self) -> str:
        return str(self.data_file.file_path)

    @property
    def replaceable_deletes(self) -> bool:
        """Whether every delete file applying to it is a position-delete file for this data file alone, so a
        new file holding their positions and the new ones can replace them (one delete file per data file,
        however many nights touched it). Files another writer made for several data files stay."""
        return bool(self.delete_files) and all(_targets_only(f, self.path) for f in self.delete_files)


def _targets_only(delete_file: DataFile, data_path: str) -> bool:
    if delete_file.content != DataFileContent.POSITION_DELETES:
        return False
    field_id = POSITION_DELETE_SCHEMA.find_field("file_path").field_id
    target = data_path.encode()
    lower, upper = (delete_file.lower_bounds or {}).get(field_id), (delete_file.upper_bounds or {}).get(field_id)
    return lower == target and upper == target


def live_files(table: Table) -> list[LiveFile]:
    """Every data file of the table's current snapshot, with its already-deleted positions."""
    from pyiceberg.io.pyarrow import _read_all_delete_files

    tasks = list(table.scan().plan_files())
    deletes = _read_all_delete_files(table.io, tasks)
    out = []
    for task in tasks:
        chunks = deletes.get(task.file.file_path, [])
        deleted = np.unique(np.concatenate([c.to_numpy() for c in chunks])) if chunks else np.empty(0, np.int64)
        out.append(LiveFile(task.file, deleted.astype(np.int64, copy=False), tuple(task.delete_files)))
    return out


def file_key_columns(table: Table, key: list[str]) -> dict[int, str]:
    """{field id: current name} of the key columns (files may hold them under older names)."""
    schema = table.schema()
    return {schema.find_field(name).field_id: name for name in key}


def read_file_keys(table: Table, data_file: DataFile, key_fields: dict[int, str]) -> pa.RecordBatch:
    """The key columns of one data file, every physical row in file order (deleted ones included).

    Columns are found by field id and renamed to their current names.
    """
    with table.io.new_input(str(data_file.file_path)).open() as stream:
        parquet = pq.ParquetFile(stream)
        by_id: dict[int, str] = {}
        for index in range(len(parquet.schema_arrow)):
            field = parquet.schema_arrow.field(index)
            metadata = field.metadata or {}
            if b"PARQUET:field_id" in metadata:
                by_id[int(metadata[b"PARQUET:field_id"])] = field.name
        missing = [name for field_id, name in key_fields.items() if field_id not in by_id]
        if missing:
            raise ValueError(f"data file {data_file.file_path} has no key column(s) {missing}")
        data = parquet.read(columns=[by_id[i] for i in key_fields])
    names = list(key_fields.values())
    return pa.RecordBatch.from_arrays([data.column(i).combine_chunks() for i in range(len(names))], names=names)


def write_position_deletes(
    table: Table, target: DataFile, positions: npt.NDArray[np.int64], prefix: str, properties: Properties
) -> DataFile:
    """One position-delete file for one data file (so readers can match it to that file by path), in the
    target's partition and spec (the spec says delete files apply within their partition)."""
    data_path = str(target.file_path)
    location = f"{table.location().rstrip('/')}/data/{prefix}-{uuid.uuid4().hex[:12]}-deletes.parquet"
    arrow = schema_to_pyarrow(POSITION_DELETE_SCHEMA)
    # The one path as a dictionary column: Parquet stores it dictionary-encoded either way, and this spares
    # hashing a copy of the path per position (a data file's delete file holds all its deleted positions).
    path_field = arrow.field("file_path")
    paths = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(positions), np.int32)), pa.array([data_path], path_field.type)
    )
    rows = pa.Table.from_arrays(
        [paths, pa.array(np.sort(positions))],
        schema=pa.schema([path_field.with_type(paths.type), arrow.field("pos")]),
    )
    writer = ParquetFormatWriter(table.io.new_output(location), POSITION_DELETE_SCHEMA, properties)
    writer.write(rows)
    statistics = writer.close()
    delete_file = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=location,
        file_format=FileFormat.PARQUET,
        partition=target.partition,
        file_size_in_bytes=len(table.io.new_input(location)),
        sort_order_id=None,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )
    delete_file.spec_id = target.spec_id  # from_args drops it (pyiceberg 0.12 keeps it out of the struct)
    return delete_file


class _DeleteManifestWriter(ManifestWriterV2):
    """A v2 manifest of delete files (pyiceberg only writes data manifests)."""

    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class RowDelta(_OverwriteFiles):
    """A snapshot that adds data files and position-delete files (and may remove whole files).

    Use :func:`commit_row_delta`; this class is the pyiceberg snapshot producer behind it.
    """

    def __init__(self, transaction: Transaction, snapshot_properties: dict[str, str]) -> None:
        super().__init__(
            Operation.OVERWRITE, transaction, transaction._table.io, snapshot_properties=snapshot_properties
        )
        self._added_delete_files: list[DataFile] = []
        self._removed_delete_files: set[str] = set()
        self._removed_delete_entries: list[ManifestEntry] = []
        self._referenced: set[str] = set()

    def add_delete_file(self, delete_file: DataFile, data_path: str) -> RowDelta:
        self._added_delete_files.append(delete_file)
        self._referenced.add(data_path)
        return self

    def remove_delete_file(self, delete_file: DataFile) -> RowDelta:
        """Drop a delete file (replaced by an added one holding its positions, or its data file is gone)."""
        self._removed_delete_files.add(str(delete_file.file_path))
        return self

    def _manifests(self) -> list[ManifestFile]:
        manifests = super()._manifests()  # runs _existing_manifests: the removed delete entries are known after
        by_spec: dict[int, list[ManifestEntry]] = {}  # a manifest holds files of one partition spec
        current = self._transaction.table_metadata.spec().spec_id
        for delete_file in self._added_delete_files:
            entry = ManifestEntry.from_args(
                status=ManifestEntryStatus.ADDED, snapshot_id=self._snapshot_id, data_file=delete_file
            )
            by_spec.setdefault(spec_id_of(delete_file, current), []).append(entry)
        for removed in self._removed_delete_entries:
            entry = _entry(ManifestEntryStatus.DELETED, self._snapshot_id, removed)
            by_spec.setdefault(removed.data_file.spec_id, []).append(entry)
        for spec_id, entries in sorted(by_spec.items()):
            with self._delete_manifest_writer(spec_id) as writer:
                for entry in entries:
                    writer.add_entry(entry)
            manifests.append(writer.to_manifest_file())
        return manifests

    def _delete_manifest_writer(self, spec_id: int) -> _DeleteManifestWriter:
        return _DeleteManifestWriter(
            self.spec(spec_id), self.schema(), self.new_manifest_output(), self._snapshot_id, self._compression
        )

    def _existing_manifests(self) -> list[ManifestFile]:
        """The parent's manifests, less the removed files.

        pyiceberg's overwrite reads every entry of every manifest to find removed data files; a nightly
        sync removes none, so data manifests are kept unread then (each night adds manifests: that read
        would grow with the table's history). Delete manifests are read only when delete files are removed,
        and rewritten as delete manifests (pyiceberg's rewrite knows data manifests only).
        """
        self._removed_delete_entries = []  # computed afresh on every attempt (a retried commit rebases)
        if self._deleted_data_files:
            manifests = super()._existing_manifests()  # rewrites data manifests; delete manifests pass through
        else:
            snapshot = self._transaction.table_metadata.snapshot_by_name(name=self._target_branch or "main")
            manifests = snapshot.manifests(io=self._io) if snapshot is not None else []
        if not self._removed_delete_files:
            return manifests
        kept = [m for m in manifests if m.content != ManifestContent.DELETES]
        for manifest in (m for m in manifests if m.content == ManifestContent.DELETES):
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            staying: list[ManifestEntry] = []
            for entry in entries:
                removed = str(entry.data_file.file_path) in self._removed_delete_files
                (self._removed_delete_entries if removed else staying).append(entry)
            if len(staying) == len(entries):
                kept.append(manifest)
            elif staying:
                with self._delete_manifest_writer(manifest.partition_spec_id) as writer:
                    for entry in staying:
                        writer.add_entry(_entry(ManifestEntryStatus.EXISTING, entry.snapshot_id, entry))
                kept.append(writer.to_manifest_file())
        found = {str(e.data_file.file_path) for e in self._removed_delete_entries}
        if missing := sorted(self._removed_delete_files - found):
            raise ValidationException(f"delete files changed concurrently: {missing[:3]}")
        return kept

    def _deleted_entries(self) -> list[ManifestEntry]:
        return super()._deleted_entries() if self._deleted_data_files else []

    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Any:
        """pyiceberg's summary, counting delete files too (added and removed), and each file's partition in
        its own spec (pyiceberg files every added file under the current spec, which an older file's
        partition does not fit once the spec evolved)."""
        metadata = self._transaction.table_metadata
        specs, schema, current = metadata.specs(), metadata.schema(), metadata.spec().spec_id
        limit = int(
            metadata.properties.get(
                TableProperties.WRITE_PARTITION_SUMMARY_LIMIT, TableProperties.WRITE_PARTITION_SUMMARY_LIMIT_DEFAULT
            )
        )
        collector = SnapshotSummaryCollector(partition_summary_limit=limit)
        for data_file in [*self._added_data_files, *self._added_delete_files]:
            collector.add_file(data_file, schema, specs[spec_id_of(data_file, current)])
        for data_file in [*self._deleted_data_files, *(e.data_file for e in self._removed_delete_entries)]:
            collector.remove_file(data_file, schema, specs[spec_id_of(data_file, current)])
        parent = metadata.snapshot_by_id(self._parent_snapshot_id) if self._parent_snapshot_id is not None else None
        return update_snapshot_summaries(
            Summary(operation=self._operation, **collector.build(), **(snapshot_properties or {})),
            parent.summary if parent is not None else None,
        )

    def _validate_concurrency(self) -> None:
        """Refuse to land when a concurrent commit removed a data file our deletes point at."""
        if not self._referenced or self._commit_window is None or self._commit_window.is_empty():
            return
        head = self._transaction._table.metadata.snapshot_by_name(self._target_branch or "main")
        if head is None:
            return
        live = {
            entry.data_file.file_path
            for manifest in head.manifests(self._io)
            if manifest.content == ManifestContent.DATA
            for entry in manifest.fetch_manifest_entry(self._io, discard_deleted=True)
        }
        gone = sorted(self._referenced - live)
        if gone:
            raise ValidationException(f"data files changed concurrently: {gone[:3]}")


def spec_id_of(data_file: DataFile, default: int) -> int:
    """The partition spec id of ``data_file``, or ``default`` when it has none: pyiceberg 0.12's
    ``DataFile.from_args`` drops ``spec_id``, so a file built in memory (by pyiceberg or another writer)
    has none until it is read back from a manifest."""
    try:
        return int(data_file.spec_id)
    except AttributeError:
        return default


def _entry(status: ManifestEntryStatus, snapshot_id: int | None, entry: ManifestEntry) -> ManifestEntry:
    """``entry`` again with a new status (keeping its sequence numbers, as the spec requires)."""
    return ManifestEntry.from_args(
        status=status,
        snapshot_id=snapshot_id,
        sequence_number=entry.sequence_number,
        file_sequence_number=entry.file_sequence_number,
        data_file=entry.data_file,
    )


def commit_row_delta(
    transaction: Transaction,
    *,
    data_files: list[DataFile],
    delete_files: list[tuple[DataFile, str]],
    removed_files: list[DataFile] | None = None,
    removed_delete_files: list[DataFile] | None = None,
    properties: dict[str, str],
) -> int | None:
    """Commit new data files, position deletes (with the data file each targets), removed data files and
    removed delete files (replaced by new ones, or of removed data files); returns the new snapshot's id.

    The transaction may carry a schema change made before; everything lands in one snapshot.

    Raises:
        CommitConflictError: a concurrent commit won (retry the whole sync of the table).
    """
    producer = RowDelta(transaction, properties)
    for data_file in data_files:
        producer.append_data_file(data_file)
    for delete_file, target in delete_files:
        producer.add_delete_file(delete_file, target)
    for removed in removed_files or []:
        producer.delete_data_file(removed)
    for replaced in removed_delete_files or []:
        producer.remove_delete_file(replaced)
    try:
        producer.commit()
        table = transaction.commit_transaction()
    except (CommitFailedException, ValidationException) as exc:
        raise CommitConflictError(f"{transaction._table.name()}: commit conflict: {exc}") from exc
    current = table.current_snapshot()
    return current.snapshot_id if current else None
