"""The migration controller app: wiring only (routers, the one exception handler, settings passed in)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cutover.api.problems import problem_handler
from cutover.api.routes import api_router, health_router
from cutover.api.services import Services
from cutover.api.settings import ApiSettings
from cutover.config import Settings
from cutover.errors import CutoverError
from cutover.flags import FlagSettings


def create_app(
    api_settings: ApiSettings | None = None,
    settings: Settings | None = None,
    flag_settings: FlagSettings | None = None,
) -> FastAPI:
    """The FastAPI app; settings default to the environment, read now (at call time), never at import.

    Raises:
        pydantic.ValidationError: ``CUTOVER_API_TOKEN`` missing or shorter than 16 characters.
    """
    services = Services(settings or Settings(), flag_settings or FlagSettings(), api_settings or ApiSettings())  # type: ignore[call-arg]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="cutover migration controller",
        version="1",
        description="Start and follow migrations and validations (Prefect flow runs), roll back, and manage flags.",
        lifespan=lifespan,
    )
    app.state.services = services
    for kind in (RequestValidationError, StarletteHTTPException, CutoverError, Exception):
        app.add_exception_handler(kind, problem_handler)
    app.include_router(health_router)
    app.include_router(api_router)
    return app
