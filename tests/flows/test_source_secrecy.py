"""Runs started from the deployments read the source from its block: its password shows up nowhere that the
Prefect API serves (deployments, flow-run parameters, logs, artifacts, events), nor in the JSON reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from cutover.config import CatalogConfig
from tests.prefect_workers import deployed_worker

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Pr0d-S3cret-Pw"
DEPLOYMENTS = ("migrate/migrate", "sync/nightly-sync", "validate/validate")


@pytest.fixture
def worker_env(
    prefect_api: str, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The block holds the password; the worker's environment holds no DSN at all."""
    env = {
        "CUTOVER_CATALOG_URI": catalog_config.uri, "CUTOVER_WAREHOUSE": catalog_config.warehouse,
        "CUTOVER_FLAGS_FILE": str(tmp_path / "flags.json"),
    }  # fmt: skip
    with_password = source_dsn.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    with deployed_worker(prefect_api, tmp_path, env, source_block_dsn=with_password):
        yield {**env, "with_password": with_password}


def _everything_the_api_serves(flow_run_ids: list[str]) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        parts: list[object] = [d.model_dump(mode="json") for d in client.read_deployments()]
        parts += [r.model_dump(mode="json") for r in client.read_flow_runs()]
        ids = [UUID(i) for i in flow_run_ids]
        parts += [
            x.model_dump(mode="json") for x in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        ]
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
        parts += [a.model_dump(mode="json") for a in artifacts]
        page = client.read_events(limit=50)
        while True:
            parts += [e.model_dump(mode="json") for e in page.events]
            if not page.next_page:
                break
            page = client.read_events_page(str(page.next_page))
    assert any(p for p in parts if isinstance(p, dict) and p.get("key") == "migrate-report"), "no artifacts read"
    return json.dumps(parts, default=str)


@pytest.mark.slow
def test_deployment_runs_and_reports_never_show_the_source_password(
    worker_env: dict[str, str], source: psycopg.Connection, tmp_path: Path
) -> None:
    from prefect.deployments import run_deployment

    source.execute(
        "create table orders (id int primary key, v int, updated_at timestamptz not null default now());"
        "insert into orders (id, v) select g, g from generate_series(1, 500) g"
    )
    runs = []
    for name in DEPLOYMENTS:
        run = run_deployment(name, timeout=300, poll_interval=1, as_subflow=False)
        assert run.state is not None and run.state.is_completed(), (name, run.state)
        runs.append(str(run.id))
        if name == "migrate/migrate":
            source.execute("update orders set v = -v, updated_at = now() where id <= 10")

    served = _everything_the_api_serves(runs)
    assert PASSWORD not in served
    assert "public.orders" in served  # the logs and artifacts of the runs were read
    worker_log = (tmp_path / "worker.log").read_text()
    assert len(re.findall(r"warm-start: run \d+ started", worker_log)) == len(DEPLOYMENTS)  # each forked warm
    assert PASSWORD not in worker_log

    report = tmp_path / "report.json"
    for command in (["validate", "--namespace", "public"], ["sync", "--namespace", "public", "--cursor", "updated_at"]):
        done = subprocess.run(
            [sys.executable, "-m", "cutover.cli", *command, "--source-dsn", worker_env["with_password"],
             "--report-json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "CUTOVER_CATALOG_URI": worker_env["CUTOVER_CATALOG_URI"],
                 "CUTOVER_WAREHOUSE": worker_env["CUTOVER_WAREHOUSE"], "PREFECT_API_URL": ""},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert report.exists() and PASSWORD not in report.read_text() + done.stdout + done.stderr
