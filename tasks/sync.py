"""Thin Prefect tasks over the sync steps of :mod:`cutover.sync`, and the executor that submits them."""

from __future__ import annotations

import re
from concurrent.futures import Future
from contextlib import closing

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from cutover import names
from cutover.config import CatalogConfig, TableOptionsFile
from cutover.flags import FlagSettings, open_flag_service
from cutover.lake.catalog import open_catalog
from cutover.orchestration.limits import ensure_concurrency_limits
from cutover.source.connection import connect
from cutover.source.snapshot import SourceSnapshot
from cutover.sync import SyncRequest, TableSync, TableSyncReport, prepare_requested_sync, sync_one
from tasks.common import SourceRef, Submit, retry_transient_only, submitter


def table_limit(iceberg_name: str) -> str:
    """The global concurrency limit (of 1) that keeps two syncs of one table from overlapping."""
    return names.LIMIT_SYNC_TABLE_PREFIX + re.sub(r"[^a-z0-9]+", "-", iceberg_name.lower()).strip("-")


@task(
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="prepare-{table}",
)
def prepare_sync_task(request: SyncRequest, catalog: CatalogConfig, table: str) -> TableSync:
    """Introspect and map the table, plan its schema and partition-spec evolution and read its watermark
    (writes nothing). The flags (``iceberg-partitioning``) come from the worker's ``CUTOVER_FLAGS_*``."""
    with closing(open_flag_service(FlagSettings())) as flags, connect(request.source_dsn) as conn:
        return prepare_requested_sync(
            conn, open_catalog(catalog), request, table, TableOptionsFile.load(request.table_options), flags
        )


@task(
    retries=3,
    retry_delay_seconds=[5, 30, 120],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="sync-{plan.iceberg_name}",
)
def sync_table_task(
    source: SourceRef, catalog: CatalogConfig, plan: TableSync, snapshot: SourceSnapshot
) -> TableSyncReport:
    """Stage (holding a source-read slot) and commit (holding a commit slot) one table's changes.

    The table's own limit of 1 makes a second sync of the same table, from any flow run, wait. On a
    cluster the whole table runs on one worker: it is still the table's only committer.
    """
    limit = table_limit(plan.iceberg_name)
    ensure_concurrency_limits({limit: 1})
    with concurrency(limit, occupy=1, strict=True):
        return sync_one(
            source.resolve(),
            open_catalog(catalog),
            plan,
            snapshot,
            reading=concurrency(names.LIMIT_SOURCE_READS, occupy=1, strict=True),
            committing=concurrency(names.LIMIT_ICEBERG_COMMITS, occupy=1, strict=True),
        )


class PrefectSyncExecutor:
    """The sync's steps as task runs: plans in the flow process (before its snapshot), tables on the
    flow's task runner or a Dask cluster's."""

    def __init__(
        self,
        request: SyncRequest,
        catalog: CatalogConfig,
        source: SourceRef | None = None,
        submit: Submit | None = None,
    ) -> None:
        self.request, self.catalog = request, catalog
        self.source = source or SourceRef(dsn=request.source_dsn)
        self._submit = submit or submitter()

    def prepare(self, table: str) -> TableSync:
        return prepare_sync_task(self.request, self.catalog, table)

    def sync_table(self, plan: TableSync, snapshot: SourceSnapshot) -> Future[TableSyncReport]:
        parameters = {"source": self.source, "catalog": self.catalog, "plan": plan, "snapshot": snapshot}
        return self._submit(sync_table_task, parameters)
