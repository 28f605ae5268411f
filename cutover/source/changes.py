"""Which source rows changed since a watermark: by a cursor column, or by ``xmin``.

Both modes read inside the sync's exported snapshot S and use the previous snapshot's horizon
(``xmin``, a 64-bit transaction id): a row whose ``xmin`` is at or above it was written by a
transaction the previous sync may not have seen.

* **xmin mode** selects exactly those rows. No index serves ``xmin``, so every sync scans the table.
  Limits: ``xmin`` is a 32-bit counter that PostgreSQL wraps around; the 64-bit id is rebuilt relative to
  S, which is exact as long as no row's ``xmin`` is more than 2**31 transactions older than S (frozen rows
  are old and count as seen). On a physical standby ``xmin`` is the primary's (fine); a logical replica
  has its own transaction ids, so a watermark never moves between servers.
* **cursor mode** (e.g. ``updated_at``, NOT NULL and indexed) selects ``cursor >= lower`` through the index,
  and of those the rows above the previous maximum or written at/after the previous horizon. ``lower``
  trails the maximum seen: transactions open at S (writing already, or only reading so far: ``now()`` is
  a transaction's start) may stamp rows with a cursor value older than S's maximum and commit later, so
  for a timestamptz cursor ``lower`` is the start of the oldest transaction then open in the database
  (visible with pg_read_all_stats), and for other cursor types it does not advance until a sync finds
  none open. No row committed after S is missed; none seen before is merged
  twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg import sql

from cutover.errors import ConfigError
from cutover.source.introspect import SourceTable
from cutover.source.planning import key_order
from cutover.source.snapshot import SourceSnapshot
from cutover.source.watermark import Watermark

TIME_CURSOR_TYPES = frozenset({"timestamptz"})
"""Cursor types stamped by the database clock (``now()``), whose bounds can trail by a writer's start."""
ORDERED_CURSOR_TYPES = frozenset({"timestamptz", "timestamp", "date", "int2", "int4", "int8", "numeric"})
START_MARGIN_SECONDS = 1.0
"""Subtracted from time bounds on top of the configured lag: a transaction that starts while open
transactions are being read may not be listed yet, though its start (its ``now()``) is a moment earlier."""


def xid8_of_xmin(reference_xmax: int) -> sql.Composable:
    """The 64-bit id of each row's ``xmin``, rebuilt from the epoch of the snapshot whose xmax is given."""
    epoch, low = reference_xmax >> 32, reference_xmax & 0xFFFFFFFF
    return sql.SQL(
        "((({epoch} - case when xmin::text::bigint > {low} then 1 else 0 end) << 32) | xmin::text::bigint)"
    ).format(epoch=sql.Literal(epoch), low=sql.Literal(low))


@dataclass(frozen=True)
class ChangeWindow:
    """The rows one sync reads, derived from the previous watermark."""

    cursor: str | None
    lower: str | None
    """Rows with cursor >= lower (None: no cursor bound; the xmin test alone decides)."""
    upper: str | None
    """Rows with cursor > upper are new for sure; below it the xmin test decides."""
    since_xmin: int

    def predicate(self, snapshot: SourceSnapshot) -> sql.Composable:
        recent: sql.Composable = sql.SQL("{} >= {}").format(xid8_of_xmin(snapshot.xmax), sql.Literal(self.since_xmin))
        if self.cursor is None:
            return recent
        column = sql.Identifier(self.cursor)
        if self.upper is not None:
            recent = sql.SQL("({c} > {u} or {r})").format(c=column, u=sql.Literal(self.upper), r=recent)
        if self.lower is None:
            return recent
        return sql.SQL("{c} >= {lo} and {r}").format(c=column, lo=sql.Literal(self.lower), r=recent)


def resolve_cursor(table: SourceTable, configured: str | None) -> str | None:
    """The cursor column to follow, checked; None for xmin mode.

    Raises:
        ConfigError: the column is missing, nullable or of a type without a meaningful order.
    """
    if configured is None:
        return None
    try:
        column = table.column(configured)
    except KeyError:
        raise ConfigError(f"{table.qualified_name}: cursor column {configured!r} does not exist") from None
    if column.is_array or column.base_type not in ORDERED_CURSOR_TYPES:
        raise ConfigError(
            f"{table.qualified_name}: cursor column {configured!r} is {column.display_type}; a cursor must be a "
            "timestamp, date or number that rises with every change"
        )
    if not column.not_null:
        raise ConfigError(
            f"{table.qualified_name}: cursor column {configured!r} allows NULL, and a row with a NULL cursor "
            "would never sync; make it NOT NULL or follow the table by xmin"
        )
    return configured


def change_window(previous: Watermark, cursor: str | None, cursor_type: str | None, lag_seconds: float) -> ChangeWindow:
    """The window after ``previous``: its own bounds when it followed the same cursor, else derived from
    its snapshot's facts (a load, or a cursor configured since)."""
    if cursor is None:
        return ChangeWindow(None, None, None, previous.xmin)
    if previous.cursor == cursor:
        return ChangeWindow(cursor, previous.lower, previous.upper, previous.xmin)
    lower = None
    safe = previous.earliest_safe_time()
    if cursor_type in TIME_CURSOR_TYPES and safe is not None:
        lower = (safe - timedelta(seconds=lag_seconds + START_MARGIN_SECONDS)).isoformat()
    return ChangeWindow(cursor, lower, None, previous.xmin)


def next_watermark(
    conn: psycopg.Connection,
    table: SourceTable,
    window: ChangeWindow,
    cursor_type: str | None,
    snapshot: SourceSnapshot,
    lag_seconds: float,
) -> Watermark:
    """The watermark this sync commits, read inside its snapshot (``conn`` must be in it).

    Note:
        ``lower`` never moves past a value an in-flight writer may still commit (see the module note).
    """
    mark = Watermark.of_snapshot(snapshot)
    if window.cursor is None:
        return mark
    column = sql.Identifier(window.cursor)
    relation = sql.Identifier(table.schema, table.name)
    row = conn.execute(sql.SQL("select max({c})::text from {t}").format(c=column, t=relation)).fetchone()
    upper = row[0] if row and row[0] is not None else window.upper
    if upper is None:
        return mark.with_cursor(window.cursor, window.lower, None)
    if cursor_type in TIME_CURSOR_TYPES:
        bound = mark.earliest_safe_time()
        if bound is None:  # writers in flight whose starts we cannot see: do not advance
            return mark.with_cursor(window.cursor, window.lower, upper)
        # Every row this snapshot did not see is stamped at or after the bound, every row it saw at or
        # below ``upper``: the next window starts at the bound, so the rows at ``upper`` are not read again.
        trailing = conn.execute(
            "select (%s::timestamptz - make_interval(secs => %s))::text", (bound, lag_seconds + START_MARGIN_SECONDS)
        ).fetchone()
        assert trailing is not None
        return mark.with_cursor(window.cursor, trailing[0], upper)
    return mark.with_cursor(window.cursor, window.lower if snapshot.writers_in_flight else upper, upper)


def changes_query(table: SourceTable, select_list: sql.Composable, predicate: sql.Composable) -> sql.Composed:
    """The extraction query of the changed rows (the select list of the full load), in key order: the
    sync's data file keeps the table's sort order."""
    query = sql.SQL("select {} from {} where {}").format(
        select_list, sql.Identifier(table.schema, table.name), predicate
    )
    return sql.SQL("{} {}").format(query, key_order(table.primary_key)) if table.primary_key else query
