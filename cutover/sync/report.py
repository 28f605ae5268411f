"""Result records of a sync, shared by the CLI, the Prefect artifacts and the JSON report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cutover.reporting import RunReport

SyncStatus = Literal["synced", "unchanged", "refused", "failed"]
"""synced: a commit landed; unchanged: nothing to commit; refused: a schema change Iceberg cannot follow
or an unsupported value; failed: anything else (the error says what)."""


@dataclass
class TableSyncReport:
    """The outcome for one source table (the JSON report's per-table record)."""

    source_schema: str
    source_table: str
    iceberg_identifier: str
    status: SyncStatus = "unchanged"
    mode: str = "xmin"
    """How changes were found: ``cursor:<column>`` or ``xmin``."""
    rows_upserted: int = 0
    """Rows written (inserted or new versions of updated rows)."""
    rows_deleted: int = 0
    """Keys deleted in the source and removed from Iceberg."""
    rows_replaced: int = 0
    """Old Iceberg versions of upserted keys, removed by position deletes."""
    keys_compared: int = 0
    """Source keys brought over to find the deletes (0 when the key-set summaries agreed)."""
    deletes_found_by: str = ""
    """``delete log (<log table>)``, or ``key sets (<why>)``."""
    schema_changes: list[str] = field(default_factory=list)
    snapshot_id: int | None = None
    watermark: str | None = None
    """The cursor bound the next sync starts from (or the xmin horizon)."""
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SyncReport(RunReport[TableSyncReport]):
    def table_ok(self, table: TableSyncReport) -> bool:
        return table.status in ("synced", "unchanged")

    def table_rows(self) -> list[dict[str, object]]:
        """Rows for a people-facing table (Prefect table artifact, CLI)."""
        return [
            {
                "table": f"{t.source_schema}.{t.source_table}",
                "iceberg": t.iceberg_identifier,
                "status": t.status,
                "mode": t.mode,
                "upserted": t.rows_upserted,
                "deleted": t.rows_deleted,
                "deletes found by": t.deletes_found_by,
                "schema": "; ".join(t.schema_changes),
                "seconds": round(t.seconds, 2),
                "error": t.error or "",
            }
            for t in self.tables
        ]
