"""Top-N reads take row groups best first by their statistics and stop once no other group can contribute;
ties at the threshold are still read; results equal PostgreSQL's, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cutover.config import CatalogConfig
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.tier import DataTier, IcebergBackend, In, PostgresBackend, Router, TierStats
from cutover.tier.files import FileFooter, FooterCache
from tests.helpers import migrate
from tests.tier.conftest import ENTITY, ORDERS_DDL
from tests.tier.test_read_paths import _typed

GROUPS = 13
"""400 rows in row groups of 32."""
Decoded = list[tuple[frozenset[str], list[int]]]


@pytest.fixture
def tier(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    flags: MutableFeatureFlagService,
    tmp_path: Path,
) -> Iterator[DataTier]:
    source.execute(ORDERS_DDL)
    source.execute("delete from orders where id = 1000")  # its NULL created_at would turn the pruning off
    # Ten rows share the newest created_at, one in each of the first ten row groups.
    source.execute("update orders set created_at = timestamptz '2030-01-01 00:00+00' where id % 32 = 7 and id < 320")
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"public.orders": {"row_group_rows": 32}}))
    assert migrate(source_dsn, catalog_config, ["orders"], table_options=options).ok
    with DataTier(
        PostgresBackend(source_dsn, max_size=2),
        IcebergBackend(open_catalog(catalog_config), metadata_ttl=0, late_row_groups=0, row_group_cache_bytes=0),
        Router(flags, ttl=0),
        stats=TierStats(),
        schemas={"lake": "public"},
    ) as data_tier:
        yield data_tier


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> Decoded:
    """(columns, row groups) of every decode."""
    calls: Decoded = []
    decode = FooterCache._decode

    def counting(
        self: FooterCache, footer: FileFooter, row_groups: list[int], columns: list[str], **kw: bool
    ) -> object:
        calls.append((frozenset(columns), list(row_groups)))
        return decode(self, footer, row_groups, columns, **kw)

    monkeypatch.setattr(FooterCache, "_decode", counting)
    return calls


def _first_phase(decoded: Decoded, *columns: str) -> list[int]:
    """The row groups decoded for the ordering and filter columns only (the first phase of a top-N)."""
    return sorted(g for read, groups in decoded if read == frozenset(columns) for g in groups)


def _same_in_order(tier: DataTier, **read: object) -> list[int]:
    pg = tier.read_from("postgres", ENTITY, **read)  # type: ignore[arg-type]
    ice = tier.read_from("iceberg", ENTITY, **read)  # type: ignore[arg-type]
    assert _typed(pg) == _typed(ice)
    return [int(r["id"]) for r in ice]  # type: ignore[call-overload]


def test_a_top_n_reads_only_the_row_groups_that_can_hold_it(tier: DataTier, decoded: Decoded) -> None:
    ids = _same_in_order(tier, filters=[In("state", ("paid", "new"))], order_by=["created_at"], limit=5)
    assert ids == [1, 3, 4, 6, 9]
    # The eight oldest groups first (then the threshold rules out every other): not all thirteen.
    assert _first_phase(decoded, "state", "created_at", "id") == list(range(8))


def test_rows_tied_with_the_threshold_in_later_row_groups_are_read(tier: DataTier, decoded: Decoded) -> None:
    ids = _same_in_order(tier, order_by=["-created_at", "-id"], limit=3)
    assert ids == [295, 263, 231]  # the tied rows of groups 9, 8 and 7: read after the first eight groups
    assert _first_phase(decoded, "created_at", "id") == list(range(GROUPS))


def test_a_top_n_by_a_column_with_nulls_reads_every_row_group(tier: DataTier, decoded: Decoded) -> None:
    assert len(_same_in_order(tier, order_by=["note"], limit=5)) == 5
    assert _first_phase(decoded, "note", "id") == list(range(GROUPS))
