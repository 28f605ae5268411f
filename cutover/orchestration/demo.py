"""`cutover demo --prefect`: the demo's jobs as deployment runs on a temporary local Prefect server.

A server (SQLite, under ``<state>/prefect``, UI on), `cutover prefect setup` (the source block, the
`cutover-process` pool, the limits), `prefect deploy` of the deployments in ``prefect.yaml`` the story
needs (their schedules paused: the story runs the sync itself), and a process worker. Migrate, validate, sync and the rollout steps are then runs of those
deployments; the rollback is the one the `rollback` deployment's trigger starts on the
`cutover.validation.failed` event: the demo only waits for it. The story reads each run's table
artifacts for its summaries, so what it prints is what the UI shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cutover.demo.jobs import DemoStepError, JobOutcome, RollbackOutcome, Rows
from cutover.errors import ConfigError, CutoverError
from cutover.orchestration.local import OFFLINE, free_port, start_server, start_worker, stop_group

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

    from cutover.demo.source import DemoSource
    from cutover.demo.story import DemoConfig
    from cutover.load.runner import MigrationRequest
    from cutover.rollout.store import ControlStore
    from cutover.sync import SyncRequest
    from cutover.validation import ValidationRequest

PREFECT_DIR = "prefect"
"""The server's home under the state directory (its SQLite database, logs, the kept processes)."""
PROCESSES_FILE = "processes.json"
DEPLOYMENTS = ("migrate", "validate", "nightly-sync", "rollout-step", "rollback")
"""The deployments of ``prefect.yaml`` the story runs (the others are not deployed)."""
RUN_TIMEOUT_SECONDS = 900.0
AUTOMATION_WAIT_SECONDS = 180.0


@dataclass(frozen=True)
class PrefectWorkspace:
    """The temporary server and its worker."""

    api_url: str
    ui_url: str
    home: Path
    server_pid: int
    worker_pid: int


def repository_root() -> Path:
    """The checkout holding ``prefect.yaml`` and the flows (deployments run the code from there).

    Raises:
        ConfigError: cutover runs from an installed wheel, without the repository.
    """
    import flows

    root = Path(flows.__file__).resolve().parents[1]
    if not (root / "prefect.yaml").is_file():
        raise ConfigError(f"`cutover demo --prefect` needs a checkout of the repository (no prefect.yaml in {root})")
    return root


@contextmanager
def prefect_demo(config: DemoConfig, source: DemoSource, store: ControlStore, *, keep: bool) -> Iterator[PrefectJobs]:
    """A fresh server, the deployments and a worker; yields the jobs. Both processes are stopped on leaving
    unless ``keep`` (then :func:`stop_prefect` stops them, from the state directory's record).

    Raises:
        ConfigError: no checkout, or the server did not start.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    root = repository_root()
    home = config.state_dir.resolve() / PREFECT_DIR
    stop_prefect(config.state_dir)
    shutil.rmtree(home, ignore_errors=True)
    (home / "server").mkdir(parents=True)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    record = home / PROCESSES_FILE
    server = start_server(home / "server", ui=True, port=port)  # stopped by itself if it does not come up
    processes = [server.process]
    ready = False
    try:
        record.write_text(json.dumps({"api": api, "pids": [server.process.pid]}))
        env = _worker_env(config, source, root, home, api)
        with temporary_settings(updates={PREFECT_API_URL: api, PREFECT_HOME: str(home / "client")}):
            from cutover.orchestration.setup import prefect_setup

            prefect_setup(source.dsn)
            _deploy(root, env)
            _pause_schedules()
            worker = start_worker(api, home / "worker.log", env, root)
            processes.append(worker)
            record.write_text(json.dumps({"api": api, "pids": [p.pid for p in processes]}))
            workspace = PrefectWorkspace(api, server.ui_url, home, server.process.pid, worker.pid)
            ready = True
            yield PrefectJobs(workspace, config, store)
    finally:
        if not (keep and ready):  # a set-up that failed leaves nothing running
            for process in reversed(processes):
                stop_group(process.pid, process)
            record.unlink(missing_ok=True)


def stop_prefect(state_dir: Path) -> bool:
    """Stop a kept server and worker of an earlier `--prefect --keep`; False when none was recorded."""
    record = state_dir.resolve() / PREFECT_DIR / PROCESSES_FILE
    if not record.exists():
        return False
    for pid in reversed(json.loads(record.read_text()).get("pids", [])):
        if _is_prefect(pid):
            stop_group(pid)
    record.unlink()
    return True


class PrefectJobs:
    """The story's jobs as deployment runs; summaries from each run's table artifacts."""

    def __init__(self, workspace: PrefectWorkspace, config: DemoConfig, store: ControlStore) -> None:
        self.workspace, self.config, self.store = workspace, config, store

    def migrate(self, request: MigrationRequest) -> JobOutcome:
        run = self._run("migrate/migrate", {"request": _parameters(request)})
        return JobOutcome(self._table("migrate-report", run), run=run.name)

    def validate(self, request: ValidationRequest) -> JobOutcome:
        # A failed validation ends the run Failed: that is a verdict, not a broken run.
        run = self._run("validate/validate", {"request": _parameters(request)}, failed_is_ok=True)
        return JobOutcome(self._table("validate-report", run), run=run.name)

    def sync(self, request: SyncRequest) -> JobOutcome:
        parameters = _parameters(request) | {"validate": True}
        run = self._run("sync/nightly-sync", {"request": parameters})
        return JobOutcome(self._table("sync-report", run), self._table("validate-report", run), run.name)

    def rollout_step(self, entity: str, reason: str) -> str | None:
        parameters = {"entity": entity, "reason": reason, "actor": self.config.actor}
        return self._run("rollout-step/rollout-step", parameters).name

    def rollback(self, entity: str, reason: str, audit_after: int) -> RollbackOutcome:
        """Wait for the rollback the automation starts (``reason`` is the automation's, from the event)."""
        deadline = time.monotonic() + AUTOMATION_WAIT_SECONDS
        while True:
            entries = [e for e in self.store.audit_log(action="rollback", entity=entity, limit=5) if e.id > audit_after]
            if entries:
                entry = entries[-1]
                return RollbackOutcome(entry.id, entry.actor, entry.reason, self._latest_run("rollback"))
            if time.monotonic() > deadline:
                raise DemoStepError(
                    f"no rollback of {entity} within {AUTOMATION_WAIT_SECONDS:.0f} s of the failed validation "
                    f"(see the automations and {self.workspace.home / 'worker.log'})"
                )
            time.sleep(0.5)

    def _run(self, deployment: str, parameters: dict[str, Any], *, failed_is_ok: bool = False) -> FlowRun:
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        run = run_deployment(
            deployment, parameters=parameters, timeout=RUN_TIMEOUT_SECONDS, poll_interval=1, as_subflow=False
        )
        assert isinstance(run, FlowRun)  # the sync API
        state = run.state
        if state is None or not (state.is_completed() or (failed_is_ok and state.is_failed())):
            raise DemoStepError(
                f"the {deployment} run {run.name} ended {state.name if state else 'without a state'}: "
                f"{state.message if state else ''} (see {self.workspace.ui_url}/runs/flow-run/{run.id})"
            )
        return run

    def _table(self, key: str, run: FlowRun) -> Rows:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]), key=ArtifactFilterKey(any_=[key])
                )
            )
        if not found:
            raise DemoStepError(f"the run {run.name} left no {key} artifact")
        data = found[0].data
        rows = json.loads(data) if isinstance(data, str) else data
        if not isinstance(rows, list):
            raise CutoverError(f"the {key} artifact of {run.name} is not a table")
        return rows

    def _latest_run(self, deployment: str) -> str | None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
        from prefect.client.schemas.sorting import FlowRunSort

        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
        return runs[0].name if runs else None


def _parameters(request: Any) -> dict[str, Any]:
    """A request as deployment parameters: no DSN (the flow reads the source block)."""
    data: dict[str, Any] = request.model_dump(mode="json", by_alias=True, exclude={"source_dsn"})
    return data


def _worker_env(config: DemoConfig, source: DemoSource, root: Path, home: Path, api: str) -> dict[str, str]:
    """What the flow runs see: the demo's catalog, flags and control store, and its gates; no source DSN
    (the runs read the `cutover-source` block, as in production)."""
    policy = config.gate_policy()
    catalog = config.catalog
    env = {k: v for k, v in os.environ.items() if k != "CUTOVER_SOURCE_DSN"}
    return env | OFFLINE | {
        "PREFECT_API_URL": api, "PREFECT_HOME": str(home / "worker"), "PREFECT_WORKER_QUERY_SECONDS": "0.5",
        "CUTOVER_CODE_DIR": str(root), "CUTOVER_CATALOG_URI": catalog.uri, "CUTOVER_WAREHOUSE": catalog.warehouse,
        "CUTOVER_FLAGS_FILE": str(config.flags_file), "CUTOVER_CONTROL_DSN": source.dsn,
        "CUTOVER_ROLLOUT_STEPS": ",".join(str(p) for p in config.percent_steps),
        "CUTOVER_ROLLOUT_MIN_SOAK_HOURS": str(policy.min_soak.total_seconds() / 3600),
        "CUTOVER_ROLLOUT_MIN_SHADOW_READS": str(policy.min_shadow_reads),
    }  # fmt: skip


def _deploy(root: Path, env: dict[str, str]) -> None:
    argv = [sys.executable, "-m", "prefect", "--no-prompt", "deploy"]
    for name in DEPLOYMENTS:
        argv += ["--name", name]
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise CutoverError(f"prefect deploy failed: {(done.stdout + done.stderr)[-2000:]}")


def _pause_schedules() -> None:
    """The story runs the nightly sync itself: its cron would only add runs that a kept worker starts at 02:00.
    Deactivating a schedule also deletes the runs already scheduled from it."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            for schedule in client.read_deployment_schedules(deployment.id):
                client.update_deployment_schedule(deployment.id, schedule.id, active=False)


def _is_prefect(pid: int) -> bool:
    """Whether ``pid`` still is a Prefect process (a recorded pid may have been reused since)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return b"prefect" in cmdline.read_bytes()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): the process group exists, trust the record
        return True
