"""Building a :class:`RolloutController` from settings objects (the edges' one-liner)."""

from __future__ import annotations

from datetime import timedelta

from cutover.config import Settings
from cutover.flags import FlagSettings, open_flag_service
from cutover.rollout.controller import RolloutController
from cutover.rollout.gates import GatePolicy
from cutover.rollout.store import ControlStore, FlagChangeAudit


def open_controller(
    settings: Settings, flag_settings: FlagSettings, policy: GatePolicy | None = None
) -> RolloutController:
    """The controller on the configured flag store, auditing every flag write to the control store.

    Steps and gate thresholds come from ``settings`` (``CUTOVER_ROLLOUT_*``) unless ``policy`` is given.
    """
    store = ControlStore(settings.control())
    flags = open_flag_service(flag_settings, audit=FlagChangeAudit(store))
    policy = policy or GatePolicy(
        max_shadow_mismatch_rate=settings.rollout_max_mismatch_rate,
        max_iceberg_error_rate=settings.rollout_max_error_rate,
        min_soak=timedelta(hours=settings.rollout_min_soak_hours),
        min_shadow_reads=settings.rollout_min_shadow_reads,
    )
    return RolloutController(flags, store, policy, percent_steps=tuple(settings.rollout_steps))
