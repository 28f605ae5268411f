"""What a table's current snapshot holds: data and delete files, counted from its manifests.

Counted through ``snapshot.manifests(io)`` rather than ``table.inspect.files()``, which raises on a
table with a uuid column in pyiceberg 0.12 (shared/pitfalls.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.manifest import DataFileContent

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table


@dataclass(frozen=True)
class FileCounts:
    data_files: int = 0
    data_bytes: int = 0
    delete_files: int = 0
    delete_bytes: int = 0
    manifests: int = 0


def live_entries(table: Table) -> tuple[list[DataFile], list[DataFile], int]:
    """The current snapshot's data files, its delete files, and its manifest count."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return [], [], 0
    data: list[DataFile] = []
    deletes: list[DataFile] = []
    manifests = snapshot.manifests(table.io)
    for manifest in manifests:
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            (data if entry.data_file.content == DataFileContent.DATA else deletes).append(entry.data_file)
    return data, deletes, len(manifests)


def count_files(table: Table) -> FileCounts:
    data, deletes, manifests = live_entries(table)
    return FileCounts(
        len(data),
        sum(f.file_size_in_bytes for f in data),
        len(deletes),
        sum(f.file_size_in_bytes for f in deletes),
        manifests,
    )
