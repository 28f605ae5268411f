"""Flow `rollback`: send reads back to PostgreSQL, audited, with an event and an alert.

Fired by the `rollback` deployment's trigger on `cutover.validation.failed` (one run per failed
validation), or by hand. The CLI and the API call the same library function directly, so a rollback
needs no Prefect server.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.events import emit_event

from cutover import names
from cutover.errors import CutoverError
from cutover.telemetry import configure_from_environment
from tasks.rollout import rollback_task


def entity_from(value: str | None) -> str | None:
    """Accept ``namespace.table`` or the event resource id ``cutover.table.namespace.table``."""
    if not value or value in ("None", "all"):
        return None
    return value.removeprefix(names.TABLE_RESOURCE_PREFIX)


@flow(name="rollback", log_prints=False)
def rollback(
    reason: str, entity: str | None = None, actor: str = "prefect-automation", validation_run_id: str | None = None
) -> dict[str, object]:
    """Master switch off, percentage 0, optimization flags off — for one entity, or all when none is given."""
    configure_from_environment()
    logger = get_run_logger()
    target = entity_from(entity)
    if validation_run_id and validation_run_id != "None":
        reason = f"{reason} (validation run {validation_run_id})"
    result = rollback_task(target, actor, reason)
    resource = f"{names.TABLE_RESOURCE_PREFIX}{target}" if target else "cutover.all"
    emit_event(
        event=names.EVENT_ROLLBACK_COMPLETED,
        resource={"prefect.resource.id": resource},
        payload={
            "entity": target,
            "actor": actor,
            "reason": reason,
            "audit_id": result.audit_id,
            "changed": result.changed,
        },
    )
    logger.error("ROLLBACK of %s by %s: %s (audit #%s)", target or "every entity", actor, reason, result.audit_id)
    create_markdown_artifact(
        key="rollback-report",
        markdown=(
            f"# Rollback of {target or 'every entity'}\n\n* actor: {actor}\n* reason: {reason}\n"
            f"* audit id: {result.audit_id}\n* flags changed: {sum(c.changed for c in result.changes)}\n"
        ),
        description="Reads sent back to PostgreSQL",
    )
    if result.audit_error is not None:  # the flags are off; the run ends Failed so the missing record is seen
        raise CutoverError(f"rollback of {target or 'every entity'} done, but not audited: {result.audit_error}")
    return {"entity": target, "audit_id": result.audit_id, "changed": result.changed}
