"""Sync benchmark: the nightly sync of a fixed number of changes against a full load, same run.

For each size, a fresh ``orders_sync`` table is copied from the ``orders`` table of :mod:`bench.full_load`
(primary key, and an index on ``updated_at``: the cursor the sync follows). Then, in one process:

1. ``--loads`` full loads of ``orders_sync`` into throwaway Iceberg catalogs (the reference is their
   median: one load varies by ±20 % here);
2. after an untimed first day of changes, ``--rounds`` times each, interleaved, ``--changes`` rows changed, scattered over the whole key range,
   then a timed sync (after a CHECKPOINT, see :func:`settle`; the first sync installs the delete log and
   is not timed):

   - *with deletes*: 60 % updates, 20 % inserts, 20 % deletes. The sync is the first reader of the changed
     pages since the checkpoint, as a nightly run is when nobody read them during the day;
   - *no deletes*: the same count as 75 % updates and 25 % inserts;
   - *vacuumed*: the first kind, with a VACUUM of the table before the checkpoint (autovacuum caught up);

   each timed sync also prints the WAL PostgreSQL wrote while it ran (see :func:`wal_position`);
3. one more sync with no source change (it must commit nothing), and a validation that must find no
   difference (untimed, the proof that the timed syncs were complete).

Usage: ``uv run python -m bench.sync [--rows 5000000 1000000] [--changes 50000] [--rounds 5] [--loads 3]``.
Targets (issue #5): the sync of 1 % of 5 M rows ≤ 10 % of the full load's time, and no growth of the
sync time with untouched data (the same change count at 1 M and 5 M rows).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.full_load import bench_dsn
from cutover.config import CatalogConfig, default_catalog
from cutover.load.runner import MigrationRequest, run_migration
from cutover.source.delete_log import drop_delete_logs
from cutover.source.introspect import introspect_table
from cutover.sync import SyncRequest, TableSyncReport, run_sync
from cutover.validation import ValidationRequest, validate_tables

TABLE = "orders_sync"


def fresh_table(dsn: str) -> int:
    """``orders_sync`` as a copy of ``orders`` with its key and cursor index; returns the highest id."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(f"create table {TABLE} as select * from orders")
        conn.execute(f"alter table {TABLE} add primary key (id), alter column updated_at set not null")
        conn.execute(f"create index on {TABLE} (updated_at)")
        conn.execute(f"vacuum analyze {TABLE}")
        row = conn.execute(f"select max(id) from {TABLE}").fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def reference_load(dsn: str) -> float:
    """One more timed full load, into a throwaway catalog: the reference is the median of several."""
    state = Path(tempfile.mkdtemp(prefix="cutover-bench-sync-load-"))
    try:
        return full_load(dsn, default_catalog(state))
    finally:
        shutil.rmtree(state, ignore_errors=True)


def release(dsn: str, namespace: str = "bench") -> None:
    """Drop the delete log the syncs installed (its catalog is thrown away with the run)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        drop_delete_logs(conn, introspect_table(conn, "public", TABLE), namespace)


def settle(dsn: str, vacuum: bool = False) -> None:
    """CHECKPOINT (after a VACUUM of ``orders_sync`` when asked), untimed, before each timed run.

    The bench writes a day's changes a second before the sync reads them; in production the checkpointer
    has long written those pages back by the nightly run. Without this, the sync's reads evict the bench's
    own dirty buffers (``written=`` in its plan's buffer counts) and time the application's writes.
    The full load gets the same treatment.

    After a checkpoint, the first visit of a page that holds an updated row's old version prunes it, and
    that prune is logged with a full-page image: the sync pays ~8 KB of WAL per changed page unless a
    VACUUM (or an application read) got there first. The *vacuumed* rounds measure the sync without it.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        if vacuum:
            conn.execute(f"vacuum {TABLE}")
        conn.execute("checkpoint")


def wal_position(dsn: str) -> str:
    """PostgreSQL's current WAL insert position (the WAL a timed sync caused is the difference)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("select pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        return str(row[0])


def wal_since(dsn: str, position: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", (position,)).fetchone()
        assert row is not None
        return int(row[0])


def full_load(dsn: str, catalog: CatalogConfig, namespace: str = "bench") -> float:
    settle(dsn)
    started = time.perf_counter()
    report = run_migration(MigrationRequest(source_dsn=dsn, tables=[TABLE], namespace=namespace), catalog)
    assert report.ok, report.tables[0].error
    return time.perf_counter() - started


def change(dsn: str, rows: int, changes: int, round_no: int, next_id: int, deletes_too: bool = True) -> int:
    """Scattered updates, deletes and inserts (60/20/20 %, or 75/25 without deletes); returns the next id."""
    updates, deletes = (changes * 6 // 10, changes // 5) if deletes_too else (changes * 3 // 4, 0)
    inserts = changes - updates - deletes
    step = max(1, rows // updates)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"update {TABLE} set amount = amount + 1, note = 'round {round_no}', updated_at = now() "
            "where id in (select g from generate_series(%s::bigint, %s, %s) g)",
            (1 + round_no, rows, step),
        )
        if deletes:
            conn.execute(
                f"delete from {TABLE} where id in (select g from generate_series(%s::bigint, %s, %s) g)",
                (step // 2 + round_no, rows, max(1, rows // deletes)),
            )
        conn.execute(
            f"insert into {TABLE} select g, 1, 'new', 1.00, 'EUR', now(), now(), null, false, null, md5(g::text)::uuid "
            "from generate_series(%s::bigint, %s) g",
            (next_id, next_id + inserts - 1),
        )
    return next_id + inserts


@dataclass
class Scenario:
    """One kind of round: how the day's changes are made and what happened before the nightly sync."""

    name: str
    deletes: bool
    vacuumed: bool
    seconds: list[float] = field(default_factory=list)
    wal_bytes: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


SCENARIOS = [
    ("with deletes", True, False),
    ("no deletes", False, False),
    ("with deletes, vacuumed", True, True),
]


def sync(
    dsn: str, catalog: CatalogConfig, vacuum: bool = False, namespace: str = "bench"
) -> tuple[float, int, TableSyncReport]:
    """One timed sync; returns its seconds, the WAL bytes PostgreSQL wrote meanwhile, and its report."""
    settle(dsn, vacuum)
    wal = wal_position(dsn)
    started = time.perf_counter()
    request = SyncRequest(source_dsn=dsn, tables=[TABLE], namespace=namespace, cursor="updated_at")
    report = run_sync(request, catalog)
    seconds = time.perf_counter() - started
    written = wal_since(dsn, wal)
    (table,) = report.tables
    assert table.status in ("synced", "unchanged"), table.error
    return seconds, written, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000, 1_000_000])
    parser.add_argument("--changes", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loads", type=int, default=3, help="full loads timed; the reference is their median")
    args = parser.parse_args()
    medians: dict[int, float] = {}
    for rows in args.rows:
        dsn = bench_dsn(rows)
        print(f"copying orders ({rows:,} rows) into {TABLE} ...", flush=True)
        next_id = fresh_table(dsn) + 1
        state = Path(tempfile.mkdtemp(prefix="cutover-bench-sync-"))
        try:
            loads = [reference_load(dsn) for _ in range(args.loads - 1)]
            catalog = default_catalog(state)
            loads.append(full_load(dsn, catalog))
            load = statistics.median(loads)
            sync(dsn, catalog)  # the first sync after a load: imports, compiled kernels, nothing to merge
            # The first day's changes are untimed: their new row versions land at the end of the freshly
            # copied (full) table; from the second day on they go into the space pruning frees on their pages.
            next_id = change(dsn, rows, args.changes, 0, next_id)
            sync(dsn, catalog)
            scenarios = [Scenario(*kind) for kind in SCENARIOS]
            for round_no in range(1, 1 + len(scenarios) * args.rounds):  # interleaved
                scenario = scenarios[(round_no - 1) % len(scenarios)]
                next_id = change(dsn, rows, args.changes, round_no, next_id, scenario.deletes)
                seconds, wal, result = sync(dsn, catalog, scenario.vacuumed)
                scenario.seconds.append(seconds)
                scenario.wal_bytes.append(wal)
                print(f"  round {round_no} ({scenario.name}): {seconds:.2f} s, {result.rows_upserted:,} upserted, "
                      f"{result.rows_deleted:,} deleted, {result.keys_compared:,} source keys compared, "
                      f"{wal / 1e6:.0f} MB of WAL, deletes by {result.deletes_found_by}",
                      flush=True)  # fmt: skip
            idle, _, idle_result = sync(dsn, catalog)
            assert idle_result.status == "unchanged", "a sync without source changes committed something"
            check = validate_tables(
                ValidationRequest(source_dsn=dsn, tables=[TABLE], namespace="bench", expectations_dir=None), catalog
            ).tables[0]
            assert check.passed, f"the synced copy differs: {check.reason}"
            main_scenario = scenarios[0]
            medians[rows] = main_scenario.median
            print(f"\n== {TABLE}, {rows:,} rows, {args.changes:,} changes per round, median of {args.rounds}")
            print(f"full load (median of {len(loads)})             {load:7.2f} s  "
                  f"({', '.join(f'{x:.2f}' for x in loads)})")  # fmt: skip
            for scenario in scenarios:
                target = " (target <= 10 %)" if scenario is main_scenario else ""
                print(f"sync, {scenario.name:24} {scenario.median:7.2f} s  {100 * scenario.median / load:5.1f} % "
                      f"of the full load{target}; WAL written meanwhile: "
                      f"{statistics.median(scenario.wal_bytes) / 1e6:.0f} MB")  # fmt: skip
            print(f"sync without changes                 {idle:7.2f} s  (commits nothing)")
            print(f"validation after the syncs           {check.status}, {check.success_percentage} %\n")
        finally:
            release(dsn)
            shutil.rmtree(state, ignore_errors=True)
    if len(medians) > 1:
        small, large = min(medians), max(medians)
        print(f"sync time at {large:,} vs {small:,} rows, same change count: "
              f"{medians[large]:.2f} s vs {medians[small]:.2f} s ({medians[large] / medians[small]:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
