"""Parity against real PostgreSQL and a real Iceberg table: negative controls and canonical forms."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.expressions import EqualTo

from cutover.config import CatalogConfig, TableOptions
from cutover.lake.catalog import open_catalog
from cutover.lake.types import map_table
from cutover.source.introspect import introspect_table
from cutover.validation import ParityOptions, TableValidation, ValidationRequest, validate_tables
from cutover.validation.parity.stats import SourceStatQuery
from tests.helpers import migrate

ORDERS = """
create table orders (
    id bigint primary key, customer text not null, amount numeric(12,2) not null, placed timestamptz,
    note text, payload jsonb, ratio double precision, tags text[], blob bytea, code char(4), wait interval
);
insert into orders
select g, 'c' || (g % 97), (g % 1000) / 4.0, timestamptz '2024-01-01 00:00+00' + make_interval(mins => g),
       case when g % 5 = 0 then null when g % 5 = 1 then '' else 'n' || g end,
       case when g % 3 = 0 then null else jsonb_build_object('b', g, 'a', array[g, g + 1]) end,
       case when g % 50 = 0 then 'NaN'::float8 when g % 51 = 0 then '-Infinity' else g / 3.0 end,
       case when g % 4 = 0 then null when g % 4 = 1 then array[]::text[] else array['x, y', null, 'NULL', '', 'q"b'] end,
       case when g % 6 = 0 then null else decode(lpad(to_hex(g), 8, '0'), 'hex') end,
       case when g % 2 = 0 then 'ab' end,
       make_interval(months => g % 14, days => g % 40, secs => g / 7.0)
from generate_series(1, 30000) g;
analyze orders;
"""


def _validate(dsn: str, catalog: CatalogConfig, table: str = "orders", **kwargs: object) -> TableValidation:
    request = ValidationRequest(source_dsn=dsn, tables=[table], namespace="lake", expectations_dir=None, **kwargs)
    report = validate_tables(request, catalog)
    assert len(report.tables) == 1
    return report.tables[0]


@pytest.fixture
def orders(source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig) -> CatalogConfig:
    source.execute(ORDERS)
    assert migrate(source_dsn, catalog_config, ["orders"], batch_rows=10_000).ok
    return catalog_config


def test_parity_clean_copy_passes_with_every_canonical_form(orders: CatalogConfig, source_dsn: str) -> None:
    result = _validate(source_dsn, orders)
    assert result.status == "passed", result.reason
    assert (result.source_rows, result.iceberg_rows, result.matching_rows) == (30_000, 30_000, 30_000)
    assert result.success_percentage == 100.0
    assert result.differences == []
    stats = {c.column: c for c in result.columns}
    assert stats["amount"].source_sum == stats["amount"].iceberg_sum is not None
    assert stats["note"].source_nulls == stats["note"].iceberg_nulls == 6_000
    assert stats["customer"].source_nulls == stats["customer"].iceberg_nulls == 0  # NOT NULL: not counted


def test_the_source_counts_nulls_only_where_the_column_allows_them(source: psycopg.Connection) -> None:
    source.execute(ORDERS.split("insert into")[0])
    mappings = map_table(introspect_table(source, "public", "orders"), TableOptions())
    items = SourceStatQuery(mappings, "r").select_items().as_string(source)
    assert 'count("r"."note")' in items and 'count("r"."placed")' in items
    assert (
        'count("r"."customer")' not in items and 'count("r"."amount")' not in items and 'count("r"."id")' not in items
    )
    assert 'min("r"."amount")' in items and 'sum("r"."amount")' in items  # the other aggregates stay


def test_parity_names_exactly_the_iceberg_side_changes(orders: CatalogConfig, source_dsn: str) -> None:
    table = open_catalog(orders).load_table(("lake", "orders"))
    row = table.scan(row_filter=EqualTo("id", 1234)).to_arrow()
    changed = row.set_column(row.schema.get_field_index("note"), row.schema.field("note"), pa.array(["edited"]))
    with table.transaction() as tx:
        tx.delete(EqualTo("id", 1234))
        tx.append(changed)
    table = open_catalog(orders).load_table(("lake", "orders"))
    table.delete(EqualTo("id", 20_000))
    extra = table.scan(row_filter=EqualTo("id", 7)).to_arrow()
    extra = extra.set_column(0, extra.schema.field("id"), pa.array([40_001], pa.int64()))
    table.append(extra)

    result = _validate(source_dsn, orders)
    assert result.status == "failed"
    found = {(d.kind, d.key["id"]): [c.column for c in d.columns] for d in result.differences}
    assert found == {("changed", "1234"): ["note"], ("missing", "20000"): [], ("extra", "40001"): []}
    (changed_row,) = [d for d in result.differences if d.kind == "changed"]
    assert (changed_row.columns[0].source, changed_row.columns[0].iceberg) == ("n1234", "edited")
    assert (result.missing_total, result.extra_total, result.changed_total) == (1, 1, 1)
    assert result.matching_rows == 29_998
    assert result.success_percentage == pytest.approx(100 * 29_998 / 30_000, abs=1e-3)
    assert "1 rows missing in Iceberg (id=20000)" in result.reason  # the reason names a key to look at
    assert "1 rows with different values (id=1234: note)" in result.reason and "edited" not in result.reason


def test_parity_names_a_changed_source_row(orders: CatalogConfig, source: psycopg.Connection, source_dsn: str) -> None:
    source.execute("update orders set amount = amount + 0.01, payload = '{\"z\": 1}' where id = 4242")
    result = _validate(source_dsn, orders)
    assert [(d.kind, d.key, sorted(c.column for c in d.columns)) for d in result.differences] == [
        ("changed", {"id": "4242"}, ["amount", "payload"])
    ]
    assert result.changed_total == 1 and result.missing_total == result.extra_total == 0


@pytest.mark.parametrize(
    ("ddl", "source_value", "iceberg_value", "equal"),
    [
        ("numeric(12,2)", "1.50", pa.scalar(__import__("decimal").Decimal("1.5"), pa.decimal128(12, 2)), True),
        ("timestamptz", "2024-03-01 12:00:00+02", "2024-03-01 05:00:00-05", True),
        ("jsonb", '{"b": 1, "a": [1, 2]}', '{"a": [1, 2], "b": 1}', True),
        ("text", "''", None, False),
    ],
    ids=["numeric-scale", "instant-in-two-zones", "jsonb-key-order", "null-vs-empty"],
)
def test_canonical_form(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    ddl: str,
    source_value: str,
    iceberg_value: object,
    equal: bool,
) -> None:
    """The source holds one spelling; Iceberg is rewritten with another spelling of the same (or not) value."""
    source.execute(f"create table t (id int primary key, v {ddl})")
    literal = source_value if source_value == "''" else f"'{source_value}'"
    source.execute(f"insert into t values (1, {literal}), (2, null)")
    assert migrate(source_dsn, catalog_config, ["t"]).ok
    table = open_catalog(catalog_config).load_table(("lake", "t"))
    data = table.scan(row_filter=EqualTo("id", 1)).to_arrow()
    field = data.schema.field("v")
    if isinstance(iceberg_value, str) and pa.types.is_timestamp(field.type):
        value = pc.cast(pc.strptime(pa.array([iceberg_value]), "%Y-%m-%d %H:%M:%S%z", "us"), field.type)
    else:
        value = pa.array([iceberg_value], field.type)
    with table.transaction() as tx:
        tx.delete(EqualTo("id", 1))
        tx.append(data.set_column(1, field, value))
    result = _validate(source_dsn, catalog_config, "t")
    assert result.passed is equal, result.reason
    if not equal:
        assert [(d.kind, d.key, [(c.column, c.source, c.iceberg) for c in d.columns]) for d in result.differences] == [
            ("changed", {"id": "1"}, [("v", "", None)])
        ]


def test_table_without_primary_key_compares_row_multisets(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        "create table log (msg text, n int); insert into log select 'm' || g, g from generate_series(1, 500) g"
    )
    assert migrate(source_dsn, catalog_config, ["log"]).ok
    assert _validate(source_dsn, catalog_config, "log").passed
    source.execute("delete from log where n = 17; insert into log values ('m1', 1)")
    result = _validate(source_dsn, catalog_config, "log")
    assert not result.passed and not result.has_primary_key
    assert (result.missing_total, result.extra_total) == (1, 1)  # one more 'm1', one fewer 'm17'


def test_composite_text_key_drills_down_by_hash_buckets(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute(
        "create table kv (k text, part int, v text, primary key (k, part));"
        "insert into kv select 'key' || g, g % 3, md5(g::text) from generate_series(1, 3000) g"
    )
    assert migrate(source_dsn, catalog_config, ["kv"]).ok
    source.execute("update kv set v = 'x' where k = 'key77'")
    result = _validate(source_dsn, catalog_config, "kv", max_differences=5)
    assert [(d.kind, d.key, [c.column for c in d.columns]) for d in result.differences] == [
        ("changed", {"k": "key77", "part": "2"}, ["v"])
    ]


def test_extra_iceberg_row_with_text_key_and_float_column_is_named(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    """The extra-key read holds only the key columns; float preparation must not touch the (text) key."""
    source.execute(
        "create table readings (k text primary key, x float8);"
        "insert into readings select 'r' || g, g / 3.0 from generate_series(1, 200) g"
    )
    assert migrate(source_dsn, catalog_config, ["readings"]).ok
    table = open_catalog(catalog_config).load_table(("lake", "readings"))
    extra = table.scan(row_filter=EqualTo("k", "r7")).to_arrow()
    extra = extra.set_column(0, extra.schema.field("k"), pa.array(["planted"], extra.schema.field("k").type))
    table.append(extra)

    result = _validate(source_dsn, catalog_config, "readings")
    assert result.status == "failed", result.reason
    assert [(d.kind, d.key, d.columns) for d in result.differences] == [("extra", {"k": "planted"}, [])]
    assert (result.missing_total, result.extra_total, result.changed_total) == (0, 1, 0)


def test_unknown_table_is_bad_input(source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path) -> None:
    from cutover.errors import ConfigError

    with pytest.raises(ConfigError, match="no such table"):
        validate_tables(ValidationRequest(source_dsn=source_dsn, tables=["nope"]), catalog_config)


def test_missing_iceberg_table_is_an_error_result(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table lonely (id int primary key)")
    result = _validate(source_dsn, catalog_config, "lonely")
    assert result.status == "error" and "does not exist" in (result.error or "")


def test_a_failing_iceberg_side_cancels_the_source_aggregate(
    orders: CatalogConfig, source_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Iceberg table is loaded while the source's first-level aggregate already runs; when it turns out
    missing, the aggregate is cancelled (here it would sleep 60 s) and the Iceberg side's error is raised."""
    from cutover.source.connection import connect
    from cutover.source.introspect import introspect_table
    from cutover.validation.errors import IcebergTableMissingError
    from cutover.validation.parity import TableParity
    from cutover.validation.parity.source import SourceQueries

    level0 = SourceQueries.level0
    running = threading.Event()

    def slow_level0(self: SourceQueries, *args: Any) -> Any:
        running.set()
        self.conn.execute("select pg_sleep(60)")
        return level0(self, *args)

    def load_missing_table() -> Any:
        assert running.wait(30)
        time.sleep(0.2)  # the sleep has reached PostgreSQL
        raise IcebergTableMissingError("lake.orders")

    monkeypatch.setattr(SourceQueries, "level0", slow_level0)
    with connect(source_dsn) as conn:
        source = introspect_table(conn, "public", "orders")
    mappings = map_table(source, TableOptions())
    started = time.perf_counter()
    with pytest.raises(IcebergTableMissingError):
        TableParity(source_dsn, None, source, mappings, load_missing_table).run()
    assert time.perf_counter() - started < 20


def test_a_file_holding_more_rows_than_its_manifest_says_is_hashed_whole(
    orders: CatalogConfig, source_dsn: str
) -> None:
    from dataclasses import replace

    import numpy as np

    from cutover.lake.scan import file_streams
    from cutover.source.connection import connect
    from cutover.source.introspect import introspect_table
    from cutover.validation.parity.iceberg import hash_file
    from cutover.validation.parity.model import ParityTable

    with connect(source_dsn) as conn:
        source = introspect_table(conn, "public", "orders")
    table = ParityTable.of(source, map_table(source, TableOptions()), column_stats=True)
    stream = file_streams(open_catalog(orders).load_table(("lake", "orders")))[0]
    exact, understated = hash_file(table, stream), hash_file(table, replace(stream, record_count=1))
    assert len(exact.hashes) == stream.record_count > 1
    assert np.array_equal(understated.hashes, exact.hashes)
    assert understated.int_key is not None and exact.int_key is not None
    assert np.array_equal(understated.int_key, exact.int_key)


def test_parity_options_defaults_are_sane() -> None:
    assert ParityOptions().leaf_rows >= ParityOptions().rows_per_bucket
