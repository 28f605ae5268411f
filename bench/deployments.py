"""Deployment-overhead benchmark: the `migrate` deployment on a local Prefect server against `cutover migrate`.

Issue #16 item 3. In one run, side by side on the same source tables:

1. a Pagila-shaped schema (15 small tables, ~46 k rows) loaded by the ``cutover migrate`` command and by a
   run of the ``migrate/migrate`` deployment (local server, ``cutover prefect setup``, ``prefect deploy``,
   a process worker);
2. the 5 M-row ``orders`` table (``bench/full_load.py``'s database) the same two ways.

For the deployment it prints the flow run's own time (Running → Completed, as the UI shows it) and the
time from the request (``run_deployment``) to the run's Completed state (worker poll and the flow's process
start included); for the CLI the whole command. The worker is ``cutover prefect worker`` (flow runs forked
warm, polling every second), as the kickoff guide starts it. Targets: Pagila deployment end to end ≤ 2× the CLI, orders flow time ≤ 1.1× the CLI.

Usage: ``uv run python -m bench.deployments [--rounds 3] [--rows 5000000] [--skip-orders]``.
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
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.full_load import ADMIN_DSN, bench_dsn
from cutover.orchestration.local import local_server, process_worker

ROOT = Path(__file__).resolve().parents[1]
PAGILA_DATABASE = "cutover_bench_pagila"

PAGILA_TABLES = {
    # table: (rows, column definitions as select expressions over g)
    "actor": (200, "g as actor_id, 'first' || g as first_name, 'last' || g as last_name, now() as last_update"),
    "address": (603, "g as address_id, g || ' Main St' as address, 'district' as district, g % 600 + 1 as city_id"),
    "category": (16, "g as category_id, 'category ' || g as name, now() as last_update"),
    "city": (600, "g as city_id, 'city ' || g as city, g % 109 + 1 as country_id, now() as last_update"),
    "country": (109, "g as country_id, 'country ' || g as country, now() as last_update"),
    "customer": (
        599,
        "g as customer_id, g % 2 + 1 as store_id, 'c' || g || '@example.com' as email, true as active,"
        " date '2020-01-01' + g as create_date",
    ),
    "film": (
        1000,
        "g as film_id, 'film ' || g as title, (g % 6 + 1)::numeric(4, 2) as rental_rate, g % 185 + 46 as length,"
        " array['Trailers', 'Deleted Scenes'] as special_features, to_tsvector('film ' || g)::text as fulltext",
    ),
    "film_actor": (5462, "g as film_actor_id, g % 200 + 1 as actor_id, g % 1000 + 1 as film_id"),
    "film_category": (1000, "g as film_id, g % 16 + 1 as category_id, now() as last_update"),
    "inventory": (4581, "g as inventory_id, g % 1000 + 1 as film_id, g % 2 + 1 as store_id"),
    "language": (6, "g as language_id, 'language ' || g as name, now() as last_update"),
    "payment": (
        16049,
        "g as payment_id, g % 599 + 1 as customer_id, (g % 1000 / 100.0)::numeric(5, 2) as amount,"
        " timestamptz '2022-01-01' + g * interval '13 minutes' as payment_date",
    ),
    "rental": (
        16044,
        "g as rental_id, timestamptz '2022-01-01' + g * interval '13 minutes' as rental_date,"
        " g % 4581 + 1 as inventory_id, g % 599 + 1 as customer_id, interval '3 days' as rental_duration",
    ),
    "staff": (2, "g as staff_id, 'staff ' || g as username, decode('deadbeef', 'hex') as picture"),
    "store": (2, "g as store_id, g as manager_staff_id, g as address_id, now() as last_update"),
}


def pagila_dsn() -> str:
    """A database with the 15 Pagila-shaped tables, each keyed by its first column (built when missing)."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        if not admin.execute("select 1 from pg_database where datname = %s", (PAGILA_DATABASE,)).fetchone():
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(PAGILA_DATABASE)))
    dsn = urlunsplit(urlsplit(ADMIN_DSN)._replace(path=f"/{PAGILA_DATABASE}"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table, (rows, columns) in PAGILA_TABLES.items():
            if conn.execute("select to_regclass(%s)", (table,)).fetchone() != (None,):
                continue
            key = columns.split(" as ", 2)[1].split(",")[0]
            conn.execute(f"create table {table} as select {columns} from generate_series(1, {rows}) g")
            conn.execute(f"alter table {table} add primary key ({key})")
    return dsn


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


class Workspace:
    """One local server with the `migrate` deployment and a process worker, and the CLI beside it."""

    def __init__(self, state: Path, api: str, catalog_uri: str, warehouse: str) -> None:
        self.api = api
        self.env = {
            **os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(state / "client-home"),
            "CUTOVER_CATALOG_URI": catalog_uri, "CUTOVER_WAREHOUSE": warehouse, "CUTOVER_CODE_DIR": str(ROOT),
            "CUTOVER_FLAGS_FILE": str(state / "flags.json"),
            "PREFECT_WORKER_QUERY_SECONDS": "0.5",  # as the kickoff guide starts it (`cutover prefect worker`)
        }  # fmt: skip
        self.env.pop("CUTOVER_SOURCE_DSN", None)

    def set_up(self, source_dsn: str) -> None:
        python = sys.executable
        _run([python, "-m", "cutover.cli", "prefect", "setup", "--source-dsn", source_dsn], self.env)
        _run([python, "-m", "prefect", "--no-prompt", "deploy", "--name", "migrate"], self.env)

    def worker(self, log: Path) -> AbstractContextManager[object]:
        return process_worker(self.api, log, self.env, ROOT)

    def cli(self, source_dsn: str, namespace: str, tables: list[str]) -> float:
        argv = [sys.executable, "-m", "cutover.cli", "migrate", "--source-dsn", source_dsn,
                "--namespace", namespace, "--mode", "replace"]  # fmt: skip
        for table in tables:
            argv += ["--table", table]
        return _run(argv, {**self.env, "PREFECT_API_URL": ""})

    def deployment(self, namespace: str, tables: list[str], source_block: str) -> tuple[float, float, dict[str, float]]:
        """(flow run's own seconds, seconds from the request to its end, the phases) of one `migrate/migrate`
        run. The end is the run's Completed state as the server recorded it (what the UI shows as it
        happens), not when this script's 0.5-s poll of `run_deployment` notices it (``noticed``, printed
        apart). Phases from the run's state history: ``pickup`` (Scheduled until the worker's Pending),
        ``start`` (Pending until Running: the flow's process starts or is forked, and loads the flow) and
        ``flow`` (Running until Completed)."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        request = {"schema": "public", "tables": tables, "namespace": namespace, "mode": "replace", "parallel": 2}
        with temporary_settings(updates={PREFECT_API_URL: self.api}):
            requested, started = time.time(), time.perf_counter()
            run = run_deployment(
                "migrate/migrate",
                parameters={"request": request, "source_block": source_block},
                timeout=1800,
                poll_interval=0.5,
                as_subflow=False,
            )
            noticed = time.perf_counter() - started
        assert isinstance(run, FlowRun)  # the sync API
        if run.state is None or not run.state.is_completed():
            raise RuntimeError(f"the deployment run did not complete: {run.state}")
        assert run.start_time is not None and run.end_time is not None
        with temporary_settings(updates={PREFECT_API_URL: self.api}), get_client(sync_client=True) as client:
            states = {state.type.value: state.timestamp for state in client.read_flow_run_states(run.id)}
        phases = {
            "pickup": (states["PENDING"] - states["SCHEDULED"]).total_seconds(),
            "start": (states["RUNNING"] - states["PENDING"]).total_seconds(),
            "flow": (states["COMPLETED"] - states["RUNNING"]).total_seconds(),
            "noticed": noticed,
        }
        end_to_end = states["COMPLETED"].timestamp() - requested  # one machine, one clock
        return (run.end_time - run.start_time).total_seconds(), end_to_end, phases


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def measure(space: Workspace, name: str, dsn: str, block: str, tables: list[str], rounds: int) -> None:
    cli, flow_times, ends = [], [], []
    for round_no in range(rounds):  # alternated, so a load spike hits both
        cli.append(space.cli(dsn, f"cli_{name}", tables))
        flow_seconds, end_to_end, phases = space.deployment(f"flow_{name}", tables, block)
        flow_times.append(flow_seconds)
        ends.append(end_to_end)
        spent = ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in phases.items())
        print(
            f"  round {round_no + 1}: CLI {cli[-1]:.2f} s, flow {flow_seconds:.2f} s, end to end {end_to_end:.2f} s"
            f" ({spent})"
        )
    c, f, e = _median(cli), _median(flow_times), _median(ends)
    print(
        f"{name}: cutover migrate {c:.2f} s | deployment flow run {f:.2f} s ({f / c:.2f}×) |"
        f" request to end {e:.2f} s ({e / c:.2f}×)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--skip-orders", action="store_true")
    parser.add_argument("--skip-pagila", action="store_true")
    args = parser.parse_args()

    pagila = pagila_dsn()
    orders = None if args.skip_orders else bench_dsn(args.rows)
    state = Path(tempfile.mkdtemp(prefix="cutover-bench-deploy-"))
    (state / "server-home").mkdir()
    try:
        with local_server(state / "server-home") as server:
            api = server.api_url
            space = Workspace(state, api, f"sqlite:///{state}/catalog.db", f"file://{state}/warehouse")
            space.set_up(pagila)
            if orders is not None:
                _run(
                    [sys.executable, "-m", "cutover.cli", "prefect", "setup", "--source-dsn", orders,
                     "--source-block", "bench-orders"], space.env,
                )  # fmt: skip
            with space.worker(state / "worker.log"):
                if not args.skip_pagila:
                    rows = sum(r for r, _ in PAGILA_TABLES.values())
                    print(f"Pagila-shaped, {len(PAGILA_TABLES)} tables, {rows:,} rows")
                    measure(space, "pagila", pagila, "cutover-source", [], args.rounds)
                if orders is not None:
                    print(f"orders, {args.rows:,} rows")
                    measure(space, "orders", orders, "bench-orders", ["orders"], args.rounds)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
