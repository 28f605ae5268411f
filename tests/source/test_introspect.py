"""Introspection against a real PostgreSQL: base types through domains, keys, partitions, estimates."""

from __future__ import annotations

import psycopg
import pytest

from cutover.errors import SourceSchemaError
from cutover.source.introspect import introspect_table, list_tables


def test_domains_resolve_to_their_base_type_and_carry_not_null(source: psycopg.Connection) -> None:
    source.execute(
        """
        create domain price as numeric(10,2) not null check (value >= 0);
        create domain code as varchar(8);
        create domain prices as price[];
        create table t (id int primary key, p price, c code, ps numeric(10,2)[], pp prices)
        """
    )
    table = introspect_table(source, "public", "t")
    p, c, ps = table.column("p"), table.column("c"), table.column("ps")
    assert (p.base_type, p.display_type, p.not_null) == ("numeric", "price", True)
    assert p.typmod == table.column("ps").typmod  # the domain's numeric(10,2) typmod
    assert (c.base_type, c.not_null) == ("varchar", False)
    assert ps.is_array and ps.element_type == "numeric"
    assert table.column("pp").element_type == "numeric"


def test_enums_and_arrays_report_their_category(source: psycopg.Connection) -> None:
    source.execute("create type mood as enum ('a', 'b'); create table t (m mood, ms mood[], i int[])")
    table = introspect_table(source, "public", "t")
    assert table.column("m").category == "E"
    assert table.column("ms").element_category == "E"
    assert table.column("i").element_type == "int4"
    assert table.primary_key == ()


def test_composite_primary_key_keeps_key_order_not_column_order(source: psycopg.Connection) -> None:
    source.execute("create table t (a int, b text, c int, primary key (c, a))")
    assert introspect_table(source, "public", "t").primary_key == ("c", "a")


def test_partitioned_parent_is_one_table_sized_by_its_leaves(source: psycopg.Connection) -> None:
    source.execute(
        """
        create table events (id bigint, day date, primary key (id, day)) partition by range (day);
        create table events_2024 partition of events for values from ('2024-01-01') to ('2025-01-01');
        create table events_2025 partition of events for values from ('2025-01-01') to ('2026-01-01');
        insert into events select g, date '2024-06-01' + (g % 400) from generate_series(1, 5000) g;
        analyze events_2024; analyze events_2025;
        """
    )
    table = introspect_table(source, "public", "events")
    assert table.partitioned and len(table.leaf_oids) == 2
    assert table.estimated_rows == 5000
    assert list_tables(source, "public") == ["events"]  # partitions are part of their parent


def test_unanalyzed_table_is_counted(source: psycopg.Connection) -> None:
    source.execute("create table t (id int); insert into t select generate_series(1, 123)")
    assert introspect_table(source, "public", "t").estimated_rows == 123


def test_list_tables_filters_by_globs(source: psycopg.Connection) -> None:
    source.execute("create table orders (id int); create table order_lines (id int); create table tmp_x (id int)")
    source.execute("create view v as select 1")
    assert list_tables(source, "public") == ["order_lines", "orders", "tmp_x"]
    assert list_tables(source, "public", include=["order*"], exclude=["*lines"]) == ["orders"]


def test_missing_table_and_views_are_refused_clearly(source: psycopg.Connection) -> None:
    source.execute("create view v as select 1 as x")
    with pytest.raises(SourceSchemaError, match=r"public\.nope: no such table"):
        introspect_table(source, "public", "nope")
    with pytest.raises(SourceSchemaError, match="is not a table"):
        introspect_table(source, "public", "v")
