"""Small helpers shared by tests (imported explicitly, not fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.load.report import MigrationReport
from cutover.load.runner import MigrationRequest, run_migration


def migrate(dsn: str, catalog: CatalogConfig, tables: list[str] | None = None, **kwargs: Any) -> MigrationReport:
    """Run the library's full load with test-friendly defaults (namespace ``lake``)."""
    request = MigrationRequest(source_dsn=dsn, tables=tables or [], namespace=kwargs.pop("namespace", "lake"), **kwargs)
    return run_migration(request, catalog)


def read_iceberg(catalog: CatalogConfig, table: str, namespace: str = "lake") -> pa.Table:
    return open_catalog(catalog).load_table((namespace, table)).scan().to_arrow()


def read_data_files(catalog: CatalogConfig, table: str, namespace: str = "lake") -> pa.Table:
    """The rows of the current snapshot read straight from its Parquet data files (no pyiceberg reader).

    pyiceberg 0.12's reader turns a NULL list<struct> into [] (apache/iceberg-python#3833); the files
    themselves hold the NULL, and this is how the tests look at them.
    """
    import pyarrow.parquet as pq

    tbl = open_catalog(catalog).load_table((namespace, table))
    paths = [task.file.file_path for task in tbl.scan().plan_files()]
    return pa.concat_tables(pq.read_table(tbl.io.new_input(p).open()) for p in paths)


def table_exists(catalog: CatalogConfig, table: str, namespace: str = "lake") -> bool:
    return bool(open_catalog(catalog).table_exists((namespace, table)))


def write_options(tmp: Path, options: dict[str, Any]) -> Path:
    import json

    path = tmp / "table-options.json"
    path.write_text(json.dumps(options))
    return path
