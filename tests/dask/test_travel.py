"""What travels to a cluster, without one: a late reader of a released snapshot, the validation's file
groups through a pickle round trip, the cluster settings, and an unreachable scheduler at the CLI."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from cutover.config import CatalogConfig
from cutover.errors import ConfigError, SnapshotGoneError, TransientError
from cutover.lake.catalog import open_catalog
from cutover.orchestration.cluster import (
    ClusterConfig,
    ClusterUnavailableError,
    check_scheduler,
    started_task_runner,
)
from cutover.orchestration.local import free_port
from cutover.source.extract import stream_batch
from cutover.source.snapshot import exported_snapshot, imported_snapshot
from cutover.validation import ValidationRequest, validate_tables
from cutover.validation.parity.spread import BucketPart, FileGroup
from cutover.validation.runner import ThreadValidationExecutor
from tests.helpers import migrate

ROOT = Path(__file__).resolve().parents[2]


def test_a_reader_after_the_snapshot_is_released_fails_transiently_naming_it(
    source: psycopg.Connection, source_dsn: str
) -> None:
    source.execute("create table t (id int primary key); insert into t values (1)")
    with exported_snapshot(source_dsn) as snapshot:
        assert [b.num_rows for b in stream_batch(source_dsn, "select * from t", snapshot.snapshot_id)] == [1]
    with pytest.raises(SnapshotGoneError) as raised:
        list(stream_batch(source_dsn, "select * from t", snapshot.snapshot_id))
    assert isinstance(raised.value, TransientError) and raised.value.snapshot_id == snapshot.snapshot_id
    assert f"snapshot {snapshot.snapshot_id} is no longer exported" in str(raised.value)
    with pytest.raises(SnapshotGoneError), imported_snapshot(source_dsn, snapshot.snapshot_id):
        pass


class PickledSpread:
    """A spread that runs each file group here, after a pickle round trip of the group and its result
    (what Dask does between processes)."""

    def __init__(self, catalog: CatalogConfig) -> None:
        self.catalog, self.parts, self.groups = catalog, 3, 0

    def map(self, fn: Callable[[FileGroup], BucketPart], groups: list[FileGroup]) -> list[BucketPart]:
        self.groups += len(groups)
        return [pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(g))))) for g in groups]


class SpreadValidation(ThreadValidationExecutor):
    def __init__(self, request: ValidationRequest, catalog_config: CatalogConfig) -> None:
        super().__init__(request, catalog_config)
        self.spread = PickledSpread(catalog_config)

    def validate_table(self, table: str, snapshot_id: str):  # type: ignore[no-untyped-def]
        from cutover.validation.runner import validate_table

        return self._pool.submit(validate_table, self.request, self.catalog, table, snapshot_id, self.spread)


@pytest.mark.parametrize(
    "ddl",
    [
        "create table t (id bigint primary key, v text, n numeric(8,2))",  # integer-key ranges
        "create table t (id text primary key, v text, n numeric(8,2))",  # key-hash buckets
        "create table t (id int, v text, n numeric(8,2))",  # no key: row buckets
    ],
)
def test_a_spread_iceberg_side_gives_the_same_verdicts_as_the_local_one(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    ddl: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source.execute(ddl + "; insert into t select g, 'v' || g, g / 3.0 from generate_series(1, 30000) g; analyze t")
    assert migrate(source_dsn, catalog_config, ["t"], batch_rows=4_000).ok
    request = ValidationRequest(source_dsn=source_dsn, tables=["t"], namespace="lake", expectations_dir=None)
    spread = SpreadValidation(request, catalog_config)
    with monkeypatch.context() as patch, spread:
        patch.setattr("cutover.validation.parity.table.hash_iceberg", lambda *a: pytest.fail("read every row here"))
        same = validate_tables(request, catalog_config, executor=spread).tables[0]  # bucket sums alone prove it
    assert same.passed and same.source_rows == same.iceberg_rows == 30_000 and spread.spread.groups == 3

    source.execute("update t set v = 'changed' where v = 'v17'; delete from t where v = 'v99'")
    source.execute("insert into t values ('40000', 'new', 1)")
    with SpreadValidation(request, catalog_config) as again:
        spread_result = validate_tables(request, catalog_config, executor=again).tables[0]
    local_result = validate_tables(request, catalog_config).tables[0]
    assert not spread_result.passed
    assert spread_result.reason == local_result.reason
    assert spread_result.differences == local_result.differences
    assert [c.matches for c in spread_result.columns] == [c.matches for c in local_result.columns]


def test_cluster_settings_are_one_way_or_a_clear_error() -> None:
    assert ClusterConfig.of_address("tcp://10.1.2.3:8786").describe() == "tcp://10.1.2.3:8786"
    kube = ClusterConfig(cluster_class="dask_kubernetes.operator.KubeCluster", cluster_kwargs={"n_workers": 4})
    assert kube.describe() == "a new dask_kubernetes.operator.KubeCluster"
    with pytest.raises(ConfigError, match="looks like tcp://HOST:8786"):
        ClusterConfig.of_address("10.1.2.3:8786")
    with pytest.raises(ValueError, match="not both or neither"):
        ClusterConfig(address="tcp://a:1", cluster_class="distributed.LocalCluster")


def test_workers_of_a_cluster_the_runner_starts_keep_glibc_adaptive_malloc() -> None:
    # distributed's nanny would give them MALLOC_TRIM_THRESHOLD_=65536 (twice the system CPU per batch).
    local = ClusterConfig(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
                        "dashboard_address": None, "silence_logs": 40},
    )  # fmt: skip
    with started_task_runner(local) as runner:
        environments = runner.client.run(lambda: dict(os.environ))
    (worker_env,) = environments.values()
    assert "MALLOC_TRIM_THRESHOLD_" not in worker_env
    assert worker_env["OMP_NUM_THREADS"] == "1"  # the rest of the nanny's environment is kept


def test_an_unreachable_scheduler_is_one_clear_error_quickly() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(ClusterUnavailableError, match=f"the Dask scheduler at {address} is unreachable"):
        check_scheduler(address, timeout=2)
    assert time.monotonic() - began < 10


@pytest.mark.slow
def test_cli_with_an_unreachable_scheduler_exits_1_with_one_line(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table t (id int primary key)")
    address = f"tcp://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "cutover.cli", "migrate", "--source-dsn", source_dsn, "--warehouse",
         catalog_config.warehouse, "--catalog-uri", catalog_config.uri, "--dask-address", address],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PREFECT_API_URL": ""},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: the Dask scheduler at {address} is unreachable"), lines
    assert "Traceback" not in done.stderr and "start it or fix --dask-address" in done.stderr
    assert not open_catalog(catalog_config).list_namespaces()  # nothing was started


def test_a_step_dask_gave_up_on_reaches_the_loops_as_a_transient_error() -> None:
    from distributed.scheduler import KilledWorker

    from cutover.orchestration.cluster import WorkerLostError
    from tasks.common import as_future

    class Gone:
        def add_done_callback(self, fn: Callable[[object], None]) -> None:
            fn(self)

        def result(self) -> object:
            raise KilledWorker("load_batch_task-1", "tcp://10.0.0.9:40000", 3)  # str() of it fails here

    with pytest.raises(WorkerLostError, match=r"the Dask cluster lost this step \(KilledWorker") as raised:
        as_future(Gone()).result()  # type: ignore[arg-type]
    assert isinstance(raised.value, TransientError)


@pytest.mark.slow
def test_a_flow_whose_scheduler_is_unreachable_fails_at_its_start_in_one_line(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from cutover.load.runner import MigrationRequest
    from flows.migrate import migrate

    source.execute("create table t (id int primary key); insert into t values (1)")
    address = f"tcp://127.0.0.1:{free_port()}"
    request = MigrationRequest(source_dsn=source_dsn, namespace="lake")
    state = migrate(
        request, catalog_config, cluster=ClusterConfig(address=address, connect_seconds=2), return_state=True
    )
    assert state.is_failed()
    assert f"the Dask scheduler at {address} is unreachable" in (state.message or "")
    with pytest.raises(ClusterUnavailableError):
        state.result()
    assert not open_catalog(catalog_config).list_namespaces()  # no step ran, nothing was created
