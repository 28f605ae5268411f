"""Metrics recorded by a real migration, read back with an in-memory reader."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from cutover import names, telemetry
from cutover.config import CatalogConfig
from tests.helpers import migrate

READER = InMemoryMetricReader()


@pytest.fixture(scope="module")
def reader() -> InMemoryMetricReader:
    # Global providers can be set once per process: every test of this module shares the reader.
    assert telemetry.configure_telemetry("cutover-test", extra_readers=[READER])
    return READER


def _points(reader: InMemoryMetricReader, name: str) -> list[object]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_migration_records_rows_and_batch_durations(
    reader: InMemoryMetricReader, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table t (id int primary key); insert into t select generate_series(1, 3000); analyze t")
    assert migrate(source_dsn, catalog_config, ["t"], batch_rows=1000).ok
    rows = [p for p in _points(reader, names.METRIC_ROWS_MIGRATED) if p.attributes == {"table": "lake.t"}]  # type: ignore[attr-defined]
    assert sum(p.value for p in rows) == 3000  # type: ignore[attr-defined]
    durations = [p for p in _points(reader, names.METRIC_BATCH_DURATION) if p.attributes == {"table": "lake.t"}]  # type: ignore[attr-defined]
    assert durations and durations[0].count == 4  # type: ignore[attr-defined]  # 3 batches rounded up to fill 2 readers


def test_no_exporter_configured_means_nothing_installed() -> None:
    assert telemetry.configure_from_environment(environ={}) is False


_KQL_METRIC = re.compile(r'\bname\s*==\s*\\?"([^"\\]+)\\?"')
_KQL_DIMENSION = re.compile(r'customDimensions\[\\?"([^"\\]+)\\?"\]')


def _terraform_queries() -> list[str]:
    """Every KQL query of the alerts and the dashboard tiles."""
    from tests.infra.test_infra_names import TERRAFORM, _alert_queries, _locals

    tiles = _locals(TERRAFORM / "modules" / "monitoring" / "locals.dashboard.tf")["dashboard_tiles"]
    return [*_alert_queries().values(), *(tile["query"] for tile in tiles)]


def test_every_metric_the_terraform_queries_is_recorded_with_the_dimensions_they_read(
    reader: InMemoryMetricReader, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A real migration, validation, shadow read that disagrees and rollback: then every metric an alert or
    dashboard tile queries has data points, carrying every ``customDimensions[...]`` that query reads."""
    from cutover.flags.local_file import LocalFlagFile
    from cutover.flags.service import MutableFeatureFlagService
    from cutover.lake.catalog import open_catalog
    from cutover.rollout import ControlStore, GatePolicy, RolloutController
    from cutover.tier import DataTier, Eq, IcebergBackend, PostgresBackend, Router, TierStats
    from cutover.validation import ValidationRequest, validate_tables
    from tests.tier.conftest import set_stage

    source.execute(
        "create table m (id int primary key, v int); insert into m select g, g from generate_series(1, 50) g"
    )
    assert migrate(source_dsn, catalog_config, ["m"]).ok
    report = validate_tables(ValidationRequest(source_dsn=source_dsn, tables=["m"], namespace="lake"), catalog_config)
    assert report.ok
    source.execute("update m set v = -1 where id = 3")  # the shadow read of id 3 disagrees
    flags = MutableFeatureFlagService(LocalFlagFile(tmp_path / "flags.json"))
    set_stage(flags, "shadow", "lake.m")
    with DataTier(
        PostgresBackend(source_dsn, max_size=2), IcebergBackend(open_catalog(catalog_config), metadata_ttl=0),
        Router(flags, ttl=0, shadow_sample_rate=1.0), stats=TierStats(), schemas={"lake": "public"},
    ) as tier:  # fmt: skip
        tier.read_result("lake.m", context="tenant-1", filters=[Eq("id", 3)])
        tier.wait_for_shadows()
    RolloutController(flags, ControlStore(source_dsn), GatePolicy()).rollback(actor="test", reason="pin")

    recorded: dict[str, list[Any]] = {}
    for point_name in {name for query in _terraform_queries() for name in _KQL_METRIC.findall(query)}:
        recorded[point_name] = _points(reader, point_name)
    assert recorded, "the parser found no metric in the Terraform queries"
    silent = sorted(name for name, points in recorded.items() if not points)
    assert not silent, f"queried by Terraform but never recorded: {silent}"
    segments = [part for query in _terraform_queries() for part in query.split("customMetrics")[1:]]
    for segment in segments:  # one `customMetrics | where name == ... | ...` pipeline each
        for metric in _KQL_METRIC.findall(segment):
            for dimension in _KQL_DIMENSION.findall(segment):
                assert all(dimension in p.attributes for p in recorded[metric]), (metric, dimension)
    ratios = [p for p in recorded[names.METRIC_VALIDATION_SUCCESS_RATIO] if p.attributes == {"table": "lake.m"}]
    assert ratios and ratios[0].min == 1.0  # 50 of 50 rows matched
