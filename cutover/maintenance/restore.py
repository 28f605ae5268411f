"""Restore: make an earlier snapshot a table's current state again, as a new commit (history stays).

The new snapshot reuses the earlier snapshot's manifests, so it holds exactly its files (sequence numbers
and all), and carries its state: the load checkpoint and the sync watermark *as of that snapshot*. The
watermark's delete log is cleared, so the next sync compares key sets once (the delete log has been
pruned past the restored point) and re-reads every change since the restored watermark: nothing lost.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from pyiceberg.exceptions import CommitFailedException, ValidationException

from cutover import names
from cutover.errors import CommitConflictError, ConfigError
from cutover.lake.state import carried_state
from cutover.maintenance.producers import RestoreSnapshot
from cutover.source.watermark import Watermark

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from cutover.rollout.store import ControlStore


@dataclass(frozen=True)
class RestoreResult:
    table: str
    restored_snapshot_id: int
    previous_snapshot_id: int | None
    new_snapshot_id: int | None
    audit_id: int | None = None


def find_snapshot(table: Table, snapshot_id: int | None, as_of: datetime | None) -> Snapshot:
    """The snapshot named by id, or the one current at ``as_of``.

    Raises:
        ConfigError: neither or both given, a naive timestamp, or no such (retained) snapshot.
    """
    if (snapshot_id is None) == (as_of is None):
        raise ConfigError("name exactly one of --snapshot or --as-of")
    if snapshot_id is not None:
        found = table.snapshot_by_id(snapshot_id)
        if found is None:
            raise ConfigError(f"{'.'.join(table.name())} has no snapshot {snapshot_id} (expired, or never existed)")
        return found
    assert as_of is not None
    if as_of.tzinfo is None:
        raise ConfigError(f"--as-of {as_of.isoformat()} has no time zone (add +00:00 or Z)")
    at = table.snapshot_as_of_timestamp(int(as_of.timestamp() * 1000))
    if at is None:
        raise ConfigError(f"{'.'.join(table.name())} has no retained snapshot at or before {as_of.isoformat()}")
    return at


def restore_table(
    table: Table,
    *,
    snapshot_id: int | None = None,
    as_of: datetime | None = None,
    reason: str,
    actor: str | None = None,
    audit: ControlStore | None = None,
) -> RestoreResult:
    """Commit a snapshot holding exactly the chosen snapshot's files, and record it in the audit trail.

    Raises:
        ConfigError: no reason, or the snapshot cannot be found (see :func:`find_snapshot`).
        SourceConnectionError: the audit trail's database cannot be reached (nothing was committed).
        CommitConflictError: the table changed while it was restored (run it again).
    """
    if not reason.strip():
        raise ConfigError("a restore needs a reason (it goes to the audit trail)")
    table.refresh()
    target = find_snapshot(table, snapshot_id, as_of)
    if audit is not None:
        audit.ensure()  # reachable before the table changes: a restore must never go unrecorded
    previous = table.current_snapshot()
    properties = {names.PROP_MAINTENANCE: f"restore: {reason}"}
    text = carried_state(table.metadata, target.snapshot_id).get(names.PROP_WATERMARK)
    if text:
        properties[names.PROP_WATERMARK] = replace(Watermark.from_json(text), delete_log=None).to_json()
    transaction = table.transaction()
    RestoreSnapshot(transaction, target, properties).commit()
    try:
        committed = transaction.commit_transaction()
    except (CommitFailedException, ValidationException) as exc:
        raise CommitConflictError(f"{table.name()}: restore conflict: {exc}") from exc
    current = committed.current_snapshot()
    result = RestoreResult(
        ".".join(table.name()),
        target.snapshot_id,
        previous.snapshot_id if previous else None,
        current.snapshot_id if current else None,
    )
    if audit is not None:
        audit_id = audit.record_audit(
            actor=actor or getpass.getuser(),
            action=names.ACTION_RESTORE,
            entity=".".join(table.name()),
            reason=reason,
            before={"snapshot_id": result.previous_snapshot_id},
            after={"snapshot_id": result.new_snapshot_id, "restored_from": target.snapshot_id},
        )
        result = replace(result, audit_id=audit_id)
    return result
