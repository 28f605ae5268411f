"""Orphan removal: files under a table's location that no metadata references, past a grace period.

A killed load or sync leaves files no snapshot references; so does a failed commit whose clean-up did
not run. They are found by listing the table's location (pyiceberg's FileIO cannot list: the listing goes
through the FileIO's own filesystem, pyarrow's or fsspec's) and subtracting every file the metadata
references, in every snapshot. Only files older than the grace period go: a load or sync in flight
writes files no snapshot references *yet*.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cutover.errors import ConfigError
from cutover.maintenance.references import ReferenceReader, metadata_files

if TYPE_CHECKING:
    from pyiceberg.table import Table

DEFAULT_GRACE = timedelta(days=3)


@dataclass(frozen=True)
class Orphan:
    path: str
    size: int
    modified: datetime


@dataclass
class OrphanResult:
    orphans: list[Orphan] = field(default_factory=list)
    """Unreferenced files past the grace period: deleted, or in a dry run listed."""
    files_deleted: int = 0
    bytes_deleted: int = 0
    too_young: int = 0
    """Unreferenced files inside the grace period (left alone: maybe a load or sync in flight)."""


def remove_orphans(
    table: Table, grace: timedelta = DEFAULT_GRACE, *, now: datetime | None = None, dry_run: bool = False
) -> OrphanResult:
    """Delete (or with ``dry_run`` list) the orphans of ``table`` older than ``grace``.

    Note:
        References are read after the listing, so a file committed while the listing runs counts as
        referenced; a file written since is younger than any sensible grace period.
    """
    table.refresh()
    location = table.location().rstrip("/")
    listed = list_files(table, location)
    metadata = table.metadata
    referenced = ReferenceReader(table.io).of_snapshots(metadata.snapshots)
    referenced |= metadata_files(metadata, table.metadata_location)
    known = {_relative(p, location) for p in referenced}
    cutoff = (now or datetime.now(UTC)) - grace
    result = OrphanResult()
    for relative, size, modified in listed:
        if relative in known:
            continue
        if modified > cutoff:
            result.too_young += 1
            continue
        result.orphans.append(Orphan(f"{location}/{relative}", size, modified))
    if not dry_run:
        for orphan in result.orphans:
            with contextlib.suppress(OSError, FileNotFoundError):
                table.io.delete(orphan.path)
                result.files_deleted += 1
                result.bytes_deleted += orphan.size
    return result


def _relative(path: str, location: str) -> str | None:
    return path[len(location) + 1 :] if path.startswith(location + "/") else None


def list_files(table: Table, location: str) -> list[tuple[str, int, datetime]]:
    """``(path relative to location, size, modified)`` of every file under ``location``.

    Raises:
        ConfigError: the table's FileIO is neither pyarrow's nor fsspec's (nothing to list with).
    """
    from pyiceberg.io.fsspec import FsspecFileIO
    from pyiceberg.io.pyarrow import PyArrowFileIO

    io: Any = table.io
    parts = urlsplit(location)
    if isinstance(io, PyArrowFileIO):
        from pyarrow import fs as pafs

        filesystem = io.fs_by_scheme(parts.scheme or "file", parts.netloc or None)
        base = parts.path if parts.scheme in ("", "file") else f"{parts.netloc}{parts.path}"
        try:
            infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise ConfigError(f"cannot list {location}: {exc}") from exc
        return [
            (info.path[len(base.rstrip("/")) + 1 :], int(info.size or 0), _utc(info.mtime))
            for info in infos
            if info.type == pafs.FileType.File
        ]
    if isinstance(io, FsspecFileIO):
        filesystem = io.get_fs(parts.scheme or "file")
        base = filesystem._strip_protocol(location).rstrip("/")
        found = filesystem.find(base, detail=True)
        return [
            (path[len(base) + 1 :], int(info.get("size") or 0), _utc(_modified(info)))
            for path, info in found.items()
            if info.get("type") == "file"
        ]
    raise ConfigError(f"{table.name()}: orphan removal cannot list files through {type(io).__name__}")


def _modified(info: dict[str, Any]) -> datetime:
    value = info.get("last_modified") or info.get("mtime") or info.get("created")
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.now(UTC)  # unknown age: treated as young, never deleted


def _utc(value: Any) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)
