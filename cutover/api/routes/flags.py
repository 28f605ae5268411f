"""Feature flags, read and written through the flag service (writes audited with actor and reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from cutover.api.deps import FlagsDep
from cutover.api.models import FlagChangeOut, FlagStateOut, FlagUpdate, as_dict
from cutover.api.problems import problem_responses

router = APIRouter(prefix="/flags", tags=["flags"])


@router.get("", responses=problem_responses(400, 503))
async def list_flags(
    flags: FlagsDep,
    entity: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")] = None,
) -> list[FlagStateOut]:
    """Every flag's effective state: for one entity, or globally plus each scoped override."""

    def read() -> list[FlagStateOut]:
        flags.refresh()
        return [FlagStateOut(**as_dict(s)) for s in flags.snapshot(entity)]

    return await run_in_threadpool(read)


@router.put("", responses=problem_responses(400, 409, 503))
async def set_flag(body: FlagUpdate, flags: FlagsDep) -> FlagChangeOut:
    """Set one flag (globally, or for an entity); needs actor and reason, recorded in the audit trail."""
    change = await run_in_threadpool(
        flags.set, body.flag, body.value, actor=body.actor, reason=body.reason, entity=body.entity
    )
    return FlagChangeOut(**as_dict(change), changed=change.changed)
