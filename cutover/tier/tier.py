"""The data tier an application imports: one ``read`` that routes, falls back, shadows and measures.

Typical use::

    tier = open_data_tier(Settings(), FlagSettings(), TierSettings())
    rows = tier.read("sales.orders", context=tenant_id, filters=[Eq("customer_id", 42)],
                     columns=["id", "amount"], order_by=["-created_at"], limit=50)
    tier.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cutover import telemetry
from cutover.config import Settings, TableOptionsFile
from cutover.errors import CutoverError, SourceSchemaError
from cutover.flags import FeatureFlagService, FlagSettings, open_flag_service
from cutover.flags.registry import validate_entity
from cutover.tier.errors import IcebergReadError, InvalidReadError, TimeTravelDisabledError
from cutover.tier.files import ROW_GROUP_CACHE_BYTES_DEFAULT
from cutover.tier.iceberg import METADATA_TTL_SECONDS_DEFAULT, IcebergBackend
from cutover.tier.normalize import Comparison, compare_rows
from cutover.tier.postgres import POOL_MAX_SIZE_DEFAULT, PostgresBackend
from cutover.tier.query import Filter, ReadQuery
from cutover.tier.router import FLAG_TTL_SECONDS_DEFAULT, SHADOW_SAMPLE_RATE_DEFAULT, Backend, RouteDecision, Router
from cutover.tier.schema import EntityInfo, introspect_entity
from cutover.tier.stats import FLUSH_SECONDS_DEFAULT, TierCounts, TierStats

logger = logging.getLogger(__name__)
SHADOW_WORKERS_DEFAULT = 2
SHADOW_QUEUE_DEFAULT = 64


class TierSettings(BaseSettings):
    """Tuning of the data tier (env prefix ``CUTOVER_TIER_``)."""

    model_config = SettingsConfigDict(env_prefix="CUTOVER_TIER_", extra="ignore")

    schemas: dict[str, str] = Field(default_factory=dict)
    """Iceberg namespace → PostgreSQL schema (``{"lake": "public"}``); a namespace not listed is its own schema."""
    flag_ttl_seconds: float = Field(default=FLAG_TTL_SECONDS_DEFAULT, ge=0)
    shadow_sample_rate: float = Field(default=SHADOW_SAMPLE_RATE_DEFAULT, ge=0, le=1)
    shadow_workers: int = Field(default=SHADOW_WORKERS_DEFAULT, ge=1)
    shadow_queue: int = Field(default=SHADOW_QUEUE_DEFAULT, ge=1)
    """Comparisons waiting at most; beyond it samples are dropped (counted), never queued on the request path."""
    pool_max_size: int = Field(default=POOL_MAX_SIZE_DEFAULT, ge=1)
    metadata_ttl_seconds: float = Field(default=METADATA_TTL_SECONDS_DEFAULT, ge=0)
    row_group_cache_mb: int = Field(default=ROW_GROUP_CACHE_BYTES_DEFAULT // (1024 * 1024), ge=0)
    """Decoded row groups key reads keep, in MiB of Arrow (0: none); the bound on the tier's data cache."""
    flush_seconds: float = Field(default=FLUSH_SECONDS_DEFAULT, gt=0)


@dataclass(frozen=True)
class TierRead:
    """One read's rows and how it was served (what tests, the compare flow and diagnostics look at)."""

    rows: list[dict[str, Any]]
    decision: RouteDecision | None
    """None for a read forced onto one backend (:meth:`DataTier.read_from`) or an ``as_of`` read."""
    served_by: Backend
    fallback_error: str | None = None
    """Why Iceberg failed when the read fell back to PostgreSQL."""


class DataTier:
    """Reads entities from PostgreSQL or Iceberg as the flags decide.

    Args:
        postgres / iceberg: the backends (clients are parameters, so tests pass real ones of their own).
        router: decides per entity and context.
        stats: counters flushed to the control store for the rollout gates.
        schemas: Iceberg namespace → PostgreSQL schema.

    Note:
        Thread-safe; share one instance per process. :meth:`close` stops the shadow workers, flushes the
        counters and closes the pool.
    """

    def __init__(
        self,
        postgres: PostgresBackend,
        iceberg: IcebergBackend,
        router: Router,
        *,
        stats: TierStats | None = None,
        schemas: Mapping[str, str] | None = None,
        table_options: TableOptionsFile | None = None,
        shadow_workers: int = SHADOW_WORKERS_DEFAULT,
        shadow_queue: int = SHADOW_QUEUE_DEFAULT,
    ) -> None:
        self.postgres = postgres
        self.iceberg = iceberg
        self.router = router
        self.stats = stats or TierStats()
        self._schemas = dict(schemas or {})
        self._options = table_options or TableOptionsFile()
        self._entities: dict[str, EntityInfo] = {}
        self._entity_lock = threading.Lock()
        self._shadow_pool = ThreadPoolExecutor(max_workers=shadow_workers, thread_name_prefix="cutover-shadow")
        self._shadow_queue = shadow_queue
        self._shadow_pending = 0
        self._shadow_cv = threading.Condition()
        self._metrics = telemetry.instruments()
        self._attributes: dict[tuple[str, str, str, str, bool], dict[str, str | bool]] = {}
        self.stats.start()

    # --- public API -----------------------------------------------------------------------------------

    def read(
        self,
        entity: str,
        *,
        context: str,
        filters: Sequence[Mapping[str, Any] | Filter] | Mapping[str, Any] = (),
        columns: Sequence[str] | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        as_of: datetime | int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of ``entity`` (``namespace.table``) for ``context`` (tenant or user id), from the backend the flags pick.

        Args:
            filters: :class:`Eq` / :class:`In` / :class:`Range` (or their JSON dicts); a mapping means equality.
            columns: the projection; None for every column.
            order_by: column names, ``-name`` descending; with a ``limit`` the primary key is appended so
                the result is deterministic.
            as_of: an aware timestamp or a snapshot id: read Iceberg as it was (needs ``iceberg-time-travel``).

        Returns:
            One dict per row, values in the convention of :mod:`cutover.tier.normalize`.

        Raises:
            InvalidReadError: unknown entity or column, malformed filter.
            TimeTravelDisabledError: ``as_of`` while time travel (or the master switch) is off.
            SnapshotNotFoundError / IcebergReadError: an ``as_of`` read failed (PostgreSQL has no history
                to fall back on).
            SourceConnectionError / PostgresReadError: PostgreSQL could not serve the read.
        """
        return self.read_result(
            entity, context=context, filters=filters, columns=columns, order_by=order_by, limit=limit, as_of=as_of
        ).rows

    def read_result(
        self,
        entity: str,
        *,
        context: str,
        filters: Sequence[Mapping[str, Any] | Filter] | Mapping[str, Any] = (),
        columns: Sequence[str] | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
        as_of: datetime | int | None = None,
    ) -> TierRead:
        """:meth:`read`, also saying which backend served it and why."""
        query = ReadQuery.build(entity, filters=filters, columns=columns, order_by=order_by, limit=limit, as_of=as_of)
        info = self.entity(entity)
        query = info.check(query)
        if query.as_of is not None:
            if not self.router.time_travel_allowed(entity):
                raise TimeTravelDisabledError(
                    f"as_of reads of {entity} need the iceberg-time-travel flag (and the master switch) on",
                    entity=entity,
                )
            self.stats.count(entity, reads=1)
            return TierRead(self._timed("iceberg", info, query), None, "iceberg")
        decision = self.router.decide(entity, context)
        if decision.backend == "iceberg":
            self.stats.count(entity, reads=1)
            try:
                return TierRead(self._timed("iceberg", info, query), decision, "iceberg")
            except IcebergReadError as exc:
                self.stats.count(entity, iceberg_errors=1, fallbacks=1)
                logger.warning("%s: Iceberg failed, served from PostgreSQL: %s", entity, exc)
                rows = self._timed("postgres", info, query, fallback=True)
                return TierRead(rows, decision, "postgres", fallback_error=str(exc))
        rows = self._timed("postgres", info, query)
        if decision.shadow and query.comparable:
            self._shadow(info, query, rows)
        return TierRead(rows, decision, "postgres")

    def read_from(self, backend: Backend, entity: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Read from one backend, bypassing the router (comparisons, diagnostics); no fallback, no counting."""
        query = self.entity(entity).check(ReadQuery.build(entity, **kwargs))
        return self._run(backend, self.entity(entity), query)

    def compare(self, entity: str, **kwargs: Any) -> Comparison:
        """Run one read on both backends now and compare the results (order-insensitive, typed)."""
        return compare_rows(self.read_from("postgres", entity, **kwargs), self.read_from("iceberg", entity, **kwargs))

    def counts(self, entity: str) -> TierCounts:
        """What this tier counted for ``entity`` since it started."""
        return self.stats.totals(entity)

    def entity(self, entity: str) -> EntityInfo:
        """The entity's columns and locations, introspected once.

        Raises:
            InvalidReadError: a malformed entity name, or no such table in PostgreSQL.
        """
        info = self._entities.get(entity)
        if info is not None:
            return info
        try:
            validate_entity(entity)
        except CutoverError as exc:
            raise InvalidReadError(str(exc), entity=entity) from exc
        namespace, _, table = entity.partition(".")
        schema = self._schemas.get(namespace, namespace)
        try:
            with self.postgres.connection() as conn:
                info = introspect_entity(conn, entity, schema, self._options.for_table(schema, table))
        except SourceSchemaError as exc:
            raise InvalidReadError(f"unknown entity {entity}: {exc}", entity=entity) from exc
        with self._entity_lock:
            self._entities[entity] = info
        return info

    def forget(self, entity: str | None = None) -> None:
        """Drop cached entity shapes and Iceberg metadata (after a schema change)."""
        with self._entity_lock:
            if entity is None:
                self._entities.clear()
            else:
                self._entities.pop(entity, None)
        self.iceberg.forget(entity)

    def wait_for_shadows(self, timeout: float = 30.0) -> None:
        """Block until queued shadow comparisons finished (tests, graceful shutdown)."""
        with self._shadow_cv:
            self._shadow_cv.wait_for(lambda: self._shadow_pending == 0, timeout=timeout)

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=True, cancel_futures=False)
        self.stats.close()
        self.postgres.close()
        self.iceberg.close()

    def __enter__(self) -> DataTier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals ------------------------------------------------------------------------------------

    def _run(self, backend: Backend, info: EntityInfo, query: ReadQuery) -> list[dict[str, Any]]:
        return self.iceberg.read(info, query) if backend == "iceberg" else self.postgres.read(info, query)

    def _timed(
        self, backend: Backend, info: EntityInfo, query: ReadQuery, *, role: str = "served", fallback: bool = False
    ) -> list[dict[str, Any]]:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return self._run(backend, info, query)
        except CutoverError:
            outcome = "error"
            raise
        finally:
            key = (backend, info.entity, role, outcome, fallback)
            attributes = self._attributes.get(key)
            if attributes is None:
                attributes = self._attributes[key] = {
                    "backend": backend, "entity": info.entity, "role": role, "outcome": outcome, "fallback": fallback,
                }  # fmt: skip
            self._metrics.tier_latency.record(time.perf_counter() - started, attributes)

    def _shadow(self, info: EntityInfo, query: ReadQuery, served: list[dict[str, Any]]) -> None:
        with self._shadow_cv:
            if self._shadow_pending >= self._shadow_queue:
                self.stats.count(info.entity, shadow_dropped=1)
                return
            self._shadow_pending += 1
        try:
            self._shadow_pool.submit(self._compare_in_background, info, query, served)
        except RuntimeError:  # the tier is closing
            self._shadow_done()

    def _shadow_done(self) -> None:
        with self._shadow_cv:
            self._shadow_pending -= 1
            self._shadow_cv.notify_all()

    def _compare_in_background(self, info: EntityInfo, query: ReadQuery, served: list[dict[str, Any]]) -> None:
        try:
            self.stats.count(info.entity, reads=1)
            try:
                rows = self._timed("iceberg", info, query, role="shadow")
            except IcebergReadError as exc:
                self.stats.count(info.entity, iceberg_errors=1)
                logger.warning("%s: shadow Iceberg read failed: %s", info.entity, exc)
                return
            result = compare_rows(served, rows)
            self.stats.count(info.entity, shadow_reads=1, mismatches=0 if result.equal else 1)
            if not result.equal:
                self._metrics.tier_mismatches.add(1, {"entity": info.entity})
                logger.warning("%s: shadow mismatch: %s", info.entity, result.describe())
        except Exception:  # a background comparison must never take the worker down; log with traceback
            logger.exception("%s: shadow comparison crashed", info.entity)
        finally:
            self._shadow_done()


def open_data_tier(
    settings: Settings,
    flag_settings: FlagSettings,
    tier_settings: TierSettings | None = None,
    *,
    flags: FeatureFlagService | None = None,
    record_observations: bool = True,
) -> DataTier:
    """A tier on the configured source, catalog and flag store, flushing counts to the control store.

    Raises:
        ConfigError: no source DSN configured.
    """
    from cutover.lake.catalog import open_catalog
    from cutover.rollout.store import ControlStore
    from cutover.source.connection import check_dsn

    tuning = tier_settings or TierSettings()
    dsn = check_dsn(settings.source_dsn)
    sink = ControlStore(settings.control()).record_tier_observation if record_observations else None
    return DataTier(
        PostgresBackend(dsn, max_size=tuning.pool_max_size),
        IcebergBackend(
            open_catalog(settings.catalog()),
            metadata_ttl=tuning.metadata_ttl_seconds,
            row_group_cache_bytes=tuning.row_group_cache_mb * 1024 * 1024,
        ),
        Router(
            flags or open_flag_service(flag_settings),
            ttl=tuning.flag_ttl_seconds,
            shadow_sample_rate=tuning.shadow_sample_rate,
        ),
        stats=TierStats(sink, interval=tuning.flush_seconds),
        schemas=tuning.schemas,
        table_options=TableOptionsFile.load(settings.table_options),
        shadow_workers=tuning.shadow_workers,
        shadow_queue=tuning.shadow_queue,
    )
