"""Maintenance benchmark: a table aged by nights of syncs, before and after `cutover maintain`, against a
freshly loaded copy of the same rows, and the compaction's time against a full load, in one run.

1. ``orders_sync`` is copied from the ``orders`` table of :mod:`bench.full_load` and fully loaded (timed);
2. ``--nights`` nights of ``--changes`` scattered changes (60 % updates, 20 % inserts, 20 % deletes), each
   followed by a sync (untimed): the *aged* table;
3. a fresh full load of the table as it now is into another catalog (timed): the *fresh* table; the load
   reference is the median of both loads;
4. for the aged table before and after maintenance, and for the fresh one: data and delete files, the
   time of a whole-table scan (pyiceberg, median of ``--rounds``) and of the tier's key-range read
   (``id`` ranges of 1,000 keys through :class:`~cutover.tier.IcebergBackend`, median of 30);
5. `cutover maintain` on the aged table as a command (its peak RSS measured as a child process), the
   table's maintenance seconds from its JSON report against the load reference; then a validation.

Usage: ``uv run python -m bench.maintain [--rows 5000000] [--nights 20] [--changes 50000] [--rounds 3]``.
Targets (issue #15): after maintenance the scan and the key-range read within 1.1× of the fresh table's;
compaction ≤ 1× a full load's time; peak RSS ≤ 600 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.full_load import bench_dsn
from bench.sync import TABLE, change, fresh_table, full_load, release, sync
from cutover.config import CatalogConfig, TableOptions, default_catalog
from cutover.lake.catalog import open_catalog
from cutover.maintenance.inventory import count_files
from cutover.tier import IcebergBackend, Range
from cutover.tier.query import ReadQuery
from cutover.tier.schema import EntityInfo, introspect_entity
from cutover.validation import ValidationRequest, validate_tables

NAMESPACE = "public"
ENTITY = f"{NAMESPACE}.{TABLE}"


def scan_seconds(catalog: CatalogConfig, rounds: int) -> float:
    """Median seconds of reading every row of the table (streamed, deletes applied)."""
    times = []
    for _ in range(rounds):
        table = open_catalog(catalog).load_table((NAMESPACE, TABLE))
        started = time.perf_counter()
        rows = sum(batch.num_rows for batch in table.scan().to_arrow_batch_reader())
        times.append(time.perf_counter() - started)
        assert rows > 0
    return statistics.median(times)


def range_read_seconds(catalog: CatalogConfig, info: EntityInfo, highest: int, calls: int = 30) -> float:
    """Median seconds of the tier's read of 1,000 consecutive keys at random places (after a warm-up)."""
    backend = IcebergBackend(open_catalog(catalog), metadata_ttl=3600)
    starts = [random.Random(seed).randint(1, highest - 1000) for seed in range(calls + 3)]
    times = []
    for index, low in enumerate(starts):
        query = ReadQuery.build(ENTITY, filters=[Range("id", low, low + 1000)])
        started = time.perf_counter()
        rows = backend.read(info, query)
        if index >= 3:
            times.append(time.perf_counter() - started)
        assert len(rows) <= 1000
    return statistics.median(times)


def maintain(catalog: CatalogConfig, report: Path) -> tuple[float, float, int]:
    """`cutover maintain` as a command: (wall seconds, the table's maintenance seconds, its peak RSS bytes).

    The peak is the child's own high-water mark (``VmHWM``), read while it runs."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "cutover.cli", "maintain", "--namespace", NAMESPACE, "--table", TABLE,
         "--catalog-uri", catalog.uri, "--warehouse", catalog.warehouse, "--report-json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = 0
    while child.poll() is None:
        peak = max(peak, _high_water_mark(child.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    _, stderr = child.communicate()
    assert child.returncode == 0, stderr
    (table,) = json.loads(report.read_text())["tables"]
    return wall, float(table["seconds"]), peak


def _high_water_mark(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def describe(name: str, catalog: CatalogConfig, info: EntityInfo, highest: int, rounds: int) -> tuple[float, float]:
    counts = count_files(open_catalog(catalog).load_table((NAMESPACE, TABLE)))
    scan, read = scan_seconds(catalog, rounds), range_read_seconds(catalog, info, highest)
    print(f"{name:26} {counts.data_files:5} data files ({counts.data_bytes / 1e6:7.1f} MB), "
          f"{counts.delete_files:5} delete files, {counts.manifests:4} manifests; "
          f"scan {scan:6.2f} s, key-range read {read * 1e3:7.1f} ms", flush=True)  # fmt: skip
    return scan, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--nights", type=int, default=20)
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dsn = bench_dsn(args.rows)
    print(f"copying orders ({args.rows:,} rows) into {TABLE} ...", flush=True)
    next_id = fresh_table(dsn) + 1
    aged_state, fresh_state = (Path(tempfile.mkdtemp(prefix=f"cutover-bench-maintain-{k}-")) for k in ("aged", "fresh"))
    aged, fresh = default_catalog(aged_state), default_catalog(fresh_state)
    try:
        loads = [full_load(dsn, aged, NAMESPACE)]
        for night in range(args.nights):
            next_id = change(dsn, args.rows, args.changes, night, next_id)
            seconds, _, result = sync(dsn, aged, namespace=NAMESPACE)
            print(f"  night {night + 1}: sync {seconds:.2f} s ({result.rows_upserted:,} upserted, "
                  f"{result.rows_deleted:,} deleted)", flush=True)  # fmt: skip
        loads.append(full_load(dsn, fresh, NAMESPACE))
        load = statistics.median(loads)
        with psycopg.connect(dsn) as conn:
            info = introspect_entity(conn, ENTITY, "public", TableOptions())
        print(f"\n== {TABLE}, {args.rows:,} rows, {args.nights} nights of {args.changes:,} changes")
        fresh_scan, fresh_read = describe("fresh load", fresh, info, next_id, args.rounds)
        before_scan, before_read = describe("aged, before maintain", aged, info, next_id, args.rounds)
        wall, seconds, peak = maintain(aged, aged_state / "maintain.json")
        after_scan, after_read = describe("aged, after maintain", aged, info, next_id, args.rounds)
        check = validate_tables(
            ValidationRequest(source_dsn=dsn, tables=[TABLE], namespace=NAMESPACE, expectations_dir=None), aged
        ).tables[0]
        assert check.passed, f"the maintained copy differs: {check.reason}"
        print(f"\nfull load (median of {len(loads)})          {load:7.2f} s ({', '.join(f'{x:.2f}' for x in loads)})")
        print(f"maintain (table)                    {seconds:7.2f} s  {seconds / load:5.2f}× the full load (target ≤ 1); "
              f"command {wall:.2f} s, peak RSS {peak / 1e6:.0f} MB (target ≤ 600)")  # fmt: skip
        print(f"scan, before / after / fresh        {before_scan:.2f} / {after_scan:.2f} / {fresh_scan:.2f} s  "
              f"after vs fresh {after_scan / fresh_scan:.2f}× (target ≤ 1.1)")  # fmt: skip
        print(f"key-range read, before / after / fresh {before_read * 1e3:.1f} / {after_read * 1e3:.1f} / "
              f"{fresh_read * 1e3:.1f} ms  after vs fresh {after_read / fresh_read:.2f}× (target ≤ 1.1)")  # fmt: skip
        print(f"validation after maintain           {check.status}, {check.success_percentage} %")
    finally:
        release(dsn, NAMESPACE)
        shutil.rmtree(aged_state, ignore_errors=True)
        shutil.rmtree(fresh_state, ignore_errors=True)


if __name__ == "__main__":
    main()
