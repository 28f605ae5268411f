"""The `maintain` flow on a real Prefect server: the report artifact and the per-table limit it shares with the sync."""

from __future__ import annotations

import psycopg
import pytest

from cutover import names
from cutover.config import CatalogConfig
from cutover.maintenance import MaintenanceRequest
from tests.flows.test_migrate_flow import _flow_run_artifacts
from tests.helpers import migrate


@pytest.mark.slow
def test_maintain_flow_compacts_and_reports(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client

    from flows.maintain import PROGRESS_KEY, REPORT_KEY, maintain
    from tasks.sync import table_limit

    source.execute(
        "create table t (id int primary key, v text); insert into t select g, 'x' from generate_series(1, 3000) g"
    )
    assert migrate(source_dsn, catalog_config, ["t"], namespace="mflow", batch_rows=1000).ok
    state = maintain(MaintenanceRequest(namespace="mflow"), catalog_config, return_state=True)
    assert state.is_completed()
    (table,) = state.result()["tables"]  # type: ignore[index]
    assert (table["status"], table["data_files_after"], table["delete_files_after"]) == ("maintained", 1, 0)
    artifacts = _flow_run_artifacts(state.state_details.flow_run_id)
    assert artifacts[PROGRESS_KEY].data == 100.0  # type: ignore[attr-defined]
    assert '"maintained"' in str(artifacts[REPORT_KEY].data)  # type: ignore[attr-defined]
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(table_limit("mflow.t"))
    assert limit.limit == 1 and limit.name == names.LIMIT_SYNC_TABLE_PREFIX + "mflow-t"
