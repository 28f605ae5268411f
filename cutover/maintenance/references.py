"""Which files a table's metadata references: what expiry and orphan removal must never delete."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot


class ReferenceReader:
    """Reads manifests once each (snapshots share most of theirs) and collects the paths they name."""

    def __init__(self, io: FileIO) -> None:
        self._io = io
        self._entries: dict[str, list[str]] = {}

    def of_snapshots(self, snapshots: Iterable[Snapshot]) -> set[str]:
        """Manifest lists, manifests, and the data and delete files live in any of ``snapshots``."""
        paths: set[str] = set()
        for snapshot in snapshots:
            paths.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(self._io):
                paths.add(manifest.manifest_path)
                paths.update(self._files_of(manifest.manifest_path, manifest))
        return paths

    def _files_of(self, path: str, manifest: object) -> list[str]:
        if path not in self._entries:
            entries = manifest.fetch_manifest_entry(self._io, discard_deleted=True)  # type: ignore[attr-defined]
            self._entries[path] = [str(e.data_file.file_path) for e in entries]
        return self._entries[path]


def metadata_files(metadata: TableMetadata, metadata_location: str | None) -> set[str]:
    """The table's metadata files (current and logged) and its statistics files."""
    paths = {entry.metadata_file for entry in metadata.metadata_log}
    if metadata_location:
        paths.add(metadata_location)
    paths.update(s.statistics_path for s in metadata.statistics)
    paths.update(s.statistics_path for s in metadata.partition_statistics)
    return paths
