"""Every column hash computed over Iceberg's Arrow equals PostgreSQL's, value by value, for every type."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from psycopg import sql

from cutover.config import CatalogConfig, TableOptions, TableOptionsFile
from cutover.hashing import RowHasher, isin_sorted
from cutover.lake.catalog import open_catalog
from cutover.lake.types import ColumnMapping, map_column, map_table
from cutover.source.introspect import SourceColumn, SourceTable, introspect_table
from tests.helpers import migrate, write_options

WIDE = """
create type mood as enum ('sad', 'ok', 'happy');
create table wide (
    id int primary key, i2 smallint, i4 integer, i8 bigint, o oid, b boolean, d date, ts timestamp,
    tstz timestamptz, t time, f4 real, f8 double precision, u uuid, n12 numeric(12,2), n30 numeric(30,4),
    n_free numeric, m money, tx text, vc varchar(10), ch char(5), js json, jb jsonb, e mood, ip inet,
    by bytea, iv interval, ia int[], ta text[], fa float8[], ts_inf timestamptz
);
insert into wide
select g, (g % 300 - 150)::smallint, g * 7919 - 50000, g::bigint * 1000003 - 4611686018427387904, g::oid,
       g % 2 = 0, date '2000-01-01' + (g * 37 - 5000), timestamp '1999-12-31 23:59:59.5' + make_interval(secs => g * 3601.25),
       timestamptz '1960-02-29 12:00:00+05' + make_interval(secs => g * 86399.999999), time '00:00' + make_interval(secs => g * 17.5),
       case when g % 9 = 0 then 'NaN'::real when g % 9 = 1 then '-0'::real else g / 7.0 end,
       case when g % 11 = 0 then '-Infinity'::float8 when g % 11 = 1 then 0 else -g / 3.0 end,
       md5(g::text)::uuid, (g % 2000 - 1000) / 8.0, (g - 250) * 1234567.8901,
       case when g % 5 = 0 then 0 else g / 8.0 end, (g - 100) / 4.0,
       case when g % 4 = 0 then '' else 'ünï ' || repeat('x', g % 40) end, left('v' || g, 10),
       case when g % 3 = 0 then 'ab' else 'abcde' end, json_build_object('z', g, 'a', 'x'),
       jsonb_build_object('b', g, 'a', array[g, -g], 'c', null), (array['sad','ok','happy']::mood[])[1 + g % 3],
       ('10.0.' || (g % 255) || '.1/24')::inet, decode(lpad(to_hex(g * 977), 10, '0'), 'hex'),
       make_interval(months => g % 14 - 7, days => g % 40, secs => g / 7.0),
       array[g, null, -g], array['a b', null, 'NULL', '', 'q"x', 'c{d}'], array[g / 2.0, 'NaN'::float8],
       case when g % 7 = 0 then 'infinity'::timestamptz when g % 7 = 1 then '-infinity' else now() end
from generate_series(1, 400) g;
insert into wide (id) values (0);  -- a row of NULLs
"""


def test_every_column_hash_matches_postgresql(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    source.execute(WIDE)
    options = write_options(
        tmp_path,
        {"public.wide": {"columns": {"n_free": {"numeric": "decimal38", "numeric_scale": 6},
                                     "ts_inf": {"infinity": "sentinel"}}}},
    )  # fmt: skip
    assert migrate(source_dsn, catalog_config, ["wide"], table_options=options).ok
    table = introspect_table(source, "public", "wide")
    hasher = RowHasher(map_table(table, TableOptionsFile.load(options).for_table("public", "wide")), ["id"])
    kinds = {c.kind for c in hasher.columns}
    assert kinds == {"int4", "int8", "bool", "date", "timestamp", "timestamptz", "time", "float", "uuid",
                     "numeric", "decimal_text", "string", "canonical_text"}  # fmt: skip

    for name, value in (("TimeZone", "UTC"), ("DateStyle", "ISO, YMD"), ("IntervalStyle", "postgres")):
        source.execute(sql.SQL("set {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    query = sql.SQL("select {} from wide order by id").format(sql.SQL(", ").join(c.pg() for c in hasher.columns))
    expected = np.array(source.execute(query).fetchall(), dtype=object)

    data = open_catalog(catalog_config).load_table(("lake", "wide")).scan().to_arrow()
    data = data.take(pc.sort_indices(data, [("id", "ascending")]))
    batch = data.combine_chunks().to_batches()[0]
    got = hasher.arrow_column_hashes(batch, duckdb.connect())
    for position, column in enumerate(hasher.columns):
        want = [int(v) % (1 << 64) for v in expected[:, position]]
        assert got[column.name].tolist() == want, f"{column.name} ({column.kind}) hashes differ"


def _mapping(name: str, pg_type: str) -> ColumnMapping:
    """A column mapping without a database: ``text``, ``bytea`` or ``<element>[]``."""
    element = pg_type.removesuffix("[]") if pg_type.endswith("[]") else None
    categories = {"text": "S", "bytea": "U", "int4": "N"}
    column = SourceColumn(
        name=name,
        base_type=f"_{element}" if element else pg_type,
        display_type=pg_type,
        typmod=-1,
        not_null=False,
        category="A" if element else categories[pg_type],
        element_type=element,
        element_category=categories[element] if element else None,
    )
    table = SourceTable("public", "t", 0, (column,), (), False, (0,), 0, 0)
    return map_column(table, column, TableOptions())


def test_null_and_empty_string_hash_differently_and_columns_have_their_own_seeds() -> None:
    hasher = RowHasher([_mapping("a", "text"), _mapping("b", "text")])
    batch = pa.RecordBatch.from_pydict({"a": pa.array(["", None, "x"]), "b": pa.array(["x", "", None])})
    hashes = hasher.arrow_column_hashes(batch)
    assert len(set(hashes["a"].tolist())) == 3
    assert hashes["a"][2] != hashes["b"][0]  # the same value in two columns
    row, _ = hasher.arrow_hashes(batch)
    swapped, _ = hasher.arrow_hashes(pa.RecordBatch.from_pydict({"a": batch.column("b"), "b": batch.column("a")}))
    assert set(row.tolist()).isdisjoint(swapped.tolist())


@pytest.mark.parametrize("kind_type", ["int4[]", "bytea"])
def test_text_form_columns_need_duckdb(kind_type: str) -> None:
    hasher = RowHasher([_mapping("v", kind_type)])
    assert hasher.needs_duckdb
    with pytest.raises(ValueError, match="DuckDB"):
        hasher.arrow_column_hashes(pa.RecordBatch.from_pydict({"v": pa.array([None], pa.binary())}))


@pytest.mark.parametrize("ascending", [True, False])
def test_isin_sorted_matches_numpy_for_ascending_and_shuffled_values(ascending: bool) -> None:
    """Ascending values with a small set take the lookup-in-values path; both must agree with np.isin."""
    rng = np.random.default_rng(7)
    values = np.unique(rng.integers(-(10**12), 10**12, 50_000))
    if not ascending:
        rng.shuffle(values)
    keys = np.unique(np.concatenate([rng.choice(values, 300), rng.integers(-(10**12), 10**12, 300)]))
    expected = np.isin(values, keys)
    assert expected.sum() >= 250  # the values picked as keys (a few picked twice)
    assert np.array_equal(isin_sorted(values, keys), expected)


WARM_UP_CHECK = """
import json, sys
import duckdb
from pathlib import Path
from cutover.config import CatalogConfig, TableOptionsFile
from cutover.hashing import RowHasher, lookup3
from cutover.lake.catalog import open_catalog
from cutover.lake.types import map_table
from cutover.source.connection import connect
from cutover.source.introspect import introspect_table

lookup3.warm_up()
kernels = lookup3._kernels()
loops = ("hash_ranges", "hash_fixed", "hash_numerics")
loaded = {name: sorted(map(str, getattr(kernels, name).signatures)) for name in loops}
dsn, catalog, options = sys.argv[1], CatalogConfig.model_validate_json(sys.argv[2]), Path(sys.argv[3])
with connect(dsn) as conn:
    table = introspect_table(conn, "public", "wide")
hasher = RowHasher(map_table(table, TableOptionsFile.load(options).for_table("public", "wide")), ["id"])
duck = duckdb.connect()
for batch in open_catalog(catalog).load_table(("lake", "wide")).scan().to_arrow().to_batches():
    hasher.arrow_hashes(batch, duck)
after = {name: sorted(map(str, getattr(kernels, name).signatures)) for name in loops}
print(json.dumps({"loaded": loaded, "after": after}))
"""


def test_warm_up_loads_the_specializations_row_hashing_uses(
    source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig, tmp_path: Path
) -> None:
    """In a fresh process: after the warm-up, hashing every column kind loads no other specialization."""
    import json
    import subprocess
    import sys

    source.execute(WIDE)
    options = write_options(
        tmp_path, {"public.wide": {"columns": {"n_free": {"numeric": "decimal38"}, "ts_inf": {"infinity": "sentinel"}}}}
    )
    assert migrate(source_dsn, catalog_config, ["wide"], table_options=options).ok
    done = subprocess.run(
        [sys.executable, "-c", WARM_UP_CHECK, source_dsn, catalog_config.model_dump_json(), str(options)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["after"] == seen["loaded"]
