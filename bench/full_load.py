"""Full-load benchmark: `cutover migrate` against the raw single-connection COPY drain, same run.

Builds the `orders` table (5 M rows by default) in database ``cutover_bench``, then measures:

1. the limit: ``COPY (SELECT ...) TO STDOUT (FORMAT binary)`` drained by psycopg on one connection;
2. the load itself, in-process (imports excluded), through the library's runner;
3. the whole ``cutover migrate`` command in a subprocess (imports, planning, commit included), with its
   peak RSS.

Usage: ``uv run python -m bench.full_load [--rows 5000000 1000000] [--rounds 3] [--parallel 2]``.
Targets (issue #2): load ≥ 0.9× the drain's rate, command ≥ 0.75×, peak RSS ≤ 600 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from cutover.config import default_catalog
from cutover.demo import create_orders
from cutover.load.runner import MigrationRequest, run_migration

ADMIN_DSN = os.environ.get("CUTOVER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
COLUMNS = "id, customer_id, status, amount, currency, created_at, updated_at, note, is_paid, payload, uid"


def bench_dsn(rows: int, database: str | None = None) -> str:
    """A database holding ``orders`` with exactly ``rows`` rows (built when missing or of another size)."""
    name = database or f"cutover_bench_{rows}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        exists = admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    dsn = urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{name}"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        count = conn.execute("select count(*) from pg_class where relname = 'orders'").fetchone()
        have = conn.execute("select count(*) from orders").fetchone()[0] if count and count[0] else -1  # type: ignore[index]
        if have != rows:
            print(f"building orders with {rows:,} rows ...", flush=True)
            create_orders(conn, rows)
    return dsn


def copy_drain(dsn: str) -> float:
    """Seconds to drain the whole table as binary COPY on one connection (nothing decoded)."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(f"copy (select {COLUMNS} from orders) to stdout (format binary)") as copy:
            for _ in copy:
                pass
        return time.perf_counter() - started


def load_in_process(dsn: str, parallel: int) -> float:
    state = Path(tempfile.mkdtemp(prefix="cutover-bench-"))
    try:
        request = MigrationRequest(source_dsn=dsn, tables=["orders"], namespace="bench", parallel=parallel)
        started = time.perf_counter()
        report = run_migration(request, default_catalog(state))
        seconds = time.perf_counter() - started
        assert report.ok, report.tables[0].error
        return seconds
    finally:
        shutil.rmtree(state, ignore_errors=True)


def load_command(dsn: str, parallel: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of the `cutover migrate` command in a child process."""
    state = Path(tempfile.mkdtemp(prefix="cutover-bench-"))
    try:
        catalog = default_catalog(state)
        argv = [
            sys.executable,
            "-m",
            "cutover.cli",
            "migrate",
            "--source-dsn",
            dsn,
            "--table",
            "orders",
            "--namespace",
            "bench",
            "--parallel",
            str(parallel),
            "--catalog-uri",
            catalog.uri,
            "--warehouse",
            catalog.warehouse,
        ]
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        assert os.waitstatus_to_exitcode(status) == 0, "cutover migrate failed"
        return seconds, usage.ru_maxrss / 1024
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument(
        "--database-suffix", default="", help="Appended to cutover_bench_<rows>: a database of your own to build."
    )
    args = parser.parse_args()
    for rows in args.rows:
        dsn = bench_dsn(rows, f"cutover_bench_{rows}{args.database_suffix}")
        drains, loads, commands, rss = [], [], [], []
        for _ in range(args.rounds):  # interleaved, so drift hits all three alike
            drains.append(copy_drain(dsn))
            loads.append(load_in_process(dsn, args.parallel))
            seconds, peak = load_command(dsn, args.parallel)
            commands.append(seconds)
            rss.append(peak)
        drain, load, command = (statistics.median(x) for x in (drains, loads, commands))
        print(f"\n== orders, {rows:,} rows, parallel={args.parallel}, median of {args.rounds} rounds")
        print(f"raw COPY binary drain (1 conn) {drain:7.2f} s  {rows / drain:12,.0f} rows/s  (the limit)")
        print(
            f"load in-process               {load:7.2f} s  {rows / load:12,.0f} rows/s  ratio {drain / load:.2f}x  (target >= 0.90)"
        )
        print(
            f"cutover migrate command       {command:7.2f} s  {rows / command:12,.0f} rows/s  ratio {drain / command:.2f}x  (target >= 0.75)"
        )
        print(f"cutover migrate peak RSS      {max(rss):7.0f} MB (target <= 600)")


if __name__ == "__main__":
    main()
