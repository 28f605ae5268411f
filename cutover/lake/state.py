"""cutover's state in a table's snapshot summaries (load checkpoint and sync watermark), carried forward.

The load and the sync write their state into the summary of every commit they make; readers walk back
from the current snapshot to the newest one that has it. A maintenance commit (compaction, manifest
rewrite, restore) copies that state into its own summary, so the newest snapshot always holds it, even
once the snapshots it came from are expired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cutover import names

if TYPE_CHECKING:
    from pyiceberg.table.metadata import TableMetadata


def carried_state(metadata: TableMetadata, snapshot_id: int | None) -> dict[str, str]:
    """Every state property as of ``snapshot_id``: each from the newest ancestor (itself included) that has it."""
    from pyiceberg.table.snapshots import ancestors_of

    snapshot = metadata.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    if snapshot is None:
        return {}
    state: dict[str, str] = {}
    wanted = set(names.STATE_PROPERTIES)
    for ancestor in ancestors_of(snapshot, metadata):
        summary = ancestor.summary
        if summary is None:
            continue
        for key in wanted - state.keys():
            value = summary.get(key)
            if value is not None:
                state[key] = value
        if len(state) == len(wanted):
            break
    return state
