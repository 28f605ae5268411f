"""What every job flow shares: its set-up (catalog, telemetry, limits), progress, and its ending."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run

from cutover.config import CatalogConfig, Settings
from cutover.errors import CutoverError
from cutover.orchestration.cluster import ClusterConfig, cluster_from_environment, started_task_runner
from cutover.orchestration.limits import ensure_concurrency_limits
from cutover.orchestration.source_block import load_source_dsn
from cutover.reporting import RunReport
from cutover.source.selection import TableSelection
from cutover.telemetry import configure_from_environment
from cutover.validation import ValidationReport
from tasks.common import SourceRef, Submit, submitter

S = TypeVar("S", bound=TableSelection)


def start_job(catalog: CatalogConfig | None) -> CatalogConfig:
    """Telemetry and the global concurrency limits set up; the catalog given, else the environment's
    (``CUTOVER_CATALOG_URI`` / ``CUTOVER_WAREHOUSE``, else the embedded default)."""
    configure_from_environment()
    ensure_concurrency_limits()
    return catalog or Settings().catalog()


def with_source(request: S, source_block: str) -> S:
    """The request reading from its own ``source_dsn`` (in-process runs), else from the named block.

    A deployment names the block and leaves the DSN out, so the password lives only in the block's
    secret field and in this process, never in a deployment's or flow run's parameters.
    """
    if request.source_dsn:
        return request
    return request.with_source(load_source_dsn(source_block))


@dataclass(frozen=True)
class Steps:
    """Where a job's steps run: ``submit`` starts one, ``remote`` says whether it leaves this process."""

    submit: Submit
    remote: bool = False

    def source(self, given: TableSelection, source_block: str, resolved: TableSelection) -> SourceRef:
        """How the steps reach the source: the DSN in-process or when the caller gave one; the block's
        name when the steps travel to a cluster, so no password leaves the flow process."""
        if self.remote and not given.source_dsn:
            return SourceRef(block=source_block)
        return SourceRef(dsn=resolved.source_dsn)


@contextmanager
def job_steps(cluster: ClusterConfig | None) -> Iterator[Steps]:
    """The flow's own task runner, or the Dask cluster given (else named by ``CUTOVER_DASK_ADDRESS``),
    connected for the job's duration.

    Raises:
        ClusterUnavailableError: the scheduler is unreachable (before any step ran).
    """
    chosen = cluster_from_environment(cluster)
    if chosen is None:
        yield Steps(submitter())
        return
    get_run_logger().info("running the job's steps on the Dask cluster at %s", chosen.describe())
    with started_task_runner(chosen) as runner:
        yield Steps(submitter(runner), remote=True)


def current_run_id() -> str:
    """The flow run's id, the run id of every report it writes ("local" outside a flow run)."""
    return str(flow_run.get_id() or "local")


class Progress:
    """A progress artifact the UI shows while the job runs, finished at 100 % by :meth:`done`.

    Updates come from the scheduling loop after every step; they reach the server at most once per
    ``interval`` seconds, so a run of many small tables does not wait on an API call per table.
    """

    def __init__(self, key: str, description: str, interval: float = 1.0) -> None:
        artifact = create_progress_artifact(0.0, key=key, description=description)
        assert isinstance(artifact, UUID)  # the sync API, in a sync flow
        self._id, self._interval, self._sent = artifact, interval, time.monotonic()

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._sent >= self._interval:
            update_progress_artifact(self._id, 100.0 * done / max(total, 1))
            self._sent = now

    def done(self) -> None:
        update_progress_artifact(self._id, 100.0)


class JobFailedError(CutoverError):
    """A job that ran to its end but left some table not done; carries the run's JSON report, so a
    caller running the flow in-process (the CLI on a cluster) can still show every table's outcome."""

    def __init__(self, message: str, report: dict[str, object]) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.report)


def finish_job(
    report: RunReport[Any], validation: ValidationReport | None, *, verb: str, past: str
) -> dict[str, object]:
    """The flow's return value, or a failure (after the reports are written) naming every table that
    did not ``verb``, or that ``past`` but did not validate."""
    result = report.to_json() | ({"validation": validation.to_json()} if validation else {})
    failed = report.not_ok()
    if failed:
        raise JobFailedError(f"{len(failed)} table(s) did not {verb}: {', '.join(failed)}", result)
    if validation is not None and not validation.ok:
        invalid = [t.source_table for t in validation.tables if not t.passed]
        raise JobFailedError(f"{past}, but {len(invalid)} table(s) did not validate: {', '.join(invalid)}", result)
    return result
