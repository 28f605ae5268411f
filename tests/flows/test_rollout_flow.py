"""The `rollout-step` flow pauses for a person before `live`, and records who approved."""

from __future__ import annotations

import contextvars
import threading
import time
from pathlib import Path

import pytest

from cutover import names
from cutover.flags.local_file import LocalFlagFile
from cutover.flags.service import MutableFeatureFlagService
from cutover.rollout import ControlStore

ENTITY = "lake.accounts"


@pytest.mark.slow
def test_step_into_live_waits_for_approval_and_audits_the_approver(
    prefect_api: str, source_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )
    from prefect.flow_runs import resume_flow_run

    from flows.rollout import rollout_step

    flag_file = tmp_path / "flags.json"
    for key, value in {
        "CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_FLAGS_FILE": str(flag_file), "CUTOVER_ROLLOUT_STEPS": "50",
        "CUTOVER_ROLLOUT_MIN_SOAK_HOURS": "0", "CUTOVER_ROLLOUT_MIN_SHADOW_READS": "0",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    store = ControlStore(source_dsn)
    store.record_validation(entity=ENTITY, run_id="v1", passed=True, success_percent=100.0, reason="ok")
    flags = MutableFeatureFlagService(LocalFlagFile(flag_file))
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="shadow", entity=ENTITY)
    flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, 50, actor="ops", reason="50 %", entity=ENTITY)

    outcome: dict[str, object] = {}
    # Copy the context: Prefect's settings (the test server's URL) live in context variables.
    context = contextvars.copy_context()
    runner = threading.Thread(
        target=lambda: context.run(lambda: outcome.update(rollout_step(ENTITY, actor="ci", reason="go live")))
    )
    runner.start()
    paused = None
    deadline = time.monotonic() + 45
    with get_client(sync_client=True) as client:
        while paused is None and time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["rollout-step"])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Paused"]))),
            )
            paused = next((r for r in runs if r.parameters.get("entity") == ENTITY), None)
            time.sleep(0.3)
    if paused is None:
        with get_client(sync_client=True) as client:
            seen = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["rollout-step"])))
        pytest.fail(f"the step into live did not pause: {[(r.state_name, r.parameters) for r in seen]}")
    flags.refresh()
    assert flags.percentage(entity=ENTITY) == 50  # nothing changes before the approval
    resume_flow_run(paused.id, run_input={"approve": True, "approver": "alice", "note": "dashboards green"})
    runner.join(timeout=90)
    assert outcome.get("after") == "live" and outcome.get("applied") is True, outcome
    flags.refresh()
    assert flags.percentage(entity=ENTITY) == 100
    step = store.audit_log(entity=ENTITY, action="rollout.step", limit=1)[0]
    assert step.after == {"stage": "live", "approved_by": "alice"} and step.actor == "ci"
