"""Result records of a maintenance run, shared by the CLI, the Prefect artifacts and the JSON report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cutover.reporting import RunReport

MaintenanceStatus = Literal["maintained", "unchanged", "planned", "failed"]
"""maintained: something was committed or deleted; unchanged: nothing was due; planned: a dry run found
work to do; failed: the error says what (a step that failed leaves the table as its last commit left it)."""


@dataclass
class TableMaintenanceReport:
    """The outcome for one Iceberg table (the JSON report's per-table record)."""

    iceberg_identifier: str
    status: MaintenanceStatus = "unchanged"
    data_files_before: int = 0
    data_files_after: int = 0
    data_bytes_before: int = 0
    data_bytes_after: int = 0
    delete_files_before: int = 0
    delete_files_after: int = 0
    delete_files_applied: int = 0
    files_rewritten: int = 0
    compaction_attempts: int = 0
    compaction_abandoned: str | None = None
    manifests_before: int = 0
    manifests_after: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0
    """Files expiry and orphan removal deleted (or, in a dry run, would delete)."""
    bytes_deleted: int = 0
    orphans: list[dict[str, object]] = field(default_factory=list)
    """Orphans past the grace period: path and size (deleted, or listed by a dry run)."""
    snapshot_id: int | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def source_table(self) -> str:
        """The record's name in one-line summaries (maintenance has no source table)."""
        return self.iceberg_identifier


@dataclass
class MaintenanceReport(RunReport[TableMaintenanceReport]):
    dry_run: bool = False

    def table_ok(self, table: TableMaintenanceReport) -> bool:
        return table.status != "failed"

    def to_json(self) -> dict[str, object]:
        return super().to_json() | {"dry_run": self.dry_run}

    def table_rows(self) -> list[dict[str, object]]:
        """Rows for a people-facing table (Prefect table artifact, CLI)."""
        return [
            {
                "table": t.iceberg_identifier,
                "status": t.status,
                "data files": f"{t.data_files_before} → {t.data_files_after}",
                "MB": f"{t.data_bytes_before / 1e6:.1f} → {t.data_bytes_after / 1e6:.1f}",
                "deletes applied": t.delete_files_applied,
                "snapshots expired": t.snapshots_expired,
                "files deleted": t.files_deleted,
                "seconds": round(t.seconds, 2),
                "error": t.error or t.compaction_abandoned or "",
            }
            for t in self.tables
        ]
