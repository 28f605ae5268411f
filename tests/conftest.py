"""Shared fixtures: a real PostgreSQL database per test, a real Iceberg catalog + warehouse per test, and one
real Prefect server for the whole session (it takes 10-25 s to start here)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from cutover.config import CatalogConfig, default_catalog
from cutover.orchestration.local import local_server

ADMIN_DSN = os.environ.get("CUTOVER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


@pytest.fixture
def source_dsn() -> Iterator[str]:
    """A fresh, empty PostgreSQL database of this test's own; dropped afterwards."""
    name = f"cutover_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield _with_database(ADMIN_DSN, name)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def source(source_dsn: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database."""
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def catalog_config(tmp_path: Path) -> CatalogConfig:
    """A SQLite catalog and a local warehouse of this test's own."""
    return default_catalog(tmp_path / "state")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `prefect server start` on a free loopback port for the whole session; yields its API URL."""
    with local_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server.api_url


@pytest.fixture
def prefect_api(prefect_server: str, tmp_path: Path) -> Iterator[str]:
    """Point this test's Prefect client at the session server."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server, PREFECT_HOME: str(tmp_path / "client-home")}):
        yield prefect_server
