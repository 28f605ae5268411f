"""Flow `rollout-step`: advance one entity one stage when its gates hold; a person approves live/complete."""

from __future__ import annotations

from prefect import flow, get_run_logger, pause_flow_run
from prefect.artifacts import create_markdown_artifact
from prefect.input import RunInput

from cutover.rollout.stages import APPROVAL_STAGES
from tasks.rollout import controller, rollout_step_task


class Approval(RunInput):
    """What the approver fills in in the Prefect UI."""

    approve: bool
    approver: str
    note: str = ""


@flow(name="rollout-step", log_prints=False)
def rollout_step(
    entity: str, actor: str = "prefect", reason: str = "scheduled rollout step", proceed: bool = False,
    approval_timeout_seconds: int = 24 * 3600,
) -> dict[str, object]:  # fmt: skip
    """One step of the ladder; steps into live/complete pause for approval unless ``proceed`` is true."""
    logger = get_run_logger()
    status = controller().status(entity)
    approver: str | None = actor if proceed else None
    if status.next_stage in APPROVAL_STAGES and not proceed:
        logger.info("%s: the step %s → %s waits for approval", entity, status.stage, status.next_stage)
        answer = pause_flow_run(wait_for_input=Approval, timeout=approval_timeout_seconds)
        if not answer.approve:
            return {"entity": entity, "applied": False, "reason": f"not approved by {answer.approver}: {answer.note}"}
        approver = answer.approver
    result = rollout_step_task(entity, actor, reason, approver)
    create_markdown_artifact(
        key="rollout-step",
        markdown="\n".join(
            [
                f"# {entity}: {result.before} → {result.after}",
                "",
                f"applied: {result.applied}",
                "",
                "| gate | ok | detail |",
                "|---|---|---|",
            ]
            + [f"| {g.name} | {'yes' if g.passed else 'no'} | {g.detail} |" for g in result.gates.results]
        ),
    )
    return {
        "entity": entity,
        "before": result.before,
        "after": result.after,
        "applied": result.applied,
        "reason": result.reason,
    }
