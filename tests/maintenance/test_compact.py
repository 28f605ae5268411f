"""Compaction against real PostgreSQL and a real Iceberg table: nights of syncs, then maintenance."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pyarrow.parquet as pq

from cutover import names
from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.lake.checkpoint import read_checkpoint
from cutover.lake.watermark import read_watermark
from cutover.maintenance import CompactionOptions, MaintenanceRequest, compact_table, maintain_table
from cutover.maintenance.inventory import count_files, live_entries
from tests.helpers import migrate
from tests.sync.helpers import assert_exact, snapshot_ids, sync_table

TARGET = 24 * 1024


def _night(source: psycopg.Connection, night: int) -> None:
    """About 1 % of the 20,000 rows changed: updates, deletes and inserts scattered over every file."""
    source.execute(f"update orders set amount = amount + 1, updated_at = now() where id % 211 = {night}")
    source.execute(f"delete from orders where id % 997 = {night}")
    first = 100_000 + night * 20
    source.execute(
        f"insert into orders (id, customer, amount) select g, 'new', 1 from generate_series({first}, {first + 19}) g"
    )


def _ids_sorted(catalog: CatalogConfig) -> bool:
    """Whether every data file holds its rows in key order (read from the files themselves)."""
    table = open_catalog(catalog).load_table(("lake", "orders"))
    for task in table.scan().plan_files():
        with table.io.new_input(task.file.file_path).open() as stream:
            values = pq.read_table(stream, columns=["id"]).column(0).to_numpy()
        if not bool(np.all(values[1:] >= values[:-1])):
            return False
    return True


def test_twenty_nights_then_maintain_compacts_and_the_next_sync_continues(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    for night in range(20):
        _night(source, night)
        assert sync_table(source_dsn, orders).status == "synced"
    table = open_catalog(orders).load_table(("lake", "orders"))
    before = count_files(table)
    assert before.delete_files > 0 and before.data_files > 20
    watermark = read_watermark(table)

    request = MaintenanceRequest(namespace="lake", target_file_bytes=TARGET)
    report = maintain_table(open_catalog(orders), ("lake", "orders"), request)
    assert report.status == "maintained", report.error
    assert (report.delete_files_after, report.data_files_before) == (0, before.data_files)
    table = open_catalog(orders).load_table(("lake", "orders"))
    data, deletes, _ = live_entries(table)
    assert deletes == [] and len(data) <= math.ceil(sum(f.file_size_in_bytes for f in data) / TARGET)
    assert all(f.file_size_in_bytes >= TARGET for f in sorted(data, key=lambda f: f.file_size_in_bytes)[1:])
    assert _ids_sorted(orders)
    assert_exact(source_dsn, orders)
    summary = table.current_snapshot().summary  # type: ignore[union-attr]
    assert summary.operation.value == "replace" and summary[names.PROP_WATERMARK] == watermark.to_json()  # type: ignore[union-attr]
    checkpoint = read_checkpoint(table)
    assert checkpoint is not None and checkpoint.complete

    _night(source, 20)
    after = sync_table(source_dsn, orders)
    assert (after.status, after.deletes_found_by.startswith("delete log")) == ("synced", True)
    assert_exact(source_dsn, orders)


def test_a_sync_committing_between_read_and_commit_loses_no_change(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    _night(source, 1)
    sync_table(source_dsn, orders)
    table = open_catalog(orders).load_table(("lake", "orders"))

    def sync_meanwhile() -> None:  # touches rows in every file the compaction is rewriting
        if not getattr(sync_meanwhile, "ran", False):
            sync_meanwhile.ran = True  # type: ignore[attr-defined]
            _night(source, 2)
            assert sync_table(source_dsn, orders).status == "synced"

    result = compact_table(table, CompactionOptions(target_file_bytes=TARGET), before_commit=sync_meanwhile)
    assert result.attempts == 2 and result.abandoned is None and result.after.delete_files == 0
    assert_exact(source_dsn, orders)


def test_a_concurrent_append_stays_under_the_compaction(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    table = open_catalog(orders).load_table(("lake", "orders"))  # the load's four files, all below the target

    def insert_meanwhile() -> None:  # inserts only: a new data file, no delete for a rewritten one
        source.execute(
            "insert into orders (id, customer, amount) select g, 'late', 2 from generate_series(200000, 200009) g"
        )
        assert sync_table(source_dsn, orders).rows_replaced == 0

    result = compact_table(table, CompactionOptions(target_file_bytes=TARGET), before_commit=insert_meanwhile)
    assert result.attempts == 1 and result.after.delete_files == 0
    assert_exact(source_dsn, orders)


def test_unsorted_files_are_sorted_through_spilled_runs(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        "create table orders (id bigint primary key, customer text not null, amount numeric(10,2) not null,"
        " qty int, note varchar(10), updated_at timestamptz not null default now());"
        "insert into orders (id, customer, amount) select g, 'c', 1 from generate_series(1, 6000) g order by random()"
    )
    assert migrate(source_dsn, catalog_config, ["orders"], batch_rows=2_000).ok
    table = open_catalog(catalog_config).load_table(("lake", "orders"))
    options = CompactionOptions(target_file_bytes=1024 * 1024, sort_budget_bytes=48 * 1024)  # runs spill
    result = compact_table(table, options)
    assert result.files_written == 1 and result.rows_written == 6000
    assert _ids_sorted(catalog_config)
    assert_exact(source_dsn, catalog_config)


def test_sigkill_during_compaction_leaves_the_table_unchanged_and_a_rerun_completes(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, tmp_path: Path
) -> None:
    _night(source, 3)
    sync_table(source_dsn, orders)
    before = snapshot_ids(orders)
    cli = ["maintain", "--namespace", "lake", "--catalog-uri", orders.uri, "--warehouse", orders.warehouse,
           "--target-file-mb", "0.02"]  # fmt: skip
    killed = subprocess.run(
        [sys.executable, "-m", "tests.load.killpoint", "write", "1", "--", *cli], capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    assert snapshot_ids(orders) == before
    assert_exact(source_dsn, orders)
    report = tmp_path / "maintain.json"
    rerun = subprocess.run(
        [sys.executable, "-m", "cutover.cli", *cli, "--report-json", str(report)], capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(report.read_text())["tables"][0]["status"] == "maintained"
    assert count_files(open_catalog(orders).load_table(("lake", "orders"))).delete_files == 0
    assert_exact(source_dsn, orders)


def test_a_table_with_nothing_to_compact_commits_nothing(orders: CatalogConfig) -> None:
    table = open_catalog(orders).load_table(("lake", "orders"))
    big = CompactionOptions(target_file_bytes=1024)  # every load file is above it and has no deletes
    assert compact_table(table, big).snapshot_id is None
    assert len(snapshot_ids(orders)) == len(table.snapshots())
