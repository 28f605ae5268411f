"""Every row of the type table, cell by cell after a round trip PostgreSQL → Iceberg → Arrow."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cutover.config import CatalogConfig
from cutover.lake.types import TYPE_RULES
from tests.helpers import migrate, read_data_files, read_iceberg, table_exists, write_options

SCHEMA = """
create type mood as enum ('sad', 'ok', 'happy');
create domain posint as integer check (value > 0);
create domain shortname as varchar(20) not null;
create type pair as (a integer, b text);
create table everything (
    id bigint primary key,
    c_smallint smallint, c_integer integer, c_domain posint, c_name shortname, c_oid oid,
    c_numeric numeric(12,2), c_numeric38 numeric(38,10), c_money money,
    c_real real, c_double double precision, c_bool boolean,
    c_text text, c_varchar varchar(10), c_char char(3), c_enum mood,
    c_inet inet, c_cidr cidr, c_macaddr macaddr, c_tsvector tsvector, c_xml xml, c_timetz timetz,
    c_bit bit(4), c_range int4range, c_point point, c_composite pair,
    c_json json, c_jsonb jsonb, c_uuid uuid, c_bytea bytea,
    c_date date, c_time time, c_timestamp timestamp, c_timestamptz timestamptz, c_interval interval,
    c_int_array integer[], c_text_array text[], c_numeric_array numeric(6,2)[], c_enum_array mood[],
    c_ts_array timestamptz[], c_jsonb_array jsonb[], c_interval_array interval[]
);
"""

ROWS = [
    """(1, -32768, -2147483648, 1, 'a', 4294967295,
        -9999999999.99, 1234567890123456789012345678.0123456789, -92233720368547758.08,
        'NaN', 'Infinity', true,
        'héllo ✓ 𝄞', 'abc', 'ab', 'happy',
        '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 'a fat cat sat', '<a x="1">ü</a>', '12:34:56.5+05:30',
        B'1010', '[1,10)', '(1.5,-2)', '(7,"x y")',
        '{"b": 1, "a": "ü"}', '{"z": [1, 2, {"ü": null}], "a": "\\u00e9"}',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10',
        '1900-02-28', '23:59:59.999999', '1969-12-31 23:59:59.999999', '1950-06-01 12:00:00+09:30',
        '-1 year 2 months -3 days 04:05:06.789',
        '{1,NULL,3}', '{"a",NULL,""}', '{1.5,NULL,-2.25}', '{sad,happy}',
        '{"2001-02-03 04:05:06+02",NULL}', ARRAY['{"k": 1}'::jsonb, NULL], '{"1 day","-2 mons"}')""",
    """(2, 32767, 2147483647, 2147483647, 'z', 0,
        0.5, -0.0000000001, 0.01,
        '-Infinity', 'NaN', false,
        '', '', '   ', 'sad',
        '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '', '<r/>', '00:00:00-12',
        B'0000', 'empty', '(0,0)', '(,)',
        '[]', '{}',
        '00000000-0000-0000-0000-000000000000', '',
        '0001-01-01', '00:00:00', '0001-01-01 00:00:00', '2262-04-11 23:47:16.854775+00',
        '0',
        '{}', '{}', '{}', '{}', '{}', '{}', '{}')""",
    # all NULL but the NOT NULL domain column c_name (the 5th column)
    "(3, NULL, NULL, NULL, 'x'" + ", NULL" * 37 + ")",
]

# How each column's expected value is read from PostgreSQL so it compares with the Iceberg value.
EXPECTED_SQL = {
    "c_money": "c_money::numeric",
    "c_interval": (
        "case when c_interval is null then null else json_build_object("
        "'months', (extract(year from c_interval) * 12 + extract(month from c_interval))::int, "
        "'days', extract(day from c_interval)::int, "
        "'microseconds', ((extract(hour from c_interval) * 3600 + extract(minute from c_interval) * 60) * 1000000"
        " + extract(microseconds from c_interval))::bigint) end"
    ),
    "c_interval_array": "c_interval_array::text[]",
}
TEXT_FORM = {
    "c_enum",
    "c_inet",
    "c_cidr",
    "c_macaddr",
    "c_tsvector",
    "c_xml",
    "c_timetz",
    "c_bit",
    "c_range",
    "c_point",
    "c_composite",
    "c_json",
    "c_jsonb",
}
TEXT_FORM_ARRAYS = {"c_enum_array", "c_jsonb_array"}


def _expected_sql(column: str) -> str:
    if column in EXPECTED_SQL:
        return EXPECTED_SQL[column]
    if column in TEXT_FORM:
        return f"{column}::text"
    if column in TEXT_FORM_ARRAYS:
        return f"{column}::text[]"
    return column


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, Decimal):
        return isinstance(actual, Decimal) and str(expected) == str(actual)  # same digits, same scale
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual and type(expected) is type(actual))


def _interval_parts(text: str) -> dict[str, int]:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as conn:
        row = conn.execute(f"select {EXPECTED_SQL['c_interval']} from (select %s::interval as c_interval) x", (text,))
        return row.fetchone()[0]  # type: ignore[index]


@pytest.fixture
def loaded(source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig) -> list[dict[str, Any]]:
    source.execute(SCHEMA)
    source.execute("insert into everything values " + ", ".join(ROWS))
    report = migrate(source_dsn, catalog_config, ["everything"])
    assert report.ok, report.tables[0].error
    assert report.tables[0].rows == 3
    rows = sorted(read_iceberg(catalog_config, "everything").to_pylist(), key=lambda r: r["id"])
    # pyiceberg's reader turns a NULL list<struct> into [] (apache/iceberg-python#3833): take that column
    # from the data files themselves, which hold the NULL.
    from_files = sorted(read_data_files(catalog_config, "everything").to_pylist(), key=lambda r: r["id"])
    for row, file_row in zip(rows, from_files, strict=True):
        row["c_interval_array"] = file_row["c_interval_array"]
    return rows


def test_every_type_round_trips_cell_by_cell(loaded: list[dict[str, Any]], source: psycopg.Connection) -> None:
    columns = [name for name in loaded[0] if name != "id"]
    select = ", ".join(_expected_sql(c) + f" as {c}" for c in columns)
    expected_rows = source.execute(f"select id, {select} from everything order by id").fetchall()
    mismatches = []
    for expected_row, actual in zip(expected_rows, loaded, strict=True):
        for column, expected in zip(columns, expected_row[1:], strict=True):
            value = actual[column]
            if column == "c_interval_array" and expected is not None:
                expected = [_interval_parts(t) for t in expected]
            if column == "c_oid" and expected is not None:
                expected = int(expected)
            if not _same(expected, value):
                mismatches.append((actual["id"], column, expected, value))
    assert mismatches == [], "\n".join(map(repr, mismatches))


def test_instants_are_kept_exactly_in_utc(loaded: list[dict[str, Any]]) -> None:
    from datetime import UTC, datetime

    assert loaded[0]["c_timestamptz"] == datetime(1950, 6, 1, 2, 30, tzinfo=UTC)
    assert loaded[0]["c_timestamptz"].utcoffset().total_seconds() == 0
    assert loaded[0]["c_timestamp"] == datetime(1969, 12, 31, 23, 59, 59, 999999)


def test_iceberg_schema_follows_the_type_table(catalog_config: CatalogConfig, loaded: list[dict[str, Any]]) -> None:
    from cutover.lake.catalog import open_catalog

    schema = open_catalog(catalog_config).load_table(("lake", "everything")).schema()
    types = {f.name: str(f.field_type) for f in schema.fields}
    assert types["c_smallint"] == "int" and types["c_domain"] == "int" and types["c_oid"] == "long"
    assert types["c_numeric"] == "decimal(12, 2)" and types["c_numeric38"] == "decimal(38, 10)"
    assert types["c_money"] == "decimal(19, 2)"
    assert types["c_real"] == "float" and types["c_double"] == "double"
    assert types["c_uuid"] == "uuid" and types["c_bytea"] == "binary"
    assert types["c_timestamp"] == "timestamp" and types["c_timestamptz"] == "timestamptz"
    assert types["c_interval"].startswith("struct<") and "months" in types["c_interval"]
    assert types["c_numeric_array"].startswith("list<decimal(6, 2)")
    for name in ("c_enum", "c_inet", "c_jsonb", "c_range", "c_composite", "c_timetz"):
        assert types[name] == "string", name
    assert schema.identifier_field_names() == {"id"}
    assert schema.find_field("c_name").required and not schema.find_field("c_text").required


def test_type_table_has_a_rule_for_each_documented_row() -> None:
    labels = [rule.pg_label for rule in TYPE_RULES]
    assert len(labels) == len(set(labels))
    assert any("interval" in label for label in labels)


@pytest.mark.parametrize(
    ("ddl", "value", "column", "pg_type", "problem"),
    [
        ("timestamptz", "'infinity'", "v", "timestamp with time zone", "infinity"),
        ("timestamp", "'-infinity'", "v", "timestamp without time zone", "infinity"),
        ("date", "'infinity'", "v", "date", "infinity"),
        ("numeric(10,2)", "'NaN'", "v", "numeric(10,2)", "NaN"),
        ("int[]", "'{{1,2},{3,4}}'", "v", "integer[]", "multi-dimensional"),
        ("timestamptz[]", "'{2020-01-01,infinity}'", "v", "timestamp with time zone[]", "infinity"),
    ],
)
def test_unrepresentable_values_are_refused_naming_table_column_type_and_key(
    source: psycopg.Connection,
    source_dsn: str,
    catalog_config: CatalogConfig,
    ddl: str,
    value: str,
    column: str,
    pg_type: str,
    problem: str,
) -> None:
    source.execute(f"create table bad (id int primary key, v {ddl}); create table good (id int primary key)")
    source.execute(f"insert into bad values (1, null), (42, {value}); insert into good values (1)")
    report = migrate(source_dsn, catalog_config, ["bad", "good"])
    bad, good = report.tables
    assert bad.status == "refused" and good.status == "migrated"
    assert bad.error is not None
    for fragment in ("public.bad", f"'{column}'", pg_type, "id=42", problem):
        assert fragment in bad.error, (fragment, bad.error)
    assert not table_exists(catalog_config, "bad")
    assert table_exists(catalog_config, "good")


def test_unconstrained_numeric_is_refused_before_anything_is_created(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    source.execute("create table n (id int primary key, v numeric, w numeric(50,2)); insert into n values (1, 1, 1)")
    report = migrate(source_dsn, catalog_config, ["n"])
    assert report.tables[0].status == "refused"
    assert "column 'v'" in str(report.tables[0].error) and "numeric" in str(report.tables[0].error)
    assert not table_exists(catalog_config, "n")


def test_numeric_opt_ins_are_exact_or_refused(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    source.execute("create table n (id int primary key, v numeric, w numeric(50,2))")
    source.execute("insert into n values (1, 1.5, 123456789012345678901234567890123456789012.25), (2, 'NaN', null)")
    options = write_options(
        tmp_path, {"public.n": {"columns": {"v": {"numeric": "string"}, "w": {"numeric": "string"}}}}
    )
    report = migrate(source_dsn, catalog_config, ["n"], table_options=options)
    assert report.ok, report.tables[0].error
    rows = sorted(read_iceberg(catalog_config, "n").to_pylist(), key=lambda r: r["id"])
    assert rows[0]["v"] == "1.5" and rows[0]["w"] == "123456789012345678901234567890123456789012.25"
    assert rows[1]["v"] == "NaN"

    source.execute("create table m (id int primary key, v numeric); insert into m values (1, 1.5), (2, 0.123)")
    options = write_options(tmp_path, {"public.m": {"columns": {"v": {"numeric": "decimal38", "numeric_scale": 2}}}})
    report = migrate(source_dsn, catalog_config, ["m"], table_options=options)
    assert report.tables[0].status == "refused"
    assert "id=2" in str(report.tables[0].error) and "0.123" in str(report.tables[0].error)


def test_infinity_sentinels_are_an_explicit_opt_in(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    from datetime import date

    source.execute(
        "create table s (id int primary key, d date); insert into s values (1, 'infinity'), (2, '-infinity')"
    )
    options = write_options(
        tmp_path,
        {
            "public.s": {
                "columns": {
                    "d": {
                        "infinity": "sentinel",
                        "negative_infinity_sentinel": "0001-01-01",
                        "positive_infinity_sentinel": "9999-12-31",
                    }
                }
            }
        },
    )
    report = migrate(source_dsn, catalog_config, ["s"], table_options=options)
    assert report.ok, report.tables[0].error
    rows = sorted(read_iceberg(catalog_config, "s").to_pylist(), key=lambda r: r["id"])
    assert [r["d"] for r in rows] == [date(9999, 12, 31), date(1, 1, 1)]
