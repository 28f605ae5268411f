"""`Annotated` dependency aliases: a handler declares what it needs, the checks live here once."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cutover.api.errors import AuthError
from cutover.api.jobs import PrefectJobs
from cutover.api.services import Services
from cutover.flags import MutableFeatureFlagService
from cutover.rollout import RolloutController

_bearer = HTTPBearer(auto_error=False, description="The token configured in CUTOVER_API_TOKEN.")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_token(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Refuse a request without the configured bearer token (compared in constant time).

    Raises:
        AuthError: no ``Authorization: Bearer`` header, or another token.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("a bearer token is required (Authorization: Bearer <CUTOVER_API_TOKEN>)")
    expected = services.api.api_token.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise AuthError("the bearer token is not valid")


def get_flags(services: ServicesDep) -> MutableFeatureFlagService:
    return services.flags


def get_controller(services: ServicesDep) -> RolloutController:
    return services.controller


def get_jobs(services: ServicesDep) -> PrefectJobs:
    return services.jobs


Authorized = Depends(require_token)
FlagsDep = Annotated[MutableFeatureFlagService, Depends(get_flags)]
ControllerDep = Annotated[RolloutController, Depends(get_controller)]
JobsDep = Annotated[PrefectJobs, Depends(get_jobs)]
