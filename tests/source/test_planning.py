"""Batch planning: balanced key ranges that cover every row exactly once."""

from __future__ import annotations

import itertools

import psycopg
from psycopg import sql

from cutover.source.extract import batch_predicate
from cutover.source.introspect import introspect_table
from cutover.source.planning import Batch, batch_count, plan_batches


def _counts(conn: psycopg.Connection, table: str, batches: list[Batch], keys: tuple[str, ...]) -> list[int]:
    counts = []
    for batch in batches:
        relation = sql.Identifier(*batch.relation) if batch.relation else sql.Identifier(table)
        query = sql.SQL("select count(*) from {} where {}").format(relation, batch_predicate(batch, keys))
        counts.append(conn.execute(query).fetchone()[0])  # type: ignore[index]
    return counts


def test_key_ranges_are_balanced_and_cover_every_row_once(source: psycopg.Connection) -> None:
    # Skewed keys: dense at the start, sparse later, so equal-width ranges would be unbalanced.
    source.execute("create table t (id bigint primary key, pad text)")
    source.execute(
        "insert into t select case when g <= 50000 then g else g * 1000 end, 'x' from generate_series(1, 100000) g"
    )
    source.execute("analyze t")
    table = introspect_table(source, "public", "t")
    batches = plan_batches(source, table, batch_rows=10_000, parallel=2)
    assert len(batches) == 10
    counts = _counts(source, "t", batches, ("id",))
    assert sum(counts) == 100_000
    assert max(counts) < 2 * min(counts), counts
    assert batches[0].lower is None and batches[-1].upper is None
    assert all(a.upper == b.lower for a, b in itertools.pairwise(batches))


def test_composite_keys_split_as_rows(source: psycopg.Connection) -> None:
    source.execute("create table t (tenant int, id int, primary key (tenant, id))")
    source.execute("insert into t select g % 3, g from generate_series(1, 30000) g")
    source.execute("analyze t")
    table = introspect_table(source, "public", "t")
    batches = plan_batches(source, table, batch_rows=5_000, parallel=1)
    assert len(batches) > 3 and all(b.lower is None or len(b.lower) == 2 for b in batches)
    assert sum(_counts(source, "t", batches, ("tenant", "id"))) == 30_000


def test_table_without_key_splits_by_ctid_and_keeps_duplicates(source: psycopg.Connection) -> None:
    source.execute("create table t (v int)")
    source.execute("insert into t select g % 10 from generate_series(1, 50000) g")
    source.execute("analyze t")
    table = introspect_table(source, "public", "t")
    batches = plan_batches(source, table, batch_rows=10_000, parallel=2)
    assert {b.kind for b in batches} == {"ctid"} and len(batches) >= 4
    assert sum(_counts(source, "t", batches, ())) == 50_000


def test_partitioned_table_without_key_is_split_per_leaf(source: psycopg.Connection) -> None:
    source.execute(
        """
        create table p (v int, k int) partition by list (k);
        create table p0 partition of p for values in (0);
        create table p1 partition of p for values in (1);
        insert into p select g, g % 2 from generate_series(1, 1000) g;
        """
    )
    table = introspect_table(source, "public", "p")
    batches = plan_batches(source, table, batch_rows=None, parallel=2)
    assert [b.relation for b in batches] == [("public", "p0"), ("public", "p1")]
    assert _counts(source, "p", batches, ()) == [500, 500]


def test_batch_count_fills_every_reader(source: psycopg.Connection) -> None:
    source.execute("create table t (id int primary key)")
    table = introspect_table(source, "public", "t")
    big = table.__class__(**{**table.__dict__, "estimated_rows": 5_000_000})
    assert batch_count(big, 1_000_000, 2) == 6  # 5 rounded up to a multiple of the readers
    assert batch_count(big, 10_000_000, 4) == 1
    assert batch_count(table, 1_000, 2) == 1


def test_batches_round_trip_through_json() -> None:
    batch = Batch(3, "key", ("1", "a b"), None, ("s", "t"))
    assert Batch.from_json(batch.to_json()) == batch


def test_default_sizing_splits_a_mid_sized_table_across_readers(source: psycopg.Connection) -> None:
    source.execute("create table t (id int primary key)")
    table = introspect_table(source, "public", "t")
    mid = table.__class__(**{**table.__dict__, "estimated_rows": 1_000_000, "estimated_bytes": 170 * 2**20})
    tiny = table.__class__(**{**table.__dict__, "estimated_rows": 1_000, "estimated_bytes": 2**20})
    assert batch_count(mid, None, 2) == 2
    assert batch_count(tiny, None, 2) == 1
