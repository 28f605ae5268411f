"""What the sync tests share: running one table's sync, and the exact-parity check every test ends with."""

from __future__ import annotations

from typing import Any

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.sync import SyncRequest, TableSyncReport, run_sync
from cutover.validation import ValidationRequest, validate_tables

ORDERS = """
create table orders (
    id bigint primary key, customer text not null, amount numeric(10,2) not null, qty int,
    note varchar(10), updated_at timestamptz not null default now()
);
create index on orders (updated_at);
insert into orders (id, customer, amount, qty, note, updated_at)
select g, 'c' || (g % 50), g / 4.0, g % 7, 'n' || (g % 1000), now() - interval '1 day' from generate_series(1, 20000) g;
analyze orders;
"""


def sync_table(dsn: str, catalog: CatalogConfig, table: str = "orders", **kwargs: Any) -> TableSyncReport:
    kwargs.setdefault("cursor", "updated_at")
    report = run_sync(SyncRequest(source_dsn=dsn, tables=[table], namespace="lake", **kwargs), catalog)
    (result,) = report.tables
    return result


def assert_exact(dsn: str, catalog: CatalogConfig, table: str = "orders") -> None:
    request = ValidationRequest(source_dsn=dsn, tables=[table], namespace="lake", expectations_dir=None)
    result = validate_tables(request, catalog).tables[0]
    assert result.passed, f"{result.reason}: {result.differences[:5]}"
    assert result.missing_total == result.extra_total == result.changed_total == 0


def snapshot_ids(catalog: CatalogConfig, table: str = "orders") -> list[int]:
    return [s.snapshot_id for s in open_catalog(catalog).load_table(("lake", table)).snapshots()]
