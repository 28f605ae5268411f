"""Disaster-recovery drills (docs/disaster-recovery.md), each against real PostgreSQL and Iceberg."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg

from cutover import names
from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.rollout.store import ControlStore
from tests.helpers import migrate, read_iceberg
from tests.sync.helpers import assert_exact, sync_table
from tests.test_cli import run_cli


def _catalog_args(catalog: CatalogConfig) -> list[str]:
    return ["--catalog-uri", catalog.uri, "--warehouse", catalog.warehouse]


def test_drill_bad_sync_restore_then_the_next_sync_resyncs_everything(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("update orders set note = 'good', updated_at = now() where id <= 100")
    sync_table(source_dsn, orders)
    good = open_catalog(orders).load_table(("lake", "orders")).current_snapshot().snapshot_id  # type: ignore[union-attr]
    source.execute("update orders set note = 'later', updated_at = now() where id between 50 and 150")
    source.execute("delete from orders where id between 1000 and 1009")
    sync_table(source_dsn, orders)  # the "bad" sync (say it wrote what it should not have)

    restored = run_cli(
        "restore", "--table", "lake.orders", "--snapshot", str(good), "--reason", "drill: bad sync",
        "--actor", "ana", *_catalog_args(orders), env={"CUTOVER_CONTROL_DSN": source_dsn},
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    table = open_catalog(orders).load_table(("lake", "orders"))
    assert table.current_snapshot().summary[names.PROP_RESTORED_FROM] == str(good)  # type: ignore[union-attr]
    assert read_iceberg(orders, "orders").num_rows == 20_000  # the deletes of the bad sync are undone
    assert len(table.snapshots()) >= 7  # history stays: the bad sync's snapshot is still there
    (entry,) = ControlStore(source_dsn).audit_log(action=names.ACTION_RESTORE)
    assert (entry.actor, entry.entity, entry.reason) == ("ana", "lake.orders", "drill: bad sync")

    again = sync_table(source_dsn, orders)
    assert again.deletes_found_by.startswith("key sets") and again.rows_deleted == 10
    assert_exact(source_dsn, orders)


def test_restore_refuses_bad_input_with_one_line(orders: CatalogConfig, source_dsn: str) -> None:
    env = {"CUTOVER_CONTROL_DSN": source_dsn}
    both = run_cli("restore", "--table", "lake.orders", "--snapshot", "1", "--as-of", "2026-01-01T00:00:00Z",
                   "--reason", "x", *_catalog_args(orders), env=env)  # fmt: skip
    assert both.returncode == 2 and "exactly one of --snapshot or --as-of" in both.stderr
    naive = run_cli("restore", "--table", "lake.orders", "--as-of", "2026-01-01T00:00:00", "--reason", "x",
                    *_catalog_args(orders), env=env)  # fmt: skip
    assert naive.returncode == 2 and "no time zone" in naive.stderr
    early = run_cli("restore", "--table", "lake.orders", "--as-of", "2001-01-01T00:00:00Z", "--reason", "x",
                    *_catalog_args(orders), env=env)  # fmt: skip
    assert early.returncode == 2 and "no retained snapshot at or before" in early.stderr
    missing = run_cli("restore", "--table", "lake.nope", "--snapshot", "1", "--reason", "x", *_catalog_args(orders),
                      env=env)  # fmt: skip
    assert missing.returncode == 2 and "no Iceberg table lake.nope" in missing.stderr
    assert "Traceback" not in both.stderr + naive.stderr + early.stderr + missing.stderr


def test_drill_catalog_lost_export_then_import_into_an_empty_catalog(
    orders: CatalogConfig, source: psycopg.Connection, source_dsn: str, tmp_path: Path
) -> None:
    source.execute("create table small (id int primary key); insert into small select generate_series(1, 5)")
    assert migrate(source_dsn, orders, ["small"]).ok
    export = tmp_path / "backup" / "catalog.json"
    exported = run_cli("catalog", "export", "--output", str(export), *_catalog_args(orders))
    assert exported.returncode == 0, exported.stderr
    assert {tuple(t["identifier"]) for t in json.loads(export.read_text())["tables"]} == {
        ("lake", "orders"), ("lake", "small"),
    }  # fmt: skip

    Path(orders.uri.removeprefix("sqlite:///")).unlink()  # the catalog database is lost
    fresh = orders.model_copy(update={"uri": f"sqlite:///{tmp_path / 'new-catalog.db'}"})
    imported = run_cli("catalog", "import", str(export), *_catalog_args(fresh))
    assert imported.returncode == 0, imported.stderr and "registered 2 table(s)" in imported.stdout
    twice = run_cli("catalog", "import", str(export), *_catalog_args(fresh))
    assert twice.returncode == 0 and "2 already present" in twice.stdout
    assert read_iceberg(fresh, "orders").num_rows == 20_000 and read_iceberg(fresh, "small").num_rows == 5
    source.execute("update orders set qty = 3, updated_at = now() where id <= 5")
    assert sync_table(source_dsn, fresh).status == "synced"  # the watermark came along
    assert_exact(source_dsn, fresh)

    bad = tmp_path / "not-an-export.json"
    bad.write_text("{}")
    refused = run_cli("catalog", "import", str(bad), *_catalog_args(fresh))
    assert refused.returncode == 2 and "is not a cutover catalog export" in refused.stderr


def test_drill_warehouse_files_lost_remigrate_with_resume(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        "create table t (id int primary key, v text); insert into t select g, 'v' from generate_series(1, 300) g"
    )
    assert migrate(source_dsn, catalog_config, ["t"]).ok
    table = open_catalog(catalog_config).load_table(("lake", "t"))
    shutil.rmtree(table.location().removeprefix("file://"))  # the table's files are gone
    args = [
        "migrate",
        "--source-dsn",
        source_dsn,
        "--namespace",
        "lake",
        "--table",
        "t",
        *_catalog_args(catalog_config),
    ]
    refused = run_cli(*args)  # --mode create
    assert refused.returncode == 1 and "metadata of Iceberg table lake.t is missing" in refused.stdout + refused.stderr
    resumed = run_cli(*args, "--mode", "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert read_iceberg(catalog_config, "t").num_rows == 300


def test_maintain_cli_dry_run_reports_and_bad_input_exits_2(orders: CatalogConfig, tmp_path: Path) -> None:
    report = tmp_path / "dry.json"
    dry = run_cli("maintain", "--namespace", "lake", "--dry-run", "--target-file-mb", "1", "--report-json", str(report),
                  *_catalog_args(orders))  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    data = json.loads(report.read_text())
    assert data["dry_run"] is True and data["tables"][0]["status"] == "planned"
    assert (
        data["tables"][0]["files_rewritten"] == 4
        and len(open_catalog(orders).load_table(("lake", "orders")).snapshots()) == 4
    )
    unknown = run_cli("maintain", "--namespace", "nowhere", *_catalog_args(orders))
    assert unknown.returncode == 2 and "no Iceberg namespace 'nowhere'" in unknown.stderr
    missing = run_cli("maintain", "--namespace", "lake", "--table", "nope", *_catalog_args(orders))
    assert missing.returncode == 2 and "no Iceberg table nope" in missing.stderr
