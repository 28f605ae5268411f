"""The tier prunes by partition: a read filtered on a partitioned column opens only that partition's files.

The same PostgreSQL table is loaded twice: into ``lake.events`` partitioned by ``day(created_at)`` and
``bucket[4](ref)`` of a uuid (the ``iceberg-partitioning`` flag on for it), and into ``flat.events``
without a spec. Neither column follows the key, so no unpartitioned file's bounds can rule a value out;
the uuids of every file spread over the whole range, so only the partition evaluator can rule a bucket out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import UUIDType

from cutover import names
from cutover.config import CatalogConfig
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.load.runner import MigrationRequest, run_migration
from cutover.tier import DataTier, Eq, IcebergBackend, PostgresBackend, Range, Router, TierStats
from cutover.tier.files import FileFooter, FooterCache
from tests.helpers import write_options
from tests.lake.test_partitioning import EVENTS

SPEC = {"partition": [{"column": "created_at", "transform": "day"}, {"column": "ref", "transform": "bucket[4]"}]}
ONE_DAY = {"filters": [Range("created_at", "2024-03-03T00:00:00Z", "2024-03-04T00:00:00Z")]}
REF = "81dc9bdb-52d0-4dc2-0036-dbd8313ed055"  # md5(1234)
ONE_REF = {"filters": [Eq("ref", REF)]}


@pytest.fixture
def loaded(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    flags: MutableFeatureFlagService,
    tmp_path: Path,
) -> None:
    source.execute(EVENTS.format(name="events"))
    options = write_options(tmp_path, {"public.events": SPEC})
    flags.enable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="partition", entity="lake.events")
    for namespace in ("lake", "flat"):
        request = MigrationRequest(
            source_dsn=source_dsn, tables=["events"], namespace=namespace, batch_rows=1_000, table_options=options
        )
        assert run_migration(request, catalog_config, flags=flags).ok


@pytest.fixture
def tier(
    loaded: None, source_dsn: str, catalog_config: CatalogConfig, flags: MutableFeatureFlagService
) -> Iterator[DataTier]:
    with DataTier(
        PostgresBackend(source_dsn, max_size=2),
        IcebergBackend(open_catalog(catalog_config), metadata_ttl=0),
        Router(flags, ttl=0),
        stats=TierStats(),
        schemas={"lake": "public", "flat": "public"},
    ) as data_tier:
        yield data_tier


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The data files whose footers the tier reads (each file a read touches is opened for its footer)."""
    paths: list[str] = []
    load = FooterCache._load

    def counting(self: FooterCache, path: str) -> FileFooter:
        paths.append(path)
        return load(self, path)

    monkeypatch.setattr(FooterCache, "_load", counting)
    return paths


def _data_files(catalog: CatalogConfig, namespace: str) -> list[Any]:
    table = open_catalog(catalog).load_table((namespace, "events"))
    return [task.file for task in table.scan().plan_files()]


def _key(row: dict[str, Any]) -> Any:
    return row["id"]


def test_a_read_on_a_partition_column_opens_only_that_partitions_files(
    tier: DataTier, catalog_config: CatalogConfig, opened: list[str]
) -> None:
    flat = _data_files(catalog_config, "flat")
    partitioned = _data_files(catalog_config, "lake")
    assert len(partitioned) == 6 * 4 * len(flat)  # six days, four buckets, per batch
    for read, in_partition in (
        (ONE_DAY, lambda f: f.partition[0] == 19785),  # 2024-03-03
        (ONE_REF, lambda f: f.partition[1] == BucketTransform(4).transform(UUIDType())(uuid.UUID(REF))),
    ):
        expected = sorted(tier.read_from("postgres", "lake.events", **read), key=_key)
        assert expected

        tier.forget()  # footers are cached: count each read's from empty caches
        opened.clear()
        assert sorted(tier.read_from("iceberg", "flat.events", **read), key=_key) == expected
        assert sorted(opened) == sorted(f.file_path for f in flat)  # bounds prune nothing: every file is opened

        tier.forget()
        opened.clear()
        assert sorted(tier.read_from("iceberg", "lake.events", **read), key=_key) == expected
        wanted = {f.file_path for f in partitioned if in_partition(f)}
        assert len(wanted) * 4 <= len(partitioned) and set(opened) <= wanted
    assert set(opened) and len(opened) == len(set(opened))
