"""A load killed with SIGKILL at any point resumes to exactly the source: nothing lost, nothing doubled."""

from __future__ import annotations

import signal
import subprocess
import sys

import psycopg
import pyarrow.compute as pc
import pytest

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from tests.helpers import read_iceberg

ROWS = 60_000


def _cli(dsn: str, catalog: CatalogConfig, mode: str) -> list[str]:
    return [
        "migrate", "--source-dsn", dsn, "--table", "orders", "--namespace", "lake", "--batch-rows", "10000",
        "--parallel", "2", "--mode", mode, "--catalog-uri", catalog.uri, "--warehouse", catalog.warehouse,
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "nth"),
    [("extract", 3), ("write", 2), ("commit-before", 3), ("commit-after", 3), ("commit-after", 1)],
)
def test_killed_load_resumes_to_an_exact_copy(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, point: str, nth: int
) -> None:
    source.execute("create table orders (id bigint primary key, amount numeric(10,2), note text)")
    source.execute(f"insert into orders select g, g / 100.0, 'n' || g from generate_series(1, {ROWS}) g")
    source.execute("analyze orders")

    crashed = subprocess.run(
        [sys.executable, "-m", "tests.load.killpoint", point, str(nth), "--", *_cli(source_dsn, catalog_config, "create")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    resumed = subprocess.run(
        [sys.executable, "-m", "cutover.cli", *_cli(source_dsn, catalog_config, "resume")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout

    data = read_iceberg(catalog_config, "orders")
    assert data.num_rows == ROWS
    assert pc.count_distinct(data["id"]).as_py() == ROWS
    assert pc.sum(data["id"]).as_py() == ROWS * (ROWS + 1) // 2
    expected_amount = source.execute("select sum(amount) from orders").fetchone()[0]  # type: ignore[index]
    assert pc.sum(data["amount"]).as_py() == expected_amount
    table = open_catalog(catalog_config).load_table(("lake", "orders"))
    summaries = [s.summary for s in table.snapshots() if s.summary is not None]
    assert summaries[-1]["cutover.load-complete"] == "true"
