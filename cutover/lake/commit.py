"""Committing written data files together with the checkpoint, as one Iceberg snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from cutover import names
from cutover.errors import CommitConflictError
from cutover.lake.checkpoint import encode_ranges, read_checkpoint
from cutover.lake.watermark import read_watermark
from cutover.source.watermark import Watermark


@dataclass(frozen=True)
class CommitResult:
    snapshot_id: int | None
    """None when every batch was already committed (nothing new to do)."""
    batches: frozenset[int]
    table_rows: int = 0
    """Rows the table holds after the commit (its current snapshot's ``total-records``)."""


def commit_batches(
    table: Table,
    parts: dict[int, list[DataFile]],
    *,
    source_lsn: str,
    source_snapshot_time: str,
    total_batches: int,
    watermark: Watermark,
) -> CommitResult:
    """Fast-append the data files of each batch in ``parts`` and mark those batches done, atomically.

    Idempotent: the checkpoint is re-read from the catalog first, and batches it already lists are not
    committed again (their files are dropped), so a retried or resumed commit never duplicates rows.
    The sync watermark is the one of the load's first commit: a resumed load reads its remaining batches
    from a later snapshot, and the nightly sync must start from the earliest one.

    Raises:
        CommitConflictError: another writer committed first; retrying (after a refresh) is safe.
    """
    table.refresh()
    checkpoint = read_checkpoint(table)
    if checkpoint is None:
        raise CommitConflictError(f"{table.name()}: not created by a cutover load (no {names.PROP_LOAD_ID})")
    new = set(parts) - checkpoint.done
    if not new:
        return CommitResult(None, frozenset(), table_rows(table))
    done = set(checkpoint.done) | new
    earlier = read_watermark(table) if checkpoint.snapshot_id is not None else None
    summary = {
        names.PROP_LOAD_ID: checkpoint.load_id,
        names.PROP_BATCHES_DONE: encode_ranges(done),
        names.PROP_BATCHES_TOTAL: str(total_batches),
        names.PROP_SOURCE_LSN: source_lsn,
        names.PROP_SOURCE_SNAPSHOT_TIME: source_snapshot_time,
        names.PROP_LOAD_COMPLETE: "true" if len(done) >= total_batches else "false",
        names.PROP_WATERMARK: (earlier or watermark).to_json(),
    }
    try:
        with table.transaction() as tx, tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
            for index in sorted(new):
                for data_file in parts[index]:
                    append.append_data_file(data_file)
    except CommitFailedException as exc:
        raise CommitConflictError(f"{table.name()}: commit conflict: {exc}") from exc
    current = table.current_snapshot()
    return CommitResult(current.snapshot_id if current else None, frozenset(new), table_rows(table))


def table_rows(table: Table) -> int:
    """Rows in the table's current snapshot, from its summary (no file is read); 0 for an empty table."""
    current = table.current_snapshot()
    total = current.summary["total-records"] if current is not None and current.summary is not None else None
    return int(total) if total is not None else 0
