"""prefect.yaml deploys against a real Prefect server; the Azure variant names real prefect-azure steps."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _prefect(api: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=180, env={**os.environ, "PREFECT_API_URL": api, **(env or {})},
    )  # fmt: skip


@pytest.mark.slow
def test_prefect_yaml_deploys_every_deployment(prefect_api: str, source_dsn: str) -> None:
    from prefect.client.orchestration import get_client

    created = _prefect(prefect_api, "work-pool", "create", "cutover-process", "--type", "process", "--overwrite")
    assert created.returncode == 0, created.stderr
    deployed = _prefect(
        prefect_api, "deploy", "--all", env={"CUTOVER_CODE_DIR": str(ROOT), "CUTOVER_SOURCE_DSN": source_dsn}
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    declared = {d["name"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("migrate/migrate")
        assert deployment.work_pool_name == "cutover-process"
        assert deployment.parameters["source_block"] == "cutover-source"  # the block, never a DSN
        assert "source_dsn" not in deployment.parameters["request"]
        nightly = client.read_deployment_by_name("sync/nightly-sync")
        maintenance = client.read_deployment_by_name("maintain/maintain")
        names = {d.name for d in client.read_deployments()}
    assert declared <= names
    (schedule,) = nightly.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "UTC")  # type: ignore[union-attr]
    assert nightly.global_concurrency_limit is not None and nightly.global_concurrency_limit.limit == 1
    assert nightly.parameters["request"]["validate"] is True
    (after,) = maintenance.schedules
    assert (after.schedule.cron, after.schedule.timezone) == ("0 4 * * *", "UTC")  # type: ignore[union-attr]
    assert maintenance.parameters["request"]["retain_last"] == 10


def test_azure_prefect_file_uses_existing_steps_and_flows() -> None:
    config = yaml.safe_load((ROOT / "infra" / "prefect" / "prefect.azure.yaml").read_text())
    for section in ("push", "pull"):
        for step in config[section]:
            (path,) = step
            module, _, function = path.rpartition(".")
            assert callable(getattr(importlib.import_module(module), function)), path
    pools = {d["work_pool"]["name"] for d in config["deployments"]}
    assert pools == {"cutover-k8s", "cutover-aci"}
    for deployment in config["deployments"]:
        file, _, flow = deployment["entrypoint"].partition(":")
        assert (ROOT / file).exists() and f"def {flow}(" in (ROOT / file).read_text()
