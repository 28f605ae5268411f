"""The job flows on a real local Dask cluster of two worker processes: the same tables as the thread
runner, a sync and a validation through the cluster, and a worker killed in the middle of a batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.compute as pc
import pytest

from cutover.config import CatalogConfig
from cutover.load.runner import MigrationRequest
from cutover.orchestration.cluster import ClusterConfig
from cutover.sync import SyncRequest
from cutover.validation import ValidationRequest, validate_tables
from tests.helpers import migrate, read_data_files, read_iceberg
from tests.lake.test_type_fidelity import ROWS, SCHEMA
from tests.sync.helpers import ORDERS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _executed(cluster: Any) -> dict[str, int]:
    """Tasks each worker process has run so far."""
    from distributed import Client

    with Client(cluster) as client:
        return dict(client.run(lambda dask_worker: dask_worker.state.executed_count))


def _ran_on_workers(before: dict[str, int], after: dict[str, int]) -> list[int]:
    return [after[w] - before.get(w, 0) for w in sorted(after)]


def _parity(dsn: str, catalog: CatalogConfig, namespace: str, tables: list[str] | None = None) -> None:
    request = ValidationRequest(source_dsn=dsn, tables=tables or [], namespace=namespace, expectations_dir=None)
    for result in validate_tables(request, catalog).tables:
        assert result.passed, f"{result.iceberg_identifier}: {result.reason} {result.differences[:3]}"
        assert result.missing_total == result.extra_total == result.changed_total == 0


def test_tables_loaded_through_dask_equal_the_thread_runners(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, dask_cluster: Any
) -> None:
    from flows.migrate import migrate as migrate_flow

    source.execute(SCHEMA)
    source.execute("insert into everything values " + ", ".join(ROWS))
    source.execute(
        "create table big (id bigint primary key, amount numeric(12,2), note text, at timestamptz, tag uuid);"
        "insert into big select g, g / 7.0, 'n' || (g % 977), timestamptz '2026-01-01' + g * interval '1 s',"
        " md5(g::text)::uuid from generate_series(1, 500000) g; analyze big"
    )
    assert migrate(source_dsn, catalog_config, namespace="threads", batch_rows=50_000).ok

    before = _executed(dask_cluster)
    request = MigrationRequest(source_dsn=source_dsn, namespace="dask", batch_rows=50_000, parallel=2)
    cluster = ClusterConfig(address=dask_cluster.scheduler_address)
    result = migrate_flow(request, catalog_config, cluster=cluster)
    ran = _ran_on_workers(before, _executed(dask_cluster))

    assert result["ok"] is True
    batches = sum(int(t["batches_total"]) for t in result["tables"])  # type: ignore[attr-defined]
    assert batches == 11 and sum(ran) == batches  # every batch on a worker, no commit there
    assert all(n > 0 for n in ran), ran  # both worker processes loaded batches
    for table in ("everything", "big"):
        threads = read_data_files(catalog_config, table, "threads").sort_by("id")
        dask = read_data_files(catalog_config, table, "dask").sort_by("id")
        assert dask.schema == threads.schema
        assert repr(dask.to_pylist()) == repr(threads.to_pylist())  # repr: NaN equals NaN
    # The type table's NULL list<struct> reads back as [] through pyiceberg (apache/iceberg-python#3833),
    # whichever runner loaded it (its files hold the NULL, compared above); the rest is exact.
    _parity(source_dsn, catalog_config, "dask", ["big"])


def test_sync_and_validation_run_on_the_cluster_and_name_a_difference(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, dask_cluster: Any
) -> None:
    from cutover.maintenance import MaintenanceRequest
    from flows.maintain import maintain
    from flows.sync import sync
    from flows.validate import validate

    source.execute(ORDERS)
    assert migrate(source_dsn, catalog_config, ["orders"], batch_rows=5_000).ok
    source.execute("update orders set amount = amount + 1, updated_at = now() where id % 100 = 3")
    source.execute("delete from orders where id % 1000 = 7")
    source.execute("insert into orders (id, customer, amount) select g, 'new', 1 from generate_series(20001, 20100) g")
    cluster = ClusterConfig(address=dask_cluster.scheduler_address)

    before = _executed(dask_cluster)
    synced = sync(
        SyncRequest(source_dsn=source_dsn, namespace="lake", cursor="updated_at", validate=True),
        catalog_config,
        cluster=cluster,
    )
    ran = sum(_ran_on_workers(before, _executed(dask_cluster)))
    table = synced["tables"][0]  # type: ignore[index]
    assert (table["status"], table["rows_upserted"], table["rows_deleted"]) == ("synced", 300, 20)
    validation = synced["validation"]["tables"][0]  # type: ignore[index]
    assert validation["status"] == "passed" and validation["source_rows"] == 20_080
    assert ran > 2  # the sync task, the validation task, and the Iceberg files it spread
    _parity(source_dsn, catalog_config, "lake")

    source.execute("delete from orders where id = 4242")  # not synced: Iceberg holds one extra row
    state = validate(
        ValidationRequest(source_dsn=source_dsn, namespace="lake", expectations_dir=None),
        catalog_config,
        cluster=cluster,
        return_state=True,
    )
    assert state.is_failed()
    report = state.result(raise_on_failure=False).report  # type: ignore[union-attr]
    (checked,) = report["tables"]
    assert (checked["extra_total"], checked["missing_total"], checked["changed_total"]) == (1, 0, 0)
    assert checked["differences"] == [{"kind": "extra", "key": {"id": "4242"}, "columns": []}]

    before = _executed(dask_cluster)
    planned = maintain(MaintenanceRequest(namespace="lake", dry_run=True), catalog_config, cluster=cluster)
    assert planned["ok"] is True and [t["status"] for t in planned["tables"]] == ["planned"]  # type: ignore[attr-defined]
    assert sum(_ran_on_workers(before, _executed(dask_cluster))) == 1


def test_a_worker_killed_mid_batch_is_retried_elsewhere_and_the_table_is_exact(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, dask_cluster: Any
) -> None:
    from distributed import Client

    from flows.migrate import migrate as migrate_flow

    rows = 400_000
    source.execute(f"""
        create table big (id bigint primary key, v text);
        insert into big select g, repeat('x', 60) from generate_series(1, {rows}) g; analyze big
    """)
    killed: list[str] = []
    killed_keys: list[str] = []

    def kill_a_busy_worker() -> None:
        database = source.info.dbname
        with Client(dask_cluster) as client, psycopg.connect(source_dsn, autocommit=True) as admin:
            pids = client.run(os.getpid)
            deadline = time.monotonic() + 120
            while not killed and time.monotonic() < deadline:
                reading = admin.execute(
                    "select count(*) from pg_stat_activity where datname = %s and state = 'active' "
                    "and query like 'COPY (select%%'",
                    (database,),
                ).fetchone()
                busy = [w for w, keys in client.processing().items() if keys]
                if reading and reading[0] and busy:
                    killed_keys.extend(client.processing()[busy[0]])
                    os.kill(pids[busy[0]], signal.SIGKILL)  # the worker process, mid-batch
                    killed.append(busy[0])
                time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    request = MigrationRequest(source_dsn=source_dsn, namespace="lake", batch_rows=40_000, parallel=2)
    try:
        state = migrate_flow(
            request, catalog_config, cluster=ClusterConfig(address=dask_cluster.scheduler_address), return_state=True
        )
    finally:
        killer.join()
    result = state.result()
    with Client(dask_cluster) as client:
        story = client.story(*killed_keys)
    events = [tuple(e) for e in story]
    started = [e for e in events if e[0] == "scheduler" and e[2:4] == ("waiting", "processing")]
    finished_on = {e[0] for e in events if e[0] != "scheduler" and e[2:4] == ("executing", "memory")}
    assert len(started) >= 2, events  # the killed batch was scheduled again...
    assert finished_on and killed[0] not in finished_on, events  # ...and finished on another worker
    assert killed, "no worker was seen mid-batch"
    assert result["ok"] is True
    data = read_iceberg(catalog_config, "big")
    assert data.num_rows == rows and pc.count_distinct(data["id"]).as_py() == rows
    _parity(source_dsn, catalog_config, "lake")


def test_the_cli_runs_its_flow_on_the_cluster_and_prints_the_report(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, dask_address: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    source.execute(
        "create table t (id int primary key, v text); insert into t select g, 'x' from generate_series(1, 500) g"
    )
    report, checked = tmp_path / "migrate.json", tmp_path / "validate.json"
    common = ["--source-dsn", source_dsn, "--catalog-uri", catalog_config.uri, "--warehouse", catalog_config.warehouse,
              "--namespace", "lake", "--dask-address", dask_address]  # fmt: skip
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_HOME": str(tmp_path / "home")}
    for command in (
        ["migrate", "--report-json", str(report)],
        ["validate", "--expectations-dir", str(tmp_path), "--report-json", str(checked)],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "cutover.cli", *command, *common], cwd=ROOT, capture_output=True, text=True,
            timeout=300, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert f"cutover {command[0]}" in done.stdout  # the report table
    assert json.loads(report.read_text())["tables"][0]["rows"] == 500
    assert json.loads(checked.read_text())["tables"][0]["status"] == "passed"
    assert read_iceberg(catalog_config, "t").num_rows == 500
