"""A thin Prefect task over one table's maintenance, and the executor that submits it."""

from __future__ import annotations

from concurrent.futures import Future

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from cutover import names
from cutover.config import CatalogConfig
from cutover.lake.catalog import open_catalog
from cutover.maintenance import MaintenanceRequest, TableMaintenanceReport, maintain_table
from cutover.orchestration.limits import ensure_concurrency_limits
from tasks.common import Submit, retry_transient_only, submitter
from tasks.sync import table_limit


@task(
    retries=2,
    retry_delay_seconds=[30, 120],
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
    task_run_name="maintain-{identifier[0]}.{identifier[1]}",
)
def maintain_table_task(
    request: MaintenanceRequest, catalog: CatalogConfig, identifier: tuple[str, str]
) -> TableMaintenanceReport:
    """Maintain one table holding its sync limit (so no sync works on it meanwhile) and a commit slot."""
    limit = table_limit(".".join(identifier))
    ensure_concurrency_limits({limit: 1})
    with concurrency(limit, occupy=1, strict=True), concurrency(names.LIMIT_ICEBERG_COMMITS, occupy=1, strict=True):
        return maintain_table(open_catalog(catalog), identifier, request)


class PrefectMaintenanceExecutor:
    """Each table's maintenance as a task run of the flow's task runner (or of a Dask cluster's)."""

    def __init__(self, request: MaintenanceRequest, catalog: CatalogConfig, submit: Submit | None = None) -> None:
        self.request, self.catalog = request, catalog
        self._submit = submit or submitter()

    def maintain_table(self, identifier: tuple[str, str]) -> Future[TableMaintenanceReport]:
        parameters = {"request": self.request, "catalog": self.catalog, "identifier": identifier}
        return self._submit(maintain_table_task, parameters)
