"""Bookkeeping of a running full load: what :mod:`cutover.load.scheduler` decides from.

When a batch finishes — when to commit, how a failure stops a table, what the report says — is written
here once, whatever executor ran the batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from cutover.errors import PartitionSpecError, SchemaEvolutionError, UnsupportedTypeError, UnsupportedValueError
from cutover.lake.commit import CommitResult
from cutover.load.report import TableReport, TableStatus
from cutover.load.steps import BatchOutput, TableLoad
from cutover.source.planning import Batch


@dataclass(frozen=True)
class LoadProgress:
    """Where a table and the whole run stand, after a batch of the table was committed or skipped."""

    table: str
    batches_done: int
    batches_total: int
    rows: int
    run_batches_done: int
    run_batches_total: int


def error_status(exc: BaseException) -> Literal["refused", "failed"]:
    """``refused`` for data or types that cannot be loaded faithfully (or a partition spec that does not fit
    the table), ``failed`` for everything else."""
    refusals = UnsupportedTypeError | UnsupportedValueError | SchemaEvolutionError | PartitionSpecError
    return "refused" if isinstance(exc, refusals) else "failed"


class LoadTracker:
    """Tracks every table of one run from its first batch to its report line."""

    def __init__(self, loads: list[tuple[TableReport, TableLoad]]) -> None:
        self._entries = {load.iceberg_name: (entry, load) for entry, load in loads}
        self._remaining = {name: len(load.pending) for name, (_, load) in self._entries.items()}
        self._waiting: dict[str, list[BatchOutput]] = {name: [] for name in self._entries}
        self._started: dict[str, float] = {}
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

    def reading(self, load: TableLoad) -> None:
        """A batch of the table is about to be read: its clock starts with the first one."""
        self._started.setdefault(load.iceberg_name, time.perf_counter())

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

    def committed(
        self, load: TableLoad, result: CommitResult | None = None, outputs: Sequence[BatchOutput] = ()
    ) -> None:
        """Record a commit of ``outputs`` (or, without a result, that the table has nothing to commit)."""
        entry, _ = self._entries[load.iceberg_name]
        if result is not None:
            for output in outputs:
                if output.index in result.batches:
                    load.committed_rows[output.index] = output.rows
            if result.snapshot_id is not None:
                entry.snapshot_id = result.snapshot_id
        # What the table holds from this load: earlier runs' rows count too, and a retried commit that
        # found its batches already committed (so names none of them) still reports them.
        committed = load.rows_before + sum(load.committed_rows.values())
        entry.rows = result.table_rows if result is not None else committed
        started = self._started.get(load.iceberg_name)
        entry.seconds = time.perf_counter() - started if started is not None else 0.0

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

    def table_progress(self, load: TableLoad) -> LoadProgress:
        entry, _ = self._entries[load.iceberg_name]
        done, total = self.progress()
        return LoadProgress(
            table=f"{entry.source_schema}.{entry.source_table}",
            batches_done=entry.batches_skipped + len(load.committed_rows),
            batches_total=entry.batches_total,
            rows=entry.rows,
            run_batches_done=done,
            run_batches_total=total,
        )
