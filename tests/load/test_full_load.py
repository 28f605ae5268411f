"""The full load end to end against real PostgreSQL and a real Iceberg catalog + warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pyarrow.compute as pc

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.lake.checkpoint import read_checkpoint
from tests.helpers import migrate, read_iceberg, table_exists

INJECTION = 'x"; drop table victims; --'


def test_identifiers_are_kept_exactly_and_never_injected(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    quoted = INJECTION.replace('"', '""')
    source.execute(
        f'''
        create table victims (id int primary key);
        insert into victims values (1);
        create schema "Sales Data";
        create table "Sales Data"."Order ""Lines""" (
            "Id" int primary key, "select" text, "Mixed Case" text, "with space" int, "quote""d" text
        );
        insert into "Sales Data"."Order ""Lines""" values (1, 'a', 'B', 3, 'q'), (2, null, 'c', null, 'r');
        create table "Sales Data"."{quoted}" (id int primary key);
        insert into "Sales Data"."{quoted}" values (7);
        '''
    )
    report = migrate(source_dsn, catalog_config, schema="Sales Data", namespace="Sales Data")
    assert report.ok, [t.error for t in report.tables]
    assert sorted(t.source_table for t in report.tables) == sorted(['Order "Lines"', INJECTION])
    rows = read_iceberg(catalog_config, 'Order "Lines"', namespace="Sales Data").sort_by("Id").to_pylist()
    assert rows == [
        {"Id": 1, "select": "a", "Mixed Case": "B", "with space": 3, 'quote"d': "q"},
        {"Id": 2, "select": None, "Mixed Case": "c", "with space": None, 'quote"d': "r"},
    ]
    assert read_iceberg(catalog_config, INJECTION, namespace="Sales Data").to_pylist() == [{"id": 7}]
    assert source.execute("select count(*) from victims").fetchone() == (1,)


def test_multi_batch_load_equals_source_with_one_checkpoint_per_batch(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table t (id bigint primary key, v text, n numeric(8,2))")
    source.execute("insert into t select g, 'v' || g, g / 100.0 from generate_series(1, 50000) g")
    source.execute("analyze t")
    report = migrate(source_dsn, catalog_config, ["t"], batch_rows=10_000, parallel=2)
    entry = report.tables[0]
    assert entry.status == "migrated" and entry.rows == 50_000 and entry.batches_total == 6
    data = read_iceberg(catalog_config, "t")
    assert data.num_rows == 50_000 and pc.count_distinct(data["id"]).as_py() == 50_000
    assert pc.sum(data["id"]).as_py() == 50_000 * 50_001 // 2
    table = open_catalog(catalog_config).load_table(("lake", "t"))
    snapshots = list(table.snapshots())
    # A commit per batch, except that batches finished while a commit runs join the next one.
    assert 2 <= len(snapshots) <= 6
    done = [s.summary["cutover.batches-done"] for s in snapshots if s.summary is not None]  # type: ignore[index]
    assert len(set(done)) == len(snapshots)  # every commit checkpointed more batches than the one before
    checkpoint = read_checkpoint(table)
    assert checkpoint is not None and checkpoint.complete and checkpoint.done == frozenset(range(6))
    assert table.schema().identifier_field_names() == {"id"}


def test_composite_keys_partitioned_tables_duplicates_and_empty_tables(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        """
        create table lines (order_id int, line_no int, qty int, primary key (order_id, line_no));
        insert into lines select g / 3, g % 3, g from generate_series(0, 29999) g;
        create table events (id bigint, day date, kind text, primary key (id, day)) partition by range (day);
        create table events_a partition of events for values from ('2024-01-01') to ('2024-07-01');
        create table events_b partition of events for values from ('2024-07-01') to ('2025-01-01');
        insert into events select g, date '2024-01-01' + (g % 365), 'k' || (g % 4) from generate_series(1, 20000) g;
        create table logs (msg text, at int);
        insert into logs select 'same', 1 from generate_series(1, 500);
        insert into logs select 'other', g from generate_series(1, 20000) g;
        create table empty (id int primary key, v text);
        analyze;
        """
    )
    report = migrate(source_dsn, catalog_config, batch_rows=4_000, parallel=2)
    assert report.ok, [(t.source_table, t.error) for t in report.tables]
    rows = {t.source_table: t.rows for t in report.tables}
    assert rows == {"lines": 30_000, "events": 20_000, "logs": 20_500, "empty": 0}
    logs = read_iceberg(catalog_config, "logs")
    assert pc.sum(pc.equal(logs["msg"], "same")).as_py() == 500  # duplicates kept
    assert read_iceberg(catalog_config, "events").num_rows == 20_000
    assert read_iceberg(catalog_config, "empty").num_rows == 0
    table = open_catalog(catalog_config).load_table(("lake", "logs"))
    assert len(list(table.snapshots())) == 1  # no key: one commit for the whole table
    assert table.schema().identifier_field_names() == set()


def test_modes_create_refuses_existing_resume_is_a_noop_and_replace_reloads(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table t (id int primary key); insert into t select generate_series(1, 100)")
    assert migrate(source_dsn, catalog_config, ["t"]).ok
    again = migrate(source_dsn, catalog_config, ["t"])
    assert again.tables[0].status == "failed" and "--mode resume" in str(again.tables[0].error)
    # Nothing left to load: the report still says what the table holds from this load, not 0.
    resumed = migrate(source_dsn, catalog_config, ["t"], mode="resume")
    assert resumed.ok and resumed.tables[0].rows == 100 and resumed.tables[0].batches_skipped == 1
    source.execute("insert into t values (101)")
    replaced = migrate(source_dsn, catalog_config, ["t"], mode="replace")
    assert replaced.ok and replaced.tables[0].rows == 101
    assert read_iceberg(catalog_config, "t").num_rows == 101


def test_json_report_has_the_documented_fields(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    source.execute("create table ok (id int primary key); insert into ok values (1)")
    source.execute("create table bad (id int primary key, v numeric); insert into bad values (1, 1)")
    report = migrate(source_dsn, catalog_config)
    path = tmp_path / "report.json"
    report.write_json(path)
    data = json.loads(path.read_text())
    by_name = {t["source_table"]: t for t in data["tables"]}
    assert data["ok"] is False
    for entry in by_name.values():
        assert {
            "source_schema",
            "source_table",
            "iceberg_identifier",
            "status",
            "rows",
            "snapshot_id",
            "seconds",
            "error",
        } <= set(entry)
    assert by_name["ok"]["status"] == "migrated" and by_name["ok"]["snapshot_id"] is not None
    assert by_name["bad"]["status"] == "refused" and by_name["bad"]["snapshot_id"] is None
    assert not table_exists(catalog_config, "bad")


def test_tables_select_by_name_or_glob_and_exclude_by_glob(source: psycopg.Connection, source_dsn: str) -> None:
    from cutover.load.runner import MigrationRequest, resolve_tables

    source.execute("create table orders (id int); create table order_lines (id int); create table audit_x (id int)")
    request = MigrationRequest(source_dsn=source_dsn, tables=["order*", "audit_x"], exclude=["*lines"])
    assert resolve_tables(request) == ["audit_x", "orders"]
    assert resolve_tables(MigrationRequest(source_dsn=source_dsn)) == ["audit_x", "order_lines", "orders"]
