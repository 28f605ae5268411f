"""What every job flow shares: its set-up (catalog, telemetry, limits), progress, and its ending."""

from __future__ import annotations

import time
from typing import Any, TypeVar
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run

from cutover.config import CatalogConfig, Settings
from cutover.errors import CutoverError
from cutover.orchestration.limits import ensure_concurrency_limits
from cutover.orchestration.source_block import load_source_dsn
from cutover.reporting import RunReport
from cutover.source.selection import TableSelection
from cutover.telemetry import configure_from_environment
from cutover.validation import ValidationReport

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


def finish_job(
    report: RunReport[Any], validation: ValidationReport | None, *, verb: str, past: str
) -> dict[str, object]:
    """The flow's return value, or a failure (after the reports are written) naming every table that
    did not ``verb``, or that ``past`` but did not validate."""
    failed = report.not_ok()
    if failed:
        raise CutoverError(f"{len(failed)} table(s) did not {verb}: {', '.join(failed)}")
    if validation is not None and not validation.ok:
        invalid = [t.source_table for t in validation.tables if not t.passed]
        raise CutoverError(f"{past}, but {len(invalid)} table(s) did not validate: {', '.join(invalid)}")
    return report.to_json() | ({"validation": validation.to_json()} if validation else {})
