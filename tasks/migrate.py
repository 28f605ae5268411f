"""Thin Prefect tasks over the full-load steps of :mod:`cutover.load.steps`, and the executor that submits them."""

from __future__ import annotations

from concurrent.futures import Future
from contextlib import AbstractContextManager

from prefect import task
from prefect.cache_policies import NO_CACHE

from cutover.config import CatalogConfig, TableOptionsFile
from cutover.flags import FlagSettings, open_flag_service
from cutover.lake.catalog import open_catalog
from cutover.lake.commit import CommitResult
from cutover.load.runner import MigrationRequest, prepare_requested_tables
from cutover.load.scheduler import Capacity, NotPrepared
from cutover.load.steps import BatchOutput, TableLoad, abort_table, commit_outputs, load_batch
from cutover.source.connection import connect
from cutover.source.planning import Batch
from cutover.source.snapshot import SourceSnapshot
from tasks.common import as_future, retry_transient_only, run_capacity


@task(
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="prepare-{label}",
)
def prepare_tables_task(
    request: MigrationRequest, catalog: CatalogConfig, tables: list[str], label: str
) -> list[TableLoad | NotPrepared]:
    """Introspect and map the tables, then create or resume their Iceberg tables and plan their batches:
    one task run for all of them, so a schema of small tables pays one round of task start-up. The flags
    (``iceberg-partitioning``) come from the worker's ``CUTOVER_FLAGS_*`` settings."""
    flags = open_flag_service(FlagSettings())
    try:
        with connect(request.source_dsn) as conn:
            return prepare_requested_tables(
                conn, open_catalog(catalog), request, tables, TableOptionsFile.load(request.table_options), flags
            )
    finally:
        flags.close()


@task(
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="load-{load.iceberg_name}-batch-{batch.index}",
)
def load_batch_task(dsn: str, catalog: CatalogConfig, load: TableLoad, batch: Batch, snapshot_id: str) -> BatchOutput:
    """Read one batch inside the run's snapshot and write its data files (under the run's read slots)."""
    table = open_catalog(catalog).load_table(load.identifier)
    return load_batch(dsn, load, table, batch, snapshot_id)


@task(
    retries=5,
    retry_delay_seconds=[1, 2, 5, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="commit-{load.iceberg_name}",
)
def commit_task(
    catalog: CatalogConfig, load: TableLoad, outputs: list[BatchOutput], snapshot: SourceSnapshot
) -> CommitResult:
    """Commit finished batches with the checkpoint (idempotent, so a retried commit never duplicates);
    runs under the run's commit slot."""
    table = open_catalog(catalog).load_table(load.identifier)
    return commit_outputs(load, table, outputs, snapshot)


@task(cache_policy=NO_CACHE, task_run_name="abort-{load.iceberg_name}")
def abort_table_task(catalog: CatalogConfig, load: TableLoad) -> None:
    """Drop the Iceberg table of a refused load, with its files."""
    abort_table(open_catalog(catalog), load)


class PrefectLoadExecutor:
    """The full load's steps as task runs of the flow's task runner (retries and limits are Prefect's)."""

    def __init__(self, request: MigrationRequest, catalog: CatalogConfig) -> None:
        self.request, self.catalog = request, catalog

    def prepare(self, tables: list[str]) -> list[TableLoad | NotPrepared]:
        label = tables[0] if len(tables) == 1 else f"{len(tables)}-tables"
        return prepare_tables_task(self.request, self.catalog, tables, label)

    def capacity(self, parallel: int) -> AbstractContextManager[Capacity]:
        return run_capacity(parallel)

    def read_batch(self, load: TableLoad, batch: Batch, snapshot: SourceSnapshot) -> Future[BatchOutput]:
        return as_future(
            load_batch_task.submit(self.request.source_dsn, self.catalog, load, batch, snapshot.snapshot_id)
        )

    def commit(self, load: TableLoad, outputs: list[BatchOutput], snapshot: SourceSnapshot) -> Future[CommitResult]:
        return as_future(commit_task.submit(self.catalog, load, outputs, snapshot))

    def abort(self, load: TableLoad) -> None:
        abort_table_task(self.catalog, load)
