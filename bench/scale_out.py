"""Scale-out benchmark: the 5 M-row `orders` full load on threads and on a 2-process local Dask cluster.

Reads ``cutover_bench_5000000`` (built by ``bench/full_load.py``; read only) and measures, interleaved:

1. the library's thread runner in this process (what ``cutover migrate`` runs);
2. the ``migrate`` flow on its own thread pool (Prefect task runs, commits in the flow process);
3. the ``migrate`` flow with its batches on ``distributed.LocalCluster(n_workers=2, threads_per_worker=1,
   processes=True)``, commits in the flow process;

plus the single-connection binary COPY drain, and the CPU seconds spent per Dask round by the workers
(``getrusage`` in each worker process) and, in one extra untimed round, by the PostgreSQL backends that
served it (``/proc`` of the server's backends, sampled; the server must run on this machine). From those: rows/s per worker core and
per PostgreSQL core, the inputs of the README's capacity model.

Usage: ``uv run python -m bench.scale_out [--rows 5000000] [--rounds 3] [--parallel 2]``.
Target (issue #17): the Dask load's time ≤ 1.15× the thread runner's on this 2-core machine.
Prefect runs against a local server started for the run (as a deployment's runs and workers have one)
unless ``PREFECT_API_URL`` is set; the cluster's workers keep glibc's adaptive malloc thresholds, as
cutover's own clusters and the image's workers do (:data:`cutover.orchestration.cluster.NANNY_KEEPS_MALLOC_ADAPTIVE`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bench.full_load import bench_dsn, copy_drain
from cutover.config import CatalogConfig, default_catalog
from cutover.load.runner import MigrationRequest, run_migration
from cutover.orchestration.local import local_server


def _in_fresh_catalog(run: Callable[[CatalogConfig], None]) -> float:
    state = Path(tempfile.mkdtemp(prefix="cutover-bench-scale-"))
    try:
        started = time.perf_counter()
        run(default_catalog(state))
        return time.perf_counter() - started
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _cpu_seconds(client: Any) -> float:
    """User + system CPU seconds of every worker process so far."""

    def used() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    return sum(client.run(used).values())


TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a local process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def postgres_cpu(dsn: str, into: list[float]) -> Iterator[None]:
    """Appends the CPU seconds of the PostgreSQL backends that this database saw start during the block.

    Samples every backend of the database every 20 ms and keeps each one's last reading, so a backend's
    last < 20 ms are missed; the server must run on this machine (it reads /proc).
    """
    seen: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            me = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            while not stop.is_set():
                for (pid,) in conn.execute(
                    "select pid from pg_stat_activity where datname = current_database() and pid <> %s "
                    "and backend_start >= %s",
                    (me, started),
                ):
                    cpu = _proc_cpu(pid)
                    if cpu is not None:
                        seen[pid] = cpu
                stop.wait(0.02)

    with psycopg.connect(dsn, autocommit=True) as conn:
        started = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()
        into.append(sum(seen.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    with ExitStack() as stack:
        if not os.environ.get("PREFECT_API_URL"):
            # A real server, as every deployment has: with Prefect's temporary one, each Dask worker
            # process (started before any flow) would start its own temporary server on the same SQLite file.
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cutover-bench-prefect-")))
            os.environ["PREFECT_API_URL"] = stack.enter_context(local_server(home)).api_url
        _measure(args)


def _measure(args: argparse.Namespace) -> None:
    from distributed import Client, LocalCluster

    from cutover.orchestration.cluster import ClusterConfig, malloc_adaptive_workers
    from flows.migrate import migrate

    dsn = bench_dsn(args.rows)
    request = MigrationRequest(source_dsn=dsn, tables=["orders"], namespace="bench", parallel=args.parallel)

    def library(catalog: CatalogConfig) -> None:
        assert run_migration(request, catalog).ok

    def flow_threads(catalog: CatalogConfig) -> None:
        assert migrate(request, catalog)["ok"] is True

    with (
        malloc_adaptive_workers(),  # as cutover's own clusters and the image's workers
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        dask = ClusterConfig(address=cluster.scheduler_address)

        def flow_dask(catalog: CatalogConfig) -> None:
            assert migrate(request, catalog, cluster=dask)["ok"] is True

        # Untimed: the server's first requests, and every worker process's imports done.
        _in_fresh_catalog(flow_threads)
        _in_fresh_catalog(flow_dask)
        times: dict[str, list[float]] = {"library": [], "flow": [], "dask": [], "drain": []}
        worker_cpu: list[float] = []
        for _ in range(args.rounds):  # interleaved, so drift and neighbours' load hit all alike
            times["drain"].append(copy_drain(dsn))
            times["library"].append(_in_fresh_catalog(library))
            times["flow"].append(_in_fresh_catalog(flow_threads))
            before = _cpu_seconds(client)
            times["dask"].append(_in_fresh_catalog(flow_dask))
            worker_cpu.append(_cpu_seconds(client) - before)
        pg_cpu: list[float] = []
        with postgres_cpu(dsn, pg_cpu):  # an untimed extra round: the sampler costs CPU too
            _in_fresh_catalog(flow_dask)
    med = {name: statistics.median(values) for name, values in times.items()}
    rows, cpu, pg = args.rows, statistics.median(worker_cpu), pg_cpu[0]
    print(f"\n== orders, {rows:,} rows, parallel={args.parallel}, median of {args.rounds} rounds, load {_load()}")
    print(f"raw COPY drain, 1 connection  {med['drain']:7.2f} s  {rows / med['drain']:11,.0f} rows/s")
    for name, label in (("library", "threads, library (CLI)"), ("flow", "threads, migrate flow"),
                        ("dask", "Dask 2 procs, migrate flow")):  # fmt: skip
        print(f"{label:29} {med[name]:7.2f} s  {rows / med[name]:11,.0f} rows/s")
    print(f"Dask / threads (library)      {med['dask'] / med['library']:7.2f}x  (target <= 1.15)")
    print(f"Dask / threads (flow)         {med['dask'] / med['flow']:7.2f}x")
    print(f"Dask worker CPU per round     {cpu:7.2f} s  {rows / cpu:11,.0f} rows/s per worker core")
    print(f"PostgreSQL backend CPU        {pg:7.2f} s  {rows / pg:11,.0f} rows/s per PostgreSQL core")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
