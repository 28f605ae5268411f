"""`cutover prefect setup` on a real server: idempotent, and enough for the Azure deployment file to deploy,
push its code to (Azurite) Blob Storage and pull it back the way a flow run does."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover import names
from tests.azurite import Azurite, running_azurite

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = "cutover-code"
PASSWORD = "Pr0d-S3cret-Pw"


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    with running_azurite() as service:
        service.create_container(CONTAINER)
        yield service


def _run(api: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PREFECT_API_URL": api, **(env or {})},
    )  # fmt: skip


def _with_password(dsn: str) -> str:
    return dsn.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def _outcomes(output: str) -> dict[str, str]:
    """name → outcome from the setup table (its rows: kind, name, outcome; columns two spaces apart)."""
    rows = [re.split(r"\s{2,}", line.strip()) for line in output.splitlines()]
    return {row[1]: row[2] for row in rows if len(row) == 3 and row[1] != "name"}


@pytest.mark.slow
def test_setup_azure_then_the_azure_file_deploys_pushes_and_pulls(
    prefect_api: str, azurite: Azurite, source_dsn: str, tmp_path: Path
) -> None:
    from azure.storage.blob import ContainerClient
    from prefect.client.orchestration import get_client
    from prefect.deployments.steps.core import run_steps
    from prefect_sqlalchemy import SqlAlchemyConnector

    from cutover.orchestration.source_block import dsn_of_connector

    setup = ["cutover.cli", "prefect", "setup", "--azure", "--code-connection-string", azurite.connection_string]
    first = _run(prefect_api, *setup, "--source-dsn", _with_password(source_dsn))
    assert first.returncode == 0, first.stdout + first.stderr
    outcomes = _outcomes(first.stderr)
    # The server is the session's: other tests may have made the process pool, the limits or the source
    # block already (then kept or updated); nothing else makes the Azure objects.
    assert set(outcomes) == {
        names.BLOCK_SOURCE, names.POOL_PROCESS, names.LIMIT_SOURCE_READS, names.LIMIT_ICEBERG_COMMITS,
        names.BLOCK_CODE_STORAGE, names.POOL_ACI, names.POOL_KUBERNETES,
    }  # fmt: skip
    assert {outcomes[n] for n in (names.BLOCK_CODE_STORAGE, names.POOL_ACI, names.POOL_KUBERNETES)} == {"created"}
    assert outcomes[names.BLOCK_SOURCE] in ("created", "updated") and "skipped" not in outcomes.values()
    again = _run(prefect_api, *setup)  # no DSN this time: the block is kept, nothing is duplicated
    assert again.returncode == 0, again.stderr
    assert set(_outcomes(again.stderr).values()) <= {"kept", "updated"}
    assert dsn_of_connector(SqlAlchemyConnector.load(names.BLOCK_SOURCE)) == _with_password(source_dsn)

    env = {"CUTOVER_CODE_CONTAINER": CONTAINER, "CUTOVER_IMAGE": "cutover:test"}
    deployed = _run(prefect_api, "prefect", "--no-prompt", "deploy", "--all",
                    "--prefect-file", "infra/prefect/prefect.azure.yaml", env=env)  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    pushed = {b.name for b in ContainerClient.from_connection_string(azurite.connection_string, CONTAINER).list_blobs()}
    assert "cutover/flows/migrate.py" in pushed and "cutover/cutover/load/scheduler.py" in pushed
    assert not any(name.startswith(("cutover/.venv/", "cutover/.git/", "cutover/node_modules/")) for name in pushed)

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("migrate/migrate-aci")
    assert deployment.work_pool_name == names.POOL_ACI
    assert deployment.parameters["source_block"] == names.BLOCK_SOURCE and PASSWORD not in str(deployment.parameters)
    assert deployment.pull_steps
    checkout = tmp_path / "flow-run"
    checkout.mkdir()
    os.chdir(checkout)  # the pull step writes into the working directory, as in a flow run's container
    try:
        asyncio.run(run_steps(deployment.pull_steps))
    finally:
        os.chdir(ROOT)
    assert (checkout / "flows" / "migrate.py").read_text() == (ROOT / "flows" / "migrate.py").read_text()


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres@/cutover_demo?host=/tmp/state/pgdata",  # a Unix socket (the embedded demo server)
        f"postgresql://app:{PASSWORD}@db.example.com:5433/app?sslmode=require",
    ],
    ids=["unix-socket", "tcp"],
)
def test_the_source_block_gives_back_the_dsn_it_was_given(dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from cutover.orchestration.source_block import connector_of_dsn, dsn_of_connector

    assert conninfo_to_dict(dsn_of_connector(connector_of_dsn(dsn))) == conninfo_to_dict(dsn)
