"""The sync watermark: where the last load or sync of a table stood in the source.

Built from a :class:`~cutover.source.snapshot.SourceSnapshot` by the load and the sync, and read by the
change capture (:mod:`cutover.source.changes`) and the delete log (:mod:`cutover.source.delete_log`) to
know what the previous snapshot saw. It is kept inside Iceberg, written with every load and sync commit
(:mod:`cutover.lake.commit`) and read back by :func:`cutover.lake.watermark.read_watermark`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from cutover.source.snapshot import SourceSnapshot


@dataclass(frozen=True)
class Watermark:
    """The facts of one source snapshot, plus the cursor bounds a sync derived from them."""

    xmin: int
    """Snapshot horizon (xid8): rows written by transactions from this id on may not have been seen."""
    taken_at: str
    """ISO time of the snapshot."""
    lsn: str
    writers_in_flight: bool = False
    oldest_writer_start: str | None = None
    writer_starts_visible: bool = True
    cursor: str | None = None
    """The cursor column the bounds below belong to (None: no cursor bounds yet)."""
    lower: str | None = None
    """Rows with cursor >= lower are read by the next sync (None: the next sync scans by xmin alone)."""
    upper: str | None = None
    """The highest cursor value seen in the snapshot (rows above it are new by definition)."""
    xmax: int = 0
    """First transaction id (xid8) not yet assigned at the snapshot (0 in watermarks older than it)."""
    in_flight: tuple[int, ...] = ()
    """Transactions (xid8) running at the snapshot, so invisible to it despite being below xmax."""
    delete_log: str | None = None
    """The delete log whose rows continue from this commit (see :mod:`cutover.source.delete_log`)."""

    @classmethod
    def of_snapshot(cls, snapshot: SourceSnapshot) -> Watermark:
        start = snapshot.oldest_writer_start
        return cls(
            xmin=snapshot.xmin,
            taken_at=snapshot.taken_at.isoformat(),
            lsn=snapshot.lsn,
            writers_in_flight=snapshot.writers_in_flight,
            oldest_writer_start=start.isoformat() if start is not None else None,
            writer_starts_visible=snapshot.writer_starts_visible,
            xmax=snapshot.xmax,
            in_flight=snapshot.in_flight,
        )

    def with_cursor(self, cursor: str, lower: str | None, upper: str | None) -> Watermark:
        return replace(self, cursor=cursor, lower=lower, upper=upper)

    def sees(self, xid: int) -> bool:
        """Whether the snapshot of this watermark saw a committed transaction (64-bit id): PostgreSQL's
        rule, before the horizon, or assigned before the snapshot and not running at it. An older
        watermark without ``xmax`` sees only what precedes its horizon (so more is taken again)."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.in_flight)

    def earliest_safe_time(self) -> datetime | None:
        """A time no change after this snapshot can be stamped before (writer clocks = database clock).

        The start of the oldest transaction open at the snapshot, or, with none open, the moment just
        before it when that was checked; unknown (None) when transactions were open but their starts were
        hidden from us (or an older watermark did not record the moment).
        """
        if self.oldest_writer_start is None or (self.writers_in_flight and not self.writer_starts_visible):
            return None
        return datetime.fromisoformat(self.oldest_writer_start)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Watermark:
        data: dict[str, Any] = json.loads(text)
        data["in_flight"] = tuple(data.get("in_flight") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
