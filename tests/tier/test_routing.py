"""Routing by stage and percentage, fallback on a real Iceberg failure, shadow mismatches, time travel."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo

from cutover import names
from cutover.config import CatalogConfig
from cutover.flags import MissingContextError, reads_iceberg
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.rollout import ControlStore
from cutover.tier import DataTier, Eq, Router, TimeTravelDisabledError
from tests.tier.conftest import ENTITY, set_stage

CONTEXTS = [f"tenant-{i}" for i in range(2000)]


@pytest.mark.parametrize(
    ("stage", "backend", "shadow"),
    [("off", "postgres", False), ("shadow", "postgres", True), ("live", "iceberg", False)],
)
def test_router_stage_decides_backend(flags: MutableFeatureFlagService, stage: str, backend: str, shadow: bool) -> None:
    set_stage(flags, stage)
    router = Router(flags, ttl=0, shadow_sample_rate=1.0)
    decisions = {router.decide(ENTITY, ctx) for ctx in CONTEXTS[:50]}
    assert {(d.stage, d.backend, d.shadow) for d in decisions} == {(stage, backend, shadow)}


def test_router_percentage_is_sticky_monotonic_and_matches_the_flag_service(flags: MutableFeatureFlagService) -> None:
    router = Router(flags, ttl=0)
    chosen: dict[int, set[str]] = {}
    for percentage in (5, 25, 50):
        set_stage(flags, str(percentage))
        first = {ctx for ctx in CONTEXTS if router.decide(ENTITY, ctx).backend == "iceberg"}
        again = {ctx for ctx in CONTEXTS if router.decide(ENTITY, ctx).backend == "iceberg"}
        assert first == again  # deterministic per context
        assert first == {ctx for ctx in CONTEXTS if reads_iceberg(flags, ctx, ENTITY)}  # the library's rule
        assert abs(len(first) / len(CONTEXTS) - percentage / 100) < 0.04
        chosen[percentage] = first
    assert chosen[5] <= chosen[25] <= chosen[50]  # rising percentages never move a context back


def test_router_global_kill_switch_wins_over_scoped_flags(flags: MutableFeatureFlagService) -> None:
    set_stage(flags, "live")
    flags.disable(names.FLAG_USE_ICEBERG_BACKEND, actor="ops", reason="kill switch")
    decision = Router(flags, ttl=0).decide(ENTITY, "tenant-1")
    assert (decision.stage, decision.backend) == ("off", "postgres")
    with pytest.raises(MissingContextError):
        Router(flags, ttl=0).decide(ENTITY, "")


def test_router_caches_flags_for_its_ttl(flags: MutableFeatureFlagService) -> None:
    now = [0.0]
    router = Router(flags, ttl=5, clock=lambda: now[0])
    set_stage(flags, "live")
    assert router.decide(ENTITY, "t").backend == "iceberg"
    set_stage(flags, "off")
    assert router.decide(ENTITY, "t").backend == "iceberg"  # cached
    now[0] = 5.1
    assert router.decide(ENTITY, "t").backend == "postgres"


def test_tier_serves_iceberg_when_live_and_postgres_otherwise(tier: DataTier, flags: MutableFeatureFlagService) -> None:
    set_stage(flags, "live")
    result = tier.read_result(ENTITY, context="tenant-1", filters=[Eq("id", 5)])
    assert (result.served_by, result.fallback_error, len(result.rows)) == ("iceberg", None, 1)
    set_stage(flags, "off")
    assert tier.read_result(ENTITY, context="tenant-1", filters=[Eq("id", 5)]).served_by == "postgres"


def _data_files(catalog: CatalogConfig) -> list[Path]:
    table = open_catalog(catalog).load_table(("lake", "orders"))
    return [Path(urlsplit(task.file.file_path).path) for task in table.scan().plan_files()]


def test_tier_falls_back_to_postgres_when_iceberg_data_files_are_gone(
    tier: DataTier, flags: MutableFeatureFlagService, catalog_config: CatalogConfig
) -> None:
    set_stage(flags, "live")
    expected = tier.read_from("postgres", ENTITY, filters=[Eq("customer_id", 2)])
    for path in _data_files(catalog_config):
        path.unlink()  # a real failure: the warehouse lost the files the metadata points at
    result = tier.read_result(ENTITY, context="tenant-1", filters=[Eq("customer_id", 2)])
    assert result.served_by == "postgres"
    assert result.fallback_error is not None and "FileNotFoundError" in result.fallback_error
    assert len(result.rows) == len(expected) > 0
    counts = tier.counts(ENTITY)
    assert (counts.reads, counts.iceberg_errors, counts.fallbacks) == (1, 1, 1)


def test_tier_falls_back_when_the_iceberg_table_was_dropped(
    tier: DataTier, flags: MutableFeatureFlagService, catalog_config: CatalogConfig
) -> None:
    set_stage(flags, "live")
    open_catalog(catalog_config).drop_table(("lake", "orders"))
    result = tier.read_result(ENTITY, context="tenant-9", filters=[Eq("id", 1)])
    assert result.served_by == "postgres" and "NoSuchTableError" in (result.fallback_error or "")
    assert result.rows[0]["id"] == 1


def test_tier_shadow_counts_mismatches_and_flushes_them_to_the_control_store(
    tier: DataTier, flags: MutableFeatureFlagService, catalog_config: CatalogConfig, source_dsn: str
) -> None:
    set_stage(flags, "shadow")
    table = open_catalog(catalog_config).load_table(("lake", "orders"))
    row = table.scan(row_filter=EqualTo("id", 7)).to_arrow()
    amount = row["amount"][0].as_py() + 1
    table.overwrite(row.set_column(2, "amount", pa.array([amount], row.schema.field("amount").type)), EqualTo("id", 7))

    for customer in range(7):  # customer 0 owns id 7: exactly one of these reads disagrees
        result = tier.read_result(ENTITY, context=f"tenant-{customer}", filters=[Eq("customer_id", customer)])
        assert result.served_by == "postgres" and result.decision is not None and result.decision.shadow
    tier.wait_for_shadows()
    counts = tier.counts(ENTITY)
    assert (counts.shadow_reads, counts.mismatches, counts.iceberg_errors) == (7, 1, 0)

    store = ControlStore(source_dsn)
    tier.stats._sink = store.record_tier_observation  # what open_data_tier wires; flushed now, not in 30 s
    since = datetime.now(UTC)
    assert tier.stats.flush() == 1
    health = store.tier_health(ENTITY, since)
    assert (health.shadow_reads, health.mismatches, health.reads) == (7, 1, 7)


def test_tier_as_of_needs_time_travel_and_reads_the_old_snapshot(
    tier: DataTier, flags: MutableFeatureFlagService, catalog_config: CatalogConfig
) -> None:
    set_stage(flags, "live")
    before = datetime.now(UTC)
    time.sleep(0.01)
    table = open_catalog(catalog_config).load_table(("lake", "orders"))
    table.delete(EqualTo("customer_id", 3))
    with pytest.raises(TimeTravelDisabledError, match="iceberg-time-travel"):
        tier.read(ENTITY, context="t", filters=[Eq("customer_id", 3)], as_of=before)
    flags.enable(names.FLAG_ICEBERG_TIME_TRAVEL, actor="test", reason="as_of", entity=ENTITY)
    old = tier.read(ENTITY, context="t", filters=[Eq("customer_id", 3)], as_of=before)
    now = tier.read(ENTITY, context="t", filters=[Eq("customer_id", 3)])
    assert len(old) == 58 and now == []
    assert Counter(r["customer_id"] for r in old) == {3: 58}
