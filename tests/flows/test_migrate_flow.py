"""The `migrate` flow on a real Prefect server: artifacts, concurrency limits, and retries that heal."""

from __future__ import annotations

import itertools
import threading
import time

import psycopg
import pyarrow.compute as pc
import pytest

from cutover import names
from cutover.config import CatalogConfig
from cutover.errors import CutoverError
from cutover.load.runner import MigrationRequest
from tests.helpers import read_iceberg, table_exists


def _flow_run_artifacts(flow_run_id: object) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))  # type: ignore[list-item]
        )
    return {a.key or a.type or "": a for a in artifacts}


@pytest.mark.slow
def test_migrate_flow_loads_reports_and_creates_limits(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client

    from flows.migrate import PROGRESS_KEY, REPORT_KEY, migrate

    source.execute(
        "create table a (id int primary key, v text); insert into a select g, 'x' from generate_series(1, 30000) g"
    )
    source.execute("create table b (id int primary key, v numeric); insert into b values (1, 1)")
    source.execute("analyze")
    request = MigrationRequest(source_dsn=source_dsn, namespace="lake", batch_rows=10_000, parallel=2)
    state = migrate(request, catalog_config, return_state=True)
    assert state.is_failed()  # b is refused, and a refusal must not pass silently
    assert read_iceberg(catalog_config, "a").num_rows == 30_000
    assert not table_exists(catalog_config, "b")
    artifacts = _flow_run_artifacts(state.state_details.flow_run_id)
    assert artifacts[PROGRESS_KEY].data == 100.0  # type: ignore[attr-defined]
    report_rows = artifacts[REPORT_KEY].data  # type: ignore[attr-defined]
    assert '"refused"' in str(report_rows) and '"migrated"' in str(report_rows)
    with get_client(sync_client=True) as client:
        limits = {limit.name for limit in client.read_global_concurrency_limits()}
    assert {names.LIMIT_SOURCE_READS, names.LIMIT_ICEBERG_COMMITS} <= limits


@pytest.mark.slow
def test_a_run_holds_its_source_read_slots_once_and_reads_no_more_batches_than_it_holds(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    from cutover.orchestration.limits import DEFAULT_LIMITS, ensure_concurrency_limits
    from flows.migrate import migrate

    source.execute(
        "create table c (id int primary key, v text); insert into c select g, 'x' from generate_series(1, 40000) g"
    )
    source.execute("analyze c")
    ensure_concurrency_limits()
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(names.LIMIT_SOURCE_READS, 1)  # an operator's tuning
        try:
            request = MigrationRequest(source_dsn=source_dsn, namespace="lake", batch_rows=8_000, parallel=4)
            state = migrate(request, catalog_config, return_state=True)
        finally:
            client.upsert_global_concurrency_limit_by_name(
                names.LIMIT_SOURCE_READS, DEFAULT_LIMITS[names.LIMIT_SOURCE_READS]
            )
        assert state.is_completed(), state
        reads = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])),  # type: ignore[list-item]
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="load-")),
        )
        limit = client.read_global_concurrency_limit_by_name(names.LIMIT_SOURCE_READS)
    assert read_iceberg(catalog_config, "c").num_rows == 40_000
    spans = sorted((run.start_time, run.end_time) for run in reads if run.start_time and run.end_time)
    assert len(spans) == len(reads) >= 5
    assert all(later_start >= end for (_, end), (later_start, _) in itertools.pairwise(spans))
    assert limit.active_slots == 0  # the run's lease was released


@pytest.mark.slow
def test_terminated_source_backend_is_retried_and_the_run_succeeds(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.migrate import migrate

    rows = 1_500_000
    source.execute("create table big (id bigint primary key, v text)")
    source.execute(f"insert into big select g, repeat('x', 40) from generate_series(1, {rows}) g")
    source.execute("analyze big")
    database = source.info.dbname
    killed: list[int] = []

    def terminate_first_reader() -> None:
        with psycopg.connect(source_dsn, autocommit=True) as admin:
            deadline = time.monotonic() + 60
            while not killed and time.monotonic() < deadline:
                row = admin.execute(
                    "select pid from pg_stat_activity where datname = %s and query like 'COPY (select%%' "
                    "and state = 'active' and pid <> pg_backend_pid() limit 1",
                    (database,),
                ).fetchone()
                if row:
                    admin.execute("select pg_terminate_backend(%s)", (row[0],))
                    killed.append(row[0])
                time.sleep(0.01)

    killer = threading.Thread(target=terminate_first_reader)
    killer.start()
    request = MigrationRequest(source_dsn=source_dsn, tables=["big"], namespace="lake", batch_rows=500_000)
    state = migrate(request, catalog_config, return_state=True)
    killer.join()
    assert killed, "no extraction query was seen to terminate"
    assert state.is_completed(), state.message
    data = read_iceberg(catalog_config, "big")
    assert data.num_rows == rows and pc.count_distinct(data["id"]).as_py() == rows
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))  # type: ignore[list-item]
        )
    batch_runs = [r for r in runs if r.name.startswith("load-")]
    assert any(r.run_count > 1 for r in batch_runs), [(r.name, r.run_count) for r in batch_runs]


def test_unsupported_type_is_not_retried() -> None:
    from tasks.common import retry_transient_only

    class _State:
        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        def result(self) -> object:
            raise self.exc

    from cutover.errors import SourceConnectionError, UnsupportedTypeError

    assert retry_transient_only(None, None, _State(SourceConnectionError("lost")))  # type: ignore[arg-type]
    assert not retry_transient_only(None, None, _State(UnsupportedTypeError("t", "c", "numeric", "no")))  # type: ignore[arg-type]
    assert not retry_transient_only(None, None, _State(CutoverError("other")))  # type: ignore[arg-type]
