"""Fixtures for the flag tests: a local App Configuration server and stores on it or on a temp file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cutover.flags import MutableFeatureFlagService
from cutover.flags.azure import AzureFlagStore
from cutover.flags.local_file import LocalFlagFile
from tests.flags.appconfig_server import AppConfigServer


@pytest.fixture
def appconfig() -> Iterator[AppConfigServer]:
    with AppConfigServer() as server:
        yield server


@pytest.fixture
def azure_store(appconfig: AppConfigServer) -> Iterator[AzureFlagStore]:
    store = AzureFlagStore(connection_string=appconfig.connection_string, refresh_seconds=1, startup_timeout=2)
    yield store
    store.close()


@pytest.fixture
def local_flags(tmp_path: Path) -> MutableFeatureFlagService:
    return MutableFeatureFlagService(LocalFlagFile(tmp_path / "flags.json"))
