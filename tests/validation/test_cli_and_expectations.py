"""`cutover validate` / `cutover expectations init` as users run them, and GX suites on Iceberg."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from pyiceberg.expressions import EqualTo

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.validation import ValidationRequest, validate_tables
from tests.helpers import migrate

# Until cutover/cli/__init__.py imports cutover.cli.validate, register the commands explicitly.
_MAIN = "import cutover.cli.validate; from cutover.cli import main; main()"

SCHEMA = """
create type tier as enum ('free', 'pro');
create table accounts (
    id int primary key, email text not null, tier tier not null,
    credit numeric(10,2) check (credit >= 0 and credit < 1000), note text
);
insert into accounts select g, 'u' || g || '@x', (array['free','pro']::tier[])[1 + g % 2], g % 900, null
from generate_series(1, 2000) g;
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _MAIN, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


def _catalog_args(catalog: CatalogConfig) -> list[str]:
    return ["--catalog-uri", catalog.uri, "--warehouse", catalog.warehouse, "--namespace", "lake"]


def test_expectations_init_then_validate_passes_and_fails_on_iceberg_damage(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    source.execute(SCHEMA)
    assert migrate(source_dsn, catalog_config, ["accounts"]).ok
    directory = tmp_path / "expectations"
    init = run_cli("expectations", "init", "--source-dsn", source_dsn, "--namespace", "lake",
                   "--expectations-dir", str(directory))  # fmt: skip
    assert init.returncode == 0, init.stderr
    suite = json.loads((directory / "lake.accounts.json").read_text())
    kinds = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert {
        ("expect_table_row_count_to_equal", None),
        ("expect_column_values_to_be_unique", "id"),
        ("expect_column_values_to_not_be_null", "email"),
        ("expect_column_values_to_be_in_set", "tier"),
        ("expect_column_values_to_be_between", "credit"),
    } <= kinds
    between = next(e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_between")
    assert between["kwargs"] | {"column": "credit"} == {
        "column": "credit", "min_value": 0.0, "max_value": 1000.0, "strict_max": True,
    }  # fmt: skip
    assert ("expect_column_values_to_not_be_null", "note") not in kinds

    report = tmp_path / "report.json"
    ok = run_cli("validate", "--source-dsn", source_dsn, *_catalog_args(catalog_config),
                 "--expectations-dir", str(directory), "--report-json", str(report))  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    data = json.loads(report.read_text())["tables"][0]
    assert data["status"] == "passed" and data["success_percentage"] == 100.0
    assert len(data["expectations"]) == len(suite["expectations"]) and all(e["success"] for e in data["expectations"])

    open_catalog(catalog_config).load_table(("lake", "accounts")).delete(EqualTo("id", 5))
    bad = run_cli("validate", "--source-dsn", source_dsn, *_catalog_args(catalog_config),
                  "--expectations-dir", str(directory), "--report-json", str(report))  # fmt: skip
    assert bad.returncode == 1
    data = json.loads(report.read_text())["tables"][0]
    failed = [(e["expectation"], e["observed"]) for e in data["expectations"] if not e["success"]]
    assert failed == [("expect_table_row_count_to_equal", "observed 1999")]
    assert [(d["kind"], d["key"]) for d in data["differences"]] == [("missing", {"id": "5"})]
    assert "missing" in bad.stderr and "id=5" in bad.stderr


def test_edited_suite_runs_in_batches_and_merges_results(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    from cutover.validation.expectations import run_expectations, write_expectation_suites

    source.execute(SCHEMA)
    assert migrate(source_dsn, catalog_config, ["accounts"]).ok
    (path,) = write_expectation_suites(source_dsn, "public", ["accounts"], "lake", tmp_path)
    suite = json.loads(path.read_text())
    for e in suite["expectations"]:  # a person tightens the range: credits of 500 and more now fail
        if e["type"] == "expect_column_values_to_be_between":
            e["kwargs"]["max_value"] = 500
    path.write_text(json.dumps(suite))
    table = open_catalog(catalog_config).load_table(("lake", "accounts"))
    outcomes = run_expectations(path, table, source_rows=2000, batch_rows=300)
    (credit,) = [o for o in outcomes if o.column == "credit"]
    expected = sum(1 for g in range(1, 2001) if g % 900 >= 500)
    assert (credit.success, credit.observed) == (False, f"{expected} unexpected value(s)")
    assert all(o.success for o in outcomes if o.column != "credit")
    result = validate_tables(
        ValidationRequest(source_dsn=source_dsn, tables=["accounts"], namespace="lake", expectations_dir=tmp_path),
        catalog_config,
    ).tables[0]
    assert result.status == "failed" and "expectation(s) failed" in result.reason and result.success_percentage == 100


def test_validate_bad_input_exits_2(source_dsn: str, catalog_config: CatalogConfig) -> None:
    result = run_cli("validate", "--source-dsn", "mysql://x", *_catalog_args(catalog_config))
    assert result.returncode == 2 and "postgresql://" in result.stderr
    result = run_cli("validate", "--source-dsn", source_dsn, "--table", "ghost", *_catalog_args(catalog_config))
    assert result.returncode == 2 and "no such table" in result.stderr
