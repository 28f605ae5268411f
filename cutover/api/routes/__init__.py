"""Every router of the API, collected in one place (main.py includes :data:`api_router` and :data:`health_router`)."""

from fastapi import APIRouter

from cutover.api.deps import Authorized
from cutover.api.problems import problem_responses
from cutover.api.routes import flags, health, jobs, rollback, validations

api_router = APIRouter(prefix="/api/v1/migration", dependencies=[Authorized], responses=problem_responses(401, 422))
api_router.include_router(jobs.router)
api_router.include_router(validations.router)
api_router.include_router(rollback.router)
api_router.include_router(flags.router)

health_router = APIRouter()
health_router.include_router(health.router)

__all__ = ["api_router", "health_router"]
