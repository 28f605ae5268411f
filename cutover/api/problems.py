"""RFC 9457 problem documents: the one shape every error response of the API takes.

One handler (:func:`problem_handler`) turns every exception into a problem document: cutover errors by
type (:data:`STATUS_BY_ERROR`), FastAPI's validation errors into 422 with the offending fields, Starlette's
HTTP errors (404 for an unknown path, 405) as they are, anything else into a 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from cutover.api.errors import AuthError, InvalidJobStateError, NotFoundError, PrefectUnavailableError
from cutover.errors import ConfigError, CutoverError, TransientError
from cutover.flags.errors import FlagAuthError, FlagConflictError

logger = logging.getLogger(__name__)
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://cutover.dev/problems/"

STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (AuthError, 401),
    (NotFoundError, 404),
    (InvalidJobStateError, 409),
    (FlagConflictError, 409),
    (FlagAuthError, 502),
    (ConfigError, 400),
    (PrefectUnavailableError, 503),
    (TransientError, 503),
    (CutoverError, 500),
)
"""First match wins; a subclass must come before its base."""


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong this time.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(default=None, description="For 422: each invalid field.")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(status: int, detail: str | None, request: Request | None = None, **extra: Any) -> ProblemResponse:
    phrase = HTTPStatus(status).phrase
    body = {
        "type": f"{PROBLEM_TYPE_BASE}{phrase.lower().replace(' ', '-')}",
        "title": phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path if request is not None else None,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return ProblemResponse({k: v for k, v in body.items() if v is not None}, status_code=status, headers=headers)


def status_of(exc: Exception) -> int:
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


async def problem_handler(request: Request, exc: Exception) -> ProblemResponse:
    """The API's one exception handler."""
    if isinstance(exc, RequestValidationError):
        errors = [
            {
                "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
                "msg": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        return problem(422, "the request is malformed", request, errors=errors)
    if isinstance(exc, StarletteHTTPException):
        return problem(exc.status_code, str(exc.detail) if exc.detail else None, request)
    if isinstance(exc, CutoverError):
        status = status_of(exc)
        if status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc)
        return problem(status, str(exc), request)
    logger.exception("%s %s crashed", request.method, request.url.path)
    return problem(500, "internal error (logged on the server)", request)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem documents for ``statuses``."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
