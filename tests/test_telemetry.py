"""Metrics recorded by a real migration, read back with an in-memory reader."""

from __future__ import annotations

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
