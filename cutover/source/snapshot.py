"""One consistent view of the source for every parallel reader of a run.

A control transaction (REPEATABLE READ) exports its snapshot with ``pg_export_snapshot()``; each reader
imports it with ``SET TRANSACTION SNAPSHOT``, so all batches see the database as of one instant while the
application keeps writing. The snapshot lives as long as the control transaction: keep this context open
until the last batch is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from cutover.source.connection import connect


@dataclass(frozen=True)
class SourceSnapshot:
    """An exported snapshot and where it stands in the source's history."""

    snapshot_id: str
    lsn: str
    """WAL position at the snapshot: where a later sync may start from."""
    taken_at: datetime


@contextmanager
def exported_snapshot(dsn: str) -> Iterator[SourceSnapshot]:
    """Hold a snapshot open for the duration of the ``with`` block.

    Note:
        The snapshot dies with the control connection; readers importing it afterwards fail with
        "invalid snapshot identifier", which the caller should treat as a reason to start a new run
        (or resume one: committed batches are skipped).
    """
    with connect(dsn, autocommit=False) as conn:
        conn.execute("begin isolation level repeatable read read only")
        row = conn.execute(
            """
            select pg_export_snapshot(),
                   (case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
                         else pg_current_wal_lsn() end)::text,
                   now()
            """
        ).fetchone()
        assert row is not None
        try:
            yield SourceSnapshot(snapshot_id=row[0], lsn=row[1], taken_at=row[2])
        finally:
            conn.rollback()
