"""The nightly sync against real PostgreSQL and a real Iceberg table: every change ends in exact parity."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.io.pyarrow import ParquetFormatWriter, schema_to_pyarrow
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.typedef import Record

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.lake.row_delta import POSITION_DELETE_SCHEMA, commit_row_delta
from tests.helpers import migrate, read_iceberg, write_options
from tests.sync.helpers import assert_exact, snapshot_ids, sync_table


def test_inserts_updates_deletes_merge_by_key_without_rewriting_data(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    table = open_catalog(orders).load_table(("lake", "orders"))
    files_before = {t.file.file_path for t in table.scan().plan_files()}
    source.execute("update orders set amount = amount + 1, updated_at = now() where id % 1000 = 3")
    source.execute("delete from orders where id % 1000 = 7")
    source.execute("insert into orders (id, customer, amount) select g, 'new', 1 from generate_series(20001, 20100) g")

    result = sync_table(source_dsn, orders)
    assert (result.status, result.rows_upserted, result.rows_deleted, result.rows_replaced) == ("synced", 120, 20, 20)
    assert_exact(source_dsn, orders)
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
    assert sync_table(source_dsn, orders).status == "synced"
    before = snapshot_ids(orders)
    again = sync_table(source_dsn, orders)
    assert (again.status, again.rows_upserted, again.rows_deleted) == ("unchanged", 0, 0)
    assert snapshot_ids(orders) == before
    assert_exact(source_dsn, orders)


def test_a_key_deleted_and_inserted_again_holds_its_new_row_once(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("delete from orders where id = 42")
    source.execute("insert into orders (id, customer, amount, note) values (42, 'reborn', 9.99, 'again')")
    result = sync_table(source_dsn, orders)
    assert (result.rows_upserted, result.rows_deleted) == (1, 0)
    rows = read_iceberg(orders, "orders").filter(pc.field("id") == 42).to_pylist()
    assert [(r["customer"], r["note"]) for r in rows] == [("reborn", "again")]
    assert_exact(source_dsn, orders)


def test_new_columns_and_widenings_evolve_the_iceberg_schema(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("alter table orders add column channel text")
    source.execute("update orders set channel = 'web', updated_at = now() where id <= 10")
    source.execute("alter table orders alter column qty type bigint, alter column note type varchar(40)")
    source.execute("alter table orders alter column amount type numeric(14,2)")
    source.execute("update orders set qty = 5000000000, note = repeat('x', 40), updated_at = now() where id = 11")
    result = sync_table(source_dsn, orders)
    assert result.status == "synced"
    assert result.schema_changes == [
        "added channel (string)",
        "widened amount to decimal(14, 2)",
        "widened qty to long",
    ]
    assert result.rows_upserted == 11  # only the changed rows: a column without values needs no copy
    assert_exact(source_dsn, orders)
    schema = open_catalog(orders).load_table(("lake", "orders")).schema()
    assert str(schema.find_field("qty").field_type) == "long"


def test_a_column_added_with_a_default_is_copied_into_every_row(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("alter table orders add column region text not null default 'eu'")  # no xmin, no cursor moved
    result = sync_table(source_dsn, orders)
    assert (result.status, result.rows_upserted) == ("synced", 20_000)
    assert_exact(source_dsn, orders)
    assert sync_table(source_dsn, orders).status == "unchanged"


def test_dropped_or_narrowed_columns_are_refused_and_nothing_is_written(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, tmp_path: Path
) -> None:
    before = snapshot_ids(orders)
    source.execute("alter table orders drop column note")
    refused = sync_table(source_dsn, orders)
    assert refused.status == "refused"
    assert "column 'note'" in (refused.error or "") and "dropped_columns" in (refused.error or "")
    assert snapshot_ids(orders) == before

    options = write_options(tmp_path, {"public.orders": {"sync": {"dropped_columns": "keep"}}})
    source.execute("update orders set qty = 1, updated_at = now() where id = 1")
    kept = sync_table(source_dsn, orders, table_options=options)
    assert kept.status == "synced" and kept.schema_changes == ["kept note (dropped in the source)"]
    assert_exact(source_dsn, orders)
    assert read_iceberg(orders, "orders").filter(pc.field("id") == 1).to_pylist()[0]["note"] is None

    before = snapshot_ids(orders)
    source.execute("alter table orders alter column amount type numeric(9,2)")
    narrowed = sync_table(source_dsn, orders, table_options=options)
    assert narrowed.status == "refused"
    assert "column 'amount': type changed from decimal(10, 2) to decimal(9, 2)" in (narrowed.error or "")
    assert snapshot_ids(orders) == before


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
    result = sync_table(source_dsn, catalog_config, "kv")
    assert (result.mode, result.status, result.rows_deleted) == ("xmin", "synced", 2)
    assert_exact(source_dsn, catalog_config, "kv")
    assert sync_table(source_dsn, catalog_config, "kv").status == "unchanged"
    source.execute("delete from kv where k like 'key2%' and part = 2")  # a composite text key, quoted values
    source.execute("insert into kv values ('it''s', 1, 'q')")
    source.execute("delete from kv where k = 'it''s'")
    result = sync_table(source_dsn, catalog_config, "kv")
    assert result.deletes_found_by.startswith("delete log") and result.rows_deleted == 373
    assert_exact(source_dsn, catalog_config, "kv")


def test_a_writer_in_flight_during_the_sync_is_caught_by_the_next_one(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    """The writer stamps its row with now() = its start, before a later writer's row sets the maximum."""
    writer = psycopg.connect(source_dsn)
    writer.execute("update orders set amount = 1234.56, updated_at = now() where id = 100")  # transaction open
    source.execute("update orders set qty = 77, updated_at = now() where id = 200")  # committed, stamped later
    first = sync_table(source_dsn, orders)
    assert first.rows_upserted == 1  # only id 200: id 100 is not committed yet
    # The open writer holds the table: installing the delete log gives up rather than queue the application.
    assert "kept the delete log from being installed" in first.deletes_found_by
    writer.commit()
    writer.close()
    second = sync_table(source_dsn, orders)
    # id 100, although its cursor is below the maximum the first sync saw; id 200 committed inside the open
    # writer's horizon is read once more (identical values: the xmin horizon is conservative, never short).
    assert second.status == "synced" and second.rows_upserted in (1, 2)
    assert_exact(source_dsn, orders)
    assert sync_table(source_dsn, orders).status == "unchanged"


def test_a_transaction_that_writes_only_after_the_snapshot_is_caught_by_the_next_sync(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    """``now()`` is the transaction's start: one that has only read when the snapshot is taken, then writes,
    stamps its row below the maximum that snapshot saw."""
    late_writer = psycopg.connect(source_dsn)
    late_writer.execute("select count(*) from orders")  # open, no transaction id yet
    source.execute("update orders set qty = 77, updated_at = now() where id = 200")  # committed, stamped later
    assert sync_table(source_dsn, orders).rows_upserted == 1
    late_writer.execute("update orders set amount = 4321, updated_at = now() where id = 300")
    late_writer.commit()
    late_writer.close()
    assert sync_table(source_dsn, orders).rows_upserted >= 1
    assert_exact(source_dsn, orders)


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
            assert sync_table(source_dsn, orders).status in ("synced", "unchanged")
    finally:
        stop.set()
        thread.join()
    sync_table(source_dsn, orders)
    assert_exact(source_dsn, orders)


def _cli(dsn: str, catalog: CatalogConfig) -> list[str]:
    return [
        "sync", "--source-dsn", dsn, "--table", "orders", "--namespace", "lake", "--cursor", "updated_at",
        "--catalog-uri", catalog.uri, "--warehouse", catalog.warehouse,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "nth", "log_started"),
    [("write", 1, True), ("commit-before", 1, True), ("commit-after", 1, True), ("commit-after", 1, False)],
)
def test_a_sync_killed_mid_commit_reruns_to_an_exact_copy(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, point: str, nth: int, log_started: bool
) -> None:
    """Deletes from the delete log (recorded by an earlier sync), or by key sets (the first sync).

    Killed after the commit, the rerun reads the same log rows again; the committed watermark saw them."""
    if log_started:
        assert sync_table(source_dsn, orders).deletes_found_by.startswith("key sets (once")
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
    assert_exact(source_dsn, orders)


def _delete_files_per_data_file(catalog: CatalogConfig) -> dict[str, int]:
    table = open_catalog(catalog).load_table(("lake", "orders"))
    return {str(t.file.file_path): len(t.delete_files) for t in table.scan().plan_files()}


def test_each_data_file_keeps_one_delete_file_however_many_nights_change_it(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    removed = 0
    for night in range(3):  # every night touches each of the 4 data files of the load
        source.execute(f"update orders set qty = {night}, updated_at = now() where id % 500 = {night}")
        source.execute(f"delete from orders where id % 500 = {night + 250}")
        result = sync_table(source_dsn, orders)
        assert (result.status, result.rows_replaced, result.rows_deleted) == ("synced", 40, 40)
        removed += 80
        assert_exact(source_dsn, orders)
        per_file = _delete_files_per_data_file(orders)
        assert sorted(per_file.values()) == [0] * (night + 1) + [1] * 4  # one new data file per night
        summary = open_catalog(orders).load_table(("lake", "orders")).current_snapshot().summary  # type: ignore[union-attr]
        assert (summary["total-delete-files"], summary["total-position-deletes"]) == ("4", str(removed))
    assert summary["removed-delete-files"] == "4"  # the last night replaced the 4 files of the night before


def test_a_delete_file_shared_by_several_data_files_is_kept(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    """Another writer's position-delete file naming two data files cannot be replaced by a file for one."""
    table = open_catalog(orders).load_table(("lake", "orders"))
    first, second = sorted(str(t.file.file_path) for t in table.scan().plan_files())[:2]
    rows = pa.table({"file_path": [first, second], "pos": [0, 0]})
    location = f"{table.location()}/data/other-writer-deletes.parquet"
    writer = ParquetFormatWriter(table.io.new_output(location), POSITION_DELETE_SCHEMA, table.properties)
    writer.write(rows.cast(schema_to_pyarrow(POSITION_DELETE_SCHEMA)))
    shared = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES, file_path=location, file_format=FileFormat.PARQUET,
        partition=Record(), file_size_in_bytes=len(table.io.new_input(location)), sort_order_id=None, spec_id=0,
        equality_ids=None, key_metadata=None, **writer.close().to_serialized_dict(),
    )  # fmt: skip
    commit_row_delta(table.transaction(), data_files=[], delete_files=[(shared, first)], properties={})
    visible = [r["id"] for r in read_iceberg(orders, "orders").to_pylist()]
    source.execute("delete from orders where id not in (select unnest(%s::bigint[]))", (visible,))  # the source agrees

    source.execute("update orders set qty = 1, updated_at = now() where id % 500 = 9")
    assert sync_table(source_dsn, orders).status == "synced"
    assert_exact(source_dsn, orders)
    per_file = _delete_files_per_data_file(orders)
    assert (per_file[first], per_file[second]) == (2, 2)  # the shared file, and one of the sync's own
    files = open_catalog(orders).load_table(("lake", "orders")).scan().plan_files()
    assert all(
        location in {str(d.file_path) for d in t.delete_files}
        for t in files
        if str(t.file.file_path) in (first, second)
    )


def test_a_rewrite_drops_the_delete_files_of_the_files_it_replaces(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("delete from orders where id % 100 = 1")
    assert sync_table(source_dsn, orders).rows_deleted == 200
    source.execute("alter table orders add column region text not null default 'eu'")
    assert sync_table(source_dsn, orders).status == "synced"
    assert_exact(source_dsn, orders)
    assert set(_delete_files_per_data_file(orders).values()) == {0}
    summary = open_catalog(orders).load_table(("lake", "orders")).current_snapshot().summary  # type: ignore[union-attr]
    assert (summary["total-delete-files"], summary["removed-delete-files"]) == ("0", "4")
