"""Snapshot expiry, orphan removal and manifest rewrite on a real Iceberg table kept by real syncs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow as pa
import pytest

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.lake.writer import DataFileWriter
from cutover.maintenance import ExpiryOptions, expire_snapshots, remove_orphans, rewrite_manifests
from cutover.maintenance.references import ReferenceReader
from cutover.tier import SnapshotNotFoundError
from cutover.tier.iceberg import IcebergBackend
from tests.sync.helpers import assert_exact, sync_table


def _nights(source: psycopg.Connection, dsn: str, catalog: CatalogConfig, count: int) -> None:
    for night in range(count):
        source.execute(f"update orders set qty = {night}, updated_at = now() where id % 300 = {night}")
        source.execute(f"delete from orders where id % 1009 = {night}")
        assert sync_table(dsn, catalog).status == "synced"


def test_expiry_keeps_retained_time_travel_and_deletes_only_unreferenced_files(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    _nights(source, source_dsn, orders, 5)
    table = open_catalog(orders).load_table(("lake", "orders"))
    history = [s.snapshot_id for s in table.snapshots()]
    counts = {s: table.scan(snapshot_id=s).to_arrow().num_rows for s in history[-3:]}
    oldest = table.snapshots()[0]

    result = expire_snapshots(table, ExpiryOptions(older_than=timedelta(0), retain_last=3))
    assert result.snapshots_expired == len(history) - 3 and result.files_deleted > 0
    table = open_catalog(orders).load_table(("lake", "orders"))
    assert [s.snapshot_id for s in table.snapshots()] == history[-3:]
    assert {s: table.scan(snapshot_id=s).to_arrow().num_rows for s in history[-3:]} == counts
    for path in ReferenceReader(table.io).of_snapshots(table.snapshots()):
        assert table.io.new_input(path).exists(), path
    assert all(not table.io.new_input(p).exists() for p in result.deleted)
    as_of = datetime.fromtimestamp(oldest.timestamp_ms / 1000, UTC)
    with pytest.raises(SnapshotNotFoundError, match="retained history starts at"):
        IcebergBackend._snapshot_for(table, _info(), as_of)
    assert_exact(source_dsn, orders)
    assert sync_table(source_dsn, orders).status in ("synced", "unchanged")  # the watermark survived


def _info() -> object:
    from types import SimpleNamespace

    return SimpleNamespace(entity="lake.orders")


def test_expiry_never_takes_the_current_or_a_tagged_snapshot(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    _nights(source, source_dsn, orders, 2)
    table = open_catalog(orders).load_table(("lake", "orders"))
    first, total = table.snapshots()[3].snapshot_id, len(table.snapshots())  # the load's last commit
    table.manage_snapshots().create_tag(first, "before-sync").commit()
    result = expire_snapshots(table, ExpiryOptions(older_than=timedelta(0), retain_last=1))
    table = open_catalog(orders).load_table(("lake", "orders"))
    kept = {s.snapshot_id for s in table.snapshots()}
    assert first in kept and table.current_snapshot().snapshot_id in kept  # type: ignore[union-attr]
    assert (
        len(kept) == 2
        and result.snapshots_expired == total - 2
        and table.scan(snapshot_id=first).to_arrow().num_rows == 20_000
    )


def test_orphan_removal_takes_a_planted_orphan_but_not_an_in_flight_loads_files(orders: CatalogConfig) -> None:
    table = open_catalog(orders).load_table(("lake", "orders"))
    planted = f"{table.location()}/data/planted-orphan.parquet"
    with table.io.new_output(planted).create() as out:
        out.write(b"x" * 1234)
    week_ago = time.time() - 7 * 86400
    os.utime(planted.removeprefix("file://"), (week_ago, week_ago))
    # What a load does before its commit: data files written under the table, referenced by nothing yet.
    writer = DataFileWriter(table.io, f"{table.location()}/data", table.schema(), table.properties, prefix="inflight")
    rows = table.scan(limit=10).to_arrow()
    writer.write(pa.Table.from_arrays(rows.columns, schema=writer.target_schema))
    in_flight = writer.close()

    listed = remove_orphans(table, dry_run=True)
    assert [(o.path, o.size) for o in listed.orphans] == [(planted, 1234)] and listed.too_young == 1
    assert table.io.new_input(planted).exists()
    removed = remove_orphans(table)
    assert removed.files_deleted == 1 and not table.io.new_input(planted).exists()
    assert table.io.new_input(in_flight[0].file_path).exists()
    with table.transaction() as tx, tx.update_snapshot().fast_append() as append:  # the load commits
        append.append_data_file(in_flight[0])
    assert open_catalog(orders).load_table(("lake", "orders")).scan().to_arrow().num_rows == 20_010


def test_many_manifests_are_rewritten_into_one_per_kind(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    _nights(source, source_dsn, orders, 4)
    table = open_catalog(orders).load_table(("lake", "orders"))
    result = rewrite_manifests(table, max_manifests=2)
    assert result.before > 2 and result.after == 2  # one data and one delete manifest
    assert_exact(source_dsn, orders)
    assert rewrite_manifests(table, max_manifests=2).snapshot_id is None
