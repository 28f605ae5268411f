"""A real PostgreSQL table of many types, its Iceberg copy, a flag file, and a data tier over them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from cutover.config import CatalogConfig
from cutover.flags.local_file import LocalFlagFile
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.tier import DataTier, IcebergBackend, PostgresBackend, Router, TierStats
from tests.helpers import migrate

ENTITY = "lake.orders"

ORDERS_DDL = """
create type status as enum ('new', 'paid', 'shipped');
create table orders (
    id int primary key,
    customer_id int not null,
    amount numeric(12, 2),
    created_at timestamptz,
    local_time timestamp,
    day date,
    doc jsonb,
    waited interval,
    ref uuid,
    state status,
    addr inet,
    tags text[],
    payload bytea,
    score double precision,
    paid boolean,
    note text
);
insert into orders
select g, g % 7, (g * 1.25)::numeric(12, 2),
       timestamptz '2024-01-01 00:00:00+02' + g * interval '1 hour',
       timestamp '2024-01-01 00:00:00' + g * interval '1 minute',
       date '2024-01-01' + g,
       jsonb_build_object('g', g, 'even', g % 2 = 0, 'nested', jsonb_build_array(1, 'two')),
       make_interval(months => g % 3, days => -g % 5, secs => g * 1.5),
       md5(g::text)::uuid,
       (array['new', 'paid', 'shipped'])[g % 3 + 1]::status,
       ('10.0.' || (g % 256) || '.1/24')::inet,
       array['t' || g % 4, 'x'],
       decode(lpad(to_hex(g), 8, '0'), 'hex'),
       case when g % 50 = 0 then 'NaN'::float8 else g / 3.0 end,
       g % 2 = 0,
       case when g % 10 = 0 then null else 'note ' || g end
from generate_series(1, 400) g;
insert into orders (id, customer_id) values (1000, 3);
"""


@pytest.fixture
def orders(source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig) -> str:
    """The orders table in PostgreSQL and migrated to Iceberg as ``lake.orders``."""
    source.execute(ORDERS_DDL)
    assert migrate(source_dsn, catalog_config, ["orders"]).ok
    return ENTITY


@pytest.fixture
def flags(tmp_path: Path) -> MutableFeatureFlagService:
    return MutableFeatureFlagService(LocalFlagFile(tmp_path / "flags.json"))


@pytest.fixture
def tier(
    orders: str, source_dsn: str, catalog_config: CatalogConfig, flags: MutableFeatureFlagService
) -> Iterator[DataTier]:
    """A tier with no flag cache, every shadow read sampled, no Iceberg metadata cache, counts kept in memory."""
    with DataTier(
        PostgresBackend(source_dsn, max_size=4),
        IcebergBackend(open_catalog(catalog_config), metadata_ttl=0),
        Router(flags, ttl=0, shadow_sample_rate=1.0),
        stats=TierStats(),
        schemas={"lake": "public"},
    ) as data_tier:
        yield data_tier


def set_stage(flags: MutableFeatureFlagService, stage: str, entity: str = ENTITY) -> None:
    """Put ``entity`` into a rollout stage through its scoped flags (global master on)."""
    from cutover import names
    from cutover.rollout.stages import flags_for

    wanted = flags_for(stage)
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="test", reason="stage")
    if wanted.master:
        flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="test", reason="stage", entity=entity)
    else:
        flags.disable(names.FLAG_USE_ICEBERG_BACKEND, actor="test", reason="stage", entity=entity)
    flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, wanted.percentage, actor="test", reason="s", entity=entity)
