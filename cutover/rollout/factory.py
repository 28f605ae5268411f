"""Building a :class:`RolloutController` from settings objects (the edges' one-liner)."""

from __future__ import annotations

from cutover.config import Settings
from cutover.flags import FlagSettings, open_flag_service
from cutover.rollout.controller import RolloutController
from cutover.rollout.gates import GatePolicy
from cutover.rollout.store import ControlStore, FlagChangeAudit


def open_controller(
    settings: Settings, flag_settings: FlagSettings, policy: GatePolicy | None = None
) -> RolloutController:
    """The controller on the configured flag store, auditing every flag write to the control store."""
    store = ControlStore(settings.control())
    flags = open_flag_service(flag_settings, audit=FlagChangeAudit(store))
    return RolloutController(flags, store, policy)
