"""Thin Prefect tasks over the full-load steps of :mod:`cutover.load.steps`, and the executor that submits them.

Batch reads go wherever the run's task runner sends them (threads, or a Dask cluster): they get only
picklable identities (the source, the exported snapshot id, the table, the catalog configuration) and
hand back file metadata. Commits run in the flow process, one committer per table.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future
from contextlib import AbstractContextManager, closing

from prefect import task
from prefect.cache_policies import NO_CACHE
from pyiceberg.table import Table

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
from tasks.common import SourceRef, Submit, retry_transient_only, run_capacity, submitter


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
    with closing(open_flag_service(FlagSettings())) as flags, connect(request.source_dsn) as conn:
        return prepare_requested_tables(
            conn, open_catalog(catalog), request, tables, TableOptionsFile.load(request.table_options), flags
        )


@task(
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="load-{load.iceberg_name}-batch-{batch.index}",
)
def load_batch_task(
    source: SourceRef, catalog: CatalogConfig, load: TableLoad, batch: Batch, snapshot_id: str
) -> BatchOutput:
    """Read one batch inside the run's snapshot and write its data files (under the run's read slots).

    Runs on any worker: it opens the source and the table itself and returns only file metadata. A retry
    reads the same ``snapshot_id`` (never a newer one); once the run's snapshot is gone it fails with
    :class:`~cutover.errors.SnapshotGoneError`.
    """
    table = _write_target(catalog.model_dump_json(), load.identifier, load.load_id)
    return load_batch(source.resolve(), load, table, batch, snapshot_id)


@functools.lru_cache(maxsize=32)
def _write_target(catalog: str, identifier: tuple[str, str], load_id: str) -> Table:
    """The table a load's batches write files for, loaded once per load and process (a worker runs many
    of its batches): batches use only its location, properties, sort order and file IO, which no commit
    of the load changes."""
    return open_catalog(CatalogConfig.model_validate_json(catalog)).load_table(identifier)


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
    """The full load's steps as task runs (retries and limits are Prefect's).

    Batches go to ``batches`` (the flow's task runner, or a Dask cluster's); commits always to the
    flow's own runner, so they run in the flow process next to the snapshot they record.
    """

    def __init__(
        self,
        request: MigrationRequest,
        catalog: CatalogConfig,
        source: SourceRef | None = None,
        batches: Submit | None = None,
    ) -> None:
        self.request, self.catalog = request, catalog
        self.source = source or SourceRef(dsn=request.source_dsn)
        self._batches = batches or submitter()
        self._local = submitter()

    def prepare(self, tables: list[str]) -> list[TableLoad | NotPrepared]:
        label = tables[0] if len(tables) == 1 else f"{len(tables)}-tables"
        return prepare_tables_task(self.request, self.catalog, tables, label)

    def capacity(self, parallel: int) -> AbstractContextManager[Capacity]:
        return run_capacity(parallel)

    def read_batch(self, load: TableLoad, batch: Batch, snapshot: SourceSnapshot) -> Future[BatchOutput]:
        parameters = {"source": self.source, "catalog": self.catalog, "load": load, "batch": batch}
        return self._batches(load_batch_task, parameters | {"snapshot_id": snapshot.snapshot_id})

    def commit(self, load: TableLoad, outputs: list[BatchOutput], snapshot: SourceSnapshot) -> Future[CommitResult]:
        parameters = {"catalog": self.catalog, "load": load, "outputs": outputs, "snapshot": snapshot}
        return self._local(commit_task, parameters)

    def abort(self, load: TableLoad) -> None:
        abort_table_task(self.catalog, load)
