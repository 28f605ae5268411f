"""Manifest rewrite: a table that has gathered many small manifests gets one per partition spec and kind.

Every nightly commit adds a data manifest and a delete manifest; planning a scan opens each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException, ValidationException

from cutover import names
from cutover.errors import CommitConflictError
from cutover.maintenance.producers import RewriteManifests

if TYPE_CHECKING:
    from pyiceberg.table import Table

DEFAULT_MAX_MANIFESTS = 16
"""More manifests than this in the current snapshot get rewritten."""


@dataclass
class ManifestResult:
    before: int = 0
    after: int = 0
    snapshot_id: int | None = None


def rewrite_manifests(
    table: Table, max_manifests: int = DEFAULT_MAX_MANIFESTS, *, dry_run: bool = False, force: bool = False
) -> ManifestResult:
    """Rewrite the current snapshot's manifests when there are more than ``max_manifests`` (or, with
    ``force``, more than one per kind: after a compaction, whose manifests hold its removed entries too).

    Raises:
        CommitConflictError: the commit lost to concurrent ones more often than pyiceberg retries.
    """
    table.refresh()
    snapshot = table.current_snapshot()
    count = len(snapshot.manifests(table.io)) if snapshot is not None else 0
    result = ManifestResult(count, count)
    kinds = len({(m.partition_spec_id, m.content) for m in snapshot.manifests(table.io)}) if snapshot else 0
    if dry_run or count <= (kinds if force else max_manifests):
        return result
    transaction = table.transaction()
    RewriteManifests(transaction, {names.PROP_MAINTENANCE: "manifest rewrite"}).commit()
    try:
        committed = transaction.commit_transaction()
    except (CommitFailedException, ValidationException) as exc:
        raise CommitConflictError(f"{table.name()}: manifest rewrite conflict: {exc}") from exc
    current = committed.current_snapshot()
    result.snapshot_id = current.snapshot_id if current else None
    result.after = len(current.manifests(table.io)) if current else 0
    return result
