"""Shared fixtures: a real PostgreSQL database per test and a real Iceberg catalog + warehouse per test."""

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
