"""Names that bind the parts of cutover together.

Every flag, event, metric, property and concurrency-limit name is defined here once and imported
wherever it is used. Terraform, Kubernetes manifests and the docs are checked against these by tests,
so renaming one here is the only place a rename starts.
"""

from __future__ import annotations

from typing import Final

# --- Feature flags (design §7) -------------------------------------------------------------------
FLAG_USE_ICEBERG_BACKEND: Final = "use-iceberg-backend"
FLAG_ICEBERG_ROLL_PERCENTAGE: Final = "iceberg-roll-percentage"
FLAG_ICEBERG_PARTITIONING: Final = "iceberg-partitioning"
FLAG_ICEBERG_TIME_TRAVEL: Final = "iceberg-time-travel"
ALL_FLAGS: Final = (
    FLAG_USE_ICEBERG_BACKEND,
    FLAG_ICEBERG_ROLL_PERCENTAGE,
    FLAG_ICEBERG_PARTITIONING,
    FLAG_ICEBERG_TIME_TRAVEL,
)

# --- Prefect events (design §6, §8) --------------------------------------------------------------
EVENT_VALIDATION_PASSED: Final = "cutover.validation.passed"
EVENT_VALIDATION_FAILED: Final = "cutover.validation.failed"
EVENT_ROLLBACK_COMPLETED: Final = "cutover.rollback.completed"
TABLE_RESOURCE_PREFIX: Final = "cutover.table."

# --- OpenTelemetry metrics (design §11) ----------------------------------------------------------
METRIC_ROWS_MIGRATED: Final = "cutover.rows.migrated"
METRIC_BATCH_DURATION: Final = "cutover.batch.duration"
METRIC_VALIDATION_SUCCESS_RATIO: Final = "cutover.validation.success_ratio"
METRIC_ROLLBACKS: Final = "cutover.rollbacks"
METRIC_TIER_LATENCY: Final = "cutover.tier.latency"
METRIC_TIER_MISMATCHES: Final = "cutover.tier.mismatches"
ALL_METRICS: Final = (
    METRIC_ROWS_MIGRATED,
    METRIC_BATCH_DURATION,
    METRIC_VALIDATION_SUCCESS_RATIO,
    METRIC_ROLLBACKS,
    METRIC_TIER_LATENCY,
    METRIC_TIER_MISMATCHES,
)

# --- Prefect global concurrency limits (design §10) ----------------------------------------------
LIMIT_SOURCE_READS: Final = "cutover-source-reads"
LIMIT_ICEBERG_COMMITS: Final = "cutover-iceberg-commits"
LIMIT_SYNC_TABLE_PREFIX: Final = "cutover-sync-"
"""One limit of 1 per synced table (``cutover-sync-<namespace>-<table>``): syncs of a table never overlap.
The `maintain` flow holds the same limit, so a sync and a maintenance run never work on one table at once."""

# --- Prefect flows and deployments ---------------------------------------------------------------
FLOW_MAINTAIN: Final = "maintain"
DEPLOYMENT_MAINTAIN: Final = "maintain"

# --- Audit-trail actions -------------------------------------------------------------------------
ACTION_RESTORE: Final = "table.restore"

# --- Prefect blocks and work pools (`cutover prefect setup` creates them) ---------------------------
BLOCK_SOURCE: Final = "cutover-source"
"""prefect-sqlalchemy `SqlAlchemyConnector` holding the source database (password as a secret)."""
BLOCK_CODE_STORAGE: Final = "cutover-code"
"""prefect-azure `AzureBlobStorageCredentials` of the container the Azure deployments push code to."""
POOL_PROCESS: Final = "cutover-process"
POOL_ACI: Final = "cutover-aci"
POOL_KUBERNETES: Final = "cutover-k8s"

# --- Iceberg snapshot-summary and table properties (design §3) ------------------------------------
# Every property cutover writes starts with this prefix, so operators can tell ours from others'.
PROPERTY_PREFIX: Final = "cutover."
PROP_LOAD_ID: Final = "cutover.load-id"
PROP_LOAD_PLAN: Final = "cutover.load-plan"
PROP_BATCHES_DONE: Final = "cutover.batches-done"
PROP_BATCHES_TOTAL: Final = "cutover.batches-total"
PROP_SOURCE_TABLE: Final = "cutover.source-table"
PROP_SOURCE_LSN: Final = "cutover.source-lsn"
PROP_SOURCE_SNAPSHOT_TIME: Final = "cutover.source-snapshot-time"
PROP_LOAD_COMPLETE: Final = "cutover.load-complete"
PROP_WATERMARK: Final = "cutover.watermark"
PROP_SYNC_ROWS_UPSERTED: Final = "cutover.sync-rows-upserted"
PROP_SYNC_ROWS_DELETED: Final = "cutover.sync-rows-deleted"
PROP_MAINTENANCE: Final = "cutover.maintenance"
"""Set on every maintenance commit (compaction, manifest rewrite, restore): what it did."""
PROP_RESTORED_FROM: Final = "cutover.restored-from"
STATE_PROPERTIES: Final = (
    PROP_LOAD_ID,
    PROP_BATCHES_DONE,
    PROP_BATCHES_TOTAL,
    PROP_SOURCE_LSN,
    PROP_SOURCE_SNAPSHOT_TIME,
    PROP_LOAD_COMPLETE,
    PROP_WATERMARK,
)
"""The load checkpoint and sync watermark: carried into every maintenance commit's summary, so their
readers find them on the newest snapshot whatever maintenance did since."""
