"""Bookkeeping of a running full load, shared by the thread-pool runner and the Prefect flow.

The two differ only in how batches are executed (a ThreadPoolExecutor, or Prefect task runs); what
happens when a batch finishes — when to commit, how a failure cancels a table, what the report says —
lives here once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal

from cutover.errors import SchemaEvolutionError, UnsupportedTypeError, UnsupportedValueError
from cutover.lake.commit import CommitResult
from cutover.load.report import TableReport, TableStatus
from cutover.load.steps import BatchOutput, TableLoad
from cutover.source.planning import Batch


def error_status(exc: BaseException) -> Literal["refused", "failed"]:
    """``refused`` for data or types that cannot be loaded faithfully, ``failed`` for everything else."""
    refusals = UnsupportedTypeError | UnsupportedValueError | SchemaEvolutionError
    return "refused" if isinstance(exc, refusals) else "failed"


class LoadTracker:
    """Tracks every table of one run from its first batch to its report line."""

    def __init__(self, loads: list[tuple[TableReport, TableLoad]]) -> None:
        self._entries = {load.iceberg_name: (entry, load) for entry, load in loads}
        self._remaining = {name: len(load.pending) for name, (_, load) in self._entries.items()}
        self._waiting: dict[str, list[BatchOutput]] = {name: [] for name in self._entries}
        self._started = {name: time.perf_counter() for name in self._entries}
        self._failed: set[str] = set()
        for entry, load in loads:
            entry.batches_total = len(load.plan)
            entry.batches_skipped = len(load.plan) - len(load.pending)

    def work(self) -> Iterator[tuple[TableLoad, Batch]]:
        """Every pending batch, table by table; batches of a table that failed meanwhile are skipped."""
        for name, (_, load) in self._entries.items():
            for batch in load.pending:
                if name not in self._failed:
                    yield load, batch

    def idle_tables(self) -> list[TableLoad]:
        """Tables with nothing left to load (a completed load being resumed)."""
        return [load for name, (_, load) in self._entries.items() if self._remaining[name] == 0]

    def is_failed(self, load: TableLoad) -> bool:
        return load.iceberg_name in self._failed

    def batch_done(self, load: TableLoad, output: BatchOutput) -> list[BatchOutput]:
        """Record a written batch; returns the outputs to commit now (empty when the table must wait)."""
        name = load.iceberg_name
        self._remaining[name] -= 1
        self._waiting[name].append(output)
        self._entries[name][0].files += len(output.data_files)
        if load.commit_per_batch or self._remaining[name] == 0:
            ready, self._waiting[name] = self._waiting[name], []
            return ready
        return []

    def committed(self, load: TableLoad, result: CommitResult | None = None) -> None:
        entry, _ = self._entries[load.iceberg_name]
        entry.rows = sum(load.committed_rows.values())
        if result is not None and result.snapshot_id is not None:
            entry.snapshot_id = result.snapshot_id
        entry.seconds = time.perf_counter() - self._started[load.iceberg_name]

    def failed(self, load: TableLoad, exc: BaseException) -> TableStatus:
        """Mark the table failed or refused; the caller aborts a refused table."""
        entry, _ = self._entries[load.iceberg_name]
        self._failed.add(load.iceberg_name)
        entry.status, entry.error = error_status(exc), str(exc)
        self.committed(load)
        return entry.status

    def progress(self) -> tuple[int, int]:
        """(batches done or skipped, batches planned) over every table."""
        total = sum(len(load.plan) for _, load in self._entries.values())
        done = sum(e.batches_skipped + len(load.committed_rows) for e, load in self._entries.values())
        return done, total

    def table_progress(self, load: TableLoad) -> tuple[str, int, int, int]:
        entry, _ = self._entries[load.iceberg_name]
        done = entry.batches_skipped + len(load.committed_rows)
        return f"{entry.source_schema}.{entry.source_table}", done, entry.batches_total, entry.rows
