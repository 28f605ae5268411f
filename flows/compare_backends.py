"""Flow `compare-backends`: a query set on PostgreSQL and on Iceberg, p50/p95 latency and agreement side by side.

The seed's "measure query performance on both backends": queries run one after another (never in
parallel, which would measure contention), and the report becomes a table artifact.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from cutover.config import CatalogConfig, Settings
from cutover.flags import FlagSettings
from cutover.telemetry import configure_from_environment
from cutover.tier import TierSettings, open_data_tier
from cutover.tier.comparison import QuerySet
from tasks.compare import compare_query_task

REPORT_KEY = "compare-backends"


@flow(name="compare-backends", log_prints=False)
def compare_backends(
    queries: QuerySet,
    repeats: int = 5,
    source_dsn: str | None = None,
    catalog: CatalogConfig | None = None,
    schemas: dict[str, str] | None = None,
) -> list[dict[str, object]]:
    """Every query on both backends; returns the report rows (also the `compare-backends` artifact)."""
    logger = get_run_logger()
    configure_from_environment()
    settings = Settings()
    settings = settings.model_copy(update={"source_dsn": source_dsn or settings.source_dsn})
    if catalog is not None:
        settings = settings.model_copy(update={"catalog_uri": catalog.uri, "warehouse": catalog.warehouse})
    tuning = TierSettings(schemas=schemas or {})
    rows = []
    with open_data_tier(settings, FlagSettings(), tuning, record_observations=False) as tier:
        for spec in queries.queries:
            result = compare_query_task(tier, spec, repeats)
            log = logger.info if result.agree else logger.error
            log("%s: postgres p50 %s ms, iceberg p50 %s ms, %s", spec.name, result.postgres_p50_ms,
                result.iceberg_p50_ms, result.detail)  # fmt: skip
            rows.append(result.row())
    create_table_artifact(rows, key=REPORT_KEY, description="PostgreSQL vs Iceberg: latency and agreement per query")
    return rows


if __name__ == "__main__":
    from pathlib import Path

    compare_backends(QuerySet.load(Path("queries.yaml")))
