"""Rollback: the library called directly, so it works while Prefect is down."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from cutover.api.deps import ControllerDep
from cutover.api.models import FlagChangeOut, RollbackOut, RollbackRequest, as_dict
from cutover.api.problems import problem_responses

router = APIRouter(tags=["rollback"])


@router.post("/rollback", responses=problem_responses(400, 503))
async def rollback(body: RollbackRequest, controller: ControllerDep) -> RollbackOut:
    """Reads back to PostgreSQL now: master switch off, percentage 0, optimization flags off (idempotent, audited)."""
    result = await run_in_threadpool(controller.rollback, actor=body.actor, reason=body.reason, entity=body.entity)
    return RollbackOut(
        entity=result.entity, actor=result.actor, reason=result.reason, audit_id=result.audit_id,
        audit_error=result.audit_error, changed=result.changed,
        changes=[FlagChangeOut(**as_dict(c), changed=c.changed) for c in result.changes],
    )  # fmt: skip
