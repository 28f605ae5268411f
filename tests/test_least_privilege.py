"""migrate, validate and sync as a role that may only SELECT the source tables.

What needs more says so in one line (the control store: where and which grant; the delete log: why the
sync compares key sets instead), and following that line works.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from cutover.cli import app
from cutover.config import CatalogConfig
from tests.conftest import ADMIN_DSN, _with_database
from tests.helpers import read_iceberg


@dataclass(frozen=True)
class Reader:
    role: str
    dsn: str
    """The source database as the SELECT-only role."""
    owner: psycopg.Connection
    """The same database as its owner (autocommit)."""


@pytest.fixture
def reader(source: psycopg.Connection, source_dsn: str) -> Iterator[Reader]:
    """A login role granted SELECT on ``orders`` only (``secret`` stays unreadable); dropped afterwards."""
    source.execute(
        "create table orders (id int primary key, customer text not null, updated_at timestamptz not null);"
        "insert into orders select g, 'c' || g, now() from generate_series(1, 100) g;"
        "create table secret (id int primary key)"
    )
    role = f"cutover_reader_{uuid.uuid4().hex[:8]}"
    source.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
    try:
        source.execute(sql.SQL("grant select on orders to {}").format(sql.Identifier(role)))
        yield Reader(role, source_dsn.replace("postgres@", f"{role}@"), source)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:  # the database may hold its objects
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(source.info.dbname)))
            admin.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def cutover(reader: Reader, catalog: CatalogConfig, *args: str, control_dsn: str | None = None) -> tuple[int, str, str]:
    env = {
        "CUTOVER_SOURCE_DSN": reader.dsn, "CUTOVER_CATALOG_URI": catalog.uri, "CUTOVER_WAREHOUSE": catalog.warehouse,
        "CUTOVER_NAMESPACE": "lake", "CUTOVER_CONTROL_DSN": control_dsn, "CUTOVER_EXPECTATIONS_DIR": None,
    }  # fmt: skip
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "control store" in line]


def test_migrate_needs_only_select_and_names_the_grant_for_a_table_it_cannot_read(
    reader: Reader, catalog_config: CatalogConfig
) -> None:
    code, _, stderr = cutover(reader, catalog_config, "migrate", "--table", "orders")
    assert code == 0, stderr
    assert read_iceberg(catalog_config, "orders").num_rows == 100

    code, stdout, stderr = cutover(reader, catalog_config, "migrate", "--table", "secret")
    assert code == 1 and "secret" in stdout
    assert f"GRANT SELECT ON public.secret TO {reader.role}" in stderr and "--exclude secret" in stderr


def test_validate_says_where_to_record_and_following_it_works(
    reader: Reader, catalog_config: CatalogConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert cutover(reader, catalog_config, "migrate", "--table", "orders")[0] == 0

    code, _, stderr = cutover(reader, catalog_config, "validate", "--table", "orders")
    assert code == 0, stderr  # the proof stands; only its record is missing
    (warning,) = _warnings(stderr)
    assert "CUTOVER_CONTROL_DSN" in warning and f"CREATE SCHEMA cutover AUTHORIZATION {reader.role}" in warning
    assert not _has_control_schema(reader.owner)  # nothing was created in the source

    reader.owner.execute(sql.SQL("create schema cutover authorization {}").format(sql.Identifier(reader.role)))
    code, _, stderr = cutover(reader, catalog_config, "validate", "--table", "orders")
    assert code == 0 and _warnings(stderr) == [], stderr
    assert _validations(reader.owner) == [("lake.orders", True)]


def test_validate_records_in_the_control_database_it_is_given(
    reader: Reader, catalog_config: CatalogConfig, source_dsn: str
) -> None:
    assert cutover(reader, catalog_config, "migrate", "--table", "orders")[0] == 0
    control = f"cutover_control_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(control)))
    try:
        control_dsn = _with_database(ADMIN_DSN, control)
        code, _, stderr = cutover(reader, catalog_config, "validate", "--table", "orders", control_dsn=control_dsn)
        assert code == 0 and _warnings(stderr) == [], stderr
        with psycopg.connect(control_dsn) as conn:
            assert _validations(conn) == [("lake.orders", True)]
        assert not _has_control_schema(reader.owner)
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(control)))


def test_sync_compares_key_sets_without_ownership_and_says_why(reader: Reader, catalog_config: CatalogConfig) -> None:
    assert cutover(reader, catalog_config, "migrate", "--table", "orders")[0] == 0
    reader.owner.execute(
        "delete from orders where id <= 3; update orders set customer = 'changed', updated_at = now() where id = 10;"
        "insert into orders values (101, 'new', now())"
    )
    code, stdout, stderr = cutover(reader, catalog_config, "sync", "--table", "orders", "--cursor", "updated_at")
    assert code == 0, stderr
    said = " ".join((stdout + stderr).split())
    assert "deletes found by key sets" in said and "ownership of public.orders" in said
    rows = read_iceberg(catalog_config, "orders").to_pylist()
    ids = {r["id"] for r in rows}
    assert len(rows) == 98 and not ids & {1, 2, 3} and 101 in ids
    assert next(r for r in rows if r["id"] == 10)["customer"] == "changed"
    assert not _has_control_schema(reader.owner)  # no delete log, no control schema


def _has_control_schema(conn: psycopg.Connection) -> bool:
    row = conn.execute("select exists (select 1 from pg_namespace where nspname = 'cutover')").fetchone()
    return bool(row and row[0])


def _validations(conn: psycopg.Connection) -> list[tuple[str, bool]]:
    return [(e, p) for e, p in conn.execute("select entity, passed from cutover.validation_runs order by id")]
