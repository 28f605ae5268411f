"""The PostgreSQL backend: a psycopg connection pool and parameterized SQL built with :mod:`psycopg.sql`.

Every pooled session runs with ``TimeZone = UTC`` (timestamptz arrive as UTC datetimes) and
``IntervalStyle = iso_8601`` (parsed into the months/days/microseconds struct); json and jsonb are loaded
as their text. Identifiers are always :class:`psycopg.sql.Identifier` and values always parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from cutover.errors import SourceConnectionError
from cutover.source.connection import check_dsn, redact_dsn
from cutover.tier.errors import PostgresReadError
from cutover.tier.normalize import IsoIntervalLoader
from cutover.tier.query import Eq, In, Range, ReadQuery
from cutover.tier.schema import EntityInfo

SESSION_OPTIONS = "-c TimeZone=UTC -c IntervalStyle=iso_8601"
POOL_MIN_SIZE_DEFAULT = 1
POOL_MAX_SIZE_DEFAULT = 8
POOL_TIMEOUT_SECONDS_DEFAULT = 10.0
MAX_COMPILED_STATEMENTS = 1024
"""Compiled SQL texts kept per backend (one per read shape); composing psycopg.sql each time costs ~40 µs."""


def _configure(conn: psycopg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        conn.adapters.register_loader(type_name, TextLoader)
    conn.adapters.register_loader("interval", IsoIntervalLoader)


class PostgresBackend:
    """Reads entities from PostgreSQL through a connection pool.

    Args:
        dsn: ``postgresql://`` URL of the application database.
        min_size / max_size: pool bounds; ``max_size`` caps concurrent reads (callers wait up to ``timeout``).

    Note:
        The pool opens lazily on the first read and is safe to share between threads.
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = POOL_MIN_SIZE_DEFAULT,
        max_size: int = POOL_MAX_SIZE_DEFAULT,
        timeout: float = POOL_TIMEOUT_SECONDS_DEFAULT,
    ) -> None:
        self._dsn = check_dsn(dsn)
        self._pool = ConnectionPool(
            self._dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True, "options": SESSION_OPTIONS, "application_name": "cutover-tier"},
            configure=_configure,
            open=False,
            name="cutover-tier",
        )
        self._opened = False
        self._compiled: dict[tuple[Any, ...], bytes] = {}

    @property
    def dsn(self) -> str:
        return self._dsn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, opening the pool on first use.

        Raises:
            SourceConnectionError: no connection within the pool's timeout (PostgreSQL down or refusing us).
        """
        if not self._opened:
            self._pool.open(wait=False)
            self._opened = True
        try:
            conn = self._pool.getconn()
        except PoolTimeout as exc:
            raise SourceConnectionError(f"no connection to {redact_dsn(self._dsn)} within the pool's timeout") from exc
        try:
            yield conn
        finally:
            self._pool.putconn(conn)  # rolls back what is left open; discards a broken connection

    def close(self) -> None:
        if self._opened:
            self._pool.close()
            self._opened = False

    @staticmethod
    def _shape(info: EntityInfo, query: ReadQuery) -> tuple[Any, ...]:
        """What the SQL text depends on (not the values): reads of one shape share one compiled statement."""
        filters = tuple(
            (type(f).__name__, f.column, f.value is None)
            if isinstance(f, Eq)
            else (type(f).__name__, f.column, f.low is None, f.high is None, f.low_inclusive, f.high_inclusive)
            if isinstance(f, Range)
            else (type(f).__name__, f.column)
            for f in query.filters
        )
        return (info.entity, info.pg_schema, query.columns, filters, query.order_by, query.limit is not None)

    @staticmethod
    def parameters(query: ReadQuery) -> list[Any]:
        """The statement's parameters, in placeholder order (see :meth:`statement`)."""
        params: list[Any] = []
        for f in query.filters:
            if isinstance(f, Eq):
                if f.value is not None:
                    params.append(f.value)
            elif isinstance(f, In):
                params.append(list(f.values))
            else:
                params.extend(v for v in (f.low, f.high) if v is not None)
        if query.limit is not None:
            params.append(query.limit)
        return params

    def statement(self, info: EntityInfo, query: ReadQuery) -> tuple[sql.Composed, list[Any]]:
        """The SELECT for ``query`` and its parameters."""
        columns = query.columns if query.columns is not None else info.columns
        select = sql.SQL(", ").join(sql.SQL("{} as {}").format(info.select[c], sql.Identifier(c)) for c in columns)
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        for f in query.filters:
            ident = sql.Identifier(f.column)
            if isinstance(f, Eq):
                if f.value is None:
                    clauses.append(sql.SQL("{} is null").format(ident))
                else:
                    clauses.append(sql.SQL("{} = %s").format(ident))
                    params.append(f.value)
            elif isinstance(f, In):
                clauses.append(sql.SQL("{} = any(%s)").format(ident))
                params.append(list(f.values))
            elif isinstance(f, Range):
                if f.low is not None:
                    clauses.append(sql.SQL("{} >= %s" if f.low_inclusive else "{} > %s").format(ident))
                    params.append(f.low)
                if f.high is not None:
                    clauses.append(sql.SQL("{} <= %s" if f.high_inclusive else "{} < %s").format(ident))
                    params.append(f.high)
        statement = sql.SQL("select {} from {}.{}").format(
            select, sql.Identifier(info.pg_schema), sql.Identifier(info.pg_table)
        )
        if clauses:
            statement = sql.SQL("{} where {}").format(statement, sql.SQL(" and ").join(clauses))
        if query.order_by:
            keys = sql.SQL(", ").join(
                sql.SQL("{} desc nulls last" if k.descending else "{} asc nulls last").format(sql.Identifier(k.column))
                for k in query.order_by
            )
            statement = sql.SQL("{} order by {}").format(statement, keys)
        if query.limit is not None:
            statement = sql.SQL("{} limit %s").format(statement)
            params.append(query.limit)
        return statement, params

    def read(self, info: EntityInfo, query: ReadQuery) -> list[dict[str, Any]]:
        """Run ``query``; rows as dicts in the requested column order.

        Raises:
            SourceConnectionError: no pooled connection within the timeout, or the connection broke.
            PostgresReadError: PostgreSQL refused the statement (e.g. a filter value of the wrong type).
        """
        shape = self._shape(info, query)
        names = query.columns if query.columns is not None else info.columns
        try:
            with self.connection() as conn, conn.cursor() as cur:
                compiled = self._compiled.get(shape)
                if compiled is None:
                    if len(self._compiled) >= MAX_COMPILED_STATEMENTS:
                        self._compiled.clear()
                    compiled = self._compiled[shape] = self.statement(info, query)[0].as_bytes(conn)
                cur.execute(compiled, self.parameters(query))
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except psycopg.OperationalError as exc:
            raise SourceConnectionError(f"PostgreSQL {redact_dsn(self._dsn)} failed: {exc}".strip()) from exc
        except psycopg.Error as exc:
            raise PostgresReadError(f"{info.entity}: PostgreSQL refused the read: {exc}", entity=info.entity) from exc
