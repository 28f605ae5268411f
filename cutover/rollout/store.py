"""The control store: a durable audit trail, validation outcomes and tier health, in PostgreSQL.

By default it lives in the source database's ``cutover`` schema (a control schema the application does
not use), so rollback keeps working while Prefect, the catalog or Azure are unavailable. Every change to
flags or stages is appended to ``cutover.audit_log`` with actor, reason, before and after.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from cutover.errors import PrivilegeError
from cutover.source.connection import connect

if TYPE_CHECKING:
    from cutover.validation.report import ValidationReport

CONTROL_SCHEMA = "cutover"
CONTROL_TABLES = ("audit_log", "validation_runs", "tier_observations")

_DDL = """
create schema if not exists {schema};
create table if not exists {schema}.audit_log (
    id          bigserial primary key,
    at          timestamptz not null default now(),
    actor       text not null,
    action      text not null,
    entity      text,
    reason      text not null,
    before      jsonb,
    after       jsonb
);
create index if not exists audit_log_entity_at on {schema}.audit_log (entity, at desc);
create table if not exists {schema}.validation_runs (
    id              bigserial primary key,
    at              timestamptz not null default now(),
    entity          text not null,
    run_id          text not null,
    passed          boolean not null,
    success_percent double precision not null,
    reason          text not null
);
create index if not exists validation_runs_entity_at on {schema}.validation_runs (entity, at desc);
create table if not exists {schema}.tier_observations (
    id          bigserial primary key,
    at          timestamptz not null default now(),
    entity      text not null,
    reads       bigint not null,
    shadow_reads bigint not null default 0,
    mismatches  bigint not null default 0,
    iceberg_errors bigint not null default 0
);
create index if not exists tier_observations_entity_at on {schema}.tier_observations (entity, at desc);
"""


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str | None
    reason: str
    before: Any
    after: Any


@dataclass(frozen=True)
class ValidationOutcome:
    at: datetime
    entity: str
    run_id: str
    passed: bool
    success_percent: float
    reason: str


@dataclass(frozen=True)
class TierHealth:
    """Tier observations summed over a window: what the rollout gates read."""

    reads: int
    shadow_reads: int
    mismatches: int
    iceberg_errors: int

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.shadow_reads if self.shadow_reads else 0.0

    @property
    def error_rate(self) -> float:
        return self.iceberg_errors / self.reads if self.reads else 0.0


class ControlStore:
    """Reads and appends control records; every method opens a short autocommit connection.

    Note:
        Appends are single INSERTs, so concurrent writers (a flow and an operator's CLI) never
        interleave partial records; readers see whole rows in commit order. Inside :meth:`session` the
        calls of one thread share one connection (a rollback's half-dozen records cost one connect).
    """

    def __init__(self, dsn: str, schema: str = CONTROL_SCHEMA) -> None:
        self._dsn = dsn
        self._schema = schema
        self._ready = False
        self._held = threading.local()

    @contextmanager
    def session(self) -> Iterator[None]:
        """Let this thread's calls share one connection until the block ends (nested blocks reuse it)."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with connect(self._dsn) as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's session connection, else a short one; a refused privilege becomes a
        :class:`PrivilegeError` naming the fix."""
        held = getattr(self._held, "conn", None)
        with nullcontext(held) if held is not None else connect(self._dsn) as conn:
            try:
                yield conn
            except psycopg.errors.InsufficientPrivilege as exc:
                raise PrivilegeError(self._denied(conn, exc)) from exc

    def ensure(self) -> None:
        """Create the control schema and tables when missing (idempotent).

        When they all exist nothing is created, so a role without CREATE on the database works once an
        owner has made them (or the schema: ``CREATE SCHEMA cutover AUTHORIZATION <role>``).

        Raises:
            PrivilegeError: they are missing and the role may not create them (the message says what to do).
            SourceConnectionError: the control database cannot be reached.
        """
        if self._ready:
            return
        with self._conn() as conn:
            schema, tables = self._present(conn)
            if tables < len(CONTROL_TABLES):
                for statement in filter(str.strip, _DDL.split(";\n")):
                    if schema and statement.strip().startswith("create schema"):
                        continue  # even `if not exists` needs CREATE on the database
                    conn.execute(sql.SQL(statement).format(schema=sql.Identifier(self._schema)))
        self._ready = True

    def _present(self, conn: psycopg.Connection[Any]) -> tuple[bool, int]:
        """Whether the control schema exists, and how many of its tables (from the catalogs: no privilege needed)."""
        row = conn.execute(
            "select exists (select 1 from pg_namespace where nspname = %(schema)s), "
            "(select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            " where n.nspname = %(schema)s and c.relname = any(%(tables)s) and c.relkind = 'r')",
            {"schema": self._schema, "tables": list(CONTROL_TABLES)},
        ).fetchone()
        return (bool(row[0]), int(row[1])) if row else (False, 0)

    def _denied(self, conn: psycopg.Connection[Any], exc: psycopg.Error) -> str:
        """What to do about a refused privilege, from what exists: the schema, its tables."""
        role, database, schema = conn.info.user, conn.info.dbname, self._schema
        problem = exc.diag.message_primary or str(exc).strip()
        exists, tables = self._present(conn)
        if not exists:
            fix = (
                f"have an owner of database {database} run once `CREATE SCHEMA {schema} AUTHORIZATION {role}` "
                f"(or `GRANT CREATE ON DATABASE {database} TO {role}`)"
            )
        elif tables < len(CONTROL_TABLES):
            fix = f"have the owner of schema {schema} run `GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}`"
        else:
            fix = (
                f"have the owner of schema {schema} run `GRANT USAGE ON SCHEMA {schema} TO {role}; "
                f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO {role}; "
                f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}`"
            )
        return (
            f"the control store (schema {schema} in database {database}) refused role {role}: {problem}; "
            f"set CUTOVER_CONTROL_DSN to a database where cutover may keep it, or {fix}"
        )

    def _table(self, name: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self._schema), sql.Identifier(name))

    def record_audit(
        self, *, actor: str, action: str, reason: str, entity: str | None = None, before: Any = None, after: Any = None
    ) -> int:
        self.ensure()
        with self._conn() as conn:
            row = conn.execute(
                sql.SQL(
                    "insert into {} (actor, action, entity, reason, before, after) values (%s, %s, %s, %s, %s, %s) returning id"
                ).format(self._table("audit_log")),
                (actor, action, entity, reason, _json(before), _json(after)),
            ).fetchone()
        assert row is not None  # INSERT ... RETURNING returns its row
        return int(row[0])

    def audit_log(self, *, entity: str | None = None, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        self.ensure()
        clauses = [sql.SQL("true")]
        params: list[Any] = []
        if entity is not None:
            clauses.append(sql.SQL("entity is not distinct from %s"))
            params.append(entity)
        if action is not None:
            clauses.append(sql.SQL("action = %s"))
            params.append(action)
        query = sql.SQL(
            "select id, at, actor, action, entity, reason, before, after from {} where {} order by id desc limit %s"
        ).format(self._table("audit_log"), sql.SQL(" and ").join(clauses))
        with self._conn() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()
        return [AuditEntry(*row) for row in rows]

    def knows_entity(self, entity: str) -> bool:
        """Whether any record names ``entity``: validated, stepped, rolled back, or read through the tier."""
        self.ensure()
        query = sql.SQL(" or ").join(
            sql.SQL("exists (select 1 from {} where entity = %(entity)s)").format(self._table(name))
            for name in CONTROL_TABLES
        )
        with self._conn() as conn:
            row = conn.execute(sql.SQL("select {}").format(query), {"entity": entity}).fetchone()
        return bool(row and row[0])

    def record_validation(self, *, entity: str, run_id: str, passed: bool, success_percent: float, reason: str) -> None:
        self.ensure()
        with self._conn() as conn:
            conn.execute(
                sql.SQL(
                    "insert into {} (entity, run_id, passed, success_percent, reason) values (%s, %s, %s, %s, %s)"
                ).format(self._table("validation_runs")),
                (entity, run_id, passed, success_percent, reason),
            )

    def latest_validation(self, entity: str) -> ValidationOutcome | None:
        self.ensure()
        with self._conn() as conn:
            row = conn.execute(
                sql.SQL(
                    "select at, entity, run_id, passed, success_percent, reason from {} where entity = %s "
                    "order by id desc limit 1"
                ).format(self._table("validation_runs")),
                (entity,),
            ).fetchone()
        return ValidationOutcome(*row) if row else None

    def record_tier_observation(
        self, *, entity: str, reads: int, shadow_reads: int = 0, mismatches: int = 0, iceberg_errors: int = 0
    ) -> None:
        self.ensure()
        with self._conn() as conn:
            conn.execute(
                sql.SQL(
                    "insert into {} (entity, reads, shadow_reads, mismatches, iceberg_errors) values (%s, %s, %s, %s, %s)"
                ).format(self._table("tier_observations")),
                (entity, reads, shadow_reads, mismatches, iceberg_errors),
            )

    def tier_health(self, entity: str, since: datetime) -> TierHealth:
        self.ensure()
        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cursor:  # not the (shared) connection's
            row = cursor.execute(
                sql.SQL(
                    "select coalesce(sum(reads), 0) as reads, coalesce(sum(shadow_reads), 0) as shadow_reads, "
                    "coalesce(sum(mismatches), 0) as mismatches, coalesce(sum(iceberg_errors), 0) as iceberg_errors "
                    "from {} where entity = %s and at >= %s"
                ).format(self._table("tier_observations")),
                (entity, since),
            ).fetchone()
        assert row is not None  # an aggregate without GROUP BY returns one row
        return TierHealth(**{k: int(v) for k, v in row.items()})


def record_validation_report(store: ControlStore, report: ValidationReport) -> None:
    """Append every table of a :class:`~cutover.validation.ValidationReport` (the rollout gates read these)."""
    for table in report.tables:
        store.record_validation(
            entity=table.iceberg_identifier,
            run_id=report.run_id,
            passed=table.passed,
            success_percent=table.success_percentage,
            reason=table.reason or table.status,
        )


class FlagChangeAudit:
    """A flag-service audit sink: every flag write becomes an ``audit_log`` row (action ``flag.set``)."""

    def __init__(self, store: ControlStore) -> None:
        self._store = store

    def __call__(self, change: Any) -> None:
        self._store.record_audit(
            actor=change.actor,
            action="flag.set",
            entity=None if change.scope == "global" else change.scope,
            reason=change.reason,
            before={change.flag: change.before},
            after={change.flag: change.after},
        )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)
