"""Read benchmark: the five reads of the README's table plus a whole-table aggregate, PostgreSQL and Iceberg
side by side, in one run, results compared.

Builds ``orders`` (``bench/full_load.py``'s shape, :func:`cutover.demo.create_orders`) in database
``cutover_reads_<rows>`` (kept between runs; only the primary-key index), loads it with a plain
``migrate`` into a temporary catalog, then for each read runs ``--warmup`` untimed calls and ``--rounds``
timed calls per backend, interleaved, through ``DataTier.read_from`` (caches warm, p50 and p95), and checks
that both backends return the same rows. Iceberg is measured twice: as the tier reads by default (small
reads keep their decoded row groups, :class:`cutover.tier.files.RowGroupCache`) and with that cache off
("no-cache"); the key reads run again with a new key each round, which no cache serves. The aggregate (count, sum, min, max per status) runs as SQL on
PostgreSQL and, on Iceberg, as the tier's Arrow read of the three columns grouped by Arrow: the tier's read
model has no aggregates (see the README). Peak RSS of this process is printed at the end.

Usage: ``uv run python -m bench.reads [--rows 1000000 5000000] [--rounds 15] [--warmup 3]``.
Targets (issue #14, 5 M rows): one key ≤ 5 ms, five keys ≤ 10 ms, 1,000-row range ≤ 15 ms, non-key
equality and top-N no slower than PostgreSQL, aggregate faster than PostgreSQL.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from bench.full_load import bench_dsn
from cutover.config import default_catalog
from cutover.flags.local_file import LocalFlagFile
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.load.runner import MigrationRequest, run_migration
from cutover.tier import DataTier, Eq, IcebergBackend, In, PostgresBackend, Range, Router
from cutover.tier.comparison import default_query_set
from cutover.tier.normalize import arrow_rows, compare_rows
from cutover.tier.query import ReadQuery
from cutover.tier.router import Backend

ENTITY = "public.orders"
AGGREGATE_SQL = (
    "select status, count(*) as n, sum(amount) as total, min(created_at) as first, max(created_at) as last "
    "from orders group by status"
)


def _postgres_aggregate(tier: DataTier) -> list[dict[str, Any]]:
    with tier.postgres.connection() as conn, conn.cursor() as cur:
        cur.execute(AGGREGATE_SQL)
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _iceberg_aggregate(tier: DataTier) -> list[dict[str, Any]]:
    info = tier.entity(ENTITY)
    data = tier.iceberg.read_arrow(info, ReadQuery(ENTITY, columns=("status", "amount", "created_at")))
    grouped = data.group_by("status").aggregate(
        [([], "count_all"), ("amount", "sum"), ("created_at", "min"), ("created_at", "max")]
    )
    named = pa.table(
        {"status": grouped["status"], "n": grouped["count_all"], "total": grouped["amount_sum"],
         "first": grouped["created_at_min"], "last": grouped["created_at_max"]}
    )  # fmt: skip
    return arrow_rows(named, {})


Read = Callable[[int], dict[str, Any]]
"""The read of one round (its kwargs for ``DataTier.read_from``): the same every round, or a new key."""


def _fixed(kwargs: dict[str, Any]) -> Read:
    return lambda _round: kwargs


def _new_keys(rows: int, count: int, span: int) -> Read:
    """A different key (or keys, or range) each round, so no decoded row group is read twice: what the
    row-group cache cannot help with."""
    picker = random.Random(rows)

    def kwargs(_round: int) -> dict[str, Any]:
        if span:
            low = picker.randrange(1, rows - span)
            return {"filters": [Range("id", low, low + span)]}
        keys = [picker.randrange(1, rows + 1) for _ in range(count)]
        return {"filters": [Eq("id", keys[0])] if count == 1 else [In("id", tuple(keys))]}

    return kwargs


def _p(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=20, method="inclusive")[round(q * 20) - 1] if len(samples) > 1 else samples[0]
    )


def _timed(tier: DataTier, backend: Backend, kwargs: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    result = tier.read_from(backend, ENTITY, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def _reads(rows: int) -> list[tuple[str, Read]]:
    reads = [(spec.name, _fixed(spec.read_kwargs())) for spec in default_query_set("public").queries]
    return [
        *reads[:3],
        ("one row by key, a new key each round", _new_keys(rows, 1, 0)),
        ("five keys, new keys each round", _new_keys(rows, 5, 0)),
        ("1,000-row range, a new range each round", _new_keys(rows, 0, 1_000)),
        *reads[3:],
    ]


def bench(rows: int, rounds: int, warmup: int) -> None:
    dsn = bench_dsn(rows, f"cutover_reads_{rows}")  # its own: other benchmarks rebuild theirs
    with tempfile.TemporaryDirectory() as tmp:
        catalog = default_catalog(Path(tmp) / "state")
        started = time.perf_counter()
        report = run_migration(MigrationRequest(source_dsn=dsn, tables=["orders"], namespace="public"), catalog)
        assert report.ok, report.to_json()
        print(f"\n{rows:,} rows: migrate {time.perf_counter() - started:.1f} s, {report.tables[0].files} files")
        flags = MutableFeatureFlagService(LocalFlagFile(Path(tmp) / "flags.json"))
        postgres = PostgresBackend(dsn, max_size=2)
        tier = DataTier(postgres, IcebergBackend(open_catalog(catalog), metadata_ttl=3600), Router(flags))
        # The same reads with no decoded row group kept: what a read costs that decodes its row groups.
        uncached = IcebergBackend(open_catalog(catalog), metadata_ttl=3600, row_group_cache_bytes=0)
        bare = DataTier(PostgresBackend(dsn, max_size=1), uncached, Router(flags))
        print(
            f"{'read':42s} {'pg p50':>8s} {'pg p95':>8s} {'ice p50':>8s} {'ice p95':>8s} {'ice/pg':>6s} "
            f"{'no-cache':>8s} {'ratio':>6s} rows agree"
        )
        with tier, bare:
            for name, read in _reads(rows):
                _measure(tier, bare, name, read, rounds, warmup)
            _measure_aggregate(tier, rounds, warmup)


def _measure(tier: DataTier, bare: DataTier, name: str, read: Read, rounds: int, warmup: int) -> None:
    """``rounds`` interleaved rounds (PostgreSQL, Iceberg, Iceberg without the row-group cache), after
    ``warmup`` untimed ones; every round's results compared."""
    pg: list[float] = []
    ice: list[float] = []
    cold: list[float] = []
    agree, rows = True, 0
    for index in range(warmup + rounds):  # interleaved: a noisy neighbour hurts every side alike
        kwargs = read(index)
        pg_ms, pg_rows = _timed(tier, "postgres", kwargs)
        ice_ms, ice_rows = _timed(tier, "iceberg", kwargs)
        cold_ms, cold_rows = _timed(bare, "iceberg", kwargs)
        agree = agree and compare_rows(pg_rows, ice_rows).equal and compare_rows(pg_rows, cold_rows).equal
        rows = len(ice_rows)
        if index >= warmup:
            pg.append(pg_ms)
            ice.append(ice_ms)
            cold.append(cold_ms)
    _print(name, pg, ice, cold, rows, agree)


def _measure_aggregate(tier: DataTier, rounds: int, warmup: int) -> None:
    pg: list[float] = []
    ice: list[float] = []
    agree, rows = True, 0
    for index in range(warmup + rounds):
        started = time.perf_counter()
        pg_rows = _postgres_aggregate(tier)
        pg_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        ice_rows = _iceberg_aggregate(tier)
        ice_ms = (time.perf_counter() - started) * 1000
        agree = agree and compare_rows(pg_rows, ice_rows).equal
        rows = len(ice_rows)
        if index >= warmup:
            pg.append(pg_ms)
            ice.append(ice_ms)
    _print("aggregate by status", pg, ice, None, rows, agree)


def _print(name: str, pg: list[float], ice: list[float], cold: list[float] | None, rows: int, agree: bool) -> None:
    pg50, ice50 = statistics.median(pg), statistics.median(ice)
    uncached = f"{statistics.median(cold):8.2f} {statistics.median(cold) / pg50:6.2f}" if cold else f"{'':8s} {'':6s}"
    print(
        f"{name:42s} {pg50:8.2f} {_p(pg, 0.95):8.2f} {ice50:8.2f} {_p(ice, 0.95):8.2f} {ice50 / pg50:6.2f} "
        f"{uncached} {rows:4d} {'yes' if agree else 'NO'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    for rows in args.rows:
        bench(rows, args.rounds, args.warmup)
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
