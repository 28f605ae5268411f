"""The ``iceberg-partitioning`` flag against real PostgreSQL and a real Iceberg catalog: partitioned tables
from ``migrate``, kept partitioned by ``sync``, existing tables evolved, misfitting specs refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow.parquet as pq
import pytest
from pyiceberg.manifest import DataFile, DataFileContent
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType, TimeType

from cutover import names
from cutover.config import CatalogConfig, PartitionFieldOptions, TableOptionsFile
from cutover.errors import ConfigError, PartitionSpecError
from cutover.flags import MutableFeatureFlagService
from cutover.flags.local_file import LocalFlagFile
from cutover.lake.catalog import open_catalog
from cutover.lake.partitioning import partition_spec
from cutover.load.runner import MigrationRequest, run_migration
from cutover.maintenance import MaintenanceRequest, maintain_table
from cutover.maintenance.inventory import live_entries
from cutover.sync import SyncRequest, run_sync
from tests.helpers import table_exists, write_options
from tests.sync.helpers import assert_exact

EVENTS = """
create table {name} (
    id bigint primary key,
    account text not null,
    created_at timestamptz not null,
    amount numeric(10,2),
    ref uuid,
    note text,
    at_time time,
    updated_at timestamptz not null default now()
);
insert into {name}
select g, 'a' || (g % 13),
       timestamptz '2024-03-01 00:00:00+00' + ((g * 7919) % 6) * interval '1 day' + (g % 86400) * interval '1 second',
       g / 4.0, md5(g::text)::uuid, 'n' || g, time '00:00' + g * interval '1 second', now() - interval '1 day'
from generate_series(1, 3000) g;
"""
"""Rows whose day (six of them) does not follow the key: no file's bounds can prune a day without a spec."""

DAY = {"partition": [{"column": "created_at", "transform": "day"}]}
BUCKET = {"partition": [{"column": "id", "transform": "bucket[4]"}]}


@pytest.fixture
def flags(tmp_path: Path) -> MutableFeatureFlagService:
    return MutableFeatureFlagService(LocalFlagFile(tmp_path / "flags.json"))


def _create(source: psycopg.Connection, *tables: str) -> None:
    for name in tables:
        source.execute(EVENTS.format(name=name))


def _migrate(dsn: str, catalog: CatalogConfig, tables: list[str], options: Path, flags: Any) -> Any:
    request = MigrationRequest(source_dsn=dsn, tables=tables, namespace="lake", batch_rows=1_000, table_options=options)
    return run_migration(request, catalog, flags=flags)


def _sync(dsn: str, catalog: CatalogConfig, table: str, options: Path, flags: Any) -> Any:
    request = SyncRequest(source_dsn=dsn, tables=[table], namespace="lake", cursor="updated_at", table_options=options)
    report = run_sync(request, catalog, flags=flags)
    (result,) = report.tables
    assert result.status in ("synced", "unchanged"), result.error
    return result


def _table(catalog: CatalogConfig, name: str) -> Table:
    return open_catalog(catalog).load_table(("lake", name))


def _files(table: Table) -> tuple[list[DataFile], list[DataFile]]:
    data, deletes, _ = live_entries(table)
    return data, deletes


def _column(table: Table, data_file: DataFile, column: str) -> list[Any]:
    with table.io.new_input(data_file.file_path).open() as stream:
        return pq.read_table(stream, columns=[column]).column(0).to_pylist()  # type: ignore[no-any-return]


def _days(values: list[dt.datetime]) -> set[int]:
    return {(v.date() - dt.date(1970, 1, 1)).days for v in values}


def _assert_day_partitioned(table: Table, spec_id: int) -> None:
    """Every data file of ``spec_id`` holds exactly one day of ``created_at``: the day its partition says."""
    files = [f for f in _files(table)[0] if f.spec_id == spec_id]
    assert files
    for data_file in files:
        assert _days(_column(table, data_file, "created_at")) == {data_file.partition[0]}
        assert "/data/created_at_day=2024-03-0" in data_file.file_path
        ids = np.array(_column(table, data_file, "id"))
        assert bool(np.all(ids[1:] > ids[:-1]))  # still in key order within the partition


def test_migrate_creates_the_configured_specs_where_the_flag_is_on(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    flags: MutableFeatureFlagService,
    tmp_path: Path,
) -> None:
    _create(source, "events", "items", "plain")
    options = write_options(tmp_path, {"public.events": DAY, "public.items": BUCKET, "public.plain": DAY})
    flags.enable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="global")
    flags.disable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="not this one", entity="lake.plain")

    report = _migrate(source_dsn, catalog_config, ["events", "items", "plain"], options, flags)
    assert report.ok, [t.error for t in report.tables]

    events, items, plain = (_table(catalog_config, name) for name in ("events", "items", "plain"))
    assert [(f.name, str(f.transform)) for f in events.spec().fields] == [("created_at_day", "day")]
    _assert_day_partitioned(events, events.spec().spec_id)
    assert len({f.partition[0] for f in _files(events)[0]}) == 6

    assert [(f.name, str(f.transform)) for f in items.spec().fields] == [("id_bucket_4", "bucket[4]")]
    bucket = BucketTransform(4).transform(LongType())
    for data_file in _files(items)[0]:
        assert {bucket(i) for i in _column(items, data_file, "id")} == {data_file.partition[0]}
    assert {f.partition[0] for f in _files(items)[0]} == {0, 1, 2, 3}

    assert plain.spec().is_unpartitioned()  # scoped off wins over global on
    assert all(len(f.partition) == 0 for f in _files(plain)[0])
    for name in ("events", "items", "plain"):
        assert_exact(source_dsn, catalog_config, name)


@pytest.mark.parametrize(("open_files", "files"), [(32, 6), (2, 12)])
def test_more_partitions_than_open_files_finish_files_early_and_lose_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_files: int, files: int
) -> None:
    import pyarrow as pa
    from pyiceberg.io.pyarrow import PyArrowFileIO

    import cutover.lake.partitioning as partitioning

    monkeypatch.setattr(partitioning, "MAX_OPEN_PARTITION_FILES", open_files)
    monkeypatch.setattr(partitioning, "PENDING_BYTES", 1024)  # buffers written out after every batch too
    schema = Schema(
        NestedField(1, "id", LongType(), required=True), NestedField(2, "created_at", TimestamptzType()),
        identifier_field_ids=[1],
    )  # fmt: skip
    spec = partition_spec("public.events", schema, [PartitionFieldOptions(column="created_at", transform="day")])
    writer = partitioning.data_writer(PyArrowFileIO(), f"file://{tmp_path}", schema, spec, {}, prefix="t")
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    for chunk in range(2):  # two batches, each holding rows of six days
        ids = list(range(chunk * 600, (chunk + 1) * 600))
        days = [start + dt.timedelta(days=i % 6, seconds=i) for i in ids]
        writer.write(pa.table({"id": ids, "created_at": days}, schema=writer.target_schema))
    data_files = writer.close()
    assert len(data_files) == files and sum(f.record_count for f in data_files) == 1200
    for data_file in data_files:
        created = pq.read_table(data_file.file_path.removeprefix("file://")).column("created_at").to_pylist()
        assert _days(created) == {data_file.partition[0]}


def test_migrate_with_the_flag_off_creates_an_unpartitioned_table(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    _create(source, "events")
    report = _migrate(source_dsn, catalog_config, ["events"], write_options(tmp_path, {"public.events": DAY}), None)
    assert report.ok
    events = _table(catalog_config, "events")
    assert events.spec().is_unpartitioned()
    assert len(_files(events)[0]) == report.tables[0].batches_total  # one file per batch, as before


def test_a_transform_that_does_not_fit_the_column_is_refused_before_anything_is_created(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    flags: MutableFeatureFlagService,
    tmp_path: Path,
) -> None:
    _create(source, "events")
    flags.enable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="on")
    options = write_options(tmp_path, {"public.events": {"partition": [{"column": "note", "transform": "day"}]}})

    report = _migrate(source_dsn, catalog_config, ["events"], options, flags)
    (table,) = report.tables
    assert table.status == "refused"
    assert table.error == (
        "table public.events, column 'note' (string): partition transform day: day cannot take string values "
        "(it needs a date or timestamp column)"
    )
    assert not table_exists(catalog_config, "events")


@pytest.mark.parametrize(
    ("column", "transform", "message"),
    [
        ("nope", "identity", "column 'nope': partition transform identity: the table has no such column"),
        ("created_at", "truncate[4]", "(timestamptz): partition transform truncate[4]: truncate[4] cannot take"),
        ("id", "hour", "(long): partition transform hour: hour cannot take long values (it needs a timestamp"),
        ("at_time", "bucket[8]", "(time): partition transform bucket[8]: pyiceberg 0.12 cannot write a bucket"),
    ],
)
def test_partition_spec_names_what_does_not_fit(column: str, transform: str, message: str) -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "created_at", TimestamptzType()),
        NestedField(3, "note", StringType()),
        NestedField(4, "at_time", TimeType()),
        identifier_field_ids=[1],
    )
    with pytest.raises(PartitionSpecError) as raised:
        partition_spec("public.events", schema, [PartitionFieldOptions(column=column, transform=transform)])
    assert message in str(raised.value) and str(raised.value).startswith("table public.events, column ")


def test_an_unknown_transform_is_bad_input(tmp_path: Path) -> None:
    path = write_options(tmp_path, {"public.events": {"partition": [{"column": "id", "transform": "weekly"}]}})
    with pytest.raises(ConfigError, match=r"unknown partition transform 'weekly': use identity, year, month"):
        TableOptionsFile.load(path)


def _change(source: psycopg.Connection, table: str, night: int) -> None:
    """Updates that move rows to another day, deletes and inserts."""
    source.execute(
        f"update {table} set created_at = created_at + interval '1 day', amount = amount + 1, updated_at = now() "
        f"where id % 97 = {night}"
    )
    source.execute(f"delete from {table} where id % 89 = {night}")
    first = 10_000 + night * 50
    source.execute(
        f"insert into {table} (id, account, created_at, amount) select g, 'new', "
        f"timestamptz '2024-03-02 12:00+00' + (g % 3) * interval '1 day', 1 "
        f"from generate_series({first}, {first + 49}) g"
    )


def _assert_deletes_follow_their_data_files(table: Table) -> None:
    """Each delete file carries the partition and spec of the one data file it points at."""
    data, deletes = _files(table)
    by_path = {f.file_path: f for f in data}
    assert deletes
    for delete_file in deletes:
        assert delete_file.content == DataFileContent.POSITION_DELETES
        (target,) = set(_column(table, delete_file, "file_path"))
        assert (delete_file.spec_id, delete_file.partition) == (by_path[target].spec_id, by_path[target].partition)


def test_sync_writes_into_the_partitions_and_keeps_them_with_the_flag_off(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    flags: MutableFeatureFlagService,
    tmp_path: Path,
) -> None:
    _create(source, "events")
    options = write_options(tmp_path, {"public.events": DAY})
    flags.enable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="on", entity="lake.events")
    assert _migrate(source_dsn, catalog_config, ["events"], options, flags).ok

    _change(source, "events", 1)
    result = _sync(source_dsn, catalog_config, "events", options, flags)
    assert result.rows_upserted > 50 and result.rows_deleted > 0 and result.schema_changes == []
    assert_exact(source_dsn, catalog_config, "events")
    events = _table(catalog_config, "events")
    _assert_day_partitioned(events, events.spec().spec_id)
    _assert_deletes_follow_their_data_files(events)

    # A rollback switches the flag off: the table keeps its spec and the sync keeps writing into it.
    flags.disable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="rollback", entity="lake.events")
    _change(source, "events", 2)
    _sync(source_dsn, catalog_config, "events", options, flags)
    assert_exact(source_dsn, catalog_config, "events")
    events = _table(catalog_config, "events")
    assert [s.spec_id for s in events.metadata.partition_specs] == [0]
    _assert_day_partitioned(events, 0)
    _assert_deletes_follow_their_data_files(events)


def test_turning_the_flag_on_evolves_the_spec_and_maintenance_keeps_both_specs_valid(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    flags: MutableFeatureFlagService,
    tmp_path: Path,
) -> None:
    _create(source, "events")
    options = write_options(tmp_path, {"public.events": DAY})
    assert _migrate(source_dsn, catalog_config, ["events"], options, flags).ok
    old_files = {f.file_path for f in _files(_table(catalog_config, "events"))[0]}

    flags.enable(names.FLAG_ICEBERG_PARTITIONING, actor="test", reason="partition events", entity="lake.events")
    _change(source, "events", 1)
    result = _sync(source_dsn, catalog_config, "events", options, flags)
    assert result.schema_changes == ["partition spec now (created_at_day); files written before keep theirs"]
    assert_exact(source_dsn, catalog_config, "events")
    events = _table(catalog_config, "events")
    assert events.spec().spec_id == 1 and [f.name for f in events.spec().fields] == ["created_at_day"]
    data, _ = _files(events)
    assert {f.file_path for f in data if f.spec_id == 0} == old_files  # old files stay, unrewritten
    _assert_day_partitioned(events, 1)
    _assert_deletes_follow_their_data_files(events)  # deletes of old rows are in spec 0

    again = _sync(source_dsn, catalog_config, "events", options, flags)  # evolved once, not on every sync
    assert again.schema_changes == [] and len(_table(catalog_config, "events").metadata.partition_specs) == 2
    _change(source, "events", 2)  # touches files of both specs
    _sync(source_dsn, catalog_config, "events", options, flags)
    assert_exact(source_dsn, catalog_config, "events")

    report = maintain_table(open_catalog(catalog_config), ("lake", "events"), MaintenanceRequest(namespace="lake"))
    assert report.status == "maintained", report.error
    events = _table(catalog_config, "events")
    data, deletes = _files(events)
    assert deletes == [] and len([f for f in data if f.spec_id == 0]) == 1  # compacted within spec 0
    _assert_day_partitioned(events, 1)
    assert_exact(source_dsn, catalog_config, "events")
    _change(source, "events", 3)
    _sync(source_dsn, catalog_config, "events", options, flags)
    assert_exact(source_dsn, catalog_config, "events")


def test_the_cli_reads_the_flag_from_the_flag_store(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    from tests.test_cli import run_cli

    _create(source, "events")
    env = {
        "CUTOVER_FLAGS_FILE": str(tmp_path / "flags.json"), "CUTOVER_SOURCE_DSN": source_dsn,
        "CUTOVER_CATALOG_URI": catalog_config.uri, "CUTOVER_WAREHOUSE": catalog_config.warehouse,
        "CUTOVER_NAMESPACE": "lake",
    }  # fmt: skip
    on = run_cli("flags", "set", "iceberg-partitioning", "on", "--entity", "lake.events", "--actor", "t",
                 "--reason", "partition events", env=env)  # fmt: skip
    assert on.returncode == 0, on.stderr
    weekly = write_options(tmp_path, {"public.events": {"partition": [{"column": "id", "transform": "weekly"}]}})
    bad = run_cli("migrate", "--table-options", str(weekly), env=env)
    assert bad.returncode == 2 and "unknown partition transform 'weekly'" in bad.stderr
    assert "Traceback" not in bad.stderr and not table_exists(catalog_config, "events")

    loaded = run_cli("migrate", "--table-options", str(write_options(tmp_path, {"public.events": DAY})), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert [f.name for f in _table(catalog_config, "events").spec().fields] == ["created_at_day"]
