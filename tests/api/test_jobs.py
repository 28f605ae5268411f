"""Migration jobs through the API on a real Prefect server with a process worker: start, poll, progress, cancel."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cutover.config import CatalogConfig
from tests.api.conftest import AUTH, make_client
from tests.helpers import read_iceberg
from tests.prefect_workers import deployed_worker


@pytest.fixture
def worker(prefect_api: str, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path) -> Iterator[None]:
    """prefect.yaml deployed and a process worker whose runs use this test's database and catalog."""
    env = {
        "CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_CATALOG_URI": catalog_config.uri,
        "CUTOVER_WAREHOUSE": catalog_config.warehouse, "CUTOVER_FLAGS_FILE": str(tmp_path / "worker-flags.json"),
    }  # fmt: skip
    with deployed_worker(prefect_api, tmp_path, env):
        yield


@pytest.mark.slow
def test_migration_job_runs_to_completion_with_progress_and_counts(
    worker: None,
    prefect_api: str,
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    tmp_path: Path,
) -> None:
    source.execute("create table orders (id int primary key, amount numeric(10, 2))")
    source.execute("insert into orders select g, g / 10.0 from generate_series(1, 5000) g")
    source.execute("analyze")
    with make_client(source_dsn, catalog_config, tmp_path / "flags.json", prefect_url=prefect_api) as client:
        started = client.post(
            "/api/v1/migration/jobs", headers=AUTH,
            json={"tables": ["orders"], "namespace": "lake", "mode": "replace", "batch_rows": 1000},
        )  # fmt: skip
        assert started.status_code == 202, started.text
        job = started.json()
        assert started.headers["location"] == f"/api/v1/migration/jobs/{job['id']}"
        assert job["finished"] is False

        deadline = time.monotonic() + 90
        seen_states = set()
        while time.monotonic() < deadline:
            job = client.get(f"/api/v1/migration/jobs/{job['id']}", headers=AUTH).json()
            seen_states.add(job["state_type"])
            if job["finished"]:
                break
            time.sleep(0.5)
        assert job["state"] == "Completed", (job, (tmp_path / "worker.log").read_text()[-3000:])
        assert job["progress"] == 100.0
        assert [(t["table"], t["status"], t["rows"]) for t in job["tables"]] == [("public.orders", "migrated", 5000)]
        assert read_iceberg(catalog_config, "orders").num_rows == 5000

        finished = client.post(f"/api/v1/migration/jobs/{job['id']}/cancel", headers=AUTH)
        assert finished.status_code == 409 and "already finished" in finished.json()["detail"]
        unknown = client.get(f"/api/v1/migration/jobs/{uuid.uuid4()}", headers=AUTH)
        assert unknown.status_code == 404
        # A rollback run is a flow run too, but not a migration job: the API does not pass it off as one.
        from datetime import UTC, datetime, timedelta

        from prefect.client.orchestration import get_client
        from prefect.states import Scheduled

        with get_client(sync_client=True) as prefect:
            other = prefect.create_flow_run_from_deployment(
                prefect.read_deployment_by_name("rollback/rollback").id,
                parameters={"reason": "t"},
                state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=1)),  # never picked up here
            )
        assert client.get(f"/api/v1/migration/jobs/{other.id}", headers=AUTH).status_code == 404
        assert client.post(f"/api/v1/migration/jobs/{other.id}/cancel", headers=AUTH).status_code == 404
