"""The delete log: a table's hard deletes recorded by triggers, so a sync reads them instead of every key.

A key-set comparison reads every key of the table, so its cost grows with the table. The delete log
costs what the deletes cost: statement-level ``AFTER DELETE`` triggers copy the deleted keys (from the
statement's transition table) into ``cutover.deletes_<id>``, stamped with the deleting transaction's
id; a row trigger does the same for the old key of an ``UPDATE`` that changes the primary key, and
``TRUNCATE`` leaves a mark in ``cutover.truncations``. The log rows commit or roll back with the
delete itself, so the sync's snapshot sees exactly the logged deletes of the transactions it sees: no
position to confirm, nothing to lose on a crash. A sync takes the log rows its predecessor's snapshot
(kept in the watermark) did not see, and prunes the rows every committed watermark saw.

The triggers fire from the moment they exist, so a new log (first sync, or the previous one was dropped
or disabled) compares key sets once, on a snapshot taken after it was installed, and records the log
in its watermark; later syncs trust it. Installing needs ownership of the table and CREATE on the
database; without them the sync compares key sets and says why. The triggers are ``ENABLE ALWAYS``, so
sessions with ``session_replication_role = replica`` are logged too. Release the logs
(:func:`drop_delete_logs`, ``cutover sync --release-delete-logs``) when the migration is over.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

import psycopg
from psycopg import sql

from cutover.source.introspect import SourceTable
from cutover.source.watermark import Watermark

log = logging.getLogger(__name__)

LOG_SCHEMA = "cutover"
TRUNCATIONS = "truncations"
_ENABLED = ("O", "A")  # pg_trigger.tgenabled: enabled (origin), always
_TRIGGERS = ("delete", "key_update", "truncate")
"""Suffixes of a log's trigger names (``<log>_<suffix>``)."""
LOCK_TIMEOUT_MS = 2_000
"""Creating or dropping a trigger waits for the table's open write transactions, and the application's
new writes queue behind that wait: give up quickly rather than stall them."""
_LOCK_TIMEOUT = sql.SQL("set local lock_timeout = {}").format(sql.Literal(f"{LOCK_TIMEOUT_MS}ms"))


@dataclass(frozen=True)
class DeleteLogChoice:
    """How one sync finds its deletes: from log ``name`` (``trusted``), or by key sets (and why)."""

    name: str | None
    """The delete log this sync records in its watermark (None: none could be installed)."""
    trusted: bool
    """The log has been in place, recorded, since a sync that compared key sets: its deletes are complete."""
    reason: str
    """What the report says about the choice."""


@dataclass(frozen=True)
class LoggedDeletes:
    """The deletes one sync read from its log."""

    key_ids: list[int]
    """Key ids of the deleted keys, from transactions the sync's snapshot sees and the last commit's did not."""
    truncated: bool
    """Such a transaction truncated the table: the log cannot name the rows (compare key sets)."""


def log_family(database: str, table: SourceTable, namespace: str) -> str:
    """``deletes_<hash>``: the prefix of one table's log names (per source table and Iceberg namespace)."""
    digest = hashlib.sha1(f"{database}/{table.schema}.{table.name}->{namespace}".encode()).hexdigest()[:12]
    return f"deletes_{digest}"


def choose_delete_log(
    conn: psycopg.Connection, table: SourceTable, namespace: str, recorded: str | None
) -> DeleteLogChoice:
    """Find or install this table's delete log; call it *before* the sync's snapshot is taken.

    ``recorded`` is the log named by the table's watermark. Logs of the same family that are neither
    recorded nor intact are dropped (their triggers would only cost the application time).
    """
    if table.partitioned:  # statement triggers on the parent miss a DELETE or TRUNCATE run on a partition
        return DeleteLogChoice(None, False, "key sets (a partitioned table: its partitions can be written directly)")
    family = _family_of(conn, table, namespace)
    installed = _installed(conn, family)
    intact = [n for n in installed if _intact(conn, table, n)]
    if recorded in intact:
        name = recorded
    elif intact:  # installed by an attempt that did not commit: it logs since then, which is enough
        name = intact[0]
    else:
        name = f"{family}_{secrets.token_hex(3)}"
        problem = _install(conn, table, name)
        if problem is not None:
            return DeleteLogChoice(None, False, f"key sets ({problem})")
    for other in installed:
        if other != name:
            _drop(conn, table, other)
    if name == recorded:
        return DeleteLogChoice(name, True, f"delete log ({LOG_SCHEMA}.{name})")
    return DeleteLogChoice(name, False, f"key sets (once, to start the delete log {LOG_SCHEMA}.{name})")


def read_deletes(conn: psycopg.Connection, name: str, key_id: sql.Composable, previous: Watermark) -> LoggedDeletes:
    """The logged deletes that ``conn``'s snapshot sees and ``previous`` (the last commit's) did not.

    ``key_id`` is the key id expression over alias ``k`` (the log's key columns carry the table's names
    and types, so the ids equal those of the same keys read as rows).
    """
    relation = sql.Identifier(LOG_SCHEMA, name)
    rows = conn.execute(
        sql.SQL("select xid::text::bigint, {id} from {log} as k where xid >= %s::text::xid8").format(
            id=key_id, log=relation
        ),
        (previous.xmin,),
    ).fetchall()
    truncations = conn.execute(
        sql.SQL("select xid::text::bigint from {} where log = %s and xid >= %s::text::xid8").format(
            sql.Identifier(LOG_SCHEMA, TRUNCATIONS)
        ),
        (name, previous.xmin),
    ).fetchall()
    return LoggedDeletes(
        key_ids=[int(key) for xid, key in rows if not previous.sees(int(xid))],
        truncated=any(not previous.sees(int(xid)) for (xid,) in truncations),
    )


def prune_delete_log(conn: psycopg.Connection, name: str, applied: Watermark) -> None:
    """Remove the log rows of transactions older than ``applied``'s horizon: a committed watermark, so its
    snapshot saw them and they are in Iceberg."""
    conn.execute(
        sql.SQL("delete from {} where xid < %s::text::xid8").format(sql.Identifier(LOG_SCHEMA, name)),
        (applied.xmin,),
    )
    conn.execute(
        sql.SQL("delete from {} where log = %s and xid < %s::text::xid8").format(
            sql.Identifier(LOG_SCHEMA, TRUNCATIONS)
        ),
        (name, applied.xmin),
    )


def drop_delete_logs(conn: psycopg.Connection, table: SourceTable, namespace: str) -> list[str]:
    """Drop the table's delete logs: triggers, functions and log tables (the migration is over)."""
    names = _installed(conn, _family_of(conn, table, namespace))
    for name in names:
        _drop(conn, table, name)
    return names


def _family_of(conn: psycopg.Connection, table: SourceTable, namespace: str) -> str:
    row = conn.execute("select current_database()").fetchone()
    assert row is not None
    return log_family(row[0], table, namespace)


def _installed(conn: psycopg.Connection, family: str) -> list[str]:
    rows = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname like %s and c.relkind = 'r' order by 1",
        (LOG_SCHEMA, family + "\\_%"),
    ).fetchall()
    return [r[0] for r in rows]


def _intact(conn: psycopg.Connection, table: SourceTable, name: str) -> bool:
    """Every trigger of log ``name`` is on the table and enabled."""
    rows = conn.execute(
        "select tgname, tgenabled from pg_trigger where tgrelid = %s and tgname like %s",
        (table.oid, name + "\\_%"),
    ).fetchall()
    return {t for t, _ in rows} == {f"{name}_{kind}" for kind in _TRIGGERS} and all(e in _ENABLED for _, e in rows)


def _install(conn: psycopg.Connection, table: SourceTable, name: str) -> str | None:
    """Create the log table, its function and the triggers in one transaction; why not (None: done)."""
    source = sql.Identifier(table.schema, table.name)
    logged = sql.Identifier(LOG_SCHEMA, name)
    keys = [sql.Identifier(k) for k in table.primary_key]
    key_list = sql.SQL(", ").join(keys)
    key_columns = sql.SQL(", ").join(
        sql.SQL("{} {} not null").format(sql.Identifier(k), sql.SQL(table.column(k).display_type))
        for k in table.primary_key
    )
    function = sql.Identifier(LOG_SCHEMA, f"{name}_log")
    changed_key = sql.SQL(" or ").join(sql.SQL("old.{k} is distinct from new.{k}").format(k=k) for k in keys)
    statements = [
        sql.SQL("create schema if not exists {}").format(sql.Identifier(LOG_SCHEMA)),
        sql.SQL(
            "create table if not exists {} (log text not null, xid xid8 not null default pg_current_xact_id())"
        ).format(sql.Identifier(LOG_SCHEMA, TRUNCATIONS)),
        sql.SQL("create table {} (xid xid8 not null default pg_current_xact_id(), {})").format(logged, key_columns),
        sql.SQL("create index on {} (xid)").format(logged),
        sql.SQL(
            """
            create function {f}() returns trigger language plpgsql security definer
            set search_path = pg_catalog, pg_temp as $body$
            begin
                if tg_op = 'DELETE' then
                    insert into {log} ({keys}) select {keys} from gone;
                elsif tg_op = 'UPDATE' then
                    insert into {log} ({keys}) values ({old_keys});
                else
                    insert into {truncations} (log) values ({name});
                end if;
                return null;
            end $body$
            """
        ).format(
            f=function,
            log=logged,
            keys=key_list,
            old_keys=sql.SQL(", ").join(sql.SQL("old.{}").format(k) for k in keys),
            truncations=sql.Identifier(LOG_SCHEMA, TRUNCATIONS),
            name=sql.Literal(name),
        ),
        sql.SQL(
            "create trigger {t} after delete on {s} referencing old table as gone for each statement "
            "execute function {f}()"
        ).format(t=sql.Identifier(f"{name}_delete"), s=source, f=function),
        sql.SQL(
            "create trigger {t} after update of {keys} on {s} for each row when ({changed}) execute function {f}()"
        ).format(t=sql.Identifier(f"{name}_key_update"), keys=key_list, s=source, changed=changed_key, f=function),
        sql.SQL("create trigger {t} after truncate on {s} for each statement execute function {f}()").format(
            t=sql.Identifier(f"{name}_truncate"), s=source, f=function
        ),
        *(
            sql.SQL("alter table {s} enable always trigger {t}").format(s=source, t=sql.Identifier(f"{name}_{kind}"))
            for kind in _TRIGGERS
        ),
    ]
    try:
        with conn.transaction():
            conn.execute(_LOCK_TIMEOUT)
            for statement in statements:
                conn.execute(statement)
    except psycopg.errors.LockNotAvailable:
        return (
            f"a transaction writing {table.qualified_name} kept the delete log from being installed "
            f"within {LOCK_TIMEOUT_MS} ms; the next sync tries again"
        )
    except psycopg.errors.InsufficientPrivilege as exc:
        return (
            f"installing a delete log needs ownership of {table.qualified_name} and CREATE on database "
            f"{conn.info.dbname}; role {conn.info.user} was refused: {exc.diag.message_primary or exc}"
        )
    except psycopg.Error as exc:
        return f"cannot install the delete log on {table.qualified_name}: {str(exc).strip()}"
    return None


def _drop(conn: psycopg.Connection, table: SourceTable, name: str) -> None:
    source = sql.Identifier(table.schema, table.name)
    try:
        with conn.transaction():
            conn.execute(_LOCK_TIMEOUT)
            for kind in _TRIGGERS:
                conn.execute(
                    sql.SQL("drop trigger if exists {} on {}").format(sql.Identifier(f"{name}_{kind}"), source)
                )
            conn.execute(sql.SQL("drop function if exists {}()").format(sql.Identifier(LOG_SCHEMA, f"{name}_log")))
            conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(LOG_SCHEMA, name)))
            conn.execute(
                sql.SQL("delete from {} where log = %s").format(sql.Identifier(LOG_SCHEMA, TRUNCATIONS)), (name,)
            )
    except psycopg.Error as exc:  # no permission, or the table is busy: it stays, and says so in the log
        log.warning("could not drop the delete log %s.%s: %s", LOG_SCHEMA, name, exc)
