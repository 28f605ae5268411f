"""Staged rollout of Iceberg reads per entity, its gates, emergency rollback, and the audit trail."""

from cutover.rollout.controller import RollbackResult, RolloutController, RolloutStatus, StepResult
from cutover.rollout.gates import GatePolicy, GateReport
from cutover.rollout.stages import stage_sequence
from cutover.rollout.store import ControlStore

__all__ = [
    "ControlStore",
    "GatePolicy",
    "GateReport",
    "RollbackResult",
    "RolloutController",
    "RolloutStatus",
    "StepResult",
    "stage_sequence",
]
