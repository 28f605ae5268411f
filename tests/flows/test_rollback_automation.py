"""End to end on a real Prefect server and worker: a failed validation fires exactly one rollback.

validation fails (a corrupted Iceberg row) → `cutover.validation.failed` → the `rollback` deployment's
trigger creates a run → a process worker runs it → the flags read off and the audit row has the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from cutover import names
from cutover.config import CatalogConfig
from cutover.flags.local_file import LocalFlagFile
from cutover.flags.service import MutableFeatureFlagService
from cutover.rollout import ControlStore
from tests.prefect_workers import deployed_worker

ENTITY = "lake.orders"


@pytest.fixture
def worker(prefect_api: str, source_dsn: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Deployments from prefect.yaml and a process worker whose flow runs see this test's flag file."""
    env = {"CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_FLAGS_FILE": str(tmp_path / "flags.json")}
    with deployed_worker(prefect_api, tmp_path, env):
        yield env


def _fail_a_validation(source: psycopg.Connection, source_dsn: str, catalog: CatalogConfig) -> float:
    """Migrate, corrupt one Iceberg row, validate: returns the time the failed event was emitted."""
    from cutover.validation import ValidationRequest
    from flows.validate import validate
    from tests.helpers import migrate

    source.execute("create table orders (id int primary key, amount numeric(10,2))")
    source.execute("insert into orders select g, g from generate_series(1, 1000) g")
    assert migrate(source_dsn, catalog, ["orders"]).ok
    from pyiceberg.expressions import EqualTo

    from cutover.lake.catalog import open_catalog

    table = open_catalog(catalog).load_table(("lake", "orders"))
    row = table.scan(row_filter=EqualTo("id", 7)).to_arrow()
    table.overwrite(row.set_column(1, "amount", [[row["amount"][0].as_py() + 1]]), overwrite_filter=EqualTo("id", 7))
    emitted = time.monotonic()
    request = ValidationRequest(source_dsn=source_dsn, tables=["orders"], namespace="lake", expectations_dir=None)
    state = validate(request, catalog, return_state=True)
    assert state.is_failed()  # the corrupted row fails the table; its event fires the rollback
    return emitted


@pytest.mark.slow
def test_failed_validation_fires_exactly_one_rollback(
    worker: dict[str, str], source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, FlowRunFilter

    flags = MutableFeatureFlagService(LocalFlagFile(Path(worker["CUTOVER_FLAGS_FILE"])))
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="rollout", entity=ENTITY)
    flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, 25, actor="ops", reason="rollout", entity=ENTITY)

    started_at = datetime.now(UTC)
    emitted = _fail_a_validation(source, source_dsn, catalog_config)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        flags.refresh()
        # The rollback writes flag after flag: wait for the last one, not the first.
        if flags.state(names.FLAG_USE_ICEBERG_BACKEND, ENTITY).value is False and flags.percentage(entity=ENTITY) == 0:
            break
        time.sleep(0.2)
    seconds = time.monotonic() - emitted
    print(f"\nevent → flags off: {seconds:.1f} s")  # a figure for the report, not an assertion
    assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, ENTITY).value is False
    assert flags.percentage(entity=ENTITY) == 0

    # The audit row is written right after the flags: wait for it rather than race the worker.
    store = ControlStore(source_dsn)
    while not (mine := [e for e in store.audit_log(action="rollback", limit=20) if e.entity == ENTITY]):
        assert time.monotonic() < deadline, "the rollback left no audit row"
        time.sleep(0.2)
    entry = mine[0]
    assert entry.actor == "automation:cutover.validation.failed"
    assert entry.reason.startswith("validation failed: ")

    time.sleep(5)  # a second trigger firing would have created its run by now
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["rollback"])),
            flow_run_filter=FlowRunFilter(),
        )
    runs_for_event = [
        r
        for r in runs
        if (r.parameters or {}).get("entity") == f"{names.TABLE_RESOURCE_PREFIX}{ENTITY}" and r.created >= started_at
    ]
    assert len(runs_for_event) == 1, [(r.name, r.state_name) for r in runs_for_event]
