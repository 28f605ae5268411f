"""The `validate` flow on a real Prefect server: events per table, artifacts, failure when any table fails."""

from __future__ import annotations

import time

import psycopg
import pytest
from pyiceberg.expressions import EqualTo

from cutover import names
from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.validation import ValidationRequest
from tests.helpers import migrate


def _events(resource_prefix: str, expected: int) -> list[object]:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            page = client.read_events(limit=50)
        found = [e for e in page.events if e.resource.id.startswith(resource_prefix)]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.mark.slow
def test_validate_flow_emits_passed_and_failed_events(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from flows.validate import REPORT_KEY, SUMMARY_KEY, validate
    from tests.flows.test_migrate_flow import _flow_run_artifacts

    source.execute(
        "create table good (id int primary key, v text); insert into good select g, 'x' from generate_series(1, 100) g"
    )
    source.execute(
        "create table bad (id int primary key, v text); insert into bad select g, 'y' from generate_series(1, 100) g"
    )
    assert migrate(source_dsn, catalog_config, namespace="vflow").ok
    open_catalog(catalog_config).load_table(("vflow", "bad")).delete(EqualTo("id", 42))

    request = ValidationRequest(source_dsn=source_dsn, namespace="vflow", expectations_dir=None)
    state = validate(request, catalog_config, return_state=True)
    assert state.is_failed()
    flow_run_id = str(state.state_details.flow_run_id)
    events = _events(f"{names.TABLE_RESOURCE_PREFIX}vflow.", 2)
    by_resource = {e.resource.id: e for e in events if e.payload.get("run_id") == flow_run_id}  # type: ignore[attr-defined]
    good, bad = by_resource["cutover.table.vflow.good"], by_resource["cutover.table.vflow.bad"]
    assert good.event == names.EVENT_VALIDATION_PASSED and good.payload["success_percentage"] == 100.0  # type: ignore[attr-defined]
    assert bad.event == names.EVENT_VALIDATION_FAILED and bad.payload["success_percentage"] == 99.0  # type: ignore[attr-defined]
    assert "1 rows missing in Iceberg" in bad.payload["reason"]  # type: ignore[attr-defined]
    artifacts = _flow_run_artifacts(state.state_details.flow_run_id)
    assert '"failed"' in str(artifacts[REPORT_KEY].data)  # type: ignore[attr-defined]
    assert "| missing | id=42 |" in str(artifacts[SUMMARY_KEY].data)  # type: ignore[attr-defined]
