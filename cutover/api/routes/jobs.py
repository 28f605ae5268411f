"""Migration jobs: Prefect flow runs of the `migrate` deployment."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from cutover.api.deps import JobsDep, ServicesDep
from cutover.api.jobs import JobStatus
from cutover.api.models import Job, MigrationJobRequest
from cutover.api.problems import problem_responses

router = APIRouter(prefix="/jobs", tags=["jobs"])


def job_out(status: JobStatus) -> Job:
    return Job(
        id=status.id, deployment=status.deployment, state=status.state, state_type=status.state_type,
        finished=status.finished, message=status.message, created=status.created, started=status.started,
        ended=status.ended, progress=status.progress, tables=status.tables,  # type: ignore[arg-type]
    )  # fmt: skip


@router.post("", status_code=202, responses=problem_responses(400, 503))
async def start_migration(body: MigrationJobRequest, jobs: JobsDep, services: ServicesDep, response: Response) -> Job:
    """Start a full load: a flow run of the `migrate` deployment (returns at once; poll the job)."""
    from cutover.load.runner import MigrationRequest

    overrides = body.model_dump(exclude_none=True, by_alias=True)
    status = await jobs.start(services.api.migrate_deployment, overrides, model=MigrationRequest)
    response.headers["Location"] = f"/api/v1/migration/jobs/{status.id}"
    return job_out(status)


@router.get("/{job_id}", responses=problem_responses(404, 503))
async def get_migration(job_id: UUID, jobs: JobsDep, services: ServicesDep) -> Job:
    """State, progress (percent of batches committed) and per-table counts of a migration job."""
    return job_out(await jobs.status(services.api.migrate_deployment, job_id))


@router.post("/{job_id}/cancel", status_code=202, responses=problem_responses(404, 409, 503))
async def cancel_migration(job_id: UUID, jobs: JobsDep, services: ServicesDep) -> Job:
    """Cancel a migration job; committed batches stay committed (a later `resume` run skips them)."""
    return job_out(await jobs.cancel(services.api.migrate_deployment, job_id))
