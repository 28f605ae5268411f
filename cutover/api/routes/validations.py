"""Validation jobs: Prefect flow runs of the `validate` deployment."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from cutover.api.deps import JobsDep, ServicesDep
from cutover.api.models import Job, ValidationJobRequest
from cutover.api.problems import problem_responses
from cutover.api.routes.jobs import job_out

router = APIRouter(tags=["validations"])


@router.post("/validate", status_code=202, responses=problem_responses(400, 503))
async def start_validation(body: ValidationJobRequest, jobs: JobsDep, services: ServicesDep, response: Response) -> Job:
    """Validate Iceberg against PostgreSQL: a flow run of the `validate` deployment."""
    from cutover.validation import ValidationRequest

    overrides = body.model_dump(exclude_none=True, by_alias=True)
    status = await jobs.start(services.api.validate_deployment, overrides, model=ValidationRequest)
    response.headers["Location"] = f"/api/v1/migration/validations/{status.id}"
    return job_out(status)


@router.get("/validations/{validation_id}", responses=problem_responses(404, 503))
async def get_validation(validation_id: UUID, jobs: JobsDep, services: ServicesDep) -> Job:
    """State and per-table outcome of a validation job."""
    return job_out(await jobs.status(services.api.validate_deployment, validation_id))
