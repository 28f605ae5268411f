"""One consistent view of the source for every parallel reader of a run.

A control transaction (REPEATABLE READ) exports its snapshot with ``pg_export_snapshot()``; each reader
imports it with ``SET TRANSACTION SNAPSHOT``, so all batches see the database as of one instant while the
application keeps writing. The snapshot lives as long as the control transaction: keep this context open
until the last batch is read.

The snapshot also records where it stands in the source's history, which is what the nightly sync's
watermark is made of (see :mod:`cutover.source.changes`): its WAL position, its transaction horizon
(``xmin``: every transaction older than it is visible, everything from it on may not be) and the start of
the oldest writing transaction still in flight when it was taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from cutover.errors import SnapshotGoneError
from cutover.source.connection import connect

_IN_FLIGHT = """
select min(xact_start) filter (where pid <> pg_backend_pid() and backend_type = 'client backend'
                                 and datname = current_database()),
       now(),
       (select rolsuper from pg_roles where rolname = current_user) or pg_has_role('pg_read_all_stats', 'USAGE')
from pg_stat_activity
"""
"""The oldest start of a transaction open in this database, written yet or not: ``now()`` is a
transaction's start, so one that has only read so far can still stamp a row with it after the snapshot.
Other roles' ``xact_start`` is visible only to superusers and members of pg_read_all_stats (pg_monitor)."""


@dataclass(frozen=True)
class SourceSnapshot:
    """An exported snapshot and where it stands in the source's history."""

    snapshot_id: str
    lsn: str
    """WAL position at the snapshot."""
    taken_at: datetime
    xmin: int = 0
    """64-bit id (xid8) of the oldest transaction not visible to the snapshot, or still running."""
    xmax: int = 0
    """64-bit id of the first transaction id not yet assigned at the snapshot."""
    writers_in_flight: bool = False
    """Whether some transaction held a transaction id, or was open in this database, at the snapshot."""
    oldest_writer_start: datetime | None = None
    """The earliest start of a transaction that may commit after the snapshot: the oldest one open in this
    database (it may write later, stamping rows with its start), else the time open transactions were
    read, just before the snapshot (any later transaction starts after it)."""
    writer_starts_visible: bool = True
    """False when this role cannot see other roles' transaction starts (no pg_read_all_stats)."""
    in_flight: tuple[int, ...] = ()
    """64-bit ids of the transactions between xmin and xmax still running at the snapshot (invisible)."""


@contextmanager
def exported_snapshot(dsn: str) -> Iterator[SourceSnapshot]:
    """Hold a snapshot open for the duration of the ``with`` block.

    Note:
        The snapshot dies with the control connection; readers importing it afterwards fail with
        "invalid snapshot identifier", which the caller should treat as a reason to start a new run
        (or resume one: committed batches are skipped). In-flight writers are read just *before* the
        snapshot: a writer that starts in between starts after that reading's ``now()``, which is then
        the bound used instead.
    """
    with connect(dsn, autocommit=False) as conn:
        activity = conn.execute(_IN_FLIGHT).fetchone()
        conn.rollback()
        conn.execute("begin isolation level repeatable read read only")
        row = conn.execute(
            """
            select pg_export_snapshot(),
                   (case when pg_is_in_recovery() then pg_last_wal_replay_lsn()
                         else pg_current_wal_lsn() end)::text,
                   now(),
                   pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
                   array(select x::text::bigint from pg_snapshot_xip(pg_current_snapshot()) x)
            """
        ).fetchone()
        assert row is not None and activity is not None
        oldest, read_at, privileged = activity
        in_flight = row[3] != row[4] or oldest is not None
        oldest_start = min(oldest, read_at) if oldest is not None else read_at
        try:
            yield SourceSnapshot(
                snapshot_id=row[0],
                lsn=row[1],
                taken_at=row[2],
                xmin=int(row[3]),
                xmax=int(row[4]),
                writers_in_flight=in_flight,
                oldest_writer_start=oldest_start,
                writer_starts_visible=bool(privileged),
                in_flight=tuple(int(x) for x in row[5]),
            )
        finally:
            conn.rollback()


@contextmanager
def imported_snapshot(
    dsn: str, snapshot_id: str | None, settings: tuple[tuple[str, str], ...] = ()
) -> Iterator[psycopg.Connection]:
    """A read-only connection inside an exported snapshot (a fresh one when ``snapshot_id`` is None).

    Raises:
        SnapshotGoneError: ``snapshot_id`` is no longer exported.

    ``settings`` are session settings applied first (e.g. ``TimeZone``), for queries whose text output
    must not depend on the server's configuration.
    """
    with connect(dsn, autocommit=True) as conn:
        for name, value in settings:
            conn.execute(sql.SQL("set {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("begin isolation level repeatable read read only")
        if snapshot_id is not None:
            try:
                conn.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot_id)))
            except psycopg.errors.InvalidParameterValue as exc:  # the exporting transaction has ended
                raise SnapshotGoneError(snapshot_id, "PostgreSQL: invalid snapshot identifier") from exc
        try:
            yield conn
        finally:
            conn.execute("rollback")
