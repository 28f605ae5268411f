"""The demo's application reading through the data tier: one key lookup per tenant, routed by the flags.

In shadow every read is served by PostgreSQL and compared with Iceberg off the request path (the demo
samples every read); at a percentage the tenants Microsoft.Targeting picks are served by Iceberg. The
counts are flushed to the control store, where the rollout gates read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cutover.tier import DataTier, Eq, IcebergBackend, PostgresBackend, Router, TierStats

if TYPE_CHECKING:
    from cutover.config import CatalogConfig
    from cutover.flags import FeatureFlagService
    from cutover.rollout.store import ControlStore


@dataclass(frozen=True)
class ReadsOutcome:
    """What a batch of application reads did."""

    reads: int
    by_postgres: int
    by_iceberg: int
    rows: int
    compared: int
    """Shadow comparisons finished."""
    mismatches: int
    iceberg_errors: int
    fallbacks: int


def open_demo_tier(
    dsn: str, catalog: CatalogConfig, flags: FeatureFlagService, store: ControlStore, *, namespace: str, schema: str,
    reads: int,
) -> DataTier:  # fmt: skip
    """A tier as an application would hold it, except: flags read on every decision (no TTL, so each step
    shows at once), every shadow read compared, and room to queue all of them."""
    from cutover.lake.catalog import open_catalog

    return DataTier(
        PostgresBackend(dsn, max_size=2),
        IcebergBackend(open_catalog(catalog)),
        Router(flags, ttl=0, shadow_sample_rate=1.0),
        stats=TierStats(store.record_tier_observation, interval=3600),
        schemas={namespace: schema},
        shadow_queue=max(1, reads),
    )


def application_reads(tier: DataTier, entity: str, keys: list[int], key_column: str = "id") -> ReadsOutcome:
    """Read ``keys`` one by one, tenant ``tenant-<n>`` for the n-th; wait for the shadow comparisons and
    flush the counts to the control store."""
    before = tier.counts(entity)
    served = {"postgres": 0, "iceberg": 0}
    rows = 0
    for n, key in enumerate(keys):
        result = tier.read_result(entity, context=f"tenant-{n}", filters=[Eq(key_column, key)])
        served[result.served_by] += 1
        rows += len(result.rows)
    tier.wait_for_shadows()
    tier.stats.flush()
    after = tier.counts(entity)
    return ReadsOutcome(
        reads=len(keys),
        by_postgres=served["postgres"],
        by_iceberg=served["iceberg"],
        rows=rows,
        compared=after.shadow_reads - before.shadow_reads,
        mismatches=after.mismatches - before.mismatches,
        iceberg_errors=after.iceberg_errors - before.iceberg_errors,
        fallbacks=after.fallbacks - before.fallbacks,
    )


def sample_keys(rows: int, count: int) -> list[int]:
    """``count`` order ids spread over the seeded range (a few may have been deleted by the day's writes:
    a read that finds nothing is a read too)."""
    step = max(1, rows // max(1, count))
    return [1 + (n * step + n * 7919) % rows for n in range(count)]
