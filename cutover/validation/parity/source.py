"""The PostgreSQL side of a parity: every query it runs, inside the caller's snapshot connection.

The level-0 scan aggregates the whole table into a few hundred buckets in one parallel hash aggregate;
the drill-down then asks for sums of key ranges, rows of differing buckets and the column texts of
changed rows, each filtered to what it needs (index range scans for an integer key).
"""

from __future__ import annotations

from collections import Counter

import psycopg
from psycopg import sql

from cutover.hashing import HASH_MODULUS, pg_column_value, pg_output_text
from cutover.validation.parity.model import KeyId, ParityTable, SourceRow
from cutover.validation.parity.stats import SourceStatQuery, StatAcc, accumulators

BucketSums = dict[int, tuple[int, int]]
"""Row count and hash sum (mod 2**64) per bucket number."""


def range_filter(key: str, ranges: list[tuple[int, int]]) -> sql.Composable:
    """Rows whose integer ``key`` lies in one of the half-open ``ranges``."""
    k = sql.Identifier(key)
    return sql.SQL(" or ").join(
        sql.SQL("({k} >= {lo} and {k} < {hi})").format(k=k, lo=sql.Literal(lo), hi=sql.Literal(hi)) for lo, hi in ranges
    )


class SourceQueries:
    """The source's queries for one table.

    Note:
        ``conn`` must be inside the comparison's snapshot with the session settings the hash
        expressions rely on (:data:`cutover.hashing.PG_SESSION_SETTINGS`).
    """

    def __init__(self, conn: psycopg.Connection, table: ParityTable) -> None:
        self.conn = conn
        self.table = table

    def int_bounds(self) -> tuple[int, int] | None:
        """[min, max + 1) of the leading integer key, or None (empty, or too wide for bigint arithmetic)."""
        lead = sql.Identifier(self.table.key[0])
        query = sql.SQL("select min({k}), max({k}) from {t}").format(k=lead, t=self.table.relation)
        row = self.conn.execute(query).fetchone()
        if row is None or row[0] is None:
            return None
        low, high = int(row[0]), int(row[1])
        if high - low >= 1 << 62:  # differences would overflow bigint arithmetic; hash buckets instead
            return None
        return low, high + 1

    def level0(self, bounds: tuple[int, int] | None, buckets: int) -> tuple[BucketSums, dict[str, StatAcc]]:
        """Counts and hash sums per first-level bucket (key ranges within ``bounds``, else key-hash bits),
        and the column aggregates of the whole table, in one scan."""
        alias = "__cutover_row"  # every column qualified: the bucket list's column must not shadow one
        hasher = self.table.hasher
        stat_query = SourceStatQuery(self.table.stat_columns, alias)
        if bounds is not None:
            low, high = bounds
            width = max(1, -(-(high - low) // buckets))
            bucket = sql.SQL("(({k}::bigint - {lo}) / {w})").format(
                k=sql.Identifier(alias, self.table.key[0]), lo=sql.Literal(low), w=sql.Literal(width)
            )
        else:
            bucket = sql.SQL("({} & {})").format(hasher.pg_key_hash(alias), sql.Literal(buckets - 1))
        # Joined to the list of bucket numbers rather than grouped by the expression: the planner then knows
        # there are a few hundred groups (not one per row) and runs a parallel partial hash aggregate.
        query = sql.SQL(
            "select b.n, count(*), sum({h}){extra} from {t} as {a} "
            "join generate_series(0::bigint, {last}) as b(n) on {bucket} = b.n group by b.n"
        ).format(
            h=hasher.pg_row_hash(alias),
            extra=stat_query.select_items(),
            t=self.table.relation,
            a=sql.Identifier(alias),
            last=sql.Literal(buckets - 1),
            bucket=bucket,
        )
        sums: BucketSums = {}
        stats = accumulators(self.table.stat_columns)
        for row in self.conn.execute(query):
            sums[int(row[0])] = (int(row[1]), int(row[2]) % HASH_MODULUS)
            stat_query.add(stats, int(row[1]), row[3:])
        return sums, stats

    def rows(self, where: sql.Composable) -> dict[KeyId, SourceRow]:
        """Key texts and row hashes of the rows matching ``where``, by key id."""
        key_texts = sql.SQL(", ").join(pg_output_text(pg_column_value(m)) for m in self.table.key_mappings)
        query = sql.SQL("select {id}, {h}, {keys} from {t} where {w}").format(
            id=self._key_id(), h=self.table.hasher.pg_row_hash(), keys=key_texts, t=self.table.relation, w=where
        )
        return {
            self._wrap(int(r[0])): SourceRow(tuple(r[2:]), int(r[1]) % HASH_MODULUS) for r in self.conn.execute(query)
        }

    def range_rows(self, ranges: list[tuple[int, int]]) -> int:
        """Rows in the integer-key ``ranges``."""
        query = sql.SQL("select count(*) from {t} where {f}").format(
            t=self.table.relation, f=range_filter(self.table.key[0], ranges)
        )
        row = self.conn.execute(query).fetchone()
        return int(row[0]) if row else 0

    def edge_sums(self, ranges: list[tuple[int, int]], edges: list[int]) -> BucketSums:
        """Counts and hash sums of the rows in ``ranges`` per ``width_bucket`` of the sorted ``edges``
        (bucket i + 1 is [edges[i], edges[i+1]))."""
        query = sql.SQL(
            "select width_bucket({k}::bigint, {e}::bigint[]), count(*), sum({h}) from {t} where {f} group by 1"
        ).format(
            k=sql.Identifier(self.table.key[0]),
            e=sql.Literal(edges),
            h=self.table.hasher.pg_row_hash(),
            t=self.table.relation,
            f=range_filter(self.table.key[0], ranges),
        )
        return {int(b): (int(c), int(s) % HASH_MODULUS) for b, c, s in self.conn.execute(query)}

    def key_buckets_filter(self, buckets: int, differing: list[int]) -> sql.Composable:
        """Rows whose key hash falls in one of the ``differing`` hash buckets."""
        return sql.SQL("{kh} & {mask} = any({b})").format(
            kh=self.table.hasher.pg_key_hash(), mask=sql.Literal(buckets - 1), b=sql.Literal(differing)
        )

    def bucket_row_hashes(self, buckets: int, differing: list[int]) -> Counter[int]:
        """The multiset of row hashes in the ``differing`` hash buckets (a table without a key)."""
        query = sql.SQL("select {h} from {t} where {w}").format(
            h=self.table.hasher.pg_row_hash(), t=self.table.relation, w=self.key_buckets_filter(buckets, differing)
        )
        return Counter(int(row[0]) % HASH_MODULUS for row in self.conn.execute(query))

    def column_texts(self, ids: list[KeyId], leads: set[int] | None) -> dict[KeyId, tuple[str | None, ...]]:
        """The canonical text of every column of the rows with key id in ``ids``; ``leads`` (values of a
        leading integer key column) narrow the scan to a few rows."""
        signed = [i if self.table.int_key_only else (i - HASH_MODULUS if i >= 1 << 63 else i) for i in ids]
        where = sql.SQL("{id} = any({v})").format(id=self._key_id(), v=sql.Literal(signed))
        if leads is not None:
            where = sql.SQL("{lead} = any({l}) and {w}").format(
                lead=sql.Identifier(self.table.key[0]), l=sql.Literal(sorted(leads)), w=where
            )
        query = sql.SQL("select {id}, {cols} from {t} where {w}").format(
            id=self._key_id(),
            cols=sql.SQL(", ").join(pg_output_text(pg_column_value(m)) for m in self.table.mappings),
            t=self.table.relation,
            w=where,
        )
        return {self._wrap(int(r[0])): r[1:] for r in self.conn.execute(query)}

    def _key_id(self) -> sql.Composable:
        return sql.Identifier(self.table.key[0]) if self.table.int_key_only else self.table.hasher.pg_key_hash()

    def _wrap(self, value: int) -> KeyId:
        """A key id as the Iceberg side holds it (key hashes as unsigned 64-bit values)."""
        return value if self.table.int_key_only else value % HASH_MODULUS
