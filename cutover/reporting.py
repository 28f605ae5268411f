"""What the reports of every run kind share: identity, timing, the source position, the JSON envelope.

`migrate`, `validate` and `sync` each report a list of per-table records; the envelope around them, and
writing it as JSON for machines, is the same for all three.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class RunReport(Generic[T]):
    """One run over some tables; subclasses say what a table's record is and when the run is ok."""

    run_id: str
    tables: list[T] = field(default_factory=list)
    seconds: float = 0.0
    source_lsn: str | None = None

    @property
    def ok(self) -> bool:
        raise NotImplementedError

    def table_json(self, table: T) -> dict[str, Any]:
        """One table's JSON record (seconds rounded to milliseconds)."""
        record = asdict(table)  # type: ignore[call-overload]
        return record | {"seconds": round(record.get("seconds", 0.0), 3)}

    def to_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "source_lsn": self.source_lsn,
            "tables": [self.table_json(t) for t in self.tables],
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
