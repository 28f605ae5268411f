"""The load checkpoint, kept inside Iceberg itself so data and progress commit atomically.

* Table properties (set once, when the load creates the table): the load id and the batch plan.
* Snapshot summary of every load commit: the cumulative set of completed batches and where the source
  stood. A rerun reads the newest snapshot of its load and skips what it lists: a batch is either in a
  snapshot together with its data, or it is not there at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from cutover import names
from cutover.source.planning import Batch


def encode_ranges(indices: set[int]) -> str:
    """``{0,1,2,5}`` → ``"0-2,5"``: compact enough for thousands of batches in a summary property."""
    parts: list[str] = []
    ordered = sorted(indices)
    start = prev = None
    for value in ordered:
        if start is None:
            start = prev = value
        elif prev is not None and value == prev + 1:
            prev = value
        else:
            parts.append(f"{start}-{prev}" if start != prev else str(start))
            start = prev = value
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else str(start))
    return ",".join(parts)


def decode_ranges(text: str) -> set[int]:
    result: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        result.update(range(int(low), int(high or low) + 1))
    return result


@dataclass(frozen=True)
class Checkpoint:
    """What a table's metadata says about its load."""

    load_id: str
    plan: list[Batch]
    done: frozenset[int]
    complete: bool
    snapshot_id: int | None

    @property
    def pending(self) -> list[Batch]:
        return [b for b in self.plan if b.index not in self.done]


def plan_properties(load_id: str, source_table: str, plan: list[Batch]) -> dict[str, str]:
    """Table properties recording a new load's identity and its batch plan."""
    return {
        names.PROP_LOAD_ID: load_id,
        names.PROP_SOURCE_TABLE: source_table,
        names.PROP_LOAD_PLAN: json.dumps([b.to_json() for b in plan], separators=(",", ":")),
    }


def read_checkpoint(table: Table) -> Checkpoint | None:
    """The table's load checkpoint, or None when cutover did not create this table."""
    properties = table.properties
    load_id = properties.get(names.PROP_LOAD_ID)
    if load_id is None or names.PROP_LOAD_PLAN not in properties:
        return None
    plan = [Batch.from_json(b) for b in json.loads(properties[names.PROP_LOAD_PLAN])]
    for snapshot in history(table):
        summary = snapshot.summary
        if summary is not None and summary.get(names.PROP_LOAD_ID) == load_id:
            done = decode_ranges(summary.get(names.PROP_BATCHES_DONE) or "")
            complete = summary.get(names.PROP_LOAD_COMPLETE) == "true"
            return Checkpoint(load_id, plan, frozenset(done), complete, snapshot.snapshot_id)
    return Checkpoint(load_id, plan, frozenset(), False, None)


def history(table: Table) -> Iterable[Snapshot]:
    """The current snapshot and its ancestors, newest first (where load and sync properties are read)."""
    from pyiceberg.table.snapshots import ancestors_of

    current = table.current_snapshot()
    if current is None:
        return iter(())
    return ancestors_of(current, table.metadata)
