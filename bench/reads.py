"""Read benchmark: the five reads of the README's table plus a whole-table aggregate, PostgreSQL and Iceberg
side by side, in one run, results compared.

Builds ``orders`` (``bench/full_load.py``'s shape, :func:`cutover.demo.create_orders`) in database
``cutover_reads_<rows>`` (kept between runs; only the primary-key index), loads it with a plain
``migrate`` into a temporary catalog, then for each read runs ``--warmup`` untimed calls and ``--rounds``
timed calls per backend, interleaved, through ``DataTier.read_from`` (caches warm, p50 and p95), and checks
that both backends return the same rows. The aggregate (count, sum, min, max per status) runs as SQL on
PostgreSQL and, on Iceberg, as the tier's Arrow read of the three columns grouped by Arrow: the tier's read
model has no aggregates (see the README). Peak RSS of this process is printed at the end.

Usage: ``uv run python -m bench.reads [--rows 1000000 5000000] [--rounds 15] [--warmup 3]``.
Targets (issue #14, 5 M rows): one key ≤ 5 ms, five keys ≤ 10 ms, 1,000-row range ≤ 15 ms, non-key
equality and top-N no slower than PostgreSQL, aggregate faster than PostgreSQL.
"""

from __future__ import annotations

import argparse
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
from cutover.tier import DataTier, IcebergBackend, PostgresBackend, Router
from cutover.tier.comparison import default_query_set
from cutover.tier.normalize import arrow_rows, compare_rows
from cutover.tier.query import ReadQuery

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


def _time(call: Callable[[], list[dict[str, Any]]], rounds: int, warmup: int) -> tuple[list[float], Any]:
    rows = None
    samples = []
    for i in range(warmup + rounds):
        started = time.perf_counter()
        rows = call()
        if i >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return samples, rows


def _p(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=20, method="inclusive")[round(q * 20) - 1] if len(samples) > 1 else samples[0]
    )


def bench(rows: int, rounds: int, warmup: int) -> None:
    dsn = bench_dsn(rows, f"cutover_reads_{rows}")  # its own: other benchmarks rebuild theirs
    with tempfile.TemporaryDirectory() as tmp:
        catalog = default_catalog(Path(tmp) / "state")
        started = time.perf_counter()
        report = run_migration(MigrationRequest(source_dsn=dsn, tables=["orders"], namespace="public"), catalog)
        assert report.ok, report.to_json()
        print(f"\n{rows:,} rows: migrate {time.perf_counter() - started:.1f} s, {report.tables[0].files} files")
        flags = MutableFeatureFlagService(LocalFlagFile(Path(tmp) / "flags.json"))
        tier = DataTier(
            PostgresBackend(dsn, max_size=2), IcebergBackend(open_catalog(catalog), metadata_ttl=3600), Router(flags)
        )
        reads: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = []
        for spec in default_query_set("public").queries:
            kwargs = spec.read_kwargs()
            reads.append((spec.name, _reader(tier, "postgres", kwargs), _reader(tier, "iceberg", kwargs)))
        reads.append(("aggregate by status", lambda: _postgres_aggregate(tier), lambda: _iceberg_aggregate(tier)))
        print(f"{'read':40s} {'pg p50':>9s} {'pg p95':>9s} {'ice p50':>9s} {'ice p95':>9s} {'ice/pg':>7s} rows agree")
        with tier:
            for name, pg_call, ice_call in reads:
                pg_samples: list[float] = []
                ice_samples: list[float] = []
                for _ in range(rounds):  # interleaved: a noisy neighbour hurts both sides alike
                    samples, pg_rows = _time(pg_call, 1, warmup if not pg_samples else 0)
                    pg_samples += samples
                    samples, ice_rows = _time(ice_call, 1, warmup if not ice_samples else 0)
                    ice_samples += samples
                agree = compare_rows(pg_rows, ice_rows).equal
                pg50, ice50 = statistics.median(pg_samples), statistics.median(ice_samples)
                print(
                    f"{name:40s} {pg50:9.2f} {_p(pg_samples, 0.95):9.2f} {ice50:9.2f} {_p(ice_samples, 0.95):9.2f} "
                    f"{ice50 / pg50:7.2f} {len(ice_rows):4d} {'yes' if agree else 'NO'}",
                    flush=True,
                )


def _reader(tier: DataTier, backend: str, kwargs: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
    return lambda: tier.read_from(backend, ENTITY, **kwargs)  # type: ignore[arg-type]


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
