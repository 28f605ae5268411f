"""The whole-file reader (``FileStream.batches``) yields what pyiceberg's own per-file reader yields.

Both read the same files of a table whose schema evolved (a renamed column, a column added after the
first files, an int widened to long, a list column) and which carries position deletes in the middle
of row groups and at batch edges; every file must come out cell for cell the same, whatever the batch
size, with batches of the size asked for.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import IntegerType, ListType, LongType, NestedField, StringType

from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.lake.row_delta import commit_row_delta, write_position_deletes
from cutover.lake.scan import file_streams

ROWS = 5_000
DELETED = [0, 1, 299, 300, 301, 2047, 2048, 4095, ROWS - 1]
"""Positions deleted in each data file: row-group and batch edges, the first and the last row."""


@pytest.fixture
def evolved(catalog_config: CatalogConfig) -> Table:
    catalog = open_catalog(catalog_config)
    catalog.create_namespace_if_not_exists("lake")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "qty", IntegerType()),
        NestedField(3, "label", StringType()),
        NestedField(4, "tags", ListType(5, StringType(), element_required=False)),
    )
    table = catalog.create_table(("lake", "evolved"), schema, properties={"write.parquet.row-group-limit": "300"})
    ids = np.arange(ROWS, dtype=np.int64)
    table.append(
        pa.table(
            {
                "id": pa.array(ids),
                "qty": pa.array([None if i % 7 == 0 else int(i % 1000) for i in ids], pa.int32()),
                "label": pa.array([f"row {i}" if i % 5 else None for i in ids]),
                "tags": pa.array([[f"t{i}", None] if i % 3 else None for i in ids], pa.list_(pa.string())),
            },
            schema=table.schema().as_arrow(),
        )
    )
    with table.update_schema() as update:
        update.rename_column("label", "name")
        update.update_column("qty", LongType())
        update.add_column("region", StringType())
    more = np.arange(ROWS, 2 * ROWS, dtype=np.int64)
    table.append(
        pa.table(
            {
                "id": pa.array(more),
                "qty": pa.array(more * 1_000_000),
                "name": pa.array([f"new {i}" for i in more]),
                "tags": pa.array([[] for _ in more], pa.list_(pa.string())),
                "region": pa.array(["eu" if i % 2 else None for i in more]),
            },
            schema=table.schema().as_arrow(),
        )
    )
    deleted = np.array(DELETED, dtype=np.int64)
    delete_files = [
        (write_position_deletes(table, task.file, deleted, "test", table.properties), str(task.file.file_path))
        for task in table.scan().plan_files()
    ]
    commit_row_delta(table.transaction(), data_files=[], delete_files=delete_files, properties={})
    return open_catalog(catalog_config).load_table(("lake", "evolved"))


@pytest.mark.parametrize("rows", [7, 300, 2048, 100_000])
def test_whole_file_batches_equal_pyiceberg_batches(evolved: Table, rows: int) -> None:
    streams = file_streams(evolved)
    assert len(streams) == 2 and all(s.read is not None for s in streams)
    assert len({str(d.file_path) for s in streams if s.task is not None for d in s.task.delete_files}) == 2
    for stream in streams:
        expected = pa.Table.from_batches(list(stream.open()))
        batches = list(stream.batches(rows))
        assert all(b.num_rows > 0 for b in batches)
        assert all(b.num_rows <= rows for b in batches)
        got = pa.Table.from_batches(batches)
        assert got.schema == expected.schema
        assert got.equals(expected), stream.path
    rows_read = sum(b.num_rows for s in streams for b in s.batches(rows))
    assert rows_read == 2 * (ROWS - len(DELETED))


def test_a_projection_and_a_filter_read_like_pyiceberg(evolved: Table) -> None:
    from pyiceberg.expressions import GreaterThanOrEqual

    projected = file_streams(evolved, ("qty", "region"))
    assert all(s.read is not None for s in projected)
    for stream in projected:
        expected = pa.Table.from_batches(list(stream.open()))
        assert pa.Table.from_batches(list(stream.batches(1_000))).equals(expected)
        assert expected.column_names == ["qty", "region"]
    only_added = file_streams(evolved, ("region",))  # the first file holds none of it: all NULL, deletes kept
    assert [sum(b.num_rows for b in s.batches(1_000)) for s in only_added] == [ROWS - len(DELETED)] * 2
    for stream in only_added:
        assert pa.Table.from_batches(list(stream.batches(1_000))).equals(pa.Table.from_batches(list(stream.open())))
    filtered = file_streams(evolved, row_filter=GreaterThanOrEqual("id", ROWS))
    assert filtered and all(s.read is None for s in filtered)  # a filter goes through pyiceberg's reader
    for stream in filtered:
        coalesced = list(stream.batches(1_000))
        assert pa.Table.from_batches(coalesced).equals(pa.Table.from_batches(list(stream.open())))
        assert all(b.num_rows >= 1_000 for b in coalesced[:-1])
