"""Splitting a table into batches of balanced size that parallel readers can load independently.

* With a primary key: ranges of the key (composite keys compare as rows), bounds taken from a cheap
  ``TABLESAMPLE`` sample so batches hold roughly equal row counts even when keys are skewed.
  Key ranges are stable across snapshots, which is what lets a crashed load resume.
* Without one: ranges of physical position (``ctid``), valid only inside one snapshot, so such a table
  is loaded and committed as one unit; a partitioned table without a key is split per leaf partition.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql

from cutover.source.introspect import SourceTable

BatchKind = Literal["key", "ctid", "whole"]
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024
"""Heap bytes per batch when no row count is given: a batch becomes one Parquet file of healthy size."""
MIN_PARALLEL_BYTES = 32 * 1024 * 1024
"""Above this heap size a table is split for every reader even when one batch would hold it."""
SAMPLE_ROWS_PER_BATCH = 2_000
MIN_SAMPLE_ROWS = 50_000
ROW_SAMPLING_MAX_ROWS = 250_000
"""Up to this size, sample rows (BERNOULLI, one cheap scan); above, sample pages (SYSTEM, reads ~1%)."""


@dataclass(frozen=True)
class Batch:
    """One unit of extraction, writing and commit.

    ``lower`` is inclusive, ``upper`` exclusive; ``None`` means unbounded. Key bounds are PostgreSQL
    text forms of the key values; ctid bounds are block numbers. ``relation`` names a leaf partition to
    read instead of the table.
    """

    index: int
    kind: BatchKind
    lower: tuple[str, ...] | None = None
    upper: tuple[str, ...] | None = None
    relation: tuple[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        def tup(value: Any) -> tuple[Any, ...] | None:
            return None if value is None else tuple(value)

        return cls(
            index=int(data["index"]),
            kind=data["kind"],
            lower=tup(data.get("lower")),
            upper=tup(data.get("upper")),
            relation=tup(data.get("relation")),
        )


def batch_count(table: SourceTable, batch_rows: int | None, parallel: int) -> int:
    """How many batches: by rows when given, else by heap bytes; rounded up to fill every reader.

    A table of one reader's worth is still split across all readers once it is large enough to profit:
    one connection pins one PostgreSQL core.
    """
    if batch_rows is not None:
        count = math.ceil(max(table.estimated_rows, 1) / batch_rows)
    else:
        count = math.ceil(max(table.estimated_bytes, 1) / DEFAULT_BATCH_BYTES)
        if table.estimated_bytes >= MIN_PARALLEL_BYTES:
            count = max(count, parallel)
    if count <= 1:
        return 1
    return math.ceil(count / parallel) * parallel


def plan_batches(conn: psycopg.Connection, table: SourceTable, *, batch_rows: int | None, parallel: int) -> list[Batch]:
    """Plan the batches of one table (see the module docstring for the strategy)."""
    count = batch_count(table, batch_rows, parallel)
    if table.primary_key:
        return _key_batches(conn, table, count)
    if table.partitioned:
        return _leaf_batches(conn, table)
    return _ctid_batches(conn, table, count)


def _key_batches(conn: psycopg.Connection, table: SourceTable, count: int) -> list[Batch]:
    if count <= 1:
        return [Batch(0, "key")]
    sample_target = max(MIN_SAMPLE_ROWS, count * SAMPLE_ROWS_PER_BATCH)
    percent = min(100.0, 100.0 * sample_target / max(table.estimated_rows, 1))
    # Qualified with the alias: a bare name in ORDER BY would sort by the text output column instead.
    keys = sql.SQL(", ").join(sql.Identifier("t", k) for k in table.primary_key)
    text_keys = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier("t", k)) for k in table.primary_key)
    method = sql.SQL("bernoulli" if table.estimated_rows <= ROW_SAMPLING_MAX_ROWS else "system")
    query = sql.SQL("select {text_keys} from {table} as t tablesample {method} ({pct}) repeatable (7) order by {keys}")
    sample = conn.execute(
        query.format(
            text_keys=text_keys,
            table=sql.Identifier(table.schema, table.name),
            method=method,
            pct=sql.Literal(percent),
            keys=keys,
        )
    ).fetchall()
    bounds: list[tuple[str, ...]] = []
    for i in range(1, count):
        if not sample:
            break
        candidate = tuple(sample[min(len(sample) - 1, i * len(sample) // count)])
        if not bounds or candidate != bounds[-1]:
            bounds.append(candidate)
    edges: list[tuple[str, ...] | None] = [None, *bounds, None]
    return [Batch(i, "key", edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _ctid_batches(conn: psycopg.Connection, table: SourceTable, count: int) -> list[Batch]:
    if count <= 1:
        return [Batch(0, "whole")]
    row = conn.execute(
        "select greatest(pg_relation_size(%s::oid::regclass) / current_setting('block_size')::int, 1)", (table.oid,)
    ).fetchone()
    assert row is not None
    pages = int(row[0])
    step = max(1, math.ceil(pages / count))
    starts = list(range(0, pages, step))
    edges: list[tuple[str, ...] | None] = [None, *[(str(s),) for s in starts[1:]], None]
    return [Batch(i, "ctid", edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _leaf_batches(conn: psycopg.Connection, table: SourceTable) -> list[Batch]:
    rows = conn.execute(
        """
        select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = any(%s) order by n.nspname, c.relname
        """,
        (list(table.leaf_oids),),
    ).fetchall()
    if not rows:
        return [Batch(0, "whole")]
    return [Batch(i, "whole", relation=(schema, name)) for i, (schema, name) in enumerate(rows)]


def key_order(key_columns: tuple[str, ...]) -> sql.Composable:
    """``order by k1, k2, ...``: the order rows are written to Iceberg in (the tables' sort order)."""
    return sql.SQL("order by {}").format(sql.SQL(", ").join(sql.Identifier(k) for k in key_columns))
