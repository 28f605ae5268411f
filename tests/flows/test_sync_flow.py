"""The `sync` flow on a real Prefect server: artifacts, the per-table limit, validation events."""

from __future__ import annotations

import psycopg
import pytest

from cutover import names
from cutover.config import CatalogConfig
from cutover.sync import SyncRequest
from tests.flows.test_migrate_flow import _flow_run_artifacts
from tests.flows.test_validate_flow import _events
from tests.helpers import migrate


@pytest.mark.slow
def test_sync_flow_merges_validates_and_reports(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client

    from flows.sync import PROGRESS_KEY, REPORT_KEY, sync
    from tasks.sync import table_limit

    source.execute(
        "create table orders (id int primary key, v text, updated_at timestamptz not null default now());"
        "insert into orders (id, v) select g, 'x' from generate_series(1, 2000) g"
    )
    assert migrate(source_dsn, catalog_config, ["orders"], namespace="sflow").ok
    source.execute("update orders set v = 'y', updated_at = now() where id <= 10; delete from orders where id = 2000")
    request = SyncRequest(source_dsn=source_dsn, namespace="sflow", cursor="updated_at", validate=True)
    result = sync(request, catalog_config)
    (table,) = result["tables"]  # type: ignore[misc]
    assert (table["status"], table["rows_upserted"], table["rows_deleted"]) == ("synced", 10, 1)
    assert result["validation"]["ok"] is True  # type: ignore[index]

    state = sync(request, catalog_config, return_state=True)
    assert state.is_completed()
    artifacts = _flow_run_artifacts(state.state_details.flow_run_id)
    assert artifacts[PROGRESS_KEY].data == 100.0  # type: ignore[attr-defined]
    assert '"unchanged"' in str(artifacts[REPORT_KEY].data)  # type: ignore[attr-defined]
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(table_limit("sflow.orders"))
    assert limit.limit == 1 and limit.name == names.LIMIT_SYNC_TABLE_PREFIX + "sflow-orders"
    runs = {str(result["run_id"]), str(state.state_details.flow_run_id)}
    events = [e for e in _events(f"{names.TABLE_RESOURCE_PREFIX}sflow.orders", 2) if e.payload.get("run_id") in runs]  # type: ignore[attr-defined]
    assert [e.event for e in events] == [names.EVENT_VALIDATION_PASSED] * 2  # type: ignore[attr-defined]


@pytest.mark.slow
def test_sync_flow_fails_when_a_table_is_refused(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from flows.sync import sync

    source.execute("create table t (id int primary key, gone text); insert into t values (1, 'a')")
    assert migrate(source_dsn, catalog_config, ["t"], namespace="sflow").ok
    source.execute("alter table t drop column gone")
    state = sync(SyncRequest(source_dsn=source_dsn, namespace="sflow"), catalog_config, return_state=True)
    assert state.is_failed()
    assert "did not sync: t (refused)" in str(state.result(raise_on_failure=False))
