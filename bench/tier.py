"""Data-tier benchmark: the routing decision's cost, and the tier's added latency over a direct query.

Builds ``orders`` (100 k rows by default) in database ``cutover_bench_tier`` and its Iceberg copy in a
temporary catalog, then measures in one run:

1. the routing decision per call with cached flags (a percentage stage, so every call hashes the
   context), against the flag service's own evaluation (:func:`cutover.flags.reads_iceberg`);
2. a point read by primary key through ``DataTier.read`` routed to PostgreSQL, against the same SQL on
   a connection of the same pool (interleaved, medians of many calls), as a ratio;
3. for reference, the same read served by Iceberg.

Usage: ``uv run python -m bench.tier [--rows 100000] [--calls 3000]``.
Targets (issue #6): decision ≤ 10 µs; tier p50 ≤ 1.05× the direct query's p50.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from cutover import names
from cutover.config import default_catalog
from cutover.flags import reads_iceberg
from cutover.flags.local_file import LocalFlagFile
from cutover.flags.service import MutableFeatureFlagService
from cutover.lake.catalog import open_catalog
from cutover.load.runner import MigrationRequest, run_migration
from cutover.tier import DataTier, Eq, IcebergBackend, PostgresBackend, Router
from cutover.tier.query import ReadQuery

ADMIN_DSN = os.environ.get("CUTOVER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
ENTITY = "public.orders"


def _database(rows: int) -> str:
    name = "cutover_bench_tier"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{name}"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "create table orders (id bigint primary key, customer_id int not null, amount numeric(12,2), "
            "created_at timestamptz not null, note text, payload jsonb)"
        )
        conn.execute(
            "insert into orders select g, g %% 1000, g * 0.01, timestamptz '2024-01-01' + g * interval '1 second', "
            "'note ' || g, jsonb_build_object('g', g) from generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("analyze orders")
    return dsn


def _drop_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute("drop database if exists cutover_bench_tier with (force)")


def bench_decision(flags: MutableFeatureFlagService, calls: int) -> tuple[float, float]:
    """(router µs per call, flag-service µs per call), 25 % stage, contexts all different."""
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="bench", reason="bench")
    flags.enable(names.FLAG_USE_ICEBERG_BACKEND, actor="bench", reason="bench", entity=ENTITY)
    flags.set_percentage(names.FLAG_ICEBERG_ROLL_PERCENTAGE, 25, actor="bench", reason="bench", entity=ENTITY)
    router = Router(flags, ttl=3600)
    contexts = [f"tenant-{i}" for i in range(calls)]
    router.decide(ENTITY, "warm")
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for ctx in contexts:
            router.decide(ENTITY, ctx)
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    service_calls = contexts[: max(calls // 20, 100)]
    started = time.perf_counter()
    for ctx in service_calls:
        reads_iceberg(flags, ctx, ENTITY)
    service = (time.perf_counter() - started) / len(service_calls) * 1e6
    return statistics.median(rounds), service


def bench_read(tier: DataTier, calls: int) -> tuple[float, float, float]:
    """p50 µs of (direct query, tier → PostgreSQL, tier → Iceberg) for a point read by key."""
    info = tier.entity(ENTITY)
    statement, _ = tier.postgres.statement(info, info.check(ReadQuery.build(ENTITY, filters=[Eq("id", 1)])))
    ids = [random.randint(1, 100_000) for _ in range(calls)]
    direct: list[float] = []
    via_tier: list[float] = []
    with tier.postgres.connection() as conn:
        query = statement.as_bytes(conn)
    for key in ids[:200]:  # warm both paths (prepared statements, pool, caches)
        tier.read(ENTITY, context="bench", filters=[Eq("id", key)])
        with tier.postgres.connection() as conn, conn.cursor() as cur:
            cur.execute(query, [key])
            cur.fetchall()
    for key in ids:
        started = time.perf_counter()
        with tier.postgres.connection() as conn, conn.cursor() as cur:
            cur.execute(query, [key])
            names_ = [d.name for d in cur.description or ()]
            [dict(zip(names_, row, strict=True)) for row in cur.fetchall()]
        direct.append(time.perf_counter() - started)
        started = time.perf_counter()
        tier.read(ENTITY, context="bench", filters=[Eq("id", key)])
        via_tier.append(time.perf_counter() - started)
    iceberg: list[float] = []
    for key in ids[:50]:
        started = time.perf_counter()
        tier.read_from("iceberg", ENTITY, filters=[Eq("id", key)])
        iceberg.append(time.perf_counter() - started)
    return (statistics.median(direct) * 1e6, statistics.median(via_tier) * 1e6, statistics.median(iceberg) * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    dsn = _database(args.rows)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            catalog = default_catalog(Path(tmp) / "state")
            report = run_migration(MigrationRequest(source_dsn=dsn, tables=["orders"], namespace="public"), catalog)
            assert report.ok, report.to_json()
            flags = MutableFeatureFlagService(LocalFlagFile(Path(tmp) / "flags.json"))
            router_us, service_us = bench_decision(flags, args.calls * 10)
            print(f"routing decision, cached flags:   {router_us:8.2f} µs/call (target ≤ 10)")
            print(
                f"flag service (reads_iceberg):     {service_us:8.2f} µs/call ({service_us / router_us:.0f}× the router)"
            )
            flags.disable(names.FLAG_USE_ICEBERG_BACKEND, actor="bench", reason="stage off: serve PostgreSQL")
            tier = DataTier(
                PostgresBackend(dsn, max_size=2),
                IcebergBackend(open_catalog(catalog), metadata_ttl=60),
                Router(flags, ttl=60),
            )
            with tier:
                direct, routed, iceberg = bench_read(tier, args.calls)
            print(f"point read, direct query p50:    {direct:8.1f} µs")
            print(f"point read, tier → PostgreSQL p50:{routed:8.1f} µs  ratio {routed / direct:.3f} (target ≤ 1.05)")
            print(f"point read, tier → Iceberg p50:  {iceberg:8.1f} µs  ({iceberg / direct:.0f}× the direct query)")
    finally:
        _drop_database()


if __name__ == "__main__":
    main()
