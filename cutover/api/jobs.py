"""Jobs are Prefect flow runs of the `migrate` and `validate` deployments: start, read, cancel.

The request body overrides the deployment's own ``request`` parameter key by key; the source DSN always
comes from the deployment (or, failing that, the API's ``CUTOVER_SOURCE_DSN``), never from a caller, so
an API client cannot point a load at another database. Prefect and HTTP errors become
:class:`PrefectUnavailableError`; an id that is not a run of that deployment is :class:`NotFoundError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cutover.api.errors import InvalidJobStateError, NotFoundError, PrefectUnavailableError
from cutover.api.settings import ApiSettings
from cutover.config import Settings
from cutover.errors import ConfigError

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.objects import FlowRun

PROGRESS_KEY = "migrate-progress"
"""The progress artifact of flows/migrate.py (a test keeps the two in step)."""
REPORT_KEYS = ("migrate-report", "validate-report")


@dataclass(frozen=True)
class JobStatus:
    """A flow run as the API reports it."""

    id: UUID
    deployment: str
    state: str
    state_type: str
    message: str | None
    created: datetime | None
    started: datetime | None
    ended: datetime | None
    progress: float | None
    tables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state_type in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


class PrefectJobs:
    """Starts and reads flow runs through the Prefect client."""

    def __init__(self, api: ApiSettings, settings: Settings) -> None:
        self._api = api
        self._settings = settings

    @asynccontextmanager
    async def client(self) -> AsyncIterator[PrefectClient]:
        import httpx
        from prefect.client.orchestration import PrefectClient
        from prefect.exceptions import PrefectHTTPStatusError
        from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        url = self._api.prefect_api_url or PREFECT_API_URL.value()
        if not url:
            raise PrefectUnavailableError("no Prefect server configured (CUTOVER_PREFECT_API_URL or PREFECT_API_URL)")
        try:
            # Fail fast: an API caller would rather get a 503 now than wait out Prefect's backoff.
            with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: self._api.prefect_client_retries}):
                async with PrefectClient(url) as client:
                    yield client
        except (httpx.TransportError, PrefectHTTPStatusError) as exc:
            if isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code == 404:
                raise NotFoundError("not found in Prefect") from exc
            raise PrefectUnavailableError(f"Prefect at {url} failed: {exc}") from exc

    async def _deployment(self, client: PrefectClient, name: str) -> Any:
        from prefect.exceptions import ObjectNotFound

        try:
            return await client.read_deployment_by_name(name)
        except ObjectNotFound as exc:
            raise PrefectUnavailableError(f"deployment {name} is not deployed: run `prefect deploy --all`") from exc

    async def start(self, deployment_name: str, overrides: dict[str, Any], *, model: type[Any]) -> JobStatus:
        """Create a flow run of ``deployment_name`` with ``overrides`` merged into its ``request`` parameter.

        Raises:
            ConfigError: the merged request is invalid (e.g. no source DSN anywhere).
            PrefectUnavailableError: Prefect unreachable or the deployment missing.
        """
        async with self.client() as client:
            deployment = await self._deployment(client, deployment_name)
            request = dict((deployment.parameters or {}).get("request") or {})
            request.update(overrides)
            if not request.get("source_dsn"):
                request["source_dsn"] = self._settings.source_dsn
            try:
                checked = model.model_validate(request)
            except ValueError as exc:
                raise ConfigError(f"the job request is invalid: {exc}") from exc
            parameters = {"request": json.loads(checked.model_dump_json(by_alias=True))}
            run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
            return await self._status(client, run, deployment_name)

    async def status(self, deployment_name: str, run_id: UUID) -> JobStatus:
        async with self.client() as client:
            run = await self._run_of(client, deployment_name, run_id)
            return await self._status(client, run, deployment_name)

    async def cancel(self, deployment_name: str, run_id: UUID) -> JobStatus:
        """Ask Prefect to cancel the run (the worker stops it); a finished run cannot be cancelled.

        Raises:
            InvalidJobStateError: the run already finished.
        """
        from prefect.client.schemas.objects import State
        from prefect.states import Cancelled, Cancelling

        async with self.client() as client:
            run = await self._run_of(client, deployment_name, run_id)
            state_type = run.state.type.value if run.state else "PENDING"
            if state_type in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED"):
                raise InvalidJobStateError(f"job {run_id} already finished ({state_type.lower()})")
            # A run no worker picked up yet has nothing to stop: cancel it outright.
            target: State[Any] = Cancelled() if state_type in ("SCHEDULED", "PENDING") else Cancelling()
            await client.set_flow_run_state(run_id, target, force=True)
            return await self._status(client, await client.read_flow_run(run_id), deployment_name)

    async def _run_of(self, client: PrefectClient, deployment_name: str, run_id: UUID) -> FlowRun:
        from prefect.exceptions import ObjectNotFound

        deployment = await self._deployment(client, deployment_name)
        try:
            run = await client.read_flow_run(run_id)
        except ObjectNotFound as exc:
            raise NotFoundError(f"no job {run_id}") from exc
        if run.deployment_id != deployment.id:
            raise NotFoundError(f"no job {run_id} of {deployment_name}")
        return run

    async def _status(self, client: PrefectClient, run: FlowRun, deployment_name: str) -> JobStatus:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
        progress: float | None = None
        tables: list[dict[str, Any]] = []
        for artifact in artifacts:
            if artifact.key == PROGRESS_KEY and artifact.data is not None:
                progress = float(artifact.data)  # type: ignore[arg-type]
            elif artifact.key in REPORT_KEYS and artifact.data is not None:
                data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
                tables = [dict(row) for row in data] if isinstance(data, list) else []
        state = run.state
        return JobStatus(
            id=run.id,
            deployment=deployment_name,
            state=(state.name or state.type.value.title()) if state else "Pending",
            state_type=state.type.value if state else "PENDING",
            message=state.message if state else None,
            created=run.created,
            started=run.start_time,
            ended=run.end_time,
            progress=progress,
            tables=tables,
        )
