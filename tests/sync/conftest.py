"""The sync tests' table: 20,000 orders in a fresh database, fully loaded into a fresh Iceberg catalog."""

from __future__ import annotations

import psycopg
import pytest

from cutover.config import CatalogConfig
from tests.helpers import migrate
from tests.sync.helpers import ORDERS


@pytest.fixture
def orders(source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig) -> CatalogConfig:
    source.execute(ORDERS)
    assert migrate(source_dsn, catalog_config, ["orders"], batch_rows=5_000).ok
    return catalog_config
