"""Key reads keep the row groups they decode, within a budget; scans go around; deletes still apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cutover.config import CatalogConfig
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.sync.runner import SyncRequest, run_sync
from cutover.tier import DataTier, Eq, IcebergBackend, PostgresBackend, Range, Router, TierStats
from cutover.tier.files import CACHED_READ_ROW_GROUPS, FileFooter, FooterCache, RowGroupCache
from tests.helpers import migrate
from tests.tier.conftest import ENTITY, ORDERS_DDL
from tests.tier.test_read_paths import _typed

ROW_GROUP_ROWS = 32


@pytest.fixture
def options(source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path) -> Path:
    source.execute(ORDERS_DDL)
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"public.orders": {"row_group_rows": ROW_GROUP_ROWS}}))
    assert migrate(source_dsn, catalog_config, ["orders"], table_options=path).ok
    return path


def _tier(source_dsn: str, catalog: CatalogConfig, flags: MutableFeatureFlagService, budget: int) -> DataTier:
    return DataTier(
        PostgresBackend(source_dsn, max_size=2),
        IcebergBackend(open_catalog(catalog), metadata_ttl=0, row_group_cache_bytes=budget),
        Router(flags, ttl=0),
        stats=TierStats(),
        schemas={"lake": "public"},
    )


@pytest.fixture
def tier(
    options: Path, source_dsn: str, catalog_config: CatalogConfig, flags: MutableFeatureFlagService
) -> Iterator[DataTier]:
    with _tier(source_dsn, catalog_config, flags, 64 * 1024 * 1024) as data_tier:
        yield data_tier


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The row groups each decode asks pyarrow for."""
    calls: list[list[int]] = []
    decode = FooterCache._decode

    def counting(
        self: FooterCache, footer: FileFooter, row_groups: list[int], columns: list[str], **kw: bool
    ) -> object:
        calls.append(list(row_groups))
        return decode(self, footer, row_groups, columns, **kw)

    monkeypatch.setattr(FooterCache, "_decode", counting)
    return calls


def _cache(tier: DataTier) -> RowGroupCache:
    cache = tier.iceberg._row_groups
    assert cache is not None
    return cache


def _same(tier: DataTier, **read: object) -> list[dict[str, object]]:
    pg = tier.read_from("postgres", ENTITY, **read)  # type: ignore[arg-type]
    ice = tier.read_from("iceberg", ENTITY, **read)  # type: ignore[arg-type]
    assert _typed(sorted(pg, key=lambda r: r["id"])) == _typed(sorted(ice, key=lambda r: r["id"]))  # type: ignore[arg-type,return-value]
    return ice


def test_a_key_read_decodes_its_row_groups_once(tier: DataTier, decoded: list[list[int]]) -> None:
    for _ in range(3):
        assert len(_same(tier, filters=[Eq("id", 77)])) == 1
    assert decoded == [[2]]  # id 77 is in the third group of 32 rows, decoded by the first read only

    decoded.clear()
    for _ in range(2):
        assert len(_same(tier, filters=[Range("id", 60, 140)])) == 80
    assert decoded == [[1], [3], [4]]  # groups 1..4, of which 2 was already kept


def test_a_scan_goes_around_the_cache(tier: DataTier, decoded: list[list[int]]) -> None:
    assert len(_same(tier)) == 401  # 13 row groups: more than a small read
    assert CACHED_READ_ROW_GROUPS < 13 and _cache(tier).bytes == 0
    assert len(decoded) == 1 and len(decoded[0]) == 13


def test_the_cache_stays_within_its_budget(
    options: Path, source_dsn: str, catalog_config: CatalogConfig, flags: MutableFeatureFlagService
) -> None:
    with _tier(source_dsn, catalog_config, flags, 64 * 1024 * 1024) as probe:
        _same(probe, filters=[Eq("id", 1)])
        one_group = _cache(probe).bytes
    budget = 3 * one_group + one_group // 2
    with _tier(source_dsn, catalog_config, flags, budget) as small:
        for key in range(1, 401, 32):  # one key in each row group
            _same(small, filters=[Eq("id", key)])
            assert 0 < _cache(small).bytes <= budget
        assert _cache(small).bytes > budget // 2  # it keeps what fits, not nothing


def test_deletes_committed_after_a_row_group_was_kept_still_apply(
    tier: DataTier, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, options: Path
) -> None:
    assert len(_same(tier, filters=[Range("id", 70, 80)])) == 10
    source.execute("delete from orders where id = 77")
    source.execute("update orders set note = 'changed' where id = 78")
    request = SyncRequest(source_dsn=source_dsn, tables=["orders"], namespace="lake", table_options=options)
    assert run_sync(request, catalog_config).ok
    rows = _same(tier, filters=[Range("id", 70, 80)])
    assert [r["id"] for r in sorted(rows, key=lambda r: r["id"])] == [70, 71, 72, 73, 74, 75, 76, 78, 79]  # type: ignore[arg-type,return-value]
    assert next(r for r in rows if r["id"] == 78)["note"] == "changed"
