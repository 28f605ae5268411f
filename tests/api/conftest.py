"""The API over real services: this test's PostgreSQL database, catalog and flag file; Prefect where needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cutover.api import ApiSettings, create_app
from cutover.config import CatalogConfig, Settings
from cutover.flags import FlagSettings

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UNREACHABLE_PREFECT = "http://127.0.0.1:9/api"
"""The discard port: nothing listens, so Prefect is 'down'."""


def make_client(
    source_dsn: str, catalog: CatalogConfig, flags_file: Path, prefect_url: str = UNREACHABLE_PREFECT, **api: Any
) -> TestClient:
    settings = Settings(source_dsn=source_dsn, catalog_uri=catalog.uri, warehouse=catalog.warehouse)
    app = create_app(
        ApiSettings(api_token=TOKEN, prefect_api_url=prefect_url, prefect_client_retries=0, **api),  # type: ignore[arg-type]
        settings,
        FlagSettings(flags_file=flags_file),
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path) -> Iterator[TestClient]:
    """The API with Prefect unreachable (what every route but the job routes must survive)."""
    with make_client(source_dsn, catalog_config, tmp_path / "flags.json") as test_client:
        yield test_client
