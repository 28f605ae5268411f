"""The nightly sync against real PostgreSQL and a real Iceberg table: every change ends in exact parity."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.compute as pc
import pytest

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.sync import SyncRequest, TableSyncReport, run_sync
from cutover.validation import ValidationRequest, validate_tables
from tests.helpers import migrate, read_iceberg, write_options

ORDERS = """
create table orders (
    id bigint primary key, customer text not null, amount numeric(10,2) not null, qty int,
    note varchar(10), updated_at timestamptz not null default now()
);
create index on orders (updated_at);
insert into orders (id, customer, amount, qty, note)
select g, 'c' || (g % 50), g / 4.0, g % 7, 'n' || (g % 1000) from generate_series(1, 20000) g;
analyze orders;
"""


def _sync(dsn: str, catalog: CatalogConfig, table: str = "orders", **kwargs: Any) -> TableSyncReport:
    kwargs.setdefault("cursor", "updated_at")
    report = run_sync(SyncRequest(source_dsn=dsn, tables=[table], namespace="lake", **kwargs), catalog)
    (result,) = report.tables
    return result


def _assert_exact(dsn: str, catalog: CatalogConfig, table: str = "orders") -> None:
    request = ValidationRequest(source_dsn=dsn, tables=[table], namespace="lake", expectations_dir=None)
    result = validate_tables(request, catalog).tables[0]
    assert result.passed, f"{result.reason}: {result.differences[:5]}"
    assert result.missing_total == result.extra_total == result.changed_total == 0


def _snapshots(catalog: CatalogConfig, table: str = "orders") -> list[int]:
    return [s.snapshot_id for s in open_catalog(catalog).load_table(("lake", table)).snapshots()]


@pytest.fixture
def orders(source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig) -> CatalogConfig:
    source.execute(ORDERS)
    assert migrate(source_dsn, catalog_config, ["orders"], batch_rows=5_000).ok
    return catalog_config


def test_inserts_updates_deletes_merge_by_key_without_rewriting_data(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    table = open_catalog(orders).load_table(("lake", "orders"))
    files_before = {t.file.file_path for t in table.scan().plan_files()}
    source.execute("update orders set amount = amount + 1, updated_at = now() where id % 1000 = 3")
    source.execute("delete from orders where id % 1000 = 7")
    source.execute("insert into orders (id, customer, amount) select g, 'new', 1 from generate_series(20001, 20100) g")

    result = _sync(source_dsn, orders)
    assert (result.status, result.rows_upserted, result.rows_deleted, result.rows_replaced) == ("synced", 120, 20, 20)
    _assert_exact(source_dsn, orders)
    table = open_catalog(orders).load_table(("lake", "orders"))
    files_after = {t.file.file_path for t in table.scan().plan_files()}
    assert files_before < files_after and len(files_after - files_before) == 1  # untouched files stay as they are
    data = read_iceberg(orders, "orders")
    assert data.num_rows == 20_080 and pc.count_distinct(data["id"]).as_py() == 20_080
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert summary["added-position-deletes"] == "40" and summary["cutover.sync-rows-deleted"] == "20"


def test_a_second_sync_without_source_changes_commits_nothing(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("update orders set qty = 99, updated_at = now() where id = 5")
    assert _sync(source_dsn, orders).status == "synced"
    before = _snapshots(orders)
    again = _sync(source_dsn, orders)
    assert (again.status, again.rows_upserted, again.rows_deleted) == ("unchanged", 0, 0)
    assert _snapshots(orders) == before
    _assert_exact(source_dsn, orders)


def test_a_key_deleted_and_inserted_again_holds_its_new_row_once(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("delete from orders where id = 42")
    source.execute("insert into orders (id, customer, amount, note) values (42, 'reborn', 9.99, 'again')")
    result = _sync(source_dsn, orders)
    assert (result.rows_upserted, result.rows_deleted) == (1, 0)
    rows = read_iceberg(orders, "orders").filter(pc.field("id") == 42).to_pylist()
    assert [(r["customer"], r["note"]) for r in rows] == [("reborn", "again")]
    _assert_exact(source_dsn, orders)


def test_new_columns_and_widenings_evolve_the_iceberg_schema(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("alter table orders add column channel text")
    source.execute("update orders set channel = 'web', updated_at = now() where id <= 10")
    source.execute("alter table orders alter column qty type bigint, alter column note type varchar(40)")
    source.execute("alter table orders alter column amount type numeric(14,2)")
    source.execute("update orders set qty = 5000000000, note = repeat('x', 40), updated_at = now() where id = 11")
    result = _sync(source_dsn, orders)
    assert result.status == "synced"
    assert result.schema_changes == [
        "added channel (string)",
        "widened amount to decimal(14, 2)",
        "widened qty to long",
    ]
    assert result.rows_upserted == 11  # only the changed rows: a column without values needs no copy
    _assert_exact(source_dsn, orders)
    schema = open_catalog(orders).load_table(("lake", "orders")).schema()
    assert str(schema.find_field("qty").field_type) == "long"


def test_a_column_added_with_a_default_is_copied_into_every_row(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("alter table orders add column region text not null default 'eu'")  # no xmin, no cursor moved
    result = _sync(source_dsn, orders)
    assert (result.status, result.rows_upserted) == ("synced", 20_000)
    _assert_exact(source_dsn, orders)
    assert _sync(source_dsn, orders).status == "unchanged"


def test_dropped_or_narrowed_columns_are_refused_and_nothing_is_written(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, tmp_path: Path
) -> None:
    before = _snapshots(orders)
    source.execute("alter table orders drop column note")
    refused = _sync(source_dsn, orders)
    assert refused.status == "refused"
    assert "column 'note'" in (refused.error or "") and "dropped_columns" in (refused.error or "")
    assert _snapshots(orders) == before

    options = write_options(tmp_path, {"public.orders": {"sync": {"dropped_columns": "keep"}}})
    source.execute("update orders set qty = 1, updated_at = now() where id = 1")
    kept = _sync(source_dsn, orders, table_options=options)
    assert kept.status == "synced" and kept.schema_changes == ["kept note (dropped in the source)"]
    _assert_exact(source_dsn, orders)
    assert read_iceberg(orders, "orders").filter(pc.field("id") == 1).to_pylist()[0]["note"] is None

    before = _snapshots(orders)
    source.execute("alter table orders alter column amount type numeric(9,2)")
    narrowed = _sync(source_dsn, orders, table_options=options)
    assert narrowed.status == "refused"
    assert "column 'amount': type changed from decimal(10, 2) to decimal(9, 2)" in (narrowed.error or "")
    assert _snapshots(orders) == before


def test_tables_without_a_cursor_are_followed_by_xmin(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        "create table kv (k text, part int, v text, primary key (k, part));"
        "insert into kv select 'key' || g, g % 3, md5(g::text) from generate_series(1, 3000) g"
    )
    assert migrate(source_dsn, catalog_config, ["kv"]).ok
    source.execute("update kv set v = 'changed' where part = 1 and k like 'key1%'")
    source.execute("delete from kv where k in ('key7', 'key8')")
    source.execute("insert into kv values ('fresh', 0, 'x')")
    result = _sync(source_dsn, catalog_config, "kv")
    assert (result.mode, result.status, result.rows_deleted) == ("xmin", "synced", 2)
    _assert_exact(source_dsn, catalog_config, "kv")
    assert _sync(source_dsn, catalog_config, "kv").status == "unchanged"


def test_a_writer_in_flight_during_the_sync_is_caught_by_the_next_one(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    """The writer stamps its row with now() = its start, before a later writer's row sets the maximum."""
    writer = psycopg.connect(source_dsn)
    writer.execute("update orders set amount = 1234.56, updated_at = now() where id = 100")  # transaction open
    source.execute("update orders set qty = 77, updated_at = now() where id = 200")  # committed, stamped later
    first = _sync(source_dsn, orders)
    assert first.rows_upserted == 1  # only id 200: id 100 is not committed yet
    writer.commit()
    writer.close()
    second = _sync(source_dsn, orders)
    # id 100, although its cursor is below the maximum the first sync saw; id 200 committed inside the open
    # writer's horizon is read once more (identical values: the xmin horizon is conservative, never short).
    assert second.status == "synced" and second.rows_upserted in (1, 2)
    _assert_exact(source_dsn, orders)
    assert _sync(source_dsn, orders).status == "unchanged"


def test_rows_written_while_a_sync_runs_are_never_lost(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    stop = threading.Event()

    def keep_writing() -> None:
        with psycopg.connect(source_dsn, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                conn.execute("update orders set qty = %s, updated_at = now() where id = %s", (n, 1 + n % 500))
                conn.execute("insert into orders (id, customer, amount) values (%s, 'w', 1)", (100_000 + n,))
                conn.execute("delete from orders where id = %s", (5_000 + n,))

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        for _ in range(3):
            assert _sync(source_dsn, orders).status in ("synced", "unchanged")
    finally:
        stop.set()
        thread.join()
    _sync(source_dsn, orders)
    _assert_exact(source_dsn, orders)


def _cli(dsn: str, catalog: CatalogConfig) -> list[str]:
    return [
        "sync", "--source-dsn", dsn, "--table", "orders", "--namespace", "lake", "--cursor", "updated_at",
        "--catalog-uri", catalog.uri, "--warehouse", catalog.warehouse,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), [("write", 1), ("commit-before", 1), ("commit-after", 1)])
def test_a_sync_killed_mid_commit_reruns_to_an_exact_copy(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, point: str, nth: int
) -> None:
    source.execute("update orders set amount = amount * 2, updated_at = now() where id % 100 = 1")
    source.execute("delete from orders where id % 100 = 2")
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.load.killpoint", point, str(nth), "--", *_cli(source_dsn, orders)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    rerun = subprocess.run(
        [sys.executable, "-m", "cutover.cli", *_cli(source_dsn, orders), "--validate"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    expected = "unchanged" if point == "commit-after" else "synced"
    assert f"lake.orders: {expected}" in rerun.stderr
    _assert_exact(source_dsn, orders)
