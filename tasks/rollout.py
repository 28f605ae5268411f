"""Thin Prefect tasks over :mod:`cutover.rollout`."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from cutover.config import Settings
from cutover.flags import FlagSettings
from cutover.rollout import RollbackResult, RolloutController, StepResult
from cutover.rollout.factory import open_controller
from tasks.common import retry_transient_only


def controller() -> RolloutController:
    return open_controller(Settings(), FlagSettings())


@task(retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=retry_transient_only, cache_policy=NO_CACHE)
def rollback_task(entity: str | None, actor: str, reason: str) -> RollbackResult:
    """Flags off for the entity (or all), audited; idempotent, so a retry is harmless."""
    return controller().rollback(actor=actor, reason=reason, entity=entity)


@task(retries=2, retry_delay_seconds=[5, 15], retry_condition_fn=retry_transient_only, cache_policy=NO_CACHE)
def rollout_step_task(entity: str, actor: str, reason: str, approver: str | None) -> StepResult:
    """Advance one stage if every gate holds (re-evaluated here, after any approval wait)."""
    return controller().step(entity, actor=actor, reason=reason, approver=approver)
