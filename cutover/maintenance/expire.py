"""Snapshot expiry, and deletion of the files only expired snapshots referenced.

pyiceberg's ``expire_snapshots()`` removes snapshots from the metadata but deletes no file; this finds
the manifest lists, manifests, data and delete files that no retained snapshot references any more and
deletes them after the expiry committed (a crash in between leaves orphans, which orphan removal takes).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import ancestors_of

from cutover import names
from cutover.maintenance.references import ReferenceReader

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot

DEFAULT_OLDER_THAN = timedelta(days=7)
DEFAULT_RETAIN_LAST = 10


@dataclass(frozen=True)
class ExpiryOptions:
    older_than: timedelta = DEFAULT_OLDER_THAN
    """Snapshots older than this may go..."""
    retain_last: int = DEFAULT_RETAIN_LAST
    """...except the newest ``retain_last`` of the current history (the current one always stays, and
    every branch head and tagged snapshot)."""


@dataclass
class ExpiryResult:
    snapshots_expired: int = 0
    files_deleted: int = 0
    bytes_deleted: int = 0
    deleted: list[str] = field(default_factory=list)
    """The files deleted (or, in a dry run, that would be)."""


def expirable(metadata: TableMetadata, options: ExpiryOptions, now: datetime) -> list[int]:
    """Ids of the snapshots ``options`` lets go."""
    protected = {ref.snapshot_id for ref in metadata.refs.values() if ref.snapshot_ref_type in (
        SnapshotRefType.BRANCH, SnapshotRefType.TAG)}  # fmt: skip
    current = metadata.current_snapshot()
    if current is not None:
        ancestry = list(ancestors_of(current, metadata))
        protected.update(s.snapshot_id for s in ancestry[: max(options.retain_last, 1)])
        protected.update(_state_holders(ancestry))
    cutoff = (now - options.older_than).timestamp() * 1000
    return [s.snapshot_id for s in metadata.snapshots if s.snapshot_id not in protected and s.timestamp_ms < cutoff]


def _state_holders(ancestry: list[Snapshot]) -> set[int]:
    """The newest snapshots holding each of cutover's state properties: kept, or the checkpoint and the
    watermark would go with them (every sync and maintenance commit carries them, so these are recent)."""
    holders: set[int] = set()
    missing = set(names.STATE_PROPERTIES)
    for snapshot in ancestry:
        found = {key for key in missing if snapshot.summary is not None and snapshot.summary.get(key) is not None}
        if found:
            holders.add(snapshot.snapshot_id)
            missing -= found
        if not missing:
            break
    return holders


def expire_snapshots(
    table: Table, options: ExpiryOptions | None = None, *, now: datetime | None = None, dry_run: bool = False
) -> ExpiryResult:
    """Expire old snapshots and delete the files only they referenced.

    Note:
        Files are chosen before the expiry commits: a file some retained or newer snapshot references is
        never chosen (a new commit only references files live in its parent, which is retained, or files
        of its own).
    """
    options = options or ExpiryOptions()
    table.refresh()
    metadata = table.metadata
    ids = set(expirable(metadata, options, now or datetime.now(UTC)))
    result = ExpiryResult(snapshots_expired=len(ids))
    if not ids:
        return result
    reader = ReferenceReader(table.io)
    gone = reader.of_snapshots(s for s in metadata.snapshots if s.snapshot_id in ids)
    kept = reader.of_snapshots(s for s in metadata.snapshots if s.snapshot_id not in ids)
    result.deleted = sorted(gone - kept)
    if dry_run:
        return result
    table.maintenance.expire_snapshots().by_ids(sorted(ids)).commit()
    for path in result.deleted:
        with contextlib.suppress(OSError, FileNotFoundError):
            size = len(table.io.new_input(path))
            table.io.delete(path)
            result.files_deleted += 1
            result.bytes_deleted += size
    return result
