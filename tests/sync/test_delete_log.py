"""Deletes read from the delete log (triggers on the source table) against a real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pytest

from cutover.config import CatalogConfig, TableOptionsFile
from cutover.lake.catalog import open_catalog
from cutover.lake.watermark import read_watermark
from cutover.source.delete_log import LOG_SCHEMA, drop_delete_logs
from cutover.source.introspect import introspect_table
from cutover.source.snapshot import exported_snapshot
from cutover.sync import SyncRequest, commit_sync, prepare_requested_sync, stage_sync
from tests.helpers import migrate, read_iceberg, write_options
from tests.sync.helpers import assert_exact, sync_table


def _logs(source: psycopg.Connection) -> list[str]:
    """Log tables in the source database."""
    rows = source.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname like 'deletes\\_%%' and c.relkind = 'r' order by 1",
        (LOG_SCHEMA,),
    ).fetchall()
    return [r[0] for r in rows]


def _logged_rows(source: psycopg.Connection, name: str) -> int:
    row = source.execute(f'select count(*) from {LOG_SCHEMA}."{name}"').fetchone()
    return int(row[0]) if row else -1


@pytest.fixture
def logged(orders: CatalogConfig, source: psycopg.Connection, source_dsn: str) -> CatalogConfig:
    """``orders`` after the first sync, which installed (and recorded) the table's delete log."""
    first = sync_table(source_dsn, orders)
    assert first.deletes_found_by.startswith("key sets (once, to start the delete log")
    assert first.status == "synced"  # nothing changed, but the delete log is recorded by a commit
    return orders


def test_deletes_come_from_the_log_which_is_pruned_once_applied(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    (name,) = _logs(source)
    source.execute("delete from orders where id % 500 = 7")
    source.execute("update orders set amount = amount + 1, updated_at = now() where id % 1000 = 3")
    assert _logged_rows(source, name) == 40
    result = sync_table(source_dsn, logged)
    assert result.deletes_found_by == f"delete log ({LOG_SCHEMA}.{name})"
    assert (result.rows_deleted, result.rows_upserted, result.keys_compared) == (40, 20, 0)
    assert_exact(source_dsn, logged)
    watermark = read_watermark(open_catalog(logged).load_table(("lake", "orders")))
    assert watermark is not None and watermark.delete_log == name
    assert sync_table(source_dsn, logged).status == "unchanged"  # commits nothing; rows stay until a commit
    source.execute("delete from orders where id = 1")
    assert sync_table(source_dsn, logged).rows_deleted == 1
    assert _logged_rows(source, name) == 1  # the 40 applied by an earlier commit are gone


def test_a_key_deleted_then_inserted_again_is_kept_and_one_deleted_again_is_removed(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("delete from orders where id in (10, 11)")
    source.execute("insert into orders (id, customer, amount) values (10, 'reborn', 1)")
    result = sync_table(source_dsn, logged)
    assert (result.rows_deleted, result.rows_upserted) == (1, 1)
    source.execute("delete from orders where id = 10")
    source.execute("insert into orders (id, customer, amount) values (11, 'back', 2)")
    result = sync_table(source_dsn, logged)
    assert (result.rows_deleted, result.rows_upserted) == (1, 1)
    rows = read_iceberg(logged, "orders").filter(pc.field("id").isin([10, 11])).to_pylist()
    assert [(r["id"], r["customer"]) for r in rows] == [(11, "back")]
    assert_exact(source_dsn, logged)


def test_a_delete_committed_after_the_snapshot_is_left_for_the_next_sync(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    """The log rows commit with the delete: a snapshot that does not see the delete does not see them."""
    request = SyncRequest(source_dsn=source_dsn, tables=["orders"], namespace="lake", cursor="updated_at")
    catalog = open_catalog(logged)
    source.execute("delete from orders where id = 1")
    plan = prepare_requested_sync(source, catalog, request, "orders", TableOptionsFile())
    with exported_snapshot(source_dsn) as snapshot:
        source.execute("delete from orders where id = 2")  # after the snapshot
        commit_sync(catalog, stage_sync(source_dsn, catalog, plan, snapshot), snapshot)
    ids = read_iceberg(logged, "orders").filter(pc.field("id") <= 3)["id"].to_pylist()
    assert sorted(ids) == [2, 3]  # the snapshot still held 2
    assert sync_table(source_dsn, logged).rows_deleted == 1
    assert_exact(source_dsn, logged)


def test_a_delete_rolled_back_leaves_nothing_in_the_log(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    (name,) = _logs(source)
    with source.transaction(force_rollback=True):
        source.execute("delete from orders where id < 100")
    assert _logged_rows(source, name) == 0
    assert sync_table(source_dsn, logged).status == "unchanged"


def test_a_primary_key_changed_by_update_removes_the_old_key(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("update orders set id = 30000, updated_at = now() where id = 5")
    result = sync_table(source_dsn, logged)
    assert result.deletes_found_by.startswith("delete log")
    assert (result.rows_deleted, result.rows_upserted) == (1, 1)
    assert_exact(source_dsn, logged)


def test_a_truncate_makes_that_sync_compare_key_sets(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("truncate orders")
    source.execute("insert into orders (id, customer, amount) select g, 'after', 1 from generate_series(1, 50) g")
    result = sync_table(source_dsn, logged)
    assert result.deletes_found_by.startswith("key sets (the table was truncated")
    assert result.rows_deleted == 19_950
    assert_exact(source_dsn, logged)
    source.execute("delete from orders where id = 50")
    assert sync_table(source_dsn, logged).deletes_found_by.startswith("delete log")
    assert_exact(source_dsn, logged)


def test_a_disabled_log_is_replaced_and_key_sets_are_compared_once(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    (name,) = _logs(source)
    source.execute(f'alter table orders disable trigger "{name}_delete"')
    source.execute("delete from orders where id between 100 and 109")  # not logged
    result = sync_table(source_dsn, logged)
    (replacement,) = _logs(source)
    assert replacement != name and result.deletes_found_by.startswith("key sets (once")
    assert result.rows_deleted == 10
    triggers = source.execute("select tgname from pg_trigger where not tgisinternal order by 1").fetchall()
    assert [t for (t,) in triggers] == [f"{replacement}_{k}" for k in ("delete", "key_update", "truncate")]
    source.execute("delete from orders where id = 200")
    assert sync_table(source_dsn, logged).deletes_found_by == f"delete log ({LOG_SCHEMA}.{replacement})"
    assert_exact(source_dsn, logged)


def test_a_replica_session_is_logged_too(logged: CatalogConfig, source: psycopg.Connection, source_dsn: str) -> None:
    """``session_replication_role = replica`` (restores, replication) skips ordinary triggers, not ours."""
    source.execute("set session_replication_role = replica")
    source.execute("delete from orders where id = 77")
    source.execute("reset session_replication_role")
    assert sync_table(source_dsn, logged).rows_deleted == 1
    assert_exact(source_dsn, logged)


def test_configured_key_sets_install_nothing(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, tmp_path: Path
) -> None:
    options = write_options(tmp_path, {"public.orders": {"sync": {"deletes": "key-sets"}}})
    source.execute("delete from orders where id < 4")
    result = sync_table(source_dsn, orders, table_options=options)
    assert (result.deletes_found_by, result.rows_deleted) == ("key sets (configured)", 3)
    assert _logs(source) == []
    assert_exact(source_dsn, orders)


def test_without_ownership_the_sync_compares_key_sets_and_says_why(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    role = f"reader_{source.info.dbname[-12:]}"
    source.execute(f"create role {role} login")
    try:
        source.execute(f"grant select on orders to {role}")
        source.execute(f'grant create on database "{source.info.dbname}" to {role}')  # not the table
        source.execute("delete from orders where id < 3")
        dsn = source_dsn.replace("postgres@", f"{role}@")
        result = sync_table(dsn, orders)
        assert result.deletes_found_by.startswith("key sets (installing a delete log needs ownership of public.orders")
        assert "permission denied for table orders" in result.deletes_found_by and result.rows_deleted == 2
        assert _logs(source) == []
    finally:
        source.execute(f"drop owned by {role}")
        source.execute(f"drop role {role}")


def test_a_partitioned_table_compares_key_sets(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        "create table events (id bigint primary key, v text) partition by range (id);"
        "create table events_a partition of events for values from (0) to (1000);"
        "create table events_b partition of events for values from (1000) to (2000);"
        "insert into events select g, 'v' || g from generate_series(1, 1999) g"
    )
    assert migrate(source_dsn, catalog_config, ["events"]).ok
    source.execute("delete from events_b where id % 10 = 0")  # on a partition, past the parent's triggers
    result = sync_table(source_dsn, catalog_config, "events", cursor=None)
    assert result.deletes_found_by.startswith("key sets (a partitioned table") and result.rows_deleted == 100
    assert _logs(source) == []
    assert_exact(source_dsn, catalog_config, "events")


def test_releasing_the_delete_logs_drops_triggers_function_and_table(
    logged: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    (name,) = _logs(source)
    released = subprocess.run(
        [sys.executable, "-m", "cutover.cli", "sync", "--source-dsn", source_dsn, "--namespace", "lake",
         "--table", "orders", "--release-delete-logs"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert released.returncode == 0, released.stderr
    assert f"public.orders: dropped {name}" in released.stderr + released.stdout
    assert _logs(source) == []
    assert source.execute("select count(*) from pg_trigger where not tgisinternal").fetchone() == (0,)
    assert source.execute("select count(*) from pg_proc where proname like 'deletes%%'").fetchone() == (0,)
    assert drop_delete_logs(source, introspect_table(source, "public", "orders"), "lake") == []
