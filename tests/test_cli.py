"""The `cutover` command as users and scripts run it: options, env vars, exit codes, messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from cutover.config import CatalogConfig


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover.cli", *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_migrate_exit_0_and_json_report(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    source.execute("create table a (id int primary key); insert into a select generate_series(1, 10)")
    report = tmp_path / "out" / "report.json"
    result = run_cli(
        "migrate", "--source-dsn", source_dsn, "--catalog-uri", catalog_config.uri,
        "--warehouse", catalog_config.warehouse, "--namespace", "lake", "--report-json", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["tables"][0]["rows"] == 10 and data["tables"][0]["iceberg_identifier"] == "lake.a"
    assert "migrated" in result.stdout


def test_options_come_from_environment_and_refusal_exits_1(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table good (id int primary key); create table bad (id int primary key, v numeric)")
    source.execute("create table skipped (v numeric)")
    env = {
        "CUTOVER_SOURCE_DSN": source_dsn, "CUTOVER_CATALOG_URI": catalog_config.uri,
        "CUTOVER_WAREHOUSE": catalog_config.warehouse, "CUTOVER_NAMESPACE": "lake", "CUTOVER_EXCLUDE": "skip*",
    }  # fmt: skip
    result = run_cli("migrate", env=env)
    assert result.returncode == 1
    assert "bad" in result.stdout and "refused" in result.stdout and "skipped" not in result.stdout
    assert "column 'v'" in result.stderr and "numeric" in result.stderr


def test_bad_input_gets_one_clear_line_and_exit_2(catalog_config: CatalogConfig, source_dsn: str) -> None:
    wrong_scheme = run_cli("migrate", "--source-dsn", "mysql://x/y")
    assert wrong_scheme.returncode == 2 and "postgresql://" in wrong_scheme.stderr
    assert "Traceback" not in wrong_scheme.stderr
    unknown = run_cli(
        "migrate", "--source-dsn", source_dsn, "--table", "nope", "--catalog-uri", catalog_config.uri,
        "--warehouse", catalog_config.warehouse,
    )  # fmt: skip
    assert unknown.returncode == 2 and "no such table(s)" in unknown.stderr and "Traceback" not in unknown.stderr
    bad_mode = run_cli("migrate", "--source-dsn", source_dsn, "--mode", "upsert")
    assert bad_mode.returncode == 2 and "upsert" in bad_mode.stderr


def test_unreachable_source_is_a_clear_error(catalog_config: CatalogConfig) -> None:
    result = run_cli(
        "migrate", "--source-dsn", "postgresql://postgres:secret@127.0.0.1:1/db", "--catalog-uri",
        catalog_config.uri, "--warehouse", catalog_config.warehouse,
    )  # fmt: skip
    assert result.returncode == 1 and "cannot connect" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_a_process_builds_only_the_command_it_runs(tmp_path: Path) -> None:
    """`main` hands Typer the one command (or group) named first, still as a group under `cutover`, and the
    whole app when none is named; the command behaves the same either way."""
    from cutover.cli._common import app, app_for

    assert app_for([]) is app and app_for(["--help"]) is app and app_for(["nope"]) is app
    narrow = app_for(["rollback", "--reason", "x"])
    assert [c.callback.__name__ for c in narrow.registered_commands if c.callback] == ["rollback"]
    assert narrow.registered_groups == []
    assert [g.name for g in app_for(["flags", "show"]).registered_groups] == ["flags"]

    flags = {"CUTOVER_FLAGS_FILE": str(tmp_path / "flags.json")}
    shown = run_cli("flags", "show", env=flags)
    assert shown.returncode == 0 and "use-iceberg-backend" in shown.stdout
    missing = run_cli("rollback", env=flags)
    assert missing.returncode == 2 and "Missing option '--reason'" in missing.stderr
    assert "see `cutover rollback --help`" in missing.stderr
    typo = run_cli("rolback")
    assert typo.returncode == 2 and "No such command 'rolback'" in typo.stderr
