"""Staged rollout and emergency rollback of Iceberg reads, per entity, through the flags.

The library call the CLI, the API and the Prefect flows share. It needs neither Prefect nor the
catalog: only the flag store and the control store, so rollback works while Prefect is down.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from cutover import names, telemetry
from cutover.errors import CutoverError
from cutover.flags.service import FlagChange, MutableFeatureFlagService
from cutover.rollout.gates import GatePolicy, GateReport, evaluate_gates
from cutover.rollout.stages import (
    APPROVAL_STAGES,
    DEFAULT_PERCENT_STEPS,
    Stage,
    StageFlags,
    flags_for,
    next_stage,
    stage_of,
    stage_sequence,
)
from cutover.rollout.store import ControlStore

logger = logging.getLogger(__name__)

ACTION_STEP = "rollout.step"
ACTION_ROLLBACK = "rollback"
OPTIMIZATION_FLAGS = (names.FLAG_ICEBERG_PARTITIONING, names.FLAG_ICEBERG_TIME_TRAVEL)


@dataclass(frozen=True)
class RolloutStatus:
    entity: str
    stage: Stage
    next_stage: Stage | None
    last_change: datetime | None
    gates: GateReport | None = None


@dataclass(frozen=True)
class StepResult:
    entity: str
    before: Stage
    after: Stage
    applied: bool
    gates: GateReport
    reason: str
    changes: list[FlagChange] = field(default_factory=list)


@dataclass(frozen=True)
class RollbackResult:
    entity: str | None
    """None: every entity (the global flags and every scoped override)."""
    actor: str
    reason: str
    changes: list[FlagChange]
    audit_id: int | None
    """The rollback's row in the audit trail; None when the trail could not be written (``audit_error``)."""
    audit_error: str | None = None
    """Why the audit trail was not written: the flags are off all the same (the rollback is not held back)."""

    @property
    def changed(self) -> bool:
        """False when everything was already rolled back (rollback is idempotent)."""
        return any(c.changed for c in self.changes)


class RolloutController:
    """Advances an entity one stage at a time when its gates hold, and rolls back on demand."""

    def __init__(
        self,
        flags: MutableFeatureFlagService,
        store: ControlStore,
        policy: GatePolicy | None = None,
        percent_steps: tuple[int, ...] = DEFAULT_PERCENT_STEPS,
    ) -> None:
        self._flags = flags
        self._store = store
        self._policy = policy or GatePolicy()
        self._sequence = stage_sequence(percent_steps)

    @property
    def flags(self) -> MutableFeatureFlagService:
        """The flag service the controller writes through."""
        return self._flags

    @property
    def store(self) -> ControlStore:
        """The control store holding the audit trail, validation outcomes and tier health."""
        return self._store

    def stage(self, entity: str) -> Stage:
        self._flags.refresh()
        master = bool(self._flags.state(names.FLAG_USE_ICEBERG_BACKEND, entity).value)
        percentage = self._flags.percentage(entity=entity)
        complete = False
        if master and percentage >= 100:
            last = self._store.audit_log(entity=entity, action=ACTION_STEP, limit=1)
            complete = bool(last) and isinstance(last[0].after, dict) and last[0].after.get("stage") == "complete"
        return stage_of(StageFlags(master, percentage, complete))

    def _last_change(self, entity: str) -> datetime | None:
        entries = [
            e for e in self._store.audit_log(entity=entity, limit=20) if e.action in (ACTION_STEP, ACTION_ROLLBACK)
        ]
        return entries[0].at if entries else None

    def status(self, entity: str, *, with_gates: bool = True) -> RolloutStatus:
        current = self.stage(entity)
        last = self._last_change(entity)
        gates = self._gates(entity, current, last) if with_gates else None
        return RolloutStatus(entity, current, next_stage(current, self._sequence), last, gates)

    def _gates(self, entity: str, current: Stage, last: datetime | None) -> GateReport:
        since = last or datetime.fromtimestamp(0).astimezone()
        return evaluate_gates(
            current_stage=current,
            validation=self._store.latest_validation(entity),
            health=self._store.tier_health(entity, since),
            last_change=last,
            policy=self._policy,
        )

    def needs_approval(self, entity: str) -> Stage | None:
        """The target stage when the next step needs a person's approval, else None."""
        target = next_stage(self.stage(entity), self._sequence)
        return target if target in APPROVAL_STAGES else None

    def step(self, entity: str, *, actor: str, reason: str, approver: str | None = None) -> StepResult:
        """Move ``entity`` one stage forward if every gate holds; otherwise change nothing and say why.

        Steps into ``live`` and ``complete`` need an ``approver`` (the person who approved).

        Raises:
            ConfigError: a blank ``reason`` or ``actor`` (both go to the audit trail).
        """
        if not reason.strip() or not actor.strip():
            from cutover.errors import ConfigError

            raise ConfigError("a rollout step needs an actor and a reason (they go to the audit trail)")
        with self._store.session():  # the gates' reads and the audit rows on one connection
            return self._step(entity, actor, reason, approver)

    def _step(self, entity: str, actor: str, reason: str, approver: str | None) -> StepResult:
        status = self.status(entity)
        assert status.gates is not None
        if status.next_stage is None:
            return StepResult(entity, status.stage, status.stage, False, status.gates, "already complete")
        if not status.gates.passed:
            return StepResult(
                entity, status.stage, status.stage, False, status.gates, f"gate failed: {status.gates.summary()}"
            )
        if status.next_stage in APPROVAL_STAGES and not approver:
            return StepResult(
                entity, status.stage, status.stage, False, status.gates,
                f"the step into {status.next_stage} needs a person's approval",
            )  # fmt: skip
        target = status.next_stage
        wanted = flags_for(target)
        why = f"rollout {status.stage} → {target}: {reason}"
        changes = [
            self._flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor=actor, reason=why, entity=entity)
            if wanted.master
            else self._flags.disable(names.FLAG_USE_ICEBERG_BACKEND, actor=actor, reason=why, entity=entity),
            self._flags.set_percentage(
                names.FLAG_ICEBERG_ROLL_PERCENTAGE, wanted.percentage, actor=actor, reason=why, entity=entity
            ),
        ]
        self._store.record_audit(
            actor=actor, action=ACTION_STEP, entity=entity, reason=reason,
            before={"stage": status.stage}, after={"stage": target, "approved_by": approver},
        )  # fmt: skip
        return StepResult(entity, status.stage, target, True, status.gates, why, changes)

    def rollback(self, *, actor: str, reason: str, entity: str | None = None) -> RollbackResult:
        """Send reads back to PostgreSQL: master off, percentage 0, optimization flags off. Idempotent.

        For one entity, its scoped flags are set off (a scoped flag wins over the global one). For all
        entities (``entity=None``), the global flags and every scoped override are set off.

        Note:
            The flags are written first, all of them, and audited afterwards in one session: an audit trail
            that cannot be reached (the control database down, a refused grant) must neither stop a
            rollback nor leave it half done. Then the result carries ``audit_error`` and ``audit_id`` is
            None, and the record that could not be written is logged in full.
        """
        if not reason.strip():
            from cutover.errors import ConfigError

            raise ConfigError("a rollback needs a reason (it goes to the audit trail)")
        scopes: list[str | None] = [entity]
        if entity is None:
            self._flags.refresh()
            scopes += sorted({s.scope for s in self._flags.snapshot() if s.source == "scoped"})
        before = {str(scope or "global"): self._describe(scope) for scope in scopes}
        changes: list[FlagChange] = []
        with self._flags.audit_afterwards() as written:
            for scope in scopes:
                for flag in (names.FLAG_USE_ICEBERG_BACKEND, names.FLAG_ICEBERG_ROLL_PERCENTAGE, *OPTIMIZATION_FLAGS):
                    changes.append(self._flags.disable(flag, actor=actor, reason=f"rollback: {reason}", entity=scope))
        after = {str(scope or "global"): self._describe(scope) for scope in scopes}
        telemetry.instruments().rollbacks.add(1, {"entity": entity or "all"})
        audit_id: int | None = None
        audit_error: str | None = None
        try:
            with self._store.session():  # one connection for every audit row
                self._flags.record_audit(written)
                audit_id = self._store.record_audit(
                    actor=actor, action=ACTION_ROLLBACK, entity=entity, reason=reason, before=before, after=after
                )
        except CutoverError as exc:
            audit_error = " ".join(str(exc).split())  # libpq's messages span lines
            record = {"actor": actor, "action": ACTION_ROLLBACK, "entity": entity, "reason": reason, "after": after}
            logger.error(
                "ROLLBACK done but not audited (%s); the record: %s", audit_error, json.dumps(record, default=str)
            )
        logger.warning("ROLLBACK of %s by %s: %s (audit #%s)", entity or "every entity", actor, reason, audit_id)
        return RollbackResult(entity, actor, reason, changes, audit_id, audit_error)

    def _describe(self, scope: str | None) -> dict[str, str]:
        return {s.flag: s.describe() for s in self._flags.snapshot(scope) if s.scope == (scope or "global")}
