"""One scheduling loop per job, two executors: threads (the CLI) and Prefect task runs (the flows) must
make the same decisions — which batches are read, how many at once, what a failure stops, that reading
goes on while a commit runs — on a real PostgreSQL, a real Iceberg catalog and a real Prefect server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import TypeVar

import psycopg
import pytest

from cutover.config import CatalogConfig
from cutover.lake.commit import CommitResult
from cutover.load.report import MigrationReport
from cutover.load.runner import MigrationRequest, ThreadLoadExecutor, run_migration
from cutover.load.scheduler import Capacity, LoadExecutor, NotPrepared
from cutover.load.steps import BatchOutput, TableLoad
from cutover.source.planning import Batch
from cutover.source.snapshot import SourceSnapshot
from cutover.sync import SyncReport, SyncRequest, TableSync, TableSyncReport, run_sync
from cutover.sync.runner import SyncExecutor, ThreadSyncExecutor
from cutover.validation import TableValidation, ValidationReport, ValidationRequest, validate_tables
from cutover.validation.runner import ThreadValidationExecutor, ValidationExecutor
from tests.helpers import read_iceberg, table_exists

T = TypeVar("T")


class InFlight:
    """Counts the steps an executor runs at once, as the loop sees them (a step counts until its
    future settles for the loop, so the figure cannot be skewed by callback order)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.started = 0

    def track(self, submit: Callable[[], Future[T]]) -> Future[T]:
        with self.lock:
            self.now += 1
            self.started += 1
            self.most = max(self.most, self.now)
        inner = submit()
        seen: Future[T] = Future()

        def settle(done: Future[T]) -> None:
            with self.lock:
                self.now -= 1
            exc = done.exception()
            seen.set_exception(exc) if exc is not None else seen.set_result(done.result())

        inner.add_done_callback(settle)
        return seen


class RecordingLoad:
    """A load executor that records what the loop asked of it and holds each commit until a further
    read was submitted (up to a second): a loop that waited on commits would never see one."""

    def __init__(self, inner: LoadExecutor) -> None:
        self.inner = inner
        self.reads = InFlight()
        self.read_batches: list[tuple[str, int]] = []
        self.reads_during_commits = 0
        self.aborted: list[str] = []

    def prepare(self, tables: list[str]) -> list[TableLoad | NotPrepared]:
        return self.inner.prepare(tables)

    def capacity(self, parallel: int) -> AbstractContextManager[Capacity]:
        return self.inner.capacity(parallel)

    def read_batch(self, load: TableLoad, batch: Batch, snapshot: SourceSnapshot) -> Future[BatchOutput]:
        self.read_batches.append((load.source.name, batch.index))
        return self.reads.track(lambda: self.inner.read_batch(load, batch, snapshot))

    def commit(self, load: TableLoad, outputs: list[BatchOutput], snapshot: SourceSnapshot) -> Future[CommitResult]:
        reads_before = self.reads.started
        held: Future[CommitResult] = Future()

        def release(done: Future[CommitResult]) -> None:
            def later() -> None:
                for _ in range(20):
                    if self.reads.started > reads_before:
                        self.reads_during_commits += 1
                        break
                    threading.Event().wait(0.05)
                exc = done.exception()
                held.set_exception(exc) if exc is not None else held.set_result(done.result())

            threading.Thread(target=later, daemon=True).start()

        self.inner.commit(load, outputs, snapshot).add_done_callback(release)
        return held

    def abort(self, load: TableLoad) -> None:
        self.aborted.append(load.source.name)
        self.inner.abort(load)


def _load_with_threads(request: MigrationRequest, catalog: CatalogConfig) -> tuple[MigrationReport, RecordingLoad]:
    with ThreadLoadExecutor(request, catalog) as threads:
        recorder = RecordingLoad(threads)
        return run_migration(request, catalog, executor=recorder), recorder


def _load_with_prefect(request: MigrationRequest, catalog: CatalogConfig) -> tuple[MigrationReport, RecordingLoad]:
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from cutover.orchestration.limits import ensure_concurrency_limits
    from tasks.migrate import PrefectLoadExecutor

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8), persist_result=False)  # type: ignore[arg-type]
    def load_through_tasks() -> tuple[MigrationReport, RecordingLoad]:
        ensure_concurrency_limits()
        recorder = RecordingLoad(PrefectLoadExecutor(request, catalog))
        return run_migration(request, catalog, executor=recorder), recorder

    return load_through_tasks()


@pytest.mark.slow
def test_load_loop_decides_the_same_on_threads_and_on_prefect_tasks(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    # `bad`: its first two batches hold numeric NaN, so whichever is read first refuses the table.
    source.execute("create table bad (id int primary key, v numeric(10,2))")
    source.execute(
        "insert into bad select g, case when g <= 25000 then 'NaN'::numeric else g end from generate_series(1, 40000) g"
    )
    source.execute("create table good (id int primary key, v text)")
    source.execute("insert into good select g, repeat('x', 20) from generate_series(1, 40000) g")
    source.execute("analyze")
    outcomes = {}
    for name, run in (("threads", _load_with_threads), ("prefect", _load_with_prefect)):
        request = MigrationRequest(source_dsn=source_dsn, namespace=name, batch_rows=10_000, parallel=2)
        report, recorder = run(request, catalog_config)
        statuses = {t.source_table: (t.status, t.rows) for t in report.tables}
        outcomes[name] = (statuses, recorder)
        assert statuses == {"bad": ("refused", 0), "good": ("migrated", 40_000)}, name
        assert "NaN" in (next(t for t in report.tables if t.source_table == "bad").error or "")
        assert recorder.reads.most == 2, f"{name}: at most `parallel` reads at once, and that many"
        bad_reads = sorted(i for t, i in recorder.read_batches if t == "bad")
        assert bad_reads == [0, 1], f"{name}: a refused table's remaining batches are not read ({bad_reads})"
        assert recorder.aborted == ["bad"] and not table_exists(catalog_config, "bad", namespace=name)
        assert recorder.reads_during_commits > 0, f"{name}: reading stopped while a commit ran"
        assert read_iceberg(catalog_config, "good", namespace=name).num_rows == 40_000
    threads, prefect = outcomes["threads"], outcomes["prefect"]
    assert threads[0] == prefect[0]
    assert sorted(t for t, _ in threads[1].read_batches) == sorted(t for t, _ in prefect[1].read_batches)


class RecordingSync:
    def __init__(self, inner: SyncExecutor) -> None:
        self.inner, self.syncs = inner, InFlight()

    def prepare(self, table: str) -> TableSync:
        return self.inner.prepare(table)

    def sync_table(self, plan: TableSync, snapshot: SourceSnapshot) -> Future[TableSyncReport]:
        return self.syncs.track(lambda: self.inner.sync_table(plan, snapshot))


class RecordingValidation:
    def __init__(self, inner: ValidationExecutor) -> None:
        self.inner, self.tables = inner, InFlight()

    def validate_table(self, table: str, snapshot_id: str) -> Future[TableValidation]:
        return self.tables.track(lambda: self.inner.validate_table(table, snapshot_id))


def _sync_and_validate(
    syncs: SyncExecutor,
    validations: ValidationExecutor,
    catalog: CatalogConfig,
    sync: SyncRequest,
    check: ValidationRequest,
) -> tuple[SyncReport, ValidationReport, RecordingSync, RecordingValidation]:
    sync_recorder, validation_recorder = RecordingSync(syncs), RecordingValidation(validations)
    synced = run_sync(sync, catalog, executor=sync_recorder)
    validated = validate_tables(check, catalog, executor=validation_recorder)
    return synced, validated, sync_recorder, validation_recorder


def _sync_and_validate_with_prefect(
    sync: SyncRequest, check: ValidationRequest, catalog: CatalogConfig
) -> tuple[SyncReport, ValidationReport, RecordingSync, RecordingValidation]:
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from cutover.orchestration.limits import ensure_concurrency_limits
    from tasks.sync import PrefectSyncExecutor
    from tasks.validate import PrefectValidationExecutor

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=8), persist_result=False)  # type: ignore[arg-type]
    def through_tasks() -> tuple[SyncReport, ValidationReport, RecordingSync, RecordingValidation]:
        ensure_concurrency_limits()
        syncs, validations = PrefectSyncExecutor(sync, catalog), PrefectValidationExecutor(check, catalog)
        return _sync_and_validate(syncs, validations, catalog, sync, check)

    return through_tasks()


@pytest.mark.slow
def test_sync_and_validation_loops_honour_parallel_on_both_executors(
    prefect_api: str, source: psycopg.Connection, source_dsn: str, catalog_config: CatalogConfig
) -> None:
    tables = ["t1", "t2", "t3", "t4"]
    for name in tables:
        source.execute(f"create table {name} (id int primary key, v text)")
        source.execute(f"insert into {name} select g, 'v' || g from generate_series(1, 2000) g")
    source.execute("create table refused (id int primary key, v numeric)")  # numeric without precision
    source.execute("insert into refused values (1, 1)")
    outcomes = {}
    for name in ("threads", "prefect"):
        assert run_migration(MigrationRequest(source_dsn=source_dsn, namespace=name, tables=tables), catalog_config).ok
    for table in tables:
        source.execute(f"update {table} set v = 'changed' where id <= 10")
    source.execute("delete from t1 where id > 1990")
    for name in ("threads", "prefect"):
        sync = SyncRequest(source_dsn=source_dsn, namespace=name, tables=[*tables, "refused"], parallel=1)
        check = ValidationRequest(source_dsn=source_dsn, namespace=name, tables=tables, expectations_dir=None,
                                  parallel=3)  # fmt: skip
        if name == "threads":
            with (
                ThreadSyncExecutor(sync, catalog_config) as syncs,
                ThreadValidationExecutor(check, catalog_config) as vals,
            ):
                result = _sync_and_validate(syncs, vals, catalog_config, sync, check)
        else:
            result = _sync_and_validate_with_prefect(sync, check, catalog_config)
        synced, validated, sync_recorder, validation_recorder = result
        outcomes[name] = (
            {t.source_table: (t.status, t.rows_upserted, t.rows_deleted) for t in synced.tables},
            [(t.source_table, t.status) for t in validated.tables],
        )
        assert sync_recorder.syncs.most == 1, f"{name}: sync ran {sync_recorder.syncs.most} tables at once"
        assert validation_recorder.tables.most == 3, f"{name}: validation ran {validation_recorder.tables.most}"
        assert validated.ok, name
    assert outcomes["threads"] == outcomes["prefect"]
    statuses, _ = outcomes["threads"]
    assert statuses["t1"] == ("synced", 10, 10) and statuses["refused"][0] in ("refused", "failed")
