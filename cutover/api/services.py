"""The clients the routes use, created lazily once per app so a down dependency never blocks start-up.

Rollback and flags need only the flag store and the control database (not Prefect, not the catalog),
which is what lets an operator roll back while Prefect is down.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from cutover.api.jobs import PrefectJobs
from cutover.api.settings import ApiSettings
from cutover.config import Settings
from cutover.flags import FlagSettings, MutableFeatureFlagService, open_flag_service

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from cutover.rollout import ControlStore, RolloutController


class Services:
    """Holds settings and lazily opened clients for one app instance."""

    def __init__(self, settings: Settings, flag_settings: FlagSettings, api_settings: ApiSettings) -> None:
        self.settings = settings
        self.flag_settings = flag_settings
        self.api = api_settings
        self._lock = threading.Lock()

    @cached_property
    def control_store(self) -> ControlStore:
        from cutover.rollout import ControlStore

        return ControlStore(self.settings.control())

    @cached_property
    def flags(self) -> MutableFeatureFlagService:
        """The flag service; every write is audited to the control store (actor and reason)."""
        from cutover.rollout.store import FlagChangeAudit

        with self._lock:
            return open_flag_service(self.flag_settings, audit=FlagChangeAudit(self.control_store))

    @cached_property
    def controller(self) -> RolloutController:
        from cutover.rollout import RolloutController

        return RolloutController(self.flags, self.control_store)

    def catalog(self) -> Catalog:
        from cutover.lake.catalog import open_catalog

        return open_catalog(self.settings.catalog())

    @cached_property
    def jobs(self) -> PrefectJobs:
        return PrefectJobs(self.api, self.settings)

    def close(self) -> None:
        if "flags" in self.__dict__:
            self.flags.close()
