"""Result records of a full load, shared by the CLI, the Prefect artifacts and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cutover.reporting import RunReport

TableStatus = Literal["migrated", "refused", "failed"]


@dataclass
class TableReport:
    """The outcome for one source table (the JSON report's per-table record)."""

    source_schema: str
    source_table: str
    iceberg_identifier: str
    status: TableStatus = "migrated"
    rows: int = 0
    """Rows written by this run (a resumed run counts only what it added)."""
    snapshot_id: int | None = None
    seconds: float = 0.0
    files: int = 0
    batches_total: int = 0
    batches_skipped: int = 0
    """Batches a resumed run found already committed."""
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class MigrationReport(RunReport[TableReport]):
    def table_ok(self, table: TableReport) -> bool:
        return table.status == "migrated"

    def table_rows(self) -> list[dict[str, object]]:
        """Rows for a people-facing table (Prefect table artifact, CLI)."""
        return [
            {
                "table": f"{t.source_schema}.{t.source_table}",
                "iceberg": t.iceberg_identifier,
                "status": t.status,
                "rows": t.rows,
                "files": t.files,
                "seconds": round(t.seconds, 2),
                "rows/s": round(t.rows_per_second),
                "error": t.error or "",
            }
            for t in self.tables
        ]
