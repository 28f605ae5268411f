"""`cutover demo` as a newcomer runs it: the embedded PostgreSQL kept for the other commands and stopped, and
the `--prefect` variant on its own temporary server, worker and automation."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ("--rows", "2000", "--reads", "20")


def _clean_env() -> dict[str, str]:
    """No CUTOVER_* or Prefect server of the test session: the demo must bring its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CUTOVER_") and k != "PREFECT_API_URL"}


def _cutover(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout,
    )  # fmt: skip


def _exports(stdout: str) -> dict[str, str]:
    pairs = [shlex.split(line.removeprefix("export "))[0] for line in stdout.splitlines() if line.startswith("export ")]
    return dict(pair.split("=", 1) for pair in pairs)


def _unreachable(dsn: str) -> bool:
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError:
        return True
    return False


@pytest.mark.slow
def test_keep_leaves_postgresql_for_every_other_command_and_stop_stops_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = _clean_env()
    done = _cutover("demo", "--keep", *SMALL, "--state-dir", str(state), env=env)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        exports = _exports(done.stdout)
        assert {"CUTOVER_SOURCE_DSN", "CUTOVER_CATALOG_URI", "CUTOVER_WAREHOUSE", "CUTOVER_NAMESPACE",
                "CUTOVER_FLAGS_FILE"} <= set(exports)  # fmt: skip
        for line in done.stdout.splitlines():
            assert len(line) <= 80 or line.startswith("export "), line  # paths are as long as they are

        # Configured by the exports alone, the other commands work on what the demo left.
        report = tmp_path / "validate.json"
        validated = _cutover("validate", "--report-json", str(report), env=env | exports)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        tables = json.loads(report.read_text())["tables"]
        assert {t["iceberg_identifier"]: t["success_percentage"] for t in tables} == {
            f"demo.{name}": 100.0 for name in ("customers", "order_lines", "orders", "products")
        }
        flags = _cutover("flags", "show", "--entity", "demo.orders", env=env | exports)
        assert "use-iceberg-backend      demo.orders                      off" in flags.stdout  # rolled back
        status = _cutover("rollout", "status", "--entity", "demo.orders", env=env | exports)
        assert status.returncode == 0 and "demo.orders\toff" in status.stdout
    finally:
        stopped = _cutover("demo", "--stop", "--state-dir", str(state), env=env)
    assert stopped.returncode == 0 and "stopped the demo's PostgreSQL" in stopped.stdout
    assert _unreachable(exports["CUTOVER_SOURCE_DSN"])
    again = _cutover("demo", "--stop", "--state-dir", str(state), env=env)
    assert again.returncode == 0 and "nothing of the demo is running" in again.stdout


@pytest.mark.slow
def test_prefect_runs_the_story_as_deployment_runs_and_the_automation_rolls_back(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    state = tmp_path / "state"
    env = _clean_env()
    done = _cutover("demo", "--prefect", "--keep", *SMALL, "--state-dir", str(state), env=env, timeout=1200)
    exports = _exports(done.stdout)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        api = exports["PREFECT_API_URL"]
        assert f"Prefect UI: {api.removesuffix('/api')}" in done.stdout.replace("\n", " ")
        assert httpx.get(api.removesuffix("/api"), timeout=10).status_code == 200  # the UI is served
        settings = {PREFECT_API_URL: api, PREFECT_HOME: str(tmp_path / "client")}
        with temporary_settings(updates=settings), get_client(sync_client=True) as client:
            runs = client.read_flow_runs()
            deployments = {d.id: d.name for d in client.read_deployments()}
            events = client.read_events(EventFilter(event=EventNameFilter(prefix=["cutover."])), limit=50).events
        by_deployment = Counter((deployments.get(r.deployment_id), r.state_name) for r in runs)
        assert by_deployment == {
            ("migrate", "Completed"): 1,
            ("validate", "Completed"): 2,  # after the load, and after the restore
            ("validate", "Failed"): 1,  # the planted corruption
            ("nightly-sync", "Completed"): 1,
            ("rollout-step", "Completed"): 2,  # off → shadow → 25 %
            ("rollback", "Completed"): 1,  # exactly one, and not started by the demo:
        }
        (rollback,) = [r for r in runs if deployments.get(r.deployment_id) == "rollback"]
        assert rollback.parameters["actor"] == "automation:cutover.validation.failed"
        assert rollback.parameters["entity"] == "cutover.table.demo.orders"
        failed = [e for e in events if e.event == "cutover.validation.failed"]
        failed_resources = [e.resource.id for e in failed]
        assert failed_resources == ["cutover.table.demo.orders"]
        assert "id=1000: amount" in str(failed[0].payload["reason"])  # the key, in the event and the audit row
        assert rollback.parameters["reason"].startswith("validation failed: 1 rows with different values (id=1000")
        assert [e.resource.id for e in events if e.event == "cutover.rollback.completed"] == failed_resources
    finally:
        stopped = _cutover("demo", "--stop", "--state-dir", str(state), env=env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "stopped the demo's Prefect server and worker" in stopped.stdout
    assert "stopped the demo's PostgreSQL" in stopped.stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{exports['PREFECT_API_URL']}/health", timeout=3)


def test_a_source_that_is_wrong_or_unreachable_gets_one_line(tmp_path: Path) -> None:
    env = _clean_env()
    state = ("--state-dir", str(tmp_path / "state"))
    nowhere = "postgresql://postgres@127.0.0.1:1/postgres"
    unreachable = _cutover("demo", "--source-dsn", nowhere, *state, env=env)
    assert unreachable.returncode == 1 and f"cannot reach {nowhere}" in unreachable.stderr
    wrong = _cutover("demo", "--source-dsn", "mysql://app@db/app", *state, env=env)
    assert wrong.returncode == 2 and "must be a postgresql:// URL" in wrong.stderr
    for done in (unreachable, wrong):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
