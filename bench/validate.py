"""Validation benchmark: our parity against PostgreSQL's own hash scan and reladiff, same run.

On the `orders` table of :mod:`bench.full_load` (loaded once into a throwaway Iceberg catalog), measures:

1. the floor for the source side: ``select sum(hashtextextended(t::text, 0)) from orders t``;
2. reladiff 0.6 (``reladiff[postgresql]``, source vs a copy in PostgreSQL, ``-k id -c '%'``), when its
   command is found (``$RELADIFF`` or ``/tmp/reladiff-venv/bin/reladiff`` or on ``PATH``);
3. our full parity with no differences (with and without per-column aggregates), after one untimed
   first call that loads the imports and compiled hash kernels (printed apart);
4. our parity with 100 scattered differences in the source (reverted afterwards), down to the keys;
5. the whole ``cutover validate`` command as a user runs it (a fresh process: start-up, imports, the
   compiled kernels' load, the control-store record), no differences.

Usage: ``uv run python -m bench.validate [--rows 5000000] [--rounds 3] [--command-only] [--baseline DIR]``.
``--command-only`` times 1, 3 and 5 and changes nothing in the source database (no reladiff copy, no
planted differences); the control store goes to a database of its own. ``--baseline DIR`` (a source tree
of another revision, e.g. ``git archive main | tar -x -C DIR``) adds that revision's whole command to
the interleaved rounds, run by the same interpreter and packages, to compare a change before and after.
Targets: no-difference parity ≤ 1.25× the hash scan and ≥ 3× faster than reladiff; the drill-down to
100 keys ≤ 2× the no-difference time (issue #3); the whole command ≤ 1.25× the hash scan (issue #18).
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

from bench.full_load import ADMIN_DSN, bench_dsn
from cutover.config import CatalogConfig, default_catalog
from cutover.load.runner import MigrationRequest, run_migration
from cutover.memory import PLAIN_PAGE_DEFAULTS
from cutover.validation import ValidationRequest, validate_tables

CONTROL_DATABASE = "cutover_bench_control_18"
"""Where the command's validation records go: never the (shared, read-only) source database."""
RELADIFF_CANDIDATES = (os.environ.get("RELADIFF", ""), "/tmp/reladiff-venv/bin/reladiff", "reladiff")


def hash_scan(dsn: str) -> float:
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        conn.execute("select sum(hashtextextended(t::text, 0)) from orders t").fetchone()
        return time.perf_counter() - started


def reladiff_command() -> str | None:
    for candidate in RELADIFF_CANDIDATES:
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def ensure_copy(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("select count(*) from orders").fetchone()
        copy = conn.execute("select to_regclass('orders_copy') is not null").fetchone()
        same = copy and copy[0] and conn.execute("select count(*) from orders_copy").fetchone() == rows
        if not same:
            conn.execute("drop table if exists orders_copy")
            conn.execute("create table orders_copy as select * from orders")
            conn.execute("alter table orders_copy add primary key (id)")
            conn.execute("vacuum analyze orders_copy")


def reladiff(command: str, dsn: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [command, dsn, "orders", dsn, "orders_copy", "-k", "id", "-c", "%"], capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"reladiff failed: {proc.stderr[-2000:]}")
    return seconds


def load(dsn: str, state: Path) -> CatalogConfig:
    catalog = default_catalog(state)
    report = run_migration(MigrationRequest(source_dsn=dsn, tables=["orders"], namespace="bench"), catalog)
    assert report.ok, report.tables[0].error
    return catalog


def parity(dsn: str, catalog: CatalogConfig, column_stats: bool = True) -> tuple[float, int]:
    request = ValidationRequest(
        source_dsn=dsn, tables=["orders"], namespace="bench", expectations_dir=None, column_stats=column_stats
    )
    started = time.perf_counter()
    report = validate_tables(request, catalog)
    seconds = time.perf_counter() - started
    table = report.tables[0]
    assert table.status != "error", table.error
    return seconds, table.changed_total


def child_environment(baseline: Path | None = None) -> dict[str, str]:
    """The environment of a command run: no ``CUTOVER_*`` settings, none of the allocator defaults this
    process took by importing cutover (the command chooses its own), and ``baseline`` first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUTOVER_") and PLAIN_PAGE_DEFAULTS.get(k) != v}
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    return env


def validate_command(
    dsn: str, catalog: CatalogConfig, control_dsn: str, suites: Path, baseline: Path | None = None
) -> float:
    """The whole ``cutover validate`` of ``orders`` as a fresh process, wall time from spawn to exit."""
    cutover = str(Path(sys.executable).with_name("cutover"))
    env = child_environment(baseline) | {"CUTOVER_CONTROL_DSN": control_dsn}
    argv = [
        cutover, "validate", "--source-dsn", dsn, "--table", "orders", "--namespace", "bench", "--catalog-uri",
        catalog.uri, "--warehouse", catalog.warehouse, "--expectations-dir", str(suites),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cutover validate exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def control_database() -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(CONTROL_DATABASE)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(CONTROL_DATABASE)))
    return urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{CONTROL_DATABASE}"))


def drop_control_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(CONTROL_DATABASE)))


def command_rounds(
    dsn: str, catalog: CatalogConfig, rows: int, rounds: int, state: Path, baseline: Path | None = None
) -> None:
    """Hash scan, the whole command (and the baseline's) and the in-process parity, interleaved; nothing in
    the source changes. Each round's ratio is taken against that round's scan, so load drift cancels."""
    control = control_database()
    suites = state / "no-suites"
    suites.mkdir()
    load_before = os.getloadavg()
    try:
        validate_command(dsn, catalog, control, suites)  # untimed: the page cache and the kernel cache warm
        if baseline is not None:
            validate_command(dsn, catalog, control, suites, baseline)  # its own kernel cache too
        scans, commands, bases, ours = [], [], [], []
        for _ in range(rounds):
            scans.append(hash_scan(dsn))
            commands.append(validate_command(dsn, catalog, control, suites))
            if baseline is not None:
                bases.append(validate_command(dsn, catalog, control, suites, baseline))
            ours.append(parity(dsn, catalog)[0])
    finally:
        drop_control_database()
    scan, command, our = (statistics.median(x) for x in (scans, commands, ours))
    ratio = statistics.median(c / s for c, s in zip(commands, scans, strict=True))
    load = os.getloadavg()
    print(
        f"\n== orders, {rows:,} rows, median of {rounds} rounds, load average {load_before[0]:.2f} at the start, "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end"
    )
    print(f"PostgreSQL hash scan (floor)      {scan:7.2f} s  (rounds: {_seconds(scans)})")
    print(f"our parity in-process             {our:7.2f} s  {our / scan:.2f}x the scan")
    print(
        f"`cutover validate`, whole command {command:7.2f} s  {ratio:.2f}x the scan (target <= 1.25; {_seconds(commands)})"
    )
    print(f"  start-up and the rest           {command - our:7.2f} s")
    if bases:
        base_ratio = statistics.median(b / s for b, s in zip(bases, scans, strict=True))
        print(
            f"baseline ({baseline}) command     {statistics.median(bases):7.2f} s  {base_ratio:.2f}x the scan ({_seconds(bases)})"
        )


def _seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def scattered_keys(rows: int, count: int = 100) -> list[int]:
    return [1 + (i * rows) // count + 17 for i in range(count)]


def with_differences(dsn: str, catalog: CatalogConfig, rows: int) -> tuple[float, int]:
    keys = scattered_keys(rows)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("update orders set note = coalesce(note, '') || '!' where id = any(%s)", (keys,))
        try:
            return parity(dsn, catalog)
        finally:
            conn.execute("update orders set note = nullif(left(note, -1), '') where id = any(%s)", (keys,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--command-only", action="store_true", help="Only the whole command (source untouched).")
    parser.add_argument(
        "--baseline", type=Path, help="Another revision's source tree, run interleaved (--command-only)."
    )
    args = parser.parse_args()
    command = reladiff_command()
    for rows in args.rows:
        dsn = bench_dsn(rows)
        state = Path(tempfile.mkdtemp(prefix="cutover-bench-validate-"))
        try:
            print(f"loading orders ({rows:,} rows) into Iceberg ...", flush=True)
            catalog = load(dsn, state)
            if args.command_only:
                command_rounds(dsn, catalog, rows, args.rounds, state, args.baseline)
                continue
            if command:
                ensure_copy(dsn)
            # The first validation in a process imports pyiceberg, DuckDB and numba and loads the compiled
            # hash kernels; a long-lived worker pays that once, so it is shown apart and not in the ratios.
            cold = parity(dsn, catalog)[0]
            scans, diffs, ours, ours_lean, drills = [], [], [], [], []
            for _ in range(args.rounds):  # interleaved, so drift hits all alike
                scans.append(hash_scan(dsn))
                if command:
                    diffs.append(reladiff(command, dsn))
                seconds, changed = parity(dsn, catalog)
                assert changed == 0
                ours.append(seconds)
                ours_lean.append(parity(dsn, catalog, column_stats=False)[0])
                seconds, changed = with_differences(dsn, catalog, rows)
                assert changed == 100, f"expected 100 changed keys, found {changed}"
                drills.append(seconds)
            scan, our, lean, drill = (statistics.median(x) for x in (scans, ours, ours_lean, drills))
            print(f"\n== orders, {rows:,} rows, median of {args.rounds} rounds")
            print(f"PostgreSQL hash scan (floor)      {scan:7.2f} s")
            if diffs:
                rd = statistics.median(diffs)
                print(f"reladiff 0.6 (-k id -c '%')       {rd:7.2f} s")
            else:
                rd = None
                print("reladiff not installed")
            print(f"our parity, first call in process {cold:7.2f} s  (imports and compiled kernels loaded)")
            print(f"our parity, no differences        {our:7.2f} s  {our / scan:.2f}x the scan (target <= 1.25)")
            print(f"  without column aggregates       {lean:7.2f} s  {lean / scan:.2f}x the scan")
            if rd is not None:
                print(f"  vs reladiff                     {rd / our:7.2f}x faster (target >= 3)")
            print(f"our parity, 100 differences       {drill:7.2f} s  {drill / our:.2f}x no-difference (target <= 2)")
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
