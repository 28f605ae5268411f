"""Table care and recovery (design §14): compaction, snapshot expiry, orphan removal, manifest rewrite,
restore, and catalog export/import.

Public surface: :class:`MaintenanceRequest` and :func:`run_maintenance` (what `cutover maintain` and the
`maintain` flow call), :func:`maintain_table` (one table; the flow's task), :func:`restore_table`, the
catalog backup functions, and the report records. Each step is also usable alone.
"""

from __future__ import annotations

from cutover.maintenance.catalog_backup import import_catalog, read_export, write_export
from cutover.maintenance.compact import CompactionOptions, CompactionResult, compact_table
from cutover.maintenance.expire import ExpiryOptions, expire_snapshots
from cutover.maintenance.manifests import rewrite_manifests
from cutover.maintenance.orphans import remove_orphans
from cutover.maintenance.report import MaintenanceReport, TableMaintenanceReport
from cutover.maintenance.restore import RestoreResult, restore_table
from cutover.maintenance.runner import (
    MaintenanceRequest,
    maintain_table,
    resolve_iceberg_tables,
    run_maintenance,
)

__all__ = [
    "CompactionOptions",
    "CompactionResult",
    "ExpiryOptions",
    "MaintenanceReport",
    "MaintenanceRequest",
    "RestoreResult",
    "TableMaintenanceReport",
    "compact_table",
    "expire_snapshots",
    "import_catalog",
    "maintain_table",
    "read_export",
    "remove_orphans",
    "resolve_iceberg_tables",
    "restore_table",
    "rewrite_manifests",
    "run_maintenance",
    "write_export",
]
