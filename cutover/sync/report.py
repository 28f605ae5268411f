"""Result records of a sync, shared by the CLI, the Prefect artifacts and the JSON report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

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
    schema_changes: list[str] = field(default_factory=list)
    snapshot_id: int | None = None
    watermark: str | None = None
    """The cursor bound the next sync starts from (or the xmin horizon)."""
    seconds: float = 0.0
    error: str | None = None


@dataclass
class SyncReport:
    run_id: str
    tables: list[TableSyncReport] = field(default_factory=list)
    seconds: float = 0.0
    source_lsn: str | None = None

    @property
    def ok(self) -> bool:
        return all(t.status in ("synced", "unchanged") for t in self.tables)

    def to_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "source_lsn": self.source_lsn,
            "tables": [asdict(t) | {"seconds": round(t.seconds, 3)} for t in self.tables],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

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
                "schema": "; ".join(t.schema_changes),
                "seconds": round(t.seconds, 2),
                "error": t.error or "",
            }
            for t in self.tables
        ]
