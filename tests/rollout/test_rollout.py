"""Staged rollout and rollback against a real flag file and a real control store in PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cutover import names
from cutover.errors import ConfigError
from cutover.flags.local_file import LocalFlagFile
from cutover.flags.service import MutableFeatureFlagService
from cutover.rollout import ControlStore, GatePolicy, RolloutController
from cutover.rollout.stages import StageFlags, flags_for, next_stage, stage_of, stage_sequence
from cutover.rollout.store import FlagChangeAudit

ENTITY = "sales.orders"


@pytest.fixture
def store(source_dsn: str) -> ControlStore:
    return ControlStore(source_dsn)


@pytest.fixture
def flags(tmp_path: Path, store: ControlStore) -> MutableFeatureFlagService:
    return MutableFeatureFlagService(LocalFlagFile(tmp_path / "flags.json"), audit=FlagChangeAudit(store))


def _controller(
    flags: MutableFeatureFlagService, store: ControlStore, soak: timedelta = timedelta(0)
) -> RolloutController:
    return RolloutController(flags, store, GatePolicy(min_soak=soak, min_shadow_reads=10), percent_steps=(5, 50))


def test_stage_ladder_round_trips_through_flags() -> None:
    sequence = stage_sequence((1, 5, 25, 50))
    assert sequence == ["off", "shadow", "1", "5", "25", "50", "live", "complete"]
    for stage in sequence:
        assert stage_of(flags_for(stage)) == stage
    assert stage_of(StageFlags(master=False, percentage=50)) == "off"  # the master switch wins
    assert next_stage("10", sequence) == "25" and next_stage("complete", sequence) is None
    with pytest.raises(ValueError, match="rise strictly"):
        stage_sequence((5, 1))


def test_steps_need_a_passed_validation_and_say_which_gate_failed(
    flags: MutableFeatureFlagService, store: ControlStore
) -> None:
    controller = _controller(flags, store)
    refused = controller.step(ENTITY, actor="ops", reason="go")
    assert not refused.applied and refused.after == "off"
    assert "validation" in refused.reason and "no validation has run" in refused.reason

    store.record_validation(entity=ENTITY, run_id="r1", passed=True, success_percent=100.0, reason="ok")
    moved = controller.step(ENTITY, actor="ops", reason="go")
    assert moved.applied and (moved.before, moved.after) == ("off", "shadow")
    assert controller.stage(ENTITY) == "shadow"
    assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, ENTITY).value is True

    no_evidence = controller.step(ENTITY, actor="ops", reason="next")
    assert not no_evidence.applied and "shadow reads compared" in no_evidence.reason
    store.record_tier_observation(entity=ENTITY, reads=1000, shadow_reads=500, mismatches=50)
    too_many = controller.step(ENTITY, actor="ops", reason="next")
    assert not too_many.applied and "mismatch rate 10.0000%" in too_many.reason


def test_soak_time_and_approval_gate_the_ladder(flags: MutableFeatureFlagService, store: ControlStore) -> None:
    store.record_validation(entity=ENTITY, run_id="r1", passed=True, success_percent=100.0, reason="ok")
    store.record_tier_observation(entity=ENTITY, reads=10_000, shadow_reads=1_000)
    assert _controller(flags, store).step(ENTITY, actor="ops", reason="1").after == "shadow"
    soaking = _controller(flags, store, soak=timedelta(hours=1)).step(ENTITY, actor="ops", reason="2")
    assert not soaking.applied and "soak" in soaking.reason

    controller = _controller(flags, store)
    store.record_tier_observation(entity=ENTITY, reads=10_000, shadow_reads=1_000)
    assert controller.step(ENTITY, actor="ops", reason="2").after == "5"
    assert controller.step(ENTITY, actor="ops", reason="3").after == "50"
    assert flags.percentage(entity=ENTITY) == 50
    waiting = controller.step(ENTITY, actor="ops", reason="4")
    assert not waiting.applied and "approval" in waiting.reason
    live = controller.step(ENTITY, actor="ops", reason="4", approver="alice")
    assert live.after == "live" and flags.percentage(entity=ENTITY) == 100
    assert controller.step(ENTITY, actor="ops", reason="5", approver="alice").after == "complete"
    assert controller.stage(ENTITY) == "complete"
    last = store.audit_log(entity=ENTITY, action="rollout.step", limit=1)[0]
    assert last.after == {"stage": "complete", "approved_by": "alice"}


def test_rollback_turns_everything_off_idempotently_and_is_audited(
    flags: MutableFeatureFlagService, store: ControlStore
) -> None:
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="on")
    flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, 40, actor="ops", reason="on")
    flags.enable(names.FLAG_ICEBERG_TIME_TRAVEL, actor="ops", reason="on")
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="scoped", entity=ENTITY)
    flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, 100, actor="ops", reason="scoped", entity=ENTITY)
    controller = _controller(flags, store)

    result = controller.rollback(actor="pager", reason="validation failed on sales.orders")
    assert result.changed
    for scope in (None, ENTITY):
        assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, scope).value is False
        assert flags.percentage(entity=scope) == 0
        assert flags.state(names.FLAG_ICEBERG_TIME_TRAVEL, scope).value is False
    assert controller.stage(ENTITY) == "off"
    entry = store.audit_log(action="rollback", limit=1)[0]
    assert (entry.actor, entry.reason) == ("pager", "validation failed on sales.orders")
    assert entry.before["global"][names.FLAG_ICEBERG_ROLL_PERCENTAGE] == "40%"
    assert entry.after[ENTITY][names.FLAG_USE_ICEBERG_BACKEND] == "off"
    flag_rows = store.audit_log(action="flag.set", limit=200)
    assert any(r.reason.startswith("rollback: ") and r.actor == "pager" for r in flag_rows)

    again = controller.rollback(actor="pager", reason="again")
    assert not again.changed
    with pytest.raises(ConfigError, match="needs a reason"):
        controller.rollback(actor="pager", reason=" ")


def test_cli_rollback_works_without_prefect(source_dsn: str, tmp_path: Path, store: ControlStore) -> None:
    import os
    import subprocess
    import sys

    flag_file = tmp_path / "flags.json"
    flags = MutableFeatureFlagService(LocalFlagFile(flag_file))
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="on", entity=ENTITY)
    env = {**os.environ, "CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_FLAGS_FILE": str(flag_file), "PREFECT_API_URL": ""}
    result = subprocess.run(
        [sys.executable, "-m", "cutover.cli", "rollback", "--entity", ENTITY, "--reason", "drill", "--actor", "ana"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "audit #" in result.stdout and "flags changed" in result.stdout
    flags.refresh()
    assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, ENTITY).value is False
    assert store.audit_log(action="rollback", limit=1)[0].actor == "ana"
    missing_reason = subprocess.run(
        [sys.executable, "-m", "cutover.cli", "rollback"], capture_output=True, text=True, env=env, timeout=120
    )
    assert missing_reason.returncode == 2 and "--reason" in missing_reason.stderr


def test_cli_rollback_with_prefect_down_warns_once_and_does_not_wait(
    source_dsn: str, tmp_path: Path, store: ControlStore
) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    flag_file = tmp_path / "flags.json"
    flags = MutableFeatureFlagService(LocalFlagFile(flag_file))
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="on", entity=ENTITY)
    with socket.socket() as sock:  # a port nobody listens on: Prefect is down
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    env = {**os.environ, "CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_FLAGS_FILE": str(flag_file)}
    argv = [sys.executable, "-m", "cutover.cli", "rollback", "--entity", ENTITY, "--reason", "drill"]

    def run(prefect_api: str) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.perf_counter()
        done = subprocess.run(
            argv, capture_output=True, text=True, env={**env, "PREFECT_API_URL": prefect_api}, timeout=60
        )
        return done, time.perf_counter() - started

    without, reference = run("")
    result, seconds = run(down)

    assert without.returncode == 0 and result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "not sent" in warnings[0] and "unreachable" in warnings[0], output
    assert "Traceback" not in output and "websocket" not in output.lower()
    assert len(store.audit_log(action="rollback", limit=5)) == 2  # recorded both times, Prefect or not
    assert seconds - reference < 1.5, (seconds, reference)  # the old client retried for ~8 s


def test_rollback_with_the_audit_trail_unreachable_turns_every_flag_off_and_says_it_was_not_audited(
    source_dsn: str, tmp_path: Path, store: ControlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The emergency brake is not held back by the audit trail: flags first, then the record, or a warning."""
    import os
    import subprocess
    import sys

    flag_file = tmp_path / "flags.json"
    flags = MutableFeatureFlagService(LocalFlagFile(flag_file))
    for scope in (None, ENTITY, "sales.customers"):
        flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="on", entity=scope)
        flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, 50, actor="ops", reason="on", entity=scope)
    down = ControlStore("postgresql://postgres@127.0.0.1:1/postgres")

    result = RolloutController(flags, down).rollback(actor="pager", reason="corrupt table")

    assert result.audit_id is None and result.audit_error and "127.0.0.1:1" in result.audit_error
    assert len(result.changes) == 3 * 4 and result.changed
    flags.refresh()
    for scope in (None, ENTITY, "sales.customers"):
        assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, scope).value is False
        assert flags.state(names.FLAG_ICEBERG_ROLL_PERCENTAGE, scope).value == 0
    assert any("not audited" in r.message and "corrupt table" in r.message for r in caplog.records)

    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="on again", entity=ENTITY)
    env = {
        **os.environ, "CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_CONTROL_DSN": "postgresql://postgres@127.0.0.1:1/x",
        "CUTOVER_FLAGS_FILE": str(flag_file), "PREFECT_API_URL": "",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "cutover.cli", "rollback", "--entity", ENTITY, "--reason", "drill"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "flags are off" in warnings[0] and "127.0.0.1:1" in warnings[0], done.stderr
    assert "Traceback" not in done.stderr and '"reason": "drill"' in done.stderr  # the unwritten record, logged
    flags.refresh()
    assert flags.state(names.FLAG_USE_ICEBERG_BACKEND, ENTITY).value is False
    assert store.audit_log(action="rollback", limit=5) == []  # nothing reached the real store either
