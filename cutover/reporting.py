"""What the reports of every run kind share: identity, timing, the source position, the JSON envelope.

`migrate`, `validate` and `sync` each report a list of per-table records; the envelope around them, and
writing it as JSON for machines, is the same for all three.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from cutover.errors import ConfigError


class TableRecord(Protocol):
    """What every per-table record has, whatever the run."""

    @property
    def source_table(self) -> str: ...

    @property
    def status(self) -> str: ...


T = TypeVar("T", bound=TableRecord)


@dataclass
class RunReport(Generic[T]):
    """One run over some tables; subclasses say what a table's record is and when the run is ok."""

    run_id: str
    tables: list[T] = field(default_factory=list)
    seconds: float = 0.0
    source_lsn: str | None = None

    def table_ok(self, table: T) -> bool:
        """Whether one table's record counts as a success for this kind of run."""
        raise NotImplementedError

    @property
    def ok(self) -> bool:
        return all(self.table_ok(t) for t in self.tables)

    def ok_tables(self) -> list[str]:
        """The source tables that succeeded (those a validation after the run looks at)."""
        return [t.source_table for t in self.tables if self.table_ok(t)]

    def not_ok(self) -> list[str]:
        """``table (status)`` of every table that did not succeed, for a one-line failure."""
        return [f"{t.source_table} ({t.status})" for t in self.tables if not self.table_ok(t)]

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


def check_writable(path: Path) -> None:
    """Refuse, before a run starts, a report path that cannot be written (nothing is created here).

    A report that fails to write at the end would leave a finished load without its record, and a user
    who fixes the path and runs again would load twice.

    Raises:
        ConfigError: ``path`` is a directory, or neither it nor the nearest existing parent is writable.
    """
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"cannot write {path}: permission denied")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {path}: {parent} is not a writable directory")
