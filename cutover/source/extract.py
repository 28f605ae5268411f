"""Streaming a batch out of PostgreSQL as Arrow record batches through the ADBC driver.

ADBC reads PostgreSQL's binary COPY format straight into Arrow buffers: no Python object per row.
The SELECT list comes from the type mapping (some columns are read through a cast to their canonical
text form) and may carry hidden check columns that flag values Arrow would silently mangle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
from psycopg import sql

from cutover.errors import SnapshotGoneError, SourceConnectionError, SourceSchemaError
from cutover.source.connection import redact_dsn
from cutover.source.planning import Batch, key_order

CHECK_COLUMN_PREFIX = "__cutover_check_"
ADBC_BATCH_BYTES = 16 * 1024 * 1024
"""Arrow bytes per record batch of a bulk read (fewer, larger batches convert fastest)."""


@dataclass(frozen=True)
class SelectColumn:
    """One output column of the extraction query."""

    name: str
    expression: sql.Composable


def batch_predicate(batch: Batch, key_columns: tuple[str, ...]) -> sql.Composable:
    """The WHERE clause selecting exactly this batch's rows (``true`` for a whole relation)."""
    clauses: list[sql.Composable] = []
    if batch.kind == "key":
        keys: sql.Composable = sql.SQL("({})").format(sql.SQL(", ").join(sql.Identifier(k) for k in key_columns))
        for bound, op in ((batch.lower, ">="), (batch.upper, "<")):
            if bound is not None:
                values = sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(v) for v in bound))
                clauses.append(sql.SQL("{} {} {}").format(keys, sql.SQL(op), values))
    elif batch.kind == "ctid":
        for bound, op in ((batch.lower, ">="), (batch.upper, "<")):
            if bound is not None:
                clauses.append(sql.SQL("ctid {} {}::tid").format(sql.SQL(op), sql.Literal(f"({int(bound[0])},0)")))
    if not clauses:
        return sql.SQL("true")
    return sql.SQL(" and ").join(clauses)


def batch_query(
    schema: str, table: str, columns: list[SelectColumn], batch: Batch, key_columns: tuple[str, ...]
) -> sql.Composed:
    """The full extraction query of one batch; every identifier quoted by psycopg.sql.

    A key-range batch is read in key order (the primary-key index serves it), so the files it becomes
    hold ascending keys: the table's declared sort order, and what makes per-row-group key statistics tight.
    """
    relation = batch.relation or (schema, table)
    query = sql.SQL("select {} from {} where {}").format(
        select_list(columns), sql.Identifier(*relation), batch_predicate(batch, key_columns)
    )
    if batch.kind == "key" and key_columns:
        query = sql.SQL("{} {}").format(query, key_order(key_columns))
    return query


def select_list(columns: list[SelectColumn]) -> sql.Composable:
    """``expression as name, ...`` of an extraction query."""
    return sql.SQL(", ").join(sql.SQL("{} as {}").format(col.expression, sql.Identifier(col.name)) for col in columns)


def stream_batch(
    dsn: str, query: str, snapshot_id: str | None, batch_bytes: int = ADBC_BATCH_BYTES
) -> Iterator[pa.RecordBatch]:
    """Run ``query`` (already rendered) inside the exported snapshot and yield Arrow record batches of
    about ``batch_bytes``.

    Raises:
        SourceConnectionError: the connection failed or was terminated (worth a retry).
        SnapshotGoneError: ``snapshot_id`` is no longer exported (retried on it, never on a newer one).
        SourceSchemaError: PostgreSQL rejected the query for another reason.
    """
    try:
        conn = adbc.connect(dsn, autocommit=True)
    except adbc_driver_manager.Error as exc:
        raise SourceConnectionError(f"cannot connect to {redact_dsn(dsn)}: {exc}") from exc
    try:
        with conn.cursor() as cur:
            if snapshot_id is not None:
                cur.execute("begin isolation level repeatable read read only")
                try:
                    cur.execute(sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot_id)).as_string())
                except adbc_driver_manager.DataError as exc:
                    if getattr(exc, "sqlstate", None) != "22023":  # invalid_parameter_value: exporter ended
                        raise
                    raise SnapshotGoneError(snapshot_id, "PostgreSQL: invalid snapshot identifier") from exc
            cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(batch_bytes)})
            cur.execute(query)
            reader = cur.fetch_record_batch()
            yield from reader
            if snapshot_id is not None:
                cur.execute("commit")
    except (adbc_driver_manager.OperationalError, adbc_driver_manager.InternalError, OSError) as exc:
        raise SourceConnectionError(f"reading from {redact_dsn(dsn)} failed: {exc}") from exc
    except adbc_driver_manager.Error as exc:
        if _is_connection_error(exc):
            raise SourceConnectionError(f"reading from {redact_dsn(dsn)} failed: {exc}") from exc
        raise SourceSchemaError(query[:200], f"PostgreSQL rejected the extraction query: {exc}") from exc
    finally:
        conn.close()


def _is_connection_error(exc: adbc_driver_manager.Error) -> bool:
    sqlstate = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    return sqlstate.startswith(("08", "57P")) or "connection" in text or "terminat" in text
